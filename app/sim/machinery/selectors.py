"""Label and field selectors, parsed and matched as the API server does.

Label selectors come in two shapes: the query-string form (`app=web,tier notin (db)`)
and the `LabelSelector` object of Deployments, Services and PDBs (`matchLabels` +
`matchExpressions`). Both parse to a `LabelSelector` of `Requirement`s. Field selectors
support `=`, `==` and `!=` on the fields each kind declares (upstream rejects the rest
with 400 "field label not supported").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.sim.machinery.errors import ApiError

# Label keys: optional DNS-subdomain prefix + "/" + name of up to 63 characters
# (apimachinery validation.IsQualifiedName); values up to 63 characters.
_NAME_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

OPERATORS = ("in", "notin", "exists", "!", "=", "==", "!=", "gt", "lt")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement: `key op values`."""

    key: str
    operator: str  # in, notin, exists, !, =, ==, !=, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in ("=", "==", "in"):
            return self.key in labels and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if self.key not in labels:
            return False
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if op == "gt" else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return f"!{self.key}"
        if op in ("in", "notin"):
            return f"{self.key} {op} ({','.join(self.values)})"
        symbol = {"gt": ">", "lt": "<"}.get(op, op)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()
    # A nil LabelSelector object matches nothing (upstream LabelSelectorAsSelector).
    match_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.match_nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements and not self.match_nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _bad_selector(message: str) -> ApiError:
    return ApiError(400, f"unable to parse requirement: {message}")


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise _bad_selector(
            f'invalid label key "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.'"
        )
    if prefix and (len(prefix) > 253 or not _PREFIX_RE.match(prefix)):
        raise _bad_selector(f'invalid label key "{key}": prefix part must be a DNS subdomain')


def _check_value(value: str) -> None:
    if len(value) > 63 or not _NAME_RE.match(value):
        raise _bad_selector(
            f'invalid label value: "{value}": must be 63 characters or less '
            "and consist of alphanumeric characters, '-', '_' or '.'"
        )


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _bad_selector(f"unbalanced parenthesis in {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise _bad_selector(f"unbalanced parenthesis in {text!r}")
    parts.append(text[start:])
    return parts


_SET_RE = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")
_BINARY_RE = re.compile(r"^\s*([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)\s*$")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the query-string form; raises ApiError(400) on bad syntax."""
    if text is None or not text.strip():
        return LabelSelector()
    reqs: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise _bad_selector(f"empty requirement in {text!r}")
        if m := _SET_RE.match(part):
            key, op, inner = m.group(1), m.group(2), m.group(3)
            values = tuple(v.strip() for v in inner.split(",")) if inner.strip() else ()
            _check_key(key)
            for v in values:
                _check_value(v)
            if not values:
                raise _bad_selector(f"for '{op}' operator, values set can't be empty")
            reqs.append(Requirement(key, op, tuple(sorted(set(values)))))
        elif m := _BINARY_RE.match(part):
            key, symbol, value = m.groups()
            _check_key(key)
            op = {">": "gt", "<": "lt"}.get(symbol, symbol)
            if op in ("gt", "lt"):
                try:
                    int(value)
                except ValueError:
                    raise _bad_selector(
                        f"for 'Gt', 'Lt' operators, the value must be an integer: {value!r}"
                    ) from None
            else:
                _check_value(value)
            reqs.append(Requirement(key, op, (value,)))
        elif part.startswith("!"):
            key = part[1:].strip()
            _check_key(key)
            reqs.append(Requirement(key, "!"))
        else:
            _check_key(part)
            reqs.append(Requirement(part, "exists"))
    return LabelSelector(tuple(reqs))


def selector_from_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a `LabelSelector` object (matchLabels/matchExpressions).

    None matches nothing and `{}` matches everything, as upstream. Raises ApiError(400)
    on an unknown operator.
    """
    if selector is None:
        return LabelSelector(match_nothing=True)
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = str(expr.get("operator", ""))
        values = tuple(str(v) for v in expr.get("values") or ())
        mapped = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(op)
        if mapped is None:
            raise ApiError(400, f'"{op}" is not a valid label selector operator')
        reqs.append(Requirement(str(expr.get("key", "")), mapped, values))
    return LabelSelector(tuple(reqs))


def selector_from_map(labels: Mapping[str, str] | None) -> LabelSelector:
    """A Service/ReplicationController-style map selector (`{app: web}`)."""
    return LabelSelector(tuple(Requirement(k, "=", (v,)) for k, v in (labels or {}).items()))


# ---- field selectors ---------------------------------------------------------------

# Fields each kind supports beyond metadata.name / metadata.namespace, from the
# upstream registry strategies' GetAttrs/field label conversion functions
# (pkg/registry/*/strategy.go, pkg/apis/core/v1/conversion.go).
_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
FIELD_LABELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): _POD_FIELDS,
    ("", "events"): _EVENT_FIELDS,
    ("events.k8s.io", "events"): (
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    ),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("", "replicationcontrollers"): ("status.replicas",),
    ("", "persistentvolumeclaims"): ("spec.volumeName",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
    ("certificates.k8s.io", "certificatesigningrequests"): ("spec.signerName",),
}
_ALWAYS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        have = field_value(obj, self.field)
        return (have == self.value) if self.operator == "=" else (have != self.value)

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{self.value}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def exact_name(self) -> str | None:
        """The name when the selector pins `metadata.name=X` (kubectl wait does)."""
        for r in self.requirements:
            if r.field == "metadata.name" and r.operator == "=":
                return r.value
        return None


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted field as field selectors compare it.

    Missing fields compare as "", booleans as "true"/"false", numbers as decimal.
    Core events' `source` is `source.component`, as upstream's field label maps it.
    """
    if path == "source":
        path = "source.component"
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
        if current is None:
            return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, (dict, list)):
        return ""
    return str(current)


def _unescape(value: str) -> str:
    # Upstream field selectors escape `\,` `\=` `\\` (fields.EscapeValue).
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(
    text: str | None, group: str | None = None, plural: str | None = None
) -> FieldSelector:
    """Parse `a=b,c!=d`; with group/plural given, reject fields the kind does not support.

    Raises ApiError(400) on bad syntax or an unsupported field (upstream message
    `field label not supported: X`).
    """
    if text is None or not text.strip():
        return FieldSelector()
    reqs = []
    for raw in re.split(r"(?<!\\),", text):
        part = raw.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{part}'")
        name, symbol, value = m.group(1).strip(), m.group(2), _unescape(m.group(3).strip())
        if plural is not None and name not in _ALWAYS:
            allowed = FIELD_LABELS.get((group or "", plural), ())
            if name not in allowed:
                raise ApiError(400, f"field label not supported: {name}")
        reqs.append(FieldRequirement(name, "!=" if symbol == "!=" else "=", value))
    return FieldSelector(tuple(reqs))
