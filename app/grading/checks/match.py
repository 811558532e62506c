"""`match`: an object matches a YAML fragment the kuttl way (maps as subsets, lists
element by element with the same length)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from app.grading.checks.base import (
    CheckEnv,
    KindSchema,
    Outcome,
    SimpleKind,
    describe_selection,
    evidence_of,
    select,
)
from app.grading.matchers import Mismatch, fragment_values, partial_match


class MatchSchema(KindSchema):
    # The expected object: apiVersion and kind required; metadata.name and
    # metadata.namespace, when given, select the object (without a name any object of
    # that kind in the namespace may match, as in kuttl).
    object = fields.Dict(required=True)

    @validates_schema
    def identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        obj = data.get("object") or {}
        missing = [k for k in ("apiVersion", "kind") if not isinstance(obj.get(k), str)]
        if missing:
            raise ValidationError(f"needs {' and '.join(missing)}", "object")
        meta = obj.get("metadata", {})
        if not isinstance(meta, dict):
            raise ValidationError("metadata must be a mapping", "object")


class Match(SimpleKind):
    """Passes when the named object (or any object of the kind) matches the fragment."""

    name = "match"
    schema = MatchSchema

    def run(self, params: dict[str, Any], env: CheckEnv) -> Outcome:
        expected = params["object"]
        meta = expected.get("metadata") or {}
        selection = {
            "apiVersion": expected["apiVersion"],
            "resource": expected["kind"],
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
        }
        candidates = select(selection, env)
        what = describe_selection(selection)
        if not candidates:
            return Outcome(False, f"expected {what} to exist, found none")
        best: tuple[list[Mismatch], dict[str, Any]] | None = None
        for obj in candidates:
            mismatches = partial_match(expected, obj)
            if not mismatches:
                return Outcome(True, f"{what} matches", [self._evidence(obj, expected)])
            if best is None or len(mismatches) < len(best[0]):
                best = (mismatches, obj)
        assert best is not None
        mismatches, obj = best
        shown = "; ".join(str(m) for m in mismatches[:5])
        more = f" (and {len(mismatches) - 5} more)" if len(mismatches) > 5 else ""
        name = (obj.get("metadata") or {}).get("name")
        return Outcome(
            False, f"{expected['kind']} {name}: {shown}{more}", [self._evidence(obj, expected)]
        )

    @staticmethod
    def _evidence(obj: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
        values = fragment_values({k: v for k, v in expected.items() if k != "apiVersion"}, obj)
        return evidence_of(obj, **dict(list(values.items())[:30]))
