"""Shared by the retraining tests: a live-pages server with the retraining routes, and bus messages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from strideguard.analytics.risk import Baseline, MetricBaseline
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from strideguard.stream.web.retrain_routes import RetrainProviders, add_retrain_routes

PHONE = {"width": 390, "height": 844}
RUNNER = "anna"
TEAM = "t"
BASELINE = Baseline(
    metrics={
        "cadence": MetricBaseline(value=170.0, sd=2.0, n_windows=30),
        "impact": MetricBaseline(value=2.5, sd=0.1, n_windows=30),
    }
)


@contextlib.asynccontextmanager
async def retrain_server(providers: RetrainProviders | None = None) -> AsyncIterator[WebServer]:
    """The live pages' server on a free port with the retraining routes added (as the app hook does)."""
    bus = busmod.Bus()
    server = WebServer(bus, host="127.0.0.1", port=0)
    add_retrain_routes(server.app, bus, providers or RetrainProviders(baseline=lambda runner: BASELINE))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        bus.close()


def status(bus: busmod.Bus, state: str, session_id: str = "s1", **extra: Any) -> None:
    bus.publish(
        busmod.topic(TEAM, RUNNER, "status"), {"session_id": session_id, "runner": RUNNER, "state": state, **extra}
    )


def step(
    bus: busmod.Bus, t_ns: int, step_time_s: float | None, impact_g: float | None, index: int, session_id: str = "s1"
) -> None:
    bus.publish(
        busmod.topic(TEAM, RUNNER, "steps"),
        {
            "session_id": session_id,
            "runner": RUNNER,
            "t_ns": t_ns,
            "index": index,
            "side": "unknown",
            "impact_g": impact_g,
            "step_time_s": step_time_s,
        },
    )


def alert(bus: busmod.Bus, metric: str, kind: str, onset_t_ns: int, session_id: str = "s1") -> None:
    bus.publish(
        busmod.topic(TEAM, RUNNER, "alerts"),
        {
            "session_id": session_id,
            "runner": RUNNER,
            "t_ns": onset_t_ns + 60_000_000_000,
            "kind": kind,
            "metric": metric,
            "severity": "alert",
            "value": 3.0,
            "baseline": 3.0,
            "deviation": 0.0,
            "deviation_unit": "signs",
            "duration_s": 60.0,
            "message": "Fatigue pattern for 1 min",
            "cue": "ease off",
            "onset_t_ns": onset_t_ns,
        },
    )
