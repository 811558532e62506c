"""Printers for CertificateSigningRequests, FlowSchemas, PriorityLevelConfigurations,
RuntimeClasses, CSIDrivers, CSINodes, VolumeAttachments and ValidatingAdmissionPolicies
(with their bindings): kubectl's columns from pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

from datetime import datetime

from app.sim.apiserver.printers.format import (
    AGE_COL,
    NAME_COL,
    Obj,
    Row,
    _age,
    _name,
    _spec,
    _status,
    col,
    human_duration,
)

NONE = "<none>"


def csr_condition(obj: Obj) -> str:
    """`Approved,Issued`, `Denied`, `Failed` or `Pending` (printers.go
    extractCSRStatus)."""
    types = [c.get("type") for c in _status(obj).get("conditions") or []]
    shown = [t for t in ("Approved", "Denied", "Failed") if t in types]
    if _status(obj).get("certificate"):
        shown.append("Issued")
    return ",".join(shown) or "Pending"


def _csr_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    seconds = spec.get("expirationSeconds")
    duration = human_duration(float(seconds)) if seconds else NONE
    cells = [
        _name(obj),
        _age(obj, now),
        spec.get("signerName") or NONE,
        spec.get("username") or "",
        duration,
        csr_condition(obj),
    ]
    return cells, None


CSR_COLUMNS = [
    NAME_COL,
    AGE_COL,
    col("SignerName"),
    col("Requestor"),
    col("RequestedDuration"),
    col("Condition"),
]


def _flowschema_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    method = (spec.get("distinguisherMethod") or {}).get("type") or NONE
    missing = "Unknown"
    for cond in _status(obj).get("conditions") or []:
        if cond.get("type") == "Dangling":
            missing = cond.get("status") or "Unknown"
    level = (spec.get("priorityLevelConfiguration") or {}).get("name", "")
    cells = [_name(obj), level, spec.get("matchingPrecedence", 0), method, _age(obj, now), missing]
    return cells, None


FLOWSCHEMA_COLUMNS = [
    NAME_COL,
    col("PriorityLevel"),
    col("MatchingPrecedence", "string"),
    col("DistinguisherMethod"),
    AGE_COL,
    col("MissingPL"),
]


def _plc_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    limited = spec.get("limited") or {}
    queuing = (limited.get("limitResponse") or {}).get("queuing") or {}
    shares = limited.get("nominalConcurrencyShares")
    cells = [
        _name(obj),
        spec.get("type", ""),
        NONE if shares is None else str(shares),
        str(queuing["queues"]) if "queues" in queuing else NONE,
        str(queuing["handSize"]) if "handSize" in queuing else NONE,
        str(queuing["queueLengthLimit"]) if "queueLengthLimit" in queuing else NONE,
        _age(obj, now),
    ]
    return cells, None


PLC_COLUMNS = [
    NAME_COL,
    col("Type"),
    col("NominalConcurrencyShares"),
    col("Queues"),
    col("HandSize"),
    col("QueueLengthLimit"),
    AGE_COL,
]


def _runtimeclass_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), obj.get("handler", ""), _age(obj, now)], None


RUNTIMECLASS_COLUMNS = [NAME_COL, col("Handler"), AGE_COL]


def _csidriver_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    tokens = spec.get("tokenRequests") or []
    audiences = ",".join(t.get("audience") or "<unknown>" for t in tokens) or NONE
    modes = ",".join(spec.get("volumeLifecycleModes") or []) or NONE
    cells = [
        _name(obj),
        spec.get("attachRequired", True),
        spec.get("podInfoOnMount", False),
        spec.get("storageCapacity", False),
        audiences,
        spec.get("requiresRepublish", False),
        modes,
        _age(obj, now),
    ]
    return cells, None


CSIDRIVER_COLUMNS = [
    NAME_COL,
    col("AttachRequired", "boolean"),
    col("PodInfoOnMount", "boolean"),
    col("StorageCapacity", "boolean"),
    col("TokenRequests"),
    col("RequiresRepublish", "boolean"),
    col("Modes"),
    AGE_COL,
]


def _csinode_row(obj: Obj, now: datetime) -> Row:
    return [_name(obj), len(_spec(obj).get("drivers") or []), _age(obj, now)], None


CSINODE_COLUMNS = [NAME_COL, col("Drivers", "integer"), AGE_COL]


def _volumeattachment_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    source = spec.get("source") or {}
    cells = [
        _name(obj),
        spec.get("attacher", ""),
        source.get("persistentVolumeName") or "",
        spec.get("nodeName", ""),
        bool(_status(obj).get("attached")),
        _age(obj, now),
    ]
    return cells, None


VOLUMEATTACHMENT_COLUMNS = [
    NAME_COL,
    col("Attacher"),
    col("PV"),
    col("Node"),
    col("Attached", "boolean"),
    AGE_COL,
]


def _param_kind(spec: Obj) -> str:
    kind = spec.get("paramKind") or {}
    if not kind:
        return NONE
    return f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}"


def _vap_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    cells = [_name(obj), len(spec.get("validations") or []), _param_kind(spec), _age(obj, now)]
    return cells, None


VAP_COLUMNS = [NAME_COL, col("Validations", "integer"), col("ParamKind"), AGE_COL]


def _vap_binding_row(obj: Obj, now: datetime) -> Row:
    spec = _spec(obj)
    param = spec.get("paramRef") or {}
    ref = NONE
    if param:
        ref = "/".join(p for p in (param.get("namespace"), param.get("name")) if p) or "*"
    return [_name(obj), spec.get("policyName", ""), ref, _age(obj, now)], None


VAP_BINDING_COLUMNS = [NAME_COL, col("PolicyName"), col("ParamRef"), AGE_COL]

PRINTERS = {
    ("certificates.k8s.io", "CertificateSigningRequest"): (CSR_COLUMNS, _csr_row),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): (FLOWSCHEMA_COLUMNS, _flowschema_row),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): (PLC_COLUMNS, _plc_row),
    ("node.k8s.io", "RuntimeClass"): (RUNTIMECLASS_COLUMNS, _runtimeclass_row),
    ("storage.k8s.io", "CSIDriver"): (CSIDRIVER_COLUMNS, _csidriver_row),
    ("storage.k8s.io", "CSINode"): (CSINODE_COLUMNS, _csinode_row),
    ("storage.k8s.io", "VolumeAttachment"): (VOLUMEATTACHMENT_COLUMNS, _volumeattachment_row),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): (VAP_COLUMNS, _vap_row),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): (
        VAP_BINDING_COLUMNS,
        _vap_binding_row,
    ),
}
