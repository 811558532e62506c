"""Column definitions and cell formatting shared by the printers (durations, labels,
selectors, containers), as apimachinery's duration and kubectl's printers format them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = dict[str, Any]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC."
)


def col(
    name: str, type_: str = "string", description: str = "", *, priority: int = 0, format_: str = ""
) -> Column:
    """One column definition as the Table's columnDefinitions carry it."""
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description or name,
        "priority": priority,
    }


NAME_COL = col("Name", "string", NAME_DESCRIPTION, format_="name")
AGE_COL = col("Age", "string", AGE_DESCRIPTION)
CREATED_AT_COL = col("Created At", "date", AGE_DESCRIPTION)


# ---------------------------------------------------------------------------------------
# formatting helpers, as k8s.io/apimachinery's duration and kubectl's printers format


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (seconds or micro precision) as an aware datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def human_duration(seconds_total: float) -> str:
    """apimachinery `duration.HumanDuration`: `45s`, `5m2s`, `12m`, `3h4m`, `3d`, `2y5d`."""
    seconds = int(seconds_total)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


# Marks where a duration goes in a row rendered with a `TimeRecorder` (random per
# process, so no stored text can contain it).
PLACEHOLDER = "@@since-" + secrets.token_hex(8) + "-"


class TimeRecorder(datetime):
    """The `now` a row is rendered with for the row cache (`printers.cache`): `ago` and
    `since` answer with a placeholder and record their timestamp, and the cache fills in
    the durations at each request's time. Printers read `now` only through them."""

    times: list[datetime | None]

    def placeholder(self, when: datetime | None) -> str:
        self.times.append(when)
        return f"{PLACEHOLDER}{len(self.times) - 1}@@"


def time_recorder() -> TimeRecorder:
    recorder = TimeRecorder(2000, 1, 1, tzinfo=UTC)
    recorder.times = []
    return recorder


def ago(when: datetime | None, now: datetime) -> str:
    """The human duration from `when` to `now`; `<unknown>` without a timestamp."""
    if isinstance(now, TimeRecorder):
        return now.placeholder(when)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def since(value: Any, now: datetime) -> str:
    """printers' `translateTimestampSince`: `<unknown>` for a missing timestamp."""
    return ago(parse_time(value), now)


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_string(selector: dict[str, Any] | None) -> str:
    """A LabelSelector as `metav1.LabelSelectorAsSelector(...).String()` writes it."""
    if not selector:
        return ""
    parts: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key = expr.get("key", "")
        op = expr.get("operator", "")
        values = sorted(expr.get("values") or [])
        if op == "In":
            parts.append((key, f"{key} in ({','.join(values)})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({','.join(values)})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def label_selector_display(selector: dict[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: `<none>` for an empty selector."""
    text = selector_string(selector)
    return text or "<none>"


def containers_cells(pod_spec: dict[str, Any] | None) -> tuple[str, str]:
    """(names, images) of a pod spec's containers, comma-separated."""
    containers = (pod_spec or {}).get("containers") or []
    names = ",".join(c.get("name", "") for c in containers)
    images = ",".join(c.get("image", "") for c in containers)
    return names, images


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name", "")


def _age(obj: Obj, now: datetime) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _created_at(obj: Obj) -> str:
    when = parse_time(_meta(obj).get("creationTimestamp"))
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _int_or_string(value: Any) -> str:
    return "N/A" if value is None else str(value)


# ---------------------------------------------------------------------------------------
# a printer per kind is (column definitions, row function): see the kind modules

Row = tuple[list[Any], list[dict[str, Any]] | None]
RowFunc = Callable[[Obj, datetime], Row]
