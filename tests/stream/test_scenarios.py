"""Scenarios for newcomers: `record --simulate --scenario NAME` and `collect --synthetic N --scenario NAME`
show every alert and sensor state without hardware.

Before: `record --simulate` was a constant 168-spm sine runner (no alert, no dropout could be seen), and
`collect --synthetic` six steady runners; a live `record` never told the analysis that a link was lost
(the collector wrote link events only to the capture), so the terminal never said "sensor lost"."""

from __future__ import annotations

import pathlib

import pytest

from strideguard.analytics.results import RiskEventKind
from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.simulated.scenarios import CHANGE_AT_S, DROPOUT_AT_S, DROPOUT_DOWN_S, SCENARIOS
from strideguard.sensors.types import SampleBatch
from strideguard.stream.cli import main
from strideguard.stream.cli.commands.collect import synthetic_team
from strideguard.stream.runtime import sources
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.pipeline import Pipeline
from strideguard.stream.sqlite.store import SessionStore

NS = 1_000_000_000
# the alerts each scenario is there to show (the metrics of its WARNING/ALERT onsets must include these)
SHOWS = {
    "steady": set(),
    "fatigue": {"cadence", "sway_ml", "lean", "fatigue"},
    "cadence": {"cadence"},
    "asymmetry": {"impact_asymmetry", "step_asymmetry"},
    "lean": {"lean"},
    "dropout": set(),
}


def record(tmp_path: pathlib.Path, scenario: str, duration_s: int, capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setenv("STRIDEGUARD_DEMO_DB", str(tmp_path / "demo.db"))
    monkeypatch.setenv("STRIDEGUARD_DB", str(tmp_path / "mine.db"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    rc = main(
        [
            "record",
            "--simulate",
            "--scenario",
            scenario,
            "--fast",
            "--duration",
            str(duration_s),
            "--runner",
            "ann",
            "--device",
            "A0:9E:1A:00:00:01:chest",
            "--out",
            str(tmp_path / "run.sgcap"),
        ]
    )
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.slow
def test_record_dropout_is_a_real_link_loss_told_as_sensor_lost_and_back(tmp_path, capsys, monkeypatch, caplog) -> None:
    rc, out, _ = record(tmp_path, "dropout", 400, capsys, monkeypatch)
    assert rc == 0
    assert "ann: scenario dropout:" in out
    items = list(sources.read_file(tmp_path / "run.sgcap"))
    events = [i for i in items if isinstance(i, CaptureEvent)]
    kinds = [e.kind for e in events if e.kind in ("link_lost", "link_restored")]
    assert kinds == ["link_lost", "link_restored"]
    lost, back = (e.t_ns for e in events if e.kind in ("link_lost", "link_restored"))
    start_ns = min(int(i.t_ns[0]) for i in items if isinstance(i, SampleBatch) and len(i))
    assert DROPOUT_AT_S - 5 <= (lost - start_ns) / NS <= DROPOUT_AT_S + 15  # after the stream began
    assert DROPOUT_DOWN_S <= (back - lost) / NS <= DROPOUT_DOWN_S + 10
    [line] = [ln for ln in out.splitlines() if ln.startswith("  ann/")]
    assert "1 gap(s)" in line
    # the live analysis heard it: the sensor watch logged the loss and the return
    messages = [r.getMessage() for r in caplog.records]
    assert "ann: sensor lost (A0:9E:1A:00:00:01)" in messages
    assert any(m.startswith("ann: sensor back") for m in messages)
    # a simulated run is stored in the demo store, not the runner's own
    assert not (tmp_path / "mine.db").exists()
    assert f"stored in {tmp_path / 'demo.db'}" in out
    store = SessionStore(tmp_path / "demo.db")
    try:
        [row] = store.sessions(runner="ann")
        assert row.status == "completed"
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["fatigue", "steady"])
def test_record_scenario_shows_its_alerts_and_steady_shows_none(tmp_path, capsys, monkeypatch, scenario) -> None:
    rc, _, _ = record(tmp_path, scenario, 720, capsys, monkeypatch)
    assert rc == 0
    store = SessionStore(tmp_path / "demo.db")
    try:
        [row] = store.sessions(runner="ann")
    finally:
        store.close()
    events = row.summary["risk"]["events"]
    alerting = {k.split(":")[0] for k, n in events.items() if k.endswith(":onset") and n}
    print(scenario, events)
    if scenario == "steady":
        assert alerting == set(), events
    else:
        assert SHOWS["fatigue"] <= alerting, events


def test_scenario_needs_simulate_and_a_known_name(tmp_path, capsys) -> None:
    base = ["record", "--runner", "ann", "--device", "A0:9E:1A:00:00:01", "--out", str(tmp_path / "x.sgcap")]
    assert main([*base, "--scenario", "fatigue"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "strideguard record: error: --scenario needs --simulate (the scenarios are played by simulated devices)"
    )
    with pytest.raises(SystemExit):
        main([*base, "--simulate", "--scenario", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert main(["collect", "--scenario", "fatigue", "--bundled"]) == 2
    assert "--scenario needs --synthetic N" in capsys.readouterr().err


def test_collect_mixed_deals_every_scenario_and_the_dropout_is_a_hole() -> None:
    team = synthetic_team(6, 400.0, rate_hz=25.0, scenario="mixed")
    assert list(team) == [f"runner-{i}" for i in range(1, 7)]
    dropout = team["runner-6"]  # the sixth scenario, in order
    assert list(SCENARIOS)[5] == "dropout"
    assert len(dropout) == 2
    hole_s = (int(dropout[1].t_ns[0]) - int(dropout[0].t_ns[-1])) / NS
    assert DROPOUT_DOWN_S <= hole_s <= DROPOUT_DOWN_S + 0.1
    assert all(len(batches) == 1 for name, batches in team.items() if name != "runner-6")


@pytest.mark.slow
async def test_collect_scenarios_each_show_their_alerts_through_the_session_engine() -> None:
    """The runs `collect --synthetic 6 --scenario mixed` publishes, through the engine a worker uses:
    each scenario's alerts come after its change, and steady and dropout raise none."""
    team = synthetic_team(6, 720.0, scenario="mixed")
    for i, (runner, batches) in enumerate(team.items()):
        name = list(SCENARIOS)[i]
        pipeline = Pipeline(analyzer_factory=analyzer_factory(""), sinks=[], keep_outputs=True, silent_after_s=None)
        for batch in batches:
            for piece in sources.rechunked([batch], 1.0):
                await pipeline.push(piece)
        await pipeline.finish()
        await pipeline.close()
        start_ns = int(batches[0].t_ns[0])
        onsets = [
            e
            for e in pipeline.outputs(runner).risk_events
            if e.kind is RiskEventKind.ONSET and e.severity.value in ("warning", "alert")
        ]
        metrics = {e.metric for e in onsets}
        print(name, sorted(metrics), [round((e.t_ns - start_ns) / NS) for e in onsets])
        assert SHOWS[name] <= metrics, (name, metrics)
        if not SHOWS[name]:
            assert metrics == set(), (name, metrics)
        else:
            assert all((e.t_ns - start_ns) / NS > CHANGE_AT_S for e in onsets), name
