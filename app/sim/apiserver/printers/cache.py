"""Table rows cached per stored object, for large list requests.

A row depends on its object and on the request's time (AGE, a restart's "5m ago", a
running Job's duration). The cache renders each row once per stored version of its
object with a `TimeRecorder` as `now`, keeps it encoded as JSON split around the
duration placeholders, and fills in the durations at each request: a list of
thousands of unchanged pods costs a few string joins per row instead of a decode, a
printer run and an encode. A row is reused only for the very same stored version of
its object (`store.Stamp`: a write or a snapshot load gives a new one).

Built-in printers only read `now` through `format.ago`/`format.since`; custom
resources' additionalPrinterColumns are not cached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.sim.apiserver.printers.format import PLACEHOLDER, ago, time_recorder
from app.sim.apiserver.printers.table import to_table
from app.sim.machinery.codec import decode
from app.sim.machinery.resources import ResourceType

_SPLIT = re.compile(re.escape(PLACEHOLDER) + r"(\d+)@@")

Key = tuple[str, str]
# (key, stored bytes, stamp), as `ObjectStore.list_raw_page` lists them.
RawItem = tuple[Key, bytes, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class _Row:
    stamp: tuple[int, int]  # the stored version the row was rendered from
    texts: tuple[str, ...]  # the encoded row around its durations
    slots: tuple[int, ...]  # which recorded time goes between texts[i] and texts[i+1]
    times: tuple[datetime | None, ...]

    def encode(self, now: datetime) -> bytes:
        if not self.slots:
            return self.texts[0].encode()
        durations = [ago(when, now) for when in self.times]
        out = [self.texts[0]]
        for slot, text in zip(self.slots, self.texts[1:], strict=True):
            out.append(durations[slot])
            out.append(text)
        return "".join(out).encode()


def _render(rt: ResourceType, obj: dict[str, Any], stamp: tuple[int, int], include: str) -> _Row:
    recorder = time_recorder()
    row = to_table(rt, [obj], now=recorder, include_object=include)["rows"][0]
    parts = _SPLIT.split(json.dumps(row, separators=(",", ":")))
    return _Row(
        stamp=stamp,
        texts=tuple(parts[0::2]),
        slots=tuple(int(p) for p in parts[1::2]),
        times=tuple(recorder.times),
    )


class RowCache:
    """Encoded Table rows of one cluster's objects, per kind and `includeObject`."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], dict[Key, _Row]] = {}

    def rows(
        self,
        rt: ResourceType,
        items: Iterable[RawItem],
        *,
        now: datetime,
        include_object: str,
        complete: bool,
    ) -> list[bytes]:
        """The encoded rows of `items` at time `now`. `complete`: the items are all
        the kind's objects, so rows of objects no longer listed are dropped."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        variant = (rt.group, rt.plural, include_object)
        cached = self._rows.get(variant, {})
        kept = {} if complete else cached
        encoded = []
        for key, raw, stamp in items:
            row = cached.get(key)
            if row is None or row.stamp != stamp:
                row = _render(rt, decode(raw), stamp, include_object)
            kept[key] = row
            encoded.append(row.encode(now))
        self._rows[variant] = kept
        return encoded
