"""Request parsing that turns hostile input into a 4xx, never a 500.

Every REST blueprint is a `Blueprint` from this module (a flask-smorest `Blueprint`
whose argument and pagination parsers are a `RequestParser`):

- A JSON body that cannot be decoded at all -- malformed, nested deeper than Python's
  decoder can follow (`RecursionError`), or holding an integer literal over Python's
  4,300-digit conversion limit (`ValueError`) -- answers 400 "Invalid JSON body."
- After loading, an integer in the query string outside the signed 32-bit range (ids
  are INTEGER columns on PostgreSQL; page numbers are multiplied into a 64-bit OFFSET),
  an integer in a JSON body outside the signed 64-bit range (answers are stored as
  JSON, where larger numbers are legitimate up to that), or arguments nested deeper than
  `MAX_ARGUMENT_DEPTH` answer 422 naming the field. Without this an id or a page number
  of 2**64 reached the database driver and failed there (`OverflowError` on SQLite,
  "integer out of range" on PostgreSQL).
- A string argument holding a NUL character answers 422 (PostgreSQL text cannot store
  one and its driver refuses the statement).
- Integer path segments (`<int:...>`) match only up to `MAX_ID` (`BoundedIntConverter`),
  so a larger one is 404 like any other unknown id; OpenAPI documents the maximum. A
  string path segment holding NUL matches no route (404, `TextConverter`).

Request size is limited before any of this, by `MAX_CONTENT_LENGTH` (app.config): a
larger body answers 413 without being read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Flask, Request
from flask_smorest.pagination import PaginationParameters
from webargs.core import missing, parse_json
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, UnicodeConverter

# Signed 64-bit: BIGINT on PostgreSQL, INTEGER on SQLite; the bound for JSON bodies.
MAX_INT64 = 2**63 - 1
# Signed 32-bit: INTEGER (every id column) on PostgreSQL; the bound for ids in paths and
# for query integers (a page times the page size stays well within a 64-bit OFFSET).
MAX_ID = 2**31 - 1
# Nesting deeper than this is never a real request (answers are at most a few levels).
MAX_ARGUMENT_DEPTH = 32


def argument_problem(data: Any, *, max_int: int = MAX_INT64) -> tuple[str, str] | None:
    """(dotted field path, message) for the first integer outside +-`max_int`, string
    with a NUL character, or value nested deeper than `MAX_ARGUMENT_DEPTH` in `data`,
    else None.

    Iterative, so a deep value cannot exhaust the stack here either.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_ARGUMENT_DEPTH:
            return ".".join(path[:MAX_ARGUMENT_DEPTH]), (
                f"Nested deeper than {MAX_ARGUMENT_DEPTH} levels."
            )
        if isinstance(value, bool):
            continue
        if isinstance(value, str):
            if "\x00" in value:
                return ".".join(path) or "_schema", "Must not contain NUL characters."
            continue
        if isinstance(value, int):
            if not -max_int <= value <= max_int:
                return ".".join(path) or "_schema", f"Must be between {-max_int} and {max_int}."
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    return ".".join(path) or "_schema", "Keys must not contain NUL characters."
                stack.append((item, (*path, str(key))))
        elif isinstance(value, list | tuple | set):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))
        elif isinstance(value, PaginationParameters):
            stack.extend([(value.page, (*path, "page")), (value.page_size, (*path, "page_size"))])
    return None


def request_body(req: Request) -> bytes:
    """The request body; `RequestEntityTooLarge` (413) when it is over the limit.

    A body with a Content-Length over the limit is refused before it is read
    (`app.errors.reject_oversized_body`). A body without one (chunked) is read up to the
    limit by werkzeug, which stops there silently: one byte more means it was too large.
    """
    data = req.get_data(cache=True)
    limit = req.max_content_length
    if (
        limit is not None
        and req.content_length is None
        and len(data) >= limit
        and req.environ.get("wsgi.input_terminated")
        and req.environ["wsgi.input"].read(1)
    ):
        raise RequestEntityTooLarge(f"The request body is larger than {limit} bytes.")
    return data


class RequestParser(FlaskParser):
    """webargs' Flask parser with the limits described in the module docstring.

    A schema given as a class (`@blp.arguments(ThingSchema)`) is instantiated once per
    parser, not on every request as webargs does: building a schema copies all its
    fields, and loading keeps no state on the instance, so threads can share one.
    """

    # Integer bound per argument location; other locations (query, path, headers, ...)
    # get `MAX_ID`.
    MAX_INT_BY_LOCATION = {"json": MAX_INT64, "json_or_form": MAX_INT64}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[ma.Schema], ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Request) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                # Two threads may both build it the first time; either copy will do.
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return missing
        try:
            return parse_json(request_body(req))
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as exc:
            # Too deep for the decoder, or an integer literal too long to convert. (A
            # decode error with an empty document would mean "no body" to webargs.)
            raise json.JSONDecodeError(str(exc), "<request body>", 0) from exc

    def _process_location_data(
        self,
        location_data: Any,
        schema: ma.Schema,
        req: Request,
        location: str,
        unknown: str | None,
        validators: Any,
    ) -> Any:
        data = super()._process_location_data(
            location_data, schema, req, location, unknown, validators
        )
        max_int = self.MAX_INT_BY_LOCATION.get(location, MAX_ID)
        problem = argument_problem(data, max_int=max_int)
        if problem is not None:
            field, message = problem
            raise ma.ValidationError({field: [message]})
        return data


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint whose parsers reject out-of-range input with 4xx."""

    ARGUMENTS_PARSER = RequestParser()
    PAGINATION_ARGUMENTS_PARSER = RequestParser()


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches 0 .. `MAX_ID` only (larger ids cannot exist)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class TextConverter(UnicodeConverter):
    """The default `<name>` converter, matching no segment that holds a NUL character."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]", 1)


def bounded_int_schema(converter: BoundedIntConverter) -> dict[str, Any]:
    """OpenAPI schema of a bounded integer path parameter."""
    schema: dict[str, Any] = {"type": "integer", "minimum": converter.min or 0}
    if converter.max is not None:
        schema["maximum"] = converter.max
    return schema


def install_converters(app: Flask, api: flask_smorest.Api) -> None:
    """Use `BoundedIntConverter` for `<int:...>` and `TextConverter` for `<name>` and
    `<string:...>` on `app` (before routes are added)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["string"] = TextConverter
    api.register_converter(BoundedIntConverter, bounded_int_schema)
