"""The v1 message parser: every kind of bad message gets its own error, nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gearshift.control.protocol import (
    ErrorCode,
    ProtocolError,
    StatusRequest,
    SubscribeRequest,
    SwitchRequest,
    parse_request,
)


def error_of(line: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_request(line)
    return caught.value


def test_a_switch_request_is_parsed_with_its_defaults() -> None:
    request = parse_request(b'{"v": 1, "id": "a", "op": "switch", "mode": "competitive"}\n')
    assert request == SwitchRequest(v=1, id="a", op="switch", mode="competitive", force=False)


def test_a_subscription_defaults_to_every_event_at_one_hertz() -> None:
    request = parse_request(b'{"v": 1, "op": "subscribe"}')
    assert isinstance(request, SubscribeRequest)
    assert request.events == ("mode_changed", "switch_failed", "budget")
    assert request.rate_hz == 1.0


@pytest.mark.parametrize(
    ("line", "code", "fields"),
    [
        (b"{not json", ErrorCode.BAD_JSON, ()),
        (b"\xff\xfe{}", ErrorCode.BAD_JSON, ()),
        (b'{"v": 1, "op": "status", "x": NaN}', ErrorCode.BAD_JSON, ()),
        (b"[1, 2]", ErrorCode.BAD_REQUEST, ()),
        (b'{"op": "status"}', ErrorCode.BAD_REQUEST, ("v",)),
        (b'{"v": 2, "op": "status"}', ErrorCode.UNSUPPORTED_VERSION, ("v",)),
        (b'{"v": true, "op": "status"}', ErrorCode.UNSUPPORTED_VERSION, ("v",)),
        (b'{"v": "1", "op": "status"}', ErrorCode.UNSUPPORTED_VERSION, ("v",)),
        (b'{"v": 1}', ErrorCode.UNKNOWN_OP, ("op",)),
        (b'{"v": 1, "op": "reboot"}', ErrorCode.UNKNOWN_OP, ("op",)),
        (b'{"v": 1, "op": "switch"}', ErrorCode.BAD_REQUEST, ("mode",)),
        (b'{"v": 1, "op": "switch", "mode": "fast"}', ErrorCode.BAD_REQUEST, ("mode",)),
        (
            b'{"v": 1, "op": "switch", "mode": "immersive", "force": "yes"}',
            ErrorCode.BAD_REQUEST,
            ("force",),
        ),
        (b'{"v": 1, "op": "status", "verbose": true}', ErrorCode.BAD_REQUEST, ("verbose",)),
        (b'{"v": 1, "op": "subscribe", "rate_hz": 0}', ErrorCode.BAD_REQUEST, ("rate_hz",)),
        (b'{"v": 1, "op": "subscribe", "rate_hz": 11}', ErrorCode.BAD_REQUEST, ("rate_hz",)),
        (b'{"v": 1, "op": "subscribe", "rate_hz": true}', ErrorCode.BAD_REQUEST, ("rate_hz",)),
        (b'{"v": 1, "op": "subscribe", "events": []}', ErrorCode.BAD_REQUEST, ("events",)),
        (
            b'{"v": 1, "op": "subscribe", "events": ["frames"]}',
            ErrorCode.BAD_REQUEST,
            ("events.0",),
        ),
        (b'{"v": 1, "op": "status", "id": [1]}', ErrorCode.BAD_REQUEST, ("id",)),
    ],
)
def test_each_bad_message_gets_its_error_and_the_fields_at_fault(
    line: bytes, code: ErrorCode, fields: tuple[str, ...]
) -> None:
    error = error_of(line)
    assert error.body.code is code
    assert error.body.fields == fields
    assert error.body.message and "\n" not in error.body.message


def test_the_error_echoes_a_readable_request_id() -> None:
    assert error_of(b'{"v": 1, "id": 7, "op": "nope"}').request_id == 7
    assert error_of(b'{"v": 1, "id": true, "op": "nope"}').request_id is None
    assert error_of(b'{"v": 1, "id": "' + b"x" * 65 + b'", "op": "nope"}').request_id is None


def test_deeply_nested_json_is_bad_json_not_a_crash() -> None:
    assert error_of(b"[" * 100_000 + b"]" * 100_000).body.code in (
        ErrorCode.BAD_JSON,
        ErrorCode.BAD_REQUEST,
    )


def test_the_request_model_round_trips_through_json() -> None:
    request = StatusRequest(v=1, id=3, op="status")
    assert parse_request(request.model_dump_json().encode()) == request


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
near_requests = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 1, 2, "1", None, True])},
    optional={
        "op": st.sampled_from(["status", "switch", "subscribe", "health", "version", "x"]),
        "id": json_values,
        "mode": st.sampled_from(["immersive", "competitive", "toggle", "IMMERSIVE", 1]),
        "force": json_values,
        "events": json_values,
        "rate_hz": json_values,
        "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_any_bytes_parse_or_give_a_protocol_error(line: bytes) -> None:
    try:
        parse_request(line)
    except ProtocolError as error:
        assert error.body.message


@settings(max_examples=400, deadline=None)
@given(near_requests)
def test_fuzz_near_requests_parse_or_give_a_protocol_error(document: dict[str, object]) -> None:
    line = json.dumps(document).encode()
    try:
        request = parse_request(line)
    except ProtocolError as error:
        assert error.body.code is not ErrorCode.INTERNAL
        assert error.body.message
    else:
        assert request.v == 1
        assert request.op == document["op"]
