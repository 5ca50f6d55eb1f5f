"""A speed the runner page shares from the phone's GPS, the same on every runtime.

The page server (`stream/web/server.py`) checks the request's shape, stamps it with its own wall clock
and publishes `{"action": "speed", "runner", "speed_mps", "accuracy_m", "t_ns"}` on the runner's
`control` topic: in-process for the embedded pipeline, forwarded to MQTT by the coach for the worker.
Both runtimes turn it into the same footpod-like `StrideReading` of device `PHONE_DEVICE` (cadence 0:
the trunk's cadence is used) and push it through the session engine's edge, which refuses it when it is
not at the session's data time; a refusal is answered on the control topic with `refusal(...)`. One
function for each step, so the two runtimes cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strideguard.sensors.types import StrideReading
from strideguard.stream.runtime.engine import PHONE_DEVICE, SessionEngine

SPEED_ACTION = "speed"  # a control carrying a phone speed
REFUSED_ACTION = "speed_refused"  # the answer when it is not used
BAD_SHAPE = "a phone speed needs a number speed_mps and an integer t_ns"


class NotThisRunner(ValueError):
    """The message names another runner than the topic it came on: nobody to answer, nothing to use."""


class SpeedRefused(ValueError):
    """The message cannot become a reading; `reason` is the answer for the runner's page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def phone_speed_reading(runner: str, message: Mapping[str, Any]) -> StrideReading:
    """The reading for the runner whose control topic carried `message` (the topic is the identity;
    a message naming someone else is not this runner's). Raises NotThisRunner or SpeedRefused."""
    if message.get("runner") != runner:
        raise NotThisRunner(f"a phone speed on {runner!r}'s topic names another runner")
    speed, t_ns = message.get("speed_mps"), message.get("t_ns")
    if (
        isinstance(speed, bool)
        or not isinstance(speed, int | float)
        or isinstance(t_ns, bool)
        or not isinstance(t_ns, int)
    ):
        raise SpeedRefused(BAD_SHAPE)
    return StrideReading(runner=runner, device=PHONE_DEVICE, t_ns=t_ns, speed_mps=float(speed), cadence_spm=0)


async def push_phone_speed(engine: SessionEngine, key: str, reading: StrideReading) -> str | None:
    """Push `reading` into the session under `key` through the engine's edge (which counts a refusal
    in the session summary's `dropped`); returns why it was refused, or None when it was used."""
    problem = engine.sessions[key].edge.phone_speed_problem(reading)  # the edge's own check, to say why
    await engine.push(key, reading)
    return problem


def refusal(runner: str, reason: str) -> dict[str, Any]:
    """The answer published on the runner's control topic (the runner page shows its reason)."""
    return {"action": REFUSED_ACTION, "runner": runner, "reason": reason}
