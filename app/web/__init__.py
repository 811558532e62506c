"""Server-rendered pages for trainers and learners (the dashboard).

`app.web.dashboard.bp` is a plain Flask blueprint registered through
`app.api.PLAIN_BLUEPRINTS`. Pages work without JavaScript; charts are inline SVG and
native `<meter>` elements; stylesheets are served from `app/web/static`.
"""
