"""The JSON messages on MQTT (stream.mqtt.payload.loads) against arbitrary bytes: a JSON object or
`sensors.errors.DecodeError`, nothing else. The binary IMU payload is fuzzed in test_strideguard_imu.py."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from strideguard.sensors.errors import DecodeError
from strideguard.stream.mqtt import payload as wire
from tests.fuzz._support import fuzz_settings


@fuzz_settings(300)
@given(
    data=st.binary(max_size=200)
    | st.text(max_size=100).map(str.encode)
    | st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=10,
    ).map(lambda v: json.dumps(v).encode())
)
def test_json_messages_load_exactly_or_are_refused_with_the_reason(data: bytes) -> None:
    """A JSON object loads to exactly that object; JSON of another type is refused as "must be an object",
    anything else (not UTF-8, not JSON) as "not JSON". JSON names no byte offset that means anything to a
    sender, so the error carries the whole payload and the reason instead."""
    try:
        expected = json.loads(data)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
        reason = "not JSON: "
    else:
        reason = None if isinstance(expected, dict) else "a JSON message must be an object"
    try:
        message = wire.loads(data)
    except DecodeError as exc:
        assert reason is not None, f"refused a JSON object: {exc}"
        assert (exc.protocol, exc.payload) == ("strideguard-json", data)
        assert str(exc).startswith(f"strideguard-json: {reason}") and "\n" not in str(exc), str(exc)
        return
    assert reason is None, f"loaded {message!r}, expected refusal: {reason}"
    assert repr(message) == repr(expected)  # repr: NaN equals itself
