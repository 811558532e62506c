"""Ids read from a page's query string or form: only what an INTEGER column can hold
(`app.api.parsing.MAX_ID`), so a hostile value is "not found", never a database error."""

from __future__ import annotations

from collections.abc import Mapping

from app.api.parsing import MAX_ID


def id_arg(values: Mapping[str, str], name: str) -> int | None:
    """The id `values[name]` as an int; None when absent, not a number, or outside
    1..MAX_ID (no row can have such an id)."""
    text = (values.get(name) or "").strip()
    if not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
