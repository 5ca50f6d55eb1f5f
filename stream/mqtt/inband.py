"""What travels on a runner's partitioned input topic besides IMU batches: readings and controls.

`strideguard/v1/<team>/<runner>/imu/<partition>` carries one session's whole input in order, so the
worker sees it exactly as the embedded pipeline does: binary IMU batches (version byte 0x01, see
`stream.mqtt.payload`) and, interleaved at the position they were read, JSON messages (first byte `{`)
that share the session's sequence numbers (de-duplication, gap counting, the journal):

    {"v": 1, "kind": "hr", "session": S, "seq": N, "device": D, "t_ns": T, "heart_rate_bpm": 150,
     "rr_intervals_ms": [400.0], "energy_expended_kj": null, "sensor_contact": true}
    {"v": 1, "kind": "stride", "session": S, "seq": N, "device": D, "t_ns": T, "speed_mps": 3.2,
     "cadence_spm": 172, "stride_length_m": 1.1, "total_distance_m": 1234.0, "is_running": true}
    {"v": 1, "kind": "control", "session": S, "seq": N, "control": {"action": "snooze", "metric": null,
     "minutes": 10, "request_id": "r1"}}
    {"v": 1, "kind": "link", "session": S, "seq": N, "device": D, "t_ns": T, "event": "link_lost"}

A `link` message is the BLE collector's `link_lost` / `link_restored` for one of the runner's devices,
so the worker can publish the runner's sensor state as the embedded pipeline does.

The runner is the topic's, never the payload's. Decoding is strict: a missing or mistyped field, an
unknown kind or version raises `DecodeError` (protocol "strideguard-inband"), which the worker counts as
a bad payload.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.types import HeartRateReading, StrideReading
from strideguard.stream.mqtt.payload import ImuMessage, decode_imu

PROTOCOL = "strideguard-inband"
VERSION = 1
MAX_JSON_BYTES = 64 * 1024  # no reading or control message comes near this


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingMessage:
    session: str
    seq: int
    reading: HeartRateReading | StrideReading


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlMessage:
    session: str
    seq: int
    control: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkMessage:
    session: str
    seq: int
    device: str
    t_ns: int
    event: str  # one of LINK_EVENTS


LINK_EVENTS = ("link_lost", "link_restored")
InputMessage = ImuMessage | ReadingMessage | ControlMessage | LinkMessage


def encode_reading(reading: HeartRateReading | StrideReading, *, session: str, seq: int) -> bytes:
    body: dict[str, Any] = {
        "v": VERSION,
        "session": session,
        "seq": seq,
        "device": reading.device,
        "t_ns": reading.t_ns,
    }
    if isinstance(reading, HeartRateReading):
        body.update(
            kind="hr",
            heart_rate_bpm=reading.heart_rate_bpm,
            rr_intervals_ms=list(reading.rr_intervals_ms),
            energy_expended_kj=reading.energy_expended_kj,
            sensor_contact=reading.sensor_contact,
        )
    else:
        body.update(
            kind="stride",
            speed_mps=reading.speed_mps,
            cadence_spm=reading.cadence_spm,
            stride_length_m=reading.stride_length_m,
            total_distance_m=reading.total_distance_m,
            is_running=reading.is_running,
        )
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def encode_control(control: dict[str, Any], *, session: str, seq: int) -> bytes:
    body = {"v": VERSION, "kind": "control", "session": session, "seq": seq, "control": control}
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def encode_link(event: str, *, device: str, t_ns: int, session: str, seq: int) -> bytes:
    """A collector's link event (`link_lost` / `link_restored`) at its place in the session's input."""
    if event not in LINK_EVENTS:
        raise ValueError(f"link event must be one of {', '.join(LINK_EVENTS)}, not {event!r}")
    body = {
        "v": VERSION,
        "kind": "link",
        "session": session,
        "seq": seq,
        "device": device,
        "t_ns": t_ns,
        "event": event,
    }
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def decode_input(payload: bytes, *, runner: str) -> InputMessage:
    """Any message of a runner's input topic; `runner` comes from the topic. Raises DecodeError."""
    payload = bytes(payload)
    if payload[:1] != b"{":
        return decode_imu(payload, runner=runner)
    if len(payload) > MAX_JSON_BYTES:
        raise _fail(payload, f"message of {len(payload)} bytes exceeds {MAX_JSON_BYTES}")
    try:
        body = json.loads(payload, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise _fail(payload, f"not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise _fail(payload, f"not a version-{VERSION} message object")
    session, seq = _field(payload, body, "session", str), _field(payload, body, "seq", int)
    if seq < 0:
        raise _fail(payload, "seq must not be negative")
    kind = body.get("kind")
    if kind == "control":
        return ControlMessage(session=session, seq=seq, control=_field(payload, body, "control", dict))
    device, t_ns = _field(payload, body, "device", str), _field(payload, body, "t_ns", int)
    if kind == "link":
        event = _field(payload, body, "event", str)
        if event not in LINK_EVENTS:
            raise _fail(payload, f"link event must be one of {', '.join(LINK_EVENTS)}, got {event!r}")
        return LinkMessage(session=session, seq=seq, device=device, t_ns=t_ns, event=event)
    reading: HeartRateReading | StrideReading
    if kind == "hr":
        rr = _field(payload, body, "rr_intervals_ms", list)
        if not all(_number(x) for x in rr):
            raise _fail(payload, "rr_intervals_ms must be numbers")
        reading = HeartRateReading(
            runner=runner,
            device=device,
            t_ns=t_ns,
            heart_rate_bpm=_field(payload, body, "heart_rate_bpm", int),
            rr_intervals_ms=tuple(float(x) for x in rr),
            energy_expended_kj=_field(payload, body, "energy_expended_kj", int, optional=True),
            sensor_contact=_field(payload, body, "sensor_contact", bool, optional=True),
        )
    elif kind == "stride":
        reading = StrideReading(
            runner=runner,
            device=device,
            t_ns=t_ns,
            speed_mps=float(_field(payload, body, "speed_mps", float)),
            cadence_spm=_field(payload, body, "cadence_spm", int),
            stride_length_m=_opt_float(_field(payload, body, "stride_length_m", float, optional=True)),
            total_distance_m=_opt_float(_field(payload, body, "total_distance_m", float, optional=True)),
            is_running=_field(payload, body, "is_running", bool, optional=True),
        )
    else:
        raise _fail(payload, f"unknown message kind {kind!r}")
    return ReadingMessage(session=session, seq=seq, reading=reading)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number here")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _field(payload: bytes, body: dict[str, Any], name: str, kind: type, *, optional: bool = False) -> Any:
    value = body.get(name)
    if value is None and optional:
        return None
    if kind is float:
        ok = _number(value)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise _fail(payload, f"field {name!r} must be {'null or ' if optional else ''}{kind.__name__}, got {value!r}")
    return value


def _fail(payload: bytes, message: str) -> DecodeError:
    return DecodeError(message, protocol=PROTOCOL, payload=payload, offset=0)


__all__ = [
    "LINK_EVENTS",
    "ControlMessage",
    "InputMessage",
    "LinkMessage",
    "ReadingMessage",
    "decode_input",
    "encode_control",
    "encode_link",
    "encode_reading",
]
