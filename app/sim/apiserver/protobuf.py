"""Decoding of `application/vnd.kubernetes.protobuf` request bodies into JSON-shaped dicts.

kubectl 1.37 sends protobuf for `kubectl create <kind>` (namespace, configmap, secret,
service, serviceaccount, role, rolebinding, clusterrole, clusterrolebinding, deployment,
job, cronjob, quota, priorityclass, poddisruptionbudget, ingress), `kubectl create token`
and `kubectl auth can-i`; answered with 415 it fails without retrying as JSON (probed).

Wire format (k8s.io/apimachinery runtime/serializer/protobuf): the 4-byte magic `k8s\\0`,
then a `runtime.Unknown` message: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw (the object's
own message), 3 contentEncoding, 4 contentType. The object's message is decoded with the
field table in `app.sim.apiserver.proto_fields`.

The result is what the JSON encoding of the same Go object would be: zero-valued scalars
are left out (the Go types mark them `omitempty`; gogo-protobuf writes them anyway),
except the pointer fields where zero is a value the user chose; empty structs stay `{}`
as encoding/json writes them; `bytes` become base64; Time becomes RFC 3339; IntOrString
an int or a string; Quantity its string.
"""

from __future__ import annotations

import base64
import functools
import json
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from app.sim.apiserver.proto_fields import MESSAGES
from app.sim.machinery.errors import ApiError

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# apiVersion group -> proto package prefix in the field table.
GROUP_PACKAGES = {
    "": "core",
    "apps": "apps",
    "autoscaling": "autoscaling",
    "batch": "batch",
    "rbac.authorization.k8s.io": "rbac",
    "policy": "policy",
    "networking.k8s.io": "networking",
    "scheduling.k8s.io": "scheduling",
    "authorization.k8s.io": "authorization",
    "authentication.k8s.io": "authentication",
    "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery",
    "certificates.k8s.io": "certificates",
}

META_KINDS = frozenset({"DeleteOptions", "Status"})

# Pointer fields (`*int32`, `*bool` in k8s.io/api types.go) whose zero value is a choice
# the client made and must survive decoding: `kubectl create deployment --replicas=0`,
# a PriorityClass of value 0, `suspend: false`, ...
KEEP_ZERO: frozenset[tuple[str, str]] = frozenset(
    {
        ("apps.v1.DeploymentSpec", "replicas"),
        ("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas"),
        ("autoscaling.v2.HPAScalingRules", "stabilizationWindowSeconds"),
        ("autoscaling.v2.MetricTarget", "averageUtilization"),
        ("apps.v1.ReplicaSetSpec", "replicas"),
        ("apps.v1.StatefulSetSpec", "replicas"),
        ("core.v1.ReplicationControllerSpec", "replicas"),
        ("batch.v1.JobSpec", "parallelism"),
        ("batch.v1.JobSpec", "completions"),
        ("batch.v1.JobSpec", "backoffLimit"),
        ("batch.v1.JobSpec", "activeDeadlineSeconds"),
        ("batch.v1.JobSpec", "ttlSecondsAfterFinished"),
        ("batch.v1.JobSpec", "suspend"),
        ("batch.v1.CronJobSpec", "suspend"),
        ("batch.v1.CronJobSpec", "startingDeadlineSeconds"),
        ("batch.v1.CronJobSpec", "successfulJobsHistoryLimit"),
        ("batch.v1.CronJobSpec", "failedJobsHistoryLimit"),
        ("scheduling.v1.PriorityClass", "value"),
        ("core.v1.ServicePort", "port"),
        ("core.v1.ContainerPort", "containerPort"),
        ("core.v1.PodSpec", "terminationGracePeriodSeconds"),
        ("core.v1.PodSpec", "automountServiceAccountToken"),
        ("core.v1.ServiceAccount", "automountServiceAccountToken"),
        ("core.v1.ConfigMap", "immutable"),
        ("core.v1.Secret", "immutable"),
        ("authentication.v1.TokenRequestSpec", "expirationSeconds"),
        ("meta.v1.OwnerReference", "controller"),
        ("meta.v1.OwnerReference", "blockOwnerDeletion"),
        ("meta.v1.DeleteOptions", "gracePeriodSeconds"),
        ("authorization.v1.SubjectAccessReviewStatus", "allowed"),
    }
)

# Embedded Go structs (`json:""` in k8s.io/api types.go): their protobuf field holds a
# nested message, their JSON form spreads its fields into the parent object.
INLINE_FIELDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("core.v1.Volume", "volumeSource"),
        ("core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
        ("core.v1.Probe", "handler"),
        ("core.v1.EphemeralContainer", "ephemeralContainerCommon"),
        ("core.v1.ConfigMapEnvSource", "localObjectReference"),
        ("core.v1.ConfigMapKeySelector", "localObjectReference"),
        ("core.v1.ConfigMapProjection", "localObjectReference"),
        ("core.v1.ConfigMapVolumeSource", "localObjectReference"),
        ("core.v1.SecretEnvSource", "localObjectReference"),
        ("core.v1.SecretKeySelector", "localObjectReference"),
        ("core.v1.SecretProjection", "localObjectReference"),
        ("networking.v1.IngressRule", "ingressRuleValue"),
    }
)

