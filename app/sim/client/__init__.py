"""What the control-plane loops share as clients of the API: the event recorder
(client-go's `tools/record`) and Lease-based leader election (`tools/leaderelection`).
The controllers and the scheduler both use them; they depend only on the machinery.
"""

from app.sim.client.events import EventRecorder
from app.sim.client.leaderelection import LeaderElector, new_identity

__all__ = ["EventRecorder", "LeaderElector", "new_identity"]
