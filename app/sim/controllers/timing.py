"""How often controllers run when nothing they watch changed (their resync)."""

# A watching controller runs at least this often (cluster-clock seconds) even when
# nothing it watches changed: the informer resync that makes loops self-healing
# (upstream's default --min-resync-period is 12 h; a lab needs time-based changes such
# as minReadySeconds and progress deadlines to show within seconds).
RESYNC_SECONDS = 10.0
# The resync of controllers driven by the clock as well as by their kinds (CronJob
# schedules, Job deadlines, node heartbeats, NoExecute toleration seconds): they declare
# `resync_seconds = CLOCK_RESYNC_SECONDS` and run once a cluster-clock second at least,
# not on every 0.25 s tick.
CLOCK_RESYNC_SECONDS = 1.0
# The resync of controllers that only react to changes of what they watch (garbage
# collector, endpoints, EndpointSlices, ServiceAccounts, root CA ConfigMaps): every write
# they care about wakes them, so the resync only repairs what a bug missed (upstream
# resyncs informers every 12 h). Idle clusters then cost nearly nothing in these loops.
EVENT_RESYNC_SECONDS = 300.0
# How long a steady cluster's control plane sleeps when nothing is written and no
# kubelet has anything due (`controlplane.ControlPlane`): the resync of a cluster nobody
# touches. Its controllers' own resyncs (above) still run at the first pass after they
# are due, so the first write to a cluster idle for 5 minutes runs them; a cluster
# nobody writes to waits for this one. Upstream resyncs informers every 12 h or more;
# each resync of a settled 3-node cluster costs 20-40 ms of CPU, which made it half of
# what an idle cluster cost at 5 minutes.
IDLE_RESYNC_SECONDS = 1800.0
