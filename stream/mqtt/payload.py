"""The wire formats on MQTT: a compact binary layout for sample batches, JSON for everything else.

IMU payload, version 1 (little-endian, 34-byte fixed header, then two short strings, times, values)::

    offset size  field
    0      1     version            u8, 1
    1      1     kind               u8: 0 acc (g), 1 gyro (deg/s)
    2      1     placement          u8: index in PLACEMENT_CODES
    3      1     flags              u8: bit 0 = final batch of the session, bit 1 = int64 times
    4      8     rate_hz            f64, nominal sampling rate
    12     4     n                  u32, number of samples (0 is allowed: an end-of-session marker)
    16     8     seq                u64, sequence number within the session, from 0 (one counter for
                                    all of a runner's devices and kinds: they share the topic)
    24     8     t0_ns              i64, time of the first sample, ns since the Unix epoch
    32     2     session_len        u16, then session id, UTF-8
    ..     1     device_len         u8, then device id, UTF-8
    ..           times              n-1 int32 deltas in ns between consecutive samples
                                    (flag bit 1: n-1 int64 deltas instead, for gaps over 2.1 s)
    ..           values             n x 3 float32, row-major, in the kind's unit

The runner and team are in the topic, not the payload. A 50-sample batch is 831 bytes plus the two
ids (about 16 bytes a sample). The sequence number lets a receiver drop redelivered duplicates (QoS 1 is
at-least-once) and detect gaps.
Decoding is pure and bounds-checked; anything malformed raises `sensors.errors.DecodeError`
(protocol "strideguard-imu"), which carries the payload and the byte offset.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analytics.results import AnalyzerOutput, RiskEvent, StepEvent, WindowMetrics
from sensors.errors import DecodeError
from sensors.types import Placement, SampleBatch, SampleKind

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # the type checker's protocol of dataclasses (no run-time module)

IMU_VERSION = 1
PROTOCOL = "strideguard-imu"
KIND_CODES = (SampleKind.ACC, SampleKind.GYRO)
PLACEMENT_CODES = (
    Placement.CHEST,
    Placement.SACRUM,
    Placement.FOOT,
    Placement.SHANK,
    Placement.WRIST,
    Placement.ARM,
    Placement.UNKNOWN,
)
FLAG_FINAL = 0x01
FLAG_INT64_TIMES = 0x02
_HEADER = struct.Struct("<BBBBdIQqH")  # up to and including session_len
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
MAX_SAMPLES = 1_000_000  # refuse absurd sizes before allocating


@dataclass(frozen=True, slots=True, kw_only=True)
class ImuMessage:
    """One decoded IMU payload: the batch plus what the transport needs (session, seq, final)."""

    session: str
    seq: int
    final: bool
    batch: SampleBatch


def encode_imu(batch: SampleBatch, *, session: str, seq: int, final: bool = False) -> bytes:
    """The version-1 binary payload of one batch (see the module docstring for the layout)."""
    session_b, device_b = session.encode(), batch.device.encode()
    if len(session_b) > 0xFFFF or len(device_b) > 0xFF:
        raise ValueError("session id must be < 64 KiB and device id < 256 bytes in UTF-8")
    n = len(batch)
    deltas = np.diff(batch.t_ns)
    flags = FLAG_FINAL if final else 0
    if deltas.size and int(deltas.max()) > _INT32_MAX:
        flags |= FLAG_INT64_TIMES
        times = deltas.astype("<i8").tobytes()
    else:
        times = deltas.astype("<i4").tobytes()
    t0_ns = int(batch.t_ns[0]) if n else 0
    header = _HEADER.pack(
        IMU_VERSION,
        KIND_CODES.index(batch.kind),
        PLACEMENT_CODES.index(batch.placement),
        flags,
        float(batch.rate_hz),
        n,
        seq,
        t0_ns,
        len(session_b),
    )
    return b"".join((header, session_b, bytes((len(device_b),)), device_b, times, batch.values.astype("<f4").tobytes()))


def decode_imu(payload: bytes, *, runner: str) -> ImuMessage:
    """Decode a version-1 IMU payload; `runner` comes from the topic. Raises DecodeError."""
    payload = bytes(payload)

    def fail(message: str, offset: int) -> DecodeError:
        return DecodeError(message, protocol=PROTOCOL, payload=payload, offset=offset)

    if len(payload) < _HEADER.size:
        raise fail(f"payload of {len(payload)} bytes is shorter than the {_HEADER.size}-byte header", 0)
    version, kind_code, placement_code, flags, rate_hz, n, seq, t0_ns, session_len = _HEADER.unpack_from(payload)
    if version != IMU_VERSION:
        raise fail(f"unsupported IMU payload version {version} (this build reads {IMU_VERSION})", 0)
    if kind_code >= len(KIND_CODES):
        raise fail(f"unknown sample kind code {kind_code}", 1)
    if placement_code >= len(PLACEMENT_CODES):
        raise fail(f"unknown placement code {placement_code}", 2)
    if flags & ~(FLAG_FINAL | FLAG_INT64_TIMES):
        raise fail(f"unknown flag bits 0x{flags:02x}", 3)
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise fail(f"rate_hz must be positive, got {rate_hz}", 4)
    if n > MAX_SAMPLES:
        raise fail(f"{n} samples exceeds the limit of {MAX_SAMPLES}", 12)
    pos = _HEADER.size
    session_end = pos + session_len
    if session_end + 1 > len(payload):
        raise fail("truncated in the session id", pos)
    try:
        session = payload[pos:session_end].decode()
        device_len = payload[session_end]
        pos = session_end + 1
        if pos + device_len > len(payload):
            raise fail("truncated in the device id", pos)
        device = payload[pos : pos + device_len].decode()
    except UnicodeDecodeError as exc:
        raise fail(f"session or device id is not UTF-8: {exc.reason}", pos) from exc
    pos += device_len
    delta_size = 8 if flags & FLAG_INT64_TIMES else 4
    n_deltas = max(n - 1, 0)
    expected = pos + n_deltas * delta_size + n * 12
    if len(payload) != expected:
        raise fail(f"payload is {len(payload)} bytes, {n} samples need {expected}", min(pos, len(payload)))
    deltas = np.frombuffer(payload, dtype="<i8" if delta_size == 8 else "<i4", count=n_deltas, offset=pos)
    pos += n_deltas * delta_size
    if n_deltas and int(deltas.min()) <= 0:
        raise fail("sample times must be strictly increasing", pos - n_deltas * delta_size)
    if (
        n_deltas
        and t0_ns + int(deltas.max()) * n_deltas > _INT64_MAX  # cheap bound first, exact sum if needed
        and t0_ns + sum(int(d) for d in deltas) > _INT64_MAX
    ):
        raise fail("sample times run past the int64 nanosecond range", 24)
    values = np.frombuffer(payload, dtype="<f4", count=n * 3, offset=pos).reshape(n, 3)
    t_ns = np.empty(n, dtype=np.int64)
    if n:
        t_ns[0] = t0_ns
        np.cumsum(deltas, out=t_ns[1:])
        t_ns[1:] += t0_ns
    batch = SampleBatch(
        runner=runner,
        device=device,
        placement=PLACEMENT_CODES[placement_code],
        kind=KIND_CODES[kind_code],
        rate_hz=rate_hz,
        t_ns=t_ns,
        values=values,
    )
    return ImuMessage(session=session, seq=seq, final=bool(flags & FLAG_FINAL), batch=batch)


# -- JSON messages (metrics, steps, alerts, status) ---------------------------------------------------


def output_messages(
    session: str, output: AnalyzerOutput, *, input_seq: int | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The JSON messages for one analyzer output as (kind, message): one `steps` message with all
    steps of the push, one `metrics` message per window, one `alerts` message per risk event. Every
    message names its session so receivers can key and de-duplicate by (session, t_ns); a worker adds
    `input_seq`, the sequence number of the IMU message that produced it (for tracing and latency)."""
    head: dict[str, Any] = {"session_id": session}
    if input_seq is not None:
        head["input_seq"] = input_seq
    out: list[tuple[str, dict[str, Any]]] = []
    if output.steps:
        out.append(("steps", {**head, "steps": [s.as_row() for s in output.steps]}))
    out.extend(("metrics", {**head, **w.as_row()}) for w in output.windows)
    out.extend(("alerts", {**head, **e.as_row()}) for e in output.risk_events)
    return out


