"""The runner's sensor and session state on its `status` topic, in the embedded pipeline.

A run with a 25-s dropout (the BLE collector's `link_lost` ... `link_restored` capture events around a
hole in the samples), a run that goes silent without any disconnect (the watchdog), and the baseline
countdown the runner page shows. Before this, the pipeline only kept the capture events in a list: the
status stayed "running" with nothing about the sensor, and the windows over the hole were published.
"""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from strideguard.analytics.risk import RiskEngine, parse_risk_config
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.backpressure import buffered
from strideguard.stream.runtime.pipeline import BusSink, Pipeline, StoreSink
from strideguard.stream.runtime.sensor_watch import SensorWatch
from strideguard.stream.sqlite.store import SessionStore
from strideguard.stream.terminal import TerminalView

NS = 1_000_000_000
RISK = parse_risk_config("[risk]\nwarmup_s = 10\nbaseline_s = 30\nmin_baseline_windows = 4\n")


def run_batches(duration_s: float = 120.0, seed: int = 7) -> list:
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(
        duration_s, 25.0, seed=seed, runner="anna", device="h10"
    )
    return list(run.iter_batches(1.0))


def pipeline(bus: busmod.Bus, **kw: object) -> tuple[Pipeline, BusSink]:
    sink = BusSink(bus)
    p = Pipeline(
        analyzer_factory=lambda r: RunnerAnalyzer(runner=r, risk=RiskEngine(RISK)),
        sinks=[sink],
        team="t",
        source="test",
        **kw,  # type: ignore[arg-type]
    )
    return p, sink


def changes(statuses: list[dict]) -> list[tuple[str, str]]:
    """(state, sensor) of each status message, a repeat (e.g. the baseline countdown added) left out."""
    out: list[tuple[str, str]] = []
    for s in statuses:
        if not out or out[-1] != (s["state"], s["sensor"]):
            out.append((s["state"], s["sensor"]))
    return out


async def test_a_link_loss_is_published_as_sensor_state_and_nothing_is_shown_for_the_hole(caplog) -> None:
    caplog.set_level(logging.WARNING)
    bus = busmod.Bus()
    statuses = bus.subscribe(f"{busmod.TOPIC_ROOT}/t/anna/status")
    metrics = bus.subscribe(f"{busmod.TOPIC_ROOT}/t/anna/metrics")
    p, sink = pipeline(bus, silent_after_s=None)
    batches = run_batches()
    t0 = int(batches[0].t_ns[0])
    lost_at, back_at = t0 + 40 * NS, t0 + 65 * NS
    for batch in batches:  # acceleration and gyro batches of each second
        start = int(batch.t_ns[0])
        if lost_at <= start < back_at:
            if not p.events:
                await p.push(CaptureEvent(t_ns=lost_at, kind="link_lost", fields={"runner": "anna", "device": "h10"}))
            continue  # the strap's link is down: no samples
        if start >= back_at and not any(e.kind == "link_restored" for e in p.events):
            await p.push(CaptureEvent(t_ns=back_at, kind="link_restored", fields={"runner": "anna", "device": "h10"}))
        await p.push(batch)
    await p.finish()
    await p.close()

    seen = []
    while (item := statuses.get_nowait()) is not None:
        seen.append(item[1])
    assert changes(seen) == [("running", "ok"), ("running", "lost"), ("running", "ok"), ("finished", "ok")]
    lost = next(s for s in seen if s["sensor"] == "lost")
    assert lost["sensor_t_ns"] > 0 and "gap_s" not in lost
    # pushed as fast as the machine goes (as `replay --fast` does): the wall gap is ~0 s; the recording's
    # gap, from the last sample before the loss (one sample period before it) to the reconnect, is said
    assert seen[-2]["gap_s"] == pytest.approx(25.04, abs=0.01)
    assert seen[-1]["summary"]["runner"] == "anna"
    assert "anna: sensor lost (h10)" in caplog.text and "anna: sensor back after" in caplog.text

    windows = []
    while (item := metrics.get_nowait()) is not None:
        windows.append(item[1])
    assert windows, "the run's other windows are published"
    hole = [w for w in windows if w["t_start_ns"] < back_at and lost_at - NS < w["t_end_ns"]]
    assert hole == [], "a window over the dropout was published"
    assert p.engine.withheld >= 5  # 25 s of 10-s windows hopping by 5 s (the analyzer did emit them)
    assert sink.name == "bus"


async def test_a_silent_sensor_is_noticed_by_the_watchdog_and_comes_back(caplog) -> None:
    caplog.set_level(logging.WARNING)
    bus = busmod.Bus()
    statuses = bus.subscribe(f"{busmod.TOPIC_ROOT}/t/anna/status")
    p, _ = pipeline(bus, silent_after_s=0.3)
    batches = run_batches(30.0)
    for batch in batches[:10]:
        await p.push(batch)
    await asyncio.sleep(0.8)  # wall time with no item: the strap slipped off without a disconnect
    assert p.sensor.state("anna") == "silent"
    for batch in batches[10:12]:
        await p.push(batch)
    assert p.sensor.state("anna") == "ok"
    await p.finish()
    await asyncio.sleep(0.5)  # a finished runner is not watched: no "silent" after its end
    await p.close()
    seen = []
    while (item := statuses.get_nowait()) is not None:
        seen.append(item[1])
    assert changes(seen) == [("running", "ok"), ("running", "silent"), ("running", "ok"), ("finished", "ok")]
    assert seen[-2]["gap_s"] >= 0.3
    assert "anna: no data from the sensor (silent)" in caplog.text


