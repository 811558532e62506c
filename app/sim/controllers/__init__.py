"""The simulator's kube-controller-manager: level-triggered controllers over the object
store, stepped by the cluster clock, plus the kube-proxy/CoreDNS add-on objects. The
event recorder and Lease-based leader election they share with the scheduler live in
`app.sim.client`. See docs/controllers.md.
"""

from app.sim.controllers.addons import addon_objects
from app.sim.controllers.manager import ControllerManager, controller_names

__all__ = [
    "ControllerManager",
    "addon_objects",
    "controller_names",
]
