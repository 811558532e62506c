"""Cluster events that can make an unschedulable pod schedulable.

Each plugin lists the events that may change its verdict (upstream
`EnqueueExtensions.EventsToRegister`); the queue moves a pod out of the unschedulable
set only on an event one of the plugins that rejected it registered for.
"""

from __future__ import annotations

NODE_ADD = "Node/Add"
NODE_DELETE = "Node/Delete"
NODE_LABEL_CHANGE = "Node/UpdateNodeLabel"
NODE_TAINT_CHANGE = "Node/UpdateNodeTaint"
NODE_ALLOCATABLE_CHANGE = "Node/UpdateNodeAllocatable"
ASSIGNED_POD_ADD = "AssignedPod/Add"
ASSIGNED_POD_DELETE = "AssignedPod/Delete"
ASSIGNED_POD_LABEL_CHANGE = "AssignedPod/UpdatePodLabel"
ASSIGNED_POD_SCALE_DOWN = "AssignedPod/UpdatePodScaleDown"
CLAIM_CHANGE = "PersistentVolumeClaim/AddOrUpdate"
VOLUME_CHANGE = "PersistentVolume/AddOrUpdate"
STORAGE_CLASS_CHANGE = "StorageClass/AddOrUpdate"
# A pending pod's own spec or labels changed.
UNSCHEDULED_POD_UPDATE = "UnschedulablePod/Update"
# Periodic flush of pods left unschedulable too long.
UNSCHEDULABLE_TIMEOUT = "UnschedulableTimeout"
