"""The simulator server's HTTP side, used by `app.sim.server`: request and response
helpers (`httpio`), discovery and OpenAPI (`nonresource`), watch streams and log
follows (`streaming`), and the admin API's routes and body schemas (`admin`).
"""
