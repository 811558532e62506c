"""The simulator's API machinery: errors, clocks, the resource registry, label and field
selectors, quantities, node matching, the object store and its watch, TLS material,
kubeconfigs and the `Cluster` state object. Imports nothing else from `app.sim`.
"""