_SCALARS = frozenset({"string", "bytes", "bool", "int32", "int64", "double", "float"})

FieldSpec = tuple[str, str, bool]  # (json name, type, repeated)


@functools.cache
def message_fields(message: str) -> dict[int, FieldSpec]:
    """The parsed field table of one message (`core.v1.Pod`); KeyError if unknown."""
    spec = MESSAGES[message]
    fields: dict[int, FieldSpec] = {}
    for entry in spec.split(";"):
        number, name, type_ = entry.split()
        repeated = type_.startswith("*")
        fields[int(number)] = (name, type_.lstrip("*"), repeated)
    return fields


def message_for(api_version: str, kind: str) -> str | None:
    """The table's message name of a kind (`apps/v1`, `Deployment` -> `apps.v1.Deployment`)."""
    group, _, version = api_version.rpartition("/")
    if kind in META_KINDS:
        # Option kinds of apimachinery's meta/v1, registered in every group upstream.
        return f"meta.v1.{kind}"
    package = GROUP_PACKAGES.get(group)
    if package is None:
        return None
    name = f"{package}.{version}.{kind}"
    return name if name in MESSAGES else None


# --- wire format ------------------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, f"the body of the request was in an unknown format: {message}")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise _bad("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _bad("varint too long")


def iter_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Split a message into (field number, wire type, value) triples.

    Values are ints for varint/fixed wire types and bytes for length-delimited ones.
    Raises ApiError(400) on malformed input (truncation, group wire types, bad lengths).
    """
    out: list[tuple[int, int, Any]] = []
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _bad("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise _bad("truncated fixed64")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise _bad("truncated length-delimited field")
            value = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise _bad("truncated fixed32")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise _bad(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = ((value + (1 << 31)) % (1 << 32)) - (1 << 31)
    return value


def _scalar(type_: str, wire: int, value: Any, ctx: str) -> Any:
    if type_ in ("string", "bytes"):
        if wire != 2:
            raise _bad(f"{ctx}: expected a length-delimited value")
        if type_ == "bytes":
            return base64.b64encode(value).decode("ascii")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad(f"{ctx}: invalid UTF-8") from exc
    if type_ == "bool":
        if wire != 0:
            raise _bad(f"{ctx}: expected a varint")
        return bool(value)
    if type_ in ("int32", "int64"):
        if wire != 0:
            raise _bad(f"{ctx}: expected a varint")
        return _signed(value, 32 if type_ == "int32" else 64)
    if type_ == "double":
        if wire != 1:
            raise _bad(f"{ctx}: expected a fixed64")
        return struct.unpack("<d", value.to_bytes(8, "little"))[0]
    if type_ == "float":
        if wire != 5:
            raise _bad(f"{ctx}: expected a fixed32")
        return struct.unpack("<f", value.to_bytes(4, "little"))[0]
    raise _bad(f"{ctx}: unknown scalar type {type_}")


def _packed_or_single(type_: str, wire: int, value: Any, ctx: str) -> list[Any]:
    """A repeated numeric field may arrive packed (one length-delimited run)."""
    if wire == 2 and type_ in ("bool", "int32", "int64"):
        items = []
        pos = 0
        while pos < len(value):
            item, pos = _varint(value, pos)
            items.append(_scalar(type_, 0, item, ctx))
        return items
    return [_scalar(type_, wire, value, ctx)]


def _time_text(seconds: int, nanos: int, micro: bool) -> str | None:
    if seconds == 0 and nanos == 0:
        return None
    try:
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            seconds=seconds, microseconds=nanos // 1000
        )
    except OverflowError as exc:
        raise _bad("timestamp out of range") from exc
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_duration(nanoseconds: int) -> str:
    """A Go `time.Duration` String(): `1h0m0s`, `1m30s`, `1.5s`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                text = f"{ns / size:.9f}".rstrip("0").rstrip(".")
                return f"{sign}{text}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1_000_000_000:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _special(message: str, buf: bytes, depth: int) -> tuple[bool, Any]:
    """Messages whose JSON form is not an object: (handled, value)."""
    if message in ("meta.v1.Time", "meta.v1.MicroTime"):
        values = {n: v for n, w, v in iter_fields(buf) if w == 0}
        seconds = _signed(values.get(1, 0), 64)
        nanos = _signed(values.get(2, 0), 32)
        return True, _time_text(seconds, nanos, message.endswith("MicroTime"))
    if message == "meta.v1.Duration":
        values = {n: v for n, w, v in iter_fields(buf) if w == 0}
        return True, _go_duration(_signed(values.get(1, 0), 64))
    if message == "resource.Quantity":
        for n, w, v in iter_fields(buf):
            if n == 1 and w == 2:
                return True, _scalar("string", w, v, "quantity")
        return True, "0"
    if message == "intstr.IntOrString":
        kind, int_val, str_val = 0, 0, ""
        for n, w, v in iter_fields(buf):
            if n == 1 and w == 0:
                kind = _signed(v, 64)
            elif n == 2 and w == 0:
                int_val = _signed(v, 32)
            elif n == 3 and w == 2:
                str_val = _scalar("string", w, v, "intstr")
        return True, (str_val if kind == 1 else int_val)
    if message in ("runtime.RawExtension", "meta.v1.FieldsV1"):
        for n, w, v in iter_fields(buf):
            if n == 1 and w == 2:
                if not v:
                    return True, None
                try:
                    return True, json.loads(v)
                except ValueError as exc:
                    raise _bad(f"{message}: raw bytes are not JSON") from exc
        return True, None
    if message.endswith(".ExtraValue"):
        items = [_scalar("string", w, v, message) for n, w, v in iter_fields(buf) if n == 1]
        return True, items
    return False, None