def dumps(message: dict[str, Any]) -> bytes:
    """Compact JSON as UTF-8 (no NaN: the result types use None for missing values)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False, default=_plain).encode()


def _plain(value: Any) -> Any:
    """numpy scalars (which analytics may return) as plain Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def loads(payload: bytes) -> dict[str, Any]:
    """Decode a JSON message; anything that is not a JSON object raises DecodeError."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}", protocol="strideguard-json", payload=bytes(payload)) from exc
    if not isinstance(message, dict):
        raise DecodeError("a JSON message must be an object", protocol="strideguard-json", payload=bytes(payload))
    return message


def steps_from_message(message: dict[str, Any]) -> list[StepEvent]:
    return [StepEvent(**_typed(StepEvent, row)) for row in message["steps"]]


def window_from_message(message: dict[str, Any]) -> WindowMetrics:
    return WindowMetrics(**_typed(WindowMetrics, _fields_only(WindowMetrics, message)))


def risk_event_from_message(message: dict[str, Any]) -> RiskEvent:
    return RiskEvent(**_typed(RiskEvent, _fields_only(RiskEvent, message)))


def _fields_only(cls: type[DataclassInstance], message: dict[str, Any]) -> dict[str, Any]:
    names = set(cls.__dataclass_fields__)
    return {k: v for k, v in message.items() if k in names}


def _typed(cls: type, row: dict[str, Any]) -> dict[str, Any]:
    """Enums back from their strings (the dataclasses take enums)."""
    from analytics.results import RiskEventKind, Severity, Side

    enums = {"side": Side, "kind": RiskEventKind, "severity": Severity}
    return {k: (enums[k](v) if k in enums and v is not None else v) for k, v in row.items()}
