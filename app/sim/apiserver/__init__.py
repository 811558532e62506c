"""The simulator's kube-apiserver request handling: the request pipeline and its stages
(authentication, RBAC, admission, defaults, validation, patch and server-side apply),
discovery, OpenAPI and schemas, table printers and protobuf. Built on `app.sim.machinery`
only. See docs/simulator-request-flow.md.
"""