def decode_message(message: str, buf: bytes, depth: int = 0) -> Any:
    """Decode one message of the table into its JSON shape (usually a dict).

    Raises ApiError(400) on malformed input or nesting deeper than 100 levels.
    """
    if depth > 100:
        raise _bad("message nesting too deep")
    handled, value = _special(message, buf, depth)
    if handled:
        return value
    try:
        fields = message_fields(message)
    except KeyError as exc:
        raise _bad(f"no protobuf decoding for {message}") from exc
    out: dict[str, Any] = {}
    for number, wire, raw in iter_fields(buf):
        spec = fields.get(number)
        if spec is None:
            continue  # a field newer than our table: ignored, as proto2 does
        name, type_, repeated = spec
        ctx = f"{message}.{name}"
        if type_.startswith("map:"):
            if wire != 2:
                raise _bad(f"{ctx}: expected a map entry")
            key, val = _map_entry(type_[4:], raw, ctx, depth)
            out.setdefault(name, {})[key] = val
        elif type_ in _SCALARS:
            if repeated:
                out.setdefault(name, []).extend(_packed_or_single(type_, wire, raw, ctx))
            else:
                out[name] = _scalar(type_, wire, raw, ctx)
        elif type_ not in MESSAGES:
            # A message of a group outside the table (alpha scheduling types the batch
            # API references): ignored like an unknown field.
            continue
        else:
            if wire != 2:
                raise _bad(f"{ctx}: expected an embedded message")
            item = decode_message(type_, raw, depth + 1)
            if (message, name) in INLINE_FIELDS and isinstance(item, dict):
                out.update(item)
            elif repeated:
                out.setdefault(name, []).append(item)
            else:
                out[name] = item
    return _drop_zero(message, out)


def _map_entry(value_type: str, buf: bytes, ctx: str, depth: int) -> tuple[str, Any]:
    key = ""
    value: Any = None
    for number, wire, raw in iter_fields(buf):
        if number == 1:
            key = _scalar("string", wire, raw, ctx)
        elif number == 2:
            if value_type in _SCALARS:
                value = _scalar(value_type, wire, raw, ctx)
            else:
                if wire != 2:
                    raise _bad(f"{ctx}: expected an embedded message")
                value = decode_message(value_type, raw, depth + 1)
    if value is None:
        # An entry without a value is the zero value of the map's value type.
        value = {"string": "", "bytes": "", "bool": False}.get(value_type, 0)
        if value_type not in _SCALARS:
            value = "0" if value_type == "resource.Quantity" else {}
    return key, value


def _drop_zero(message: str, out: dict[str, Any]) -> dict[str, Any]:
    """Leave out zero scalars and null specials, as `omitempty` JSON encoding would."""
    for key in list(out):
        value = out[key]
        if value is None or (
            (value == "" or value is False or value == 0)
            and not isinstance(value, dict)
            and (message, key) not in KEEP_ZERO
        ):
            del out[key]
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a `application/vnd.kubernetes.protobuf` request body to a JSON-shaped dict.

    Raises ApiError(400) when the magic is missing or the envelope or object is
    malformed, and ApiError(415) when the kind has no protobuf decoding here (so the
    client sees it is the media type, not the object, that is refused).
    """
    if not body.startswith(MAGIC):
        raise _bad("missing the protobuf magic prefix")
    api_version = kind = ""
    raw = b""
    content_encoding = ""
    for number, wire, value in iter_fields(body[len(MAGIC) :]):
        if number == 1 and wire == 2:
            for n, w, v in iter_fields(value):
                if n == 1 and w == 2:
                    api_version = _scalar("string", w, v, "typeMeta.apiVersion")
                elif n == 2 and w == 2:
                    kind = _scalar("string", w, v, "typeMeta.kind")
        elif number == 2 and wire == 2:
            raw = value
        elif number == 3 and wire == 2:
            content_encoding = _scalar("string", wire, value, "contentEncoding")
    if content_encoding:
        raise _bad(f"unsupported content encoding {content_encoding!r}")
    if not kind:
        raise _bad("the protobuf envelope names no kind")
    message = message_for(api_version, kind)
    if message is None:
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types "
            f"include: application/json, application/yaml (no protobuf decoding for "
            f"{api_version or 'v1'}, Kind={kind})",
        )
    obj = decode_message(message, raw)
    if not isinstance(obj, dict):
        raise _bad(f"{kind} is not an object")
    return {"kind": kind, "apiVersion": api_version or "v1", **obj}