async def test_the_status_says_when_the_risk_score_starts() -> None:
    bus = busmod.Bus()
    metrics = bus.subscribe(f"{busmod.TOPIC_ROOT}/t/anna/metrics")
    p, _ = pipeline(bus, silent_after_s=None)
    batches = run_batches(30.0)
    for batch in batches:
        await p.push(batch)
    status = bus.last[busmod.topic("t", "anna", "status")]
    windows = []
    while (item := metrics.get_nowait()) is not None:
        windows.append(item[1])
    first_running = min(w["t_start_ns"] for w in windows if w["running"])
    assert status["started_t_ns"] == int(batches[0].t_ns[0])
    # the score waits for the warm-up (10 s) and the baseline (30 s) after the first running window
    assert status["baseline_ready_t_ns"] == first_running + 40 * NS
    await p.finish()
    await p.close()


def test_sensor_watch_rules() -> None:
    w = SensorWatch(silent_after_s=10.0)
    assert w.on_item("anna", 0.0, device="h10") is None
    assert w.check(9.9) == []
    [silent] = w.check(10.0)
    assert (silent.sensor, silent.was) == ("silent", "ok")
    assert w.check(30.0) == []  # told once
    back = w.on_item("anna", 35.0)
    assert back is not None and back.sensor == "ok" and back.gap_s == 35.0  # silent since the last item at 0 s
    lost = w.on_link("anna", "link_lost", 40.0, device="h10")
    assert lost is not None and lost.log_line() == "anna: sensor lost (h10)"
    assert w.on_item("anna", 41.0) is None  # a heart-rate reading of another link: the H10 is still lost
    assert w.check(100.0) == []  # lost is not overwritten by silent
    back = w.on_link("anna", "link_restored", 65.0, device="h10")
    assert back is not None and back.log_line() == "anna: sensor back after 25 s"
    w.forget("anna")
    assert w.check(1000.0) == []


def test_sensor_watch_says_the_longer_of_the_wall_and_the_data_gap() -> None:
    """A replay as fast as possible: 25 s of recording pass in no wall time (it said "back after 0 s");
    live data that arrives late but whole: the view went without it for the wall time."""
    w = SensorWatch(silent_after_s=10.0)
    w.on_item("anna", 0.0, device="h10", span_ns=(0, 10 * NS))
    w.on_link("anna", "link_lost", 0.001, device="h10", t_ns=11 * NS)
    back = w.on_item("anna", 0.002, device="h10", span_ns=(35 * NS, 36 * NS))
    assert back is not None and back.log_line() == "anna: sensor back after 25 s"  # from the last sample
    assert [c.sensor for c in w.check(12.0)] == ["silent"]
    back = w.on_item("anna", 14.0, device="h10", span_ns=(36 * NS + NS // 25, 37 * NS))  # nothing missing
    assert back is not None and back.gap_s == pytest.approx(14.0 - 0.002)


async def test_no_window_over_a_dropout_reaches_the_terminal_but_the_store_keeps_them(tmp_path) -> None:
    """The terminal is a live view too: it said "not running (standing or walking)" for a strap whose link
    was down. The store is the record: it keeps the analyzer's windows, hole or not."""
    out = io.StringIO()
    store = SessionStore(tmp_path / "s.db")
    terminal = TerminalView(out=out, every_s=1.0, interactive=False)
    p = Pipeline(
        analyzer_factory=lambda r: RunnerAnalyzer(runner=r, risk=RiskEngine(RISK)),
        sinks=[terminal, StoreSink(store)],
        team="t",
        source="test",
        silent_after_s=None,
    )
    batches = run_batches()
    t0 = int(batches[0].t_ns[0])
    for batch in batches:
        if not t0 + 40 * NS <= int(batch.t_ns[0]) < t0 + 65 * NS:
            await p.push(batch)
    await p.finish()
    await p.close()
    text = out.getvalue()
    assert "cadence" in text, text  # the running windows were drawn
    running_from = text.index("cadence")  # (before the first running window: the start, truly not running)
    assert "not running" not in text[running_from:], text  # the dropout's windows (0 steps) were not
    assert p.engine.withheld >= 5
    store = SessionStore(tmp_path / "s.db")  # the pipeline closed its store
    stored = store.windows(p.summaries["anna"].session_id)
    store.close()
    assert len(stored) >= p.engine.withheld + 15  # every window the analyzer made, the hole's included


class Recorder:
    """A live sink that keeps the windows it is given."""

    name = "influxdb"  # buffered as InfluxDB is
    live = True

    def __init__(self) -> None:
        self.windows: list = []

    async def open_session(self, session) -> None: ...

    async def write(self, session, output) -> None:
        self.windows += output.windows

    async def close_session(self, session, summary) -> None: ...

    async def close(self) -> None: ...


async def test_a_live_sink_behind_a_buffer_is_still_a_live_sink() -> None:
    """`record --influx` puts InfluxDB behind a buffer: the engine asked the buffer, which said nothing, so
    Grafana got the dropout's windows in the embedded set-up while the worker withheld them."""
    recorder = Recorder()
    sink = buffered(recorder)
    assert sink is not recorder  # behind a buffer, as `record --influx` puts it
    p = Pipeline(
        analyzer_factory=lambda r: RunnerAnalyzer(runner=r, risk=RiskEngine(RISK)),
        sinks=[sink],
        team="t",
        source="test",
        silent_after_s=None,
    )
    batches = run_batches()
    t0 = int(batches[0].t_ns[0])
    lost_at, back_at = t0 + 40 * NS, t0 + 65 * NS
    for batch in batches:
        if not lost_at <= int(batch.t_ns[0]) < back_at:
            await p.push(batch)
    await p.finish()
    await p.close()
    assert recorder.windows and p.engine.withheld >= 5
    assert [w for w in recorder.windows if w.t_start_ns < back_at and lost_at - NS < w.t_end_ns] == []
