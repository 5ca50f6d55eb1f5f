"""Haptic channel through the real bleak API against the simulated Immediate Alert band (a bleak backend)."""

from __future__ import annotations

import io

from strideguard.analytics.results import AnalyzerOutput, RiskEventKind, Severity
from strideguard.sensors.ble.clock import RealClock
from strideguard.sensors.protocols.alert_level import AlertLevel
from strideguard.sensors.simulated import LinkFaults, SimulatedAlertBand, SimulatedWorld
from strideguard.stream.alerts import AlertDispatcher, HapticChannel, TerminalChannel
from tests.stream.alert_helpers import SESSION, event

BAND = "C4:7C:8D:6A:12:34"


def world_with_band() -> tuple[SimulatedWorld, SimulatedAlertBand]:
    world = SimulatedWorld(clock=RealClock())
    band = world.add(SimulatedAlertBand(address=BAND))
    return world, band


async def test_an_alert_writes_high_then_none_to_alert_level() -> None:
    world, band = world_with_band()
    d = AlertDispatcher([HapticChannel(address=BAND, buzz_s=0.05, backend=world.client_backend)])
    await d.write(SESSION, AnalyzerOutput(risk_events=(event(),)))
    await d.close()
    assert [level for _, level in band.alerts] == [AlertLevel.HIGH, AlertLevel.NONE]
    t_high, t_none = (t for t, _ in band.alerts)
    assert t_none > t_high
    assert band.bad_writes == []
    assert band.link is None  # closed with the dispatcher


async def test_the_link_is_kept_between_alerts_and_cleared_events_do_not_buzz() -> None:
    world, band = world_with_band()
    d = AlertDispatcher([HapticChannel(address=BAND, buzz_s=0.01, backend=world.client_backend)])
    await d.write(
        SESSION,
        AnalyzerOutput(
            risk_events=(
                event("cadence", at_s=600),
                event("cadence", at_s=700, onset_s=540, kind=RiskEventKind.CLEARED),
                event("lean", at_s=720),
            )
        ),
    )
    await d.close()
    assert [level for _, level in band.alerts] == [AlertLevel.HIGH, AlertLevel.NONE] * 2
    assert band.connections == 1


async def test_a_dropped_link_is_remade_on_the_next_alert() -> None:
    world = SimulatedWorld(clock=RealClock())
    band = world.add(SimulatedAlertBand(address=BAND, faults=LinkFaults(down_for_s=0.0)))
    channel = HapticChannel(address=BAND, buzz_s=0.01, backend=world.client_backend)
    d = AlertDispatcher([channel])
    d.dispatch(SESSION, event("cadence", at_s=600))
    await d.flush()
    band.drop_link()
    d.dispatch(SESSION, event("lean", at_s=700))
    await d.close()
    assert band.connections == 2
    assert [level for _, level in band.alerts] == [AlertLevel.HIGH, AlertLevel.NONE] * 2


async def test_a_missing_band_never_blocks_the_other_channels() -> None:
    world = SimulatedWorld(clock=RealClock())  # no band in range
    out = io.StringIO()
    d = AlertDispatcher(
        [
            HapticChannel(address=BAND, buzz_s=0.01, connect_timeout_s=1.0, backend=world.client_backend),
            TerminalChannel(out=out),
        ]
    )
    await d.write(SESSION, AnalyzerOutput(risk_events=(event(),)))
    await d.close()
    assert d.stats["haptic"].failed == 1
    assert d.stats["terminal"].delivered == 1
    assert "WARNING Cadence 6 % below" in out.getvalue()


async def test_runners_buzz_their_own_band() -> None:
    world = SimulatedWorld(clock=RealClock())
    anna = world.add(SimulatedAlertBand(address="AA:00:00:00:00:01"))
    ben = world.add(SimulatedAlertBand(address="BB:00:00:00:00:02"))
    channel = HapticChannel(
        addresses={"anna": anna.address, "ben": ben.address}, buzz_s=0.01, backend=world.client_backend
    )
    d = AlertDispatcher([channel])
    await d.write(SESSION, AnalyzerOutput(risk_events=(event(runner="ben"),)))
    await d.close()
    assert anna.alerts == []
    assert [level for _, level in ben.alerts] == [AlertLevel.HIGH, AlertLevel.NONE]


async def test_an_info_note_is_never_buzzed() -> None:
    """The cadence floor alone and the warm-up check give `info` notes: shown and told, not buzzed."""
    world, band = world_with_band()
    d = AlertDispatcher([HapticChannel(address=BAND, buzz_s=0.01, backend=world.client_backend)])
    await d.write(SESSION, AnalyzerOutput(risk_events=(event("warmup", at_s=130, severity=Severity.INFO),)))
    await d.write(SESSION, AnalyzerOutput(risk_events=(event("lean", at_s=720),)))
    await d.close()
    assert [level for _, level in band.alerts] == [AlertLevel.HIGH, AlertLevel.NONE]  # the lean warning only
