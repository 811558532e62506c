"""Base schemas shared by every resource.

Input schemas derive from `InputSchema` (unknown fields are an error, 422); output
schemas from `OutputSchema`. Keep them separate classes even when fields overlap.
"""

from __future__ import annotations

import marshmallow as ma

# The error body every failure uses; re-exported so alt_response docs share one component.
from flask_smorest.error_handler import ErrorSchema

__all__ = ["ErrorSchema", "InputSchema", "OutputSchema"]


class InputSchema(ma.Schema):
    """A request body or query: unknown fields are rejected."""

    class Meta:
        unknown = ma.RAISE


class OutputSchema(ma.Schema):
    """A response body."""
