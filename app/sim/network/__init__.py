"""The pod network: how a connection from a container or a node finds its peer.

`policy` decides whether NetworkPolicies let a connection through; `ingress` maps an
HTTP request that reached an ingress or Gateway controller to its backend Service.
"""
