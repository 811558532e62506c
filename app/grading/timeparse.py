"""Kubernetes timestamps (`metav1.Time`, `metav1.MicroTime`) to aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_k8s_time(value: object) -> datetime | None:
    """An aware UTC datetime, or None for a missing or unreadable value."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, for evidence."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
