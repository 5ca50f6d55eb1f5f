"""The wire formats on MQTT: a compact binary layout for sample batches, JSON for everything else.

The binary IMU payload (topic .../imu) is a protocol like the BLE ones: its layout, encoder and
bounds-checked decoder live in `sensors.protocols.strideguard_imu` and are re-exported here, where the
collector and the worker import them. Anything malformed raises `sensors.errors.DecodeError` (protocol
"strideguard-imu") with the payload and the byte offset.

Every other message (steps, metrics, alerts, status, control) is a compact JSON object; `loads` raises
`DecodeError` (protocol "strideguard-json") for anything that is not one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, StepEvent, WindowMetrics
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols.strideguard_imu import (
    FLAG_FINAL,
    FLAG_INT64_TIMES,
    IMU_VERSION,
    KIND_CODES,
    MAX_SAMPLES,
    PLACEMENT_CODES,
    PROTOCOL,
    ImuMessage,
    decode_imu,
    encode_imu,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # the type checker's protocol of dataclasses (no run-time module)

__all__ = [
    "FLAG_FINAL",
    "FLAG_INT64_TIMES",
    "IMU_VERSION",
    "KIND_CODES",
    "MAX_SAMPLES",
    "PLACEMENT_CODES",
    "PROTOCOL",
    "ImuMessage",
    "decode_imu",
    "dumps",
    "encode_imu",
    "loads",
    "output_messages",
    "risk_event_from_message",
    "steps_from_message",
    "window_from_message",
]


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
    from strideguard.analytics.results import RiskEventKind, Severity, Side

    enums = {"side": Side, "kind": RiskEventKind, "severity": Severity}
    return {k: (enums[k](v) if k in enums and v is not None else v) for k, v in row.items()}
