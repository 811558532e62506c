"""The simulator's kube-controller-manager: level-triggered controllers over the object
store, stepped by the cluster clock, plus the event recorder, Lease-based leader
election and the kube-proxy/CoreDNS add-on objects. See docs/controllers.md.
"""

from app.sim.controllers.addons import addon_objects
from app.sim.controllers.events import EventRecorder
from app.sim.controllers.leaderelection import LeaderElector, new_identity
from app.sim.controllers.manager import ControllerManager, controller_names

__all__ = [
    "ControllerManager",
    "EventRecorder",
    "LeaderElector",
    "addon_objects",
    "controller_names",
    "new_identity",
]
