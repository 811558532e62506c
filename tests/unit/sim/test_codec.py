"""The store's JSON codec: orjson's speed, nothing the standard library accepted
refused (`app.sim.machinery.codec`)."""

from __future__ import annotations

import json

from app.sim.machinery.codec import decode, encode


def test_objects_round_trip_compactly_with_unicode_kept() -> None:
    obj = {"metadata": {"name": "café", "labels": {"app": "wëb"}}, "spec": {"n": [1, 2.5, None]}}
    data = encode(obj)
    assert b" " not in data
    assert decode(data) == obj
    assert json.loads(data) == obj  # what any JSON reader makes of it


def test_integers_beyond_64_bits_fall_back_to_the_standard_library() -> None:
    huge = {"data": {"n": 2**70}}
    data = encode(huge)
    assert data == b'{"data":{"n":1180591620717411303424}}'
    assert decode(data) == huge


def test_what_only_the_standard_library_reads_still_decodes() -> None:
    assert decode(b'{"a":NaN}')["a"] != decode(b'{"a":NaN}')["a"]  # NaN
    assert decode('{"s":"\\ud800"}') == {"s": "\ud800"}  # a lone surrogate


def test_non_string_keys_become_strings_as_json_writes_them() -> None:
    assert decode(encode({1: "a", "b": 2})) == {"1": "a", "b": 2}
