"""Decoding of protobuf request bodies: hand-built messages and malformed input (the
bytes the real kubectl sends are decoded in tests/e2e/test_kubectl_protobuf.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sim.apiserver import protobuf
from app.sim.apiserver.proto_fields import MESSAGES
from app.sim.machinery.errors import ApiError

# --- a minimal protobuf writer for building test messages ------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def map_entry(number: int, key: str, value: bytes | str) -> bytes:
    return field_bytes(number, field_bytes(1, key) + field_bytes(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field_bytes(1, api_version) + field_bytes(2, kind)
    return protobuf.MAGIC + field_bytes(1, type_meta) + field_bytes(2, raw)


def object_meta(name: str, **labels: str) -> bytes:
    body = field_bytes(1, name)
    for key, value in labels.items():
        body += map_entry(11, key, value)
    return body


# --- decoding ---------------------------------------------------------------------------


def test_field_table_is_well_formed() -> None:
    outside = set()
    for name in MESSAGES:
        fields = protobuf.message_fields(name)
        for _number, (_json_name, type_, _repeated) in fields.items():
            target = type_[4:] if type_.startswith("map:") else type_
            if target not in protobuf._SCALARS and target not in MESSAGES:
                outside.add(target)
    # Only alpha types of groups the simulator does not serve fall outside the table.
    assert all(".v1alpha" in t for t in outside), outside
    assert protobuf.message_for("apps/v1", "Deployment") == "apps.v1.Deployment"
    assert protobuf.message_for("v1", "Namespace") == "core.v1.Namespace"
    assert protobuf.message_for("example.com/v1", "Widget") is None
    assert protobuf.message_for("apps/v1", "DeleteOptions") == "meta.v1.DeleteOptions"


def test_configmap_with_maps_and_bytes() -> None:
    raw = (
        field_bytes(1, object_meta("cm", app="web"))
        + map_entry(2, "a", "1")
        + map_entry(3, "bin", b"\x00\xff")
    )
    obj = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert obj == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cm", "labels": {"app": "web"}},
        "data": {"a": "1"},
        "binaryData": {"bin": "AP8="},
    }


def test_zero_values_follow_json_omitempty() -> None:
    # gogo-protobuf writes non-pointer zero fields; JSON leaves them out. A pointer
    # field set to zero (replicas: 0) is the user's choice and stays.
    spec = field_varint(1, 0) + field_bytes(3, b"") + field_varint(7, 0)  # replicas, template
    raw = field_bytes(1, object_meta("d")) + field_bytes(2, spec)
    obj = protobuf.decode(envelope("apps/v1", "Deployment", raw))
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["template"] == {}
    assert "paused" not in obj["spec"]  # field 7 is `paused bool` with no pointer
    # Time with zero seconds is an unset timestamp.
    meta = field_bytes(1, "n") + field_bytes(8, field_varint(1, 0))
    obj = protobuf.decode(envelope("v1", "Namespace", field_bytes(1, meta)))
    assert obj["metadata"] == {"name": "n"}


def test_negative_ints_times_and_int_or_string() -> None:
    # PriorityClass value -5 (int32 encoded as a 10-byte varint).
    raw = field_bytes(1, object_meta("low")) + field_varint(2, -5)
    obj = protobuf.decode(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))
    assert obj["value"] == -5
    created = field_bytes(8, field_varint(1, 1_700_000_000))
    obj = protobuf.decode(
        envelope("v1", "Namespace", field_bytes(1, field_bytes(1, "n") + created))
    )
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    by_name = field_bytes(4, field_varint(1, 1) + field_bytes(3, "http"))  # targetPort
    by_number = field_bytes(4, field_varint(1, 0) + field_varint(2, 8080))
    port_a = field_bytes(1, field_bytes(1, "a") + field_varint(3, 80) + by_name)
    port_b = field_bytes(1, field_bytes(1, "b") + field_varint(3, 81) + by_number)
    obj = protobuf.decode(envelope("v1", "Service", field_bytes(2, port_a + port_b)))
    assert obj["spec"]["ports"] == [
        {"name": "a", "port": 80, "targetPort": "http"},
        {"name": "b", "port": 81, "targetPort": 8080},
    ]


def test_inline_structs_spread_into_their_parent() -> None:
    # Volume{name, VolumeSource{configMap{LocalObjectReference{name}}}}: JSON has
    # volumes[0].configMap.name with no volumeSource/localObjectReference level.
    config_map = field_bytes(1, field_bytes(1, "settings"))
    volume_source = field_bytes(19, config_map)
    volume = field_bytes(1, "cfg") + field_bytes(2, volume_source)
    container = field_bytes(1, "app") + field_bytes(2, "nginx")
    pod_spec = field_bytes(1, volume) + field_bytes(2, container)
    obj = protobuf.decode(envelope("v1", "Pod", field_bytes(2, pod_spec)))
    assert obj["spec"]["volumes"] == [{"name": "cfg", "configMap": {"name": "settings"}}]
    assert obj["spec"]["containers"] == [{"name": "app", "image": "nginx"}]


def test_packed_repeated_scalars_are_accepted() -> None:
    # proto2 writers leave repeated ints unpacked, but a packed run must decode too.
    assert protobuf._packed_or_single("int32", 2, varint(1) + varint(2) + varint(300), "x") == [
        1,
        2,
        300,
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        protobuf.MAGIC + b"\x0a\x05ab",  # truncated length-delimited field
        protobuf.MAGIC + b"\x0b",  # group wire type
        protobuf.MAGIC + b"\x08" + b"\xff" * 11,  # endless varint
        protobuf.MAGIC,  # no kind
        envelope("v1", "ConfigMap", b"\x12\x03\x0a"),  # map entry cut short
        envelope("v1", "ConfigMap", b"\x08\x01"),  # metadata as a varint
        envelope("v1", "ConfigMap", field_bytes(1, field_bytes(1, b"\xff\xfe"))),  # bad UTF-8
    ],
)
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        protobuf.decode(body)
    assert err.value.code == 400
    assert err.value.status()["reason"] == "BadRequest"


def test_unknown_kind_is_unsupported_media() -> None:
    with pytest.raises(ApiError) as err:
        protobuf.decode(envelope("example.com/v1", "Widget", b""))
    assert err.value.code == 415


def test_truncated_nested_message_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as err:
        protobuf.decode_message("core.v1.Pod", b"\x12" + b"\xff" * 3)
    assert err.value.code == 400


def test_unknown_fields_are_skipped() -> None:
    raw = field_bytes(1, object_meta("n")) + field_bytes(99, "future") + field_varint(98, 7)
    obj = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "n"}}


def test_go_duration_strings() -> None:
    assert protobuf._go_duration(0) == "0s"
    assert protobuf._go_duration(3_600_000_000_000) == "1h0m0s"
    assert protobuf._go_duration(90_000_000_000) == "1m30s"
    assert protobuf._go_duration(1_500_000_000) == "1.5s"
    assert protobuf._go_duration(2_000_000) == "2ms"


@given(
    kind=st.sampled_from(
        [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("v1", "Secret"),
            ("batch/v1", "CronJob"),
            ("networking.k8s.io/v1", "Ingress"),
            ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ]
    ),
    raw=st.binary(max_size=200),
)
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash_the_decoder(kind: tuple[str, str], raw: bytes) -> None:
    try:
        obj = protobuf.decode(envelope(kind[0], kind[1], raw))
    except ApiError as err:
        assert err.code == 400
    else:
        assert obj["kind"] == kind[1]
        json.dumps(obj)


@given(raw=st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_random_envelopes_never_crash_the_decoder(raw: bytes) -> None:
    try:
        protobuf.decode(protobuf.MAGIC + raw)
    except ApiError as err:
        assert err.code in (400, 415)


def _sample_pod() -> bytes:
    config_map = field_bytes(1, field_bytes(1, "settings"))
    volume = field_bytes(1, "cfg") + field_bytes(2, field_bytes(19, config_map))
    port = field_bytes(6, field_varint(3, 80) + field_bytes(4, "TCP"))
    limits = map_entry(1, "cpu", field_bytes(1, "500m"))
    container = field_bytes(1, "app") + field_bytes(2, "nginx") + port + field_bytes(8, limits)
    spec = field_bytes(1, volume) + field_bytes(2, container) + field_varint(4, 30)
    meta = object_meta("p", app="web") + field_bytes(8, field_varint(1, 1_700_000_000))
    return field_bytes(1, meta) + field_bytes(2, spec)


def test_sample_pod_decodes() -> None:
    obj = protobuf.decode(envelope("v1", "Pod", _sample_pod()))
    container = obj["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["resources"] == {"limits": {"cpu": "500m"}}
    assert obj["spec"]["terminationGracePeriodSeconds"] == 30


@given(data=st.data())
@settings(max_examples=400, deadline=None)
def test_mutated_messages_never_crash_the_decoder(data: st.DataObject) -> None:
    raw = bytearray(_sample_pod())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    try:
        obj = protobuf.decode(envelope("v1", "Pod", bytes(raw)))
    except ApiError as err:
        assert err.code == 400
    else:
        json.dumps(obj)
