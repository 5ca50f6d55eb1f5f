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
def test_json_messages_load_or_raise_decode_error(data: bytes) -> None:
    try:
        message = wire.loads(data)
    except DecodeError as exc:
        assert exc.protocol == "strideguard-json"
        return
    assert isinstance(message, dict)
