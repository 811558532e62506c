"""The store's JSON codec: orjson's speed, nothing the standard library accepted
refused (`app.sim.machinery.codec`)."""

from __future__ import annotations

import json
import tracemalloc

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


def test_kept_bytes_take_their_size_not_the_encoder_buffer() -> None:
    # orjson's bytes keep the buffer they were written into (4 KiB or more); what the
    # store keeps must not: 1,000 small objects stay well under 1,000 x 4 KiB.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode({"metadata": {"name": f"lease-{i}"}}) for i in range(1000)]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert sum(map(len, kept)) < 40_000
    assert used < 200_000
