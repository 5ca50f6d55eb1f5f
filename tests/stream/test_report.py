"""`strideguard report`: the page renders, every figure is there with the expected panels and real content,
alert spans are drawn where alerts were active, and the reductions behind the figures are right."""

from __future__ import annotations

import pathlib

import matplotlib.image as mpimg
import numpy as np
import pytest

from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, Side, StepEvent, WindowMetrics
from strideguard.stream.cli import main
from strideguard.stream.report import write_report
from strideguard.stream.report.data import alert_spans, baseline_for, gather, side_stats
from strideguard.stream.report.plots import FIGURES
from tests.stream.test_export_helpers import World, shared_world

# Figure sizes in pixels (width, height) and the panel titles each figure must carry.
EXPECTED = {
    "metrics.png": ((1000, 1000), ["Cadence", "Impact", "Trunk sway", "Forward lean"]),
    "steps.png": ((1000, 700), ["Impact per step", "Step time per step"]),
    "symmetry.png": ((1000, 700), ["Step time by side", "Impact by side", "Asymmetry per window"]),
    "history.png": ((1000, 700), ["Cadence", "Impact", "Sway mediolateral", "Forward lean"]),
    "training_load.png": ((1000, 700), ["Runs", "Weekly totals"]),
}
ALERT_SHADE_RGB = np.array([252, 232, 215]) / 255  # the alert colour at 25 % over white


@pytest.fixture(scope="module")
def world() -> World:
    return shared_world()


@pytest.fixture(scope="module")
def reports(world, tmp_path_factory):
    """Reports of annabelle's first session (alerts, no history) and second (one earlier session)."""
    store = world.store()
    out = {}
    for i in (0, 1):
        out[i] = write_report(store, world.sessions[i], tmp_path_factory.mktemp(f"report{i}"))
    store.close()
    return out


def shaded_fraction(png: pathlib.Path) -> float:
    rgb = mpimg.imread(png)[..., :3]
    return float(np.mean(np.all(np.abs(rgb - ALERT_SHADE_RGB) < 6 / 255, axis=-1)))


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.slow
def test_every_figure_has_its_size_and_real_content(reports, name):
    for result in reports.values():
        path = result.index.parent / name
        assert path in result.images and path.stat().st_size > 10_000
        image = mpimg.imread(path)
        (width, height), _ = EXPECTED[name]
        assert image.shape[:2] == (height, width)
        gray = image[..., :3].mean(axis=-1)
        assert gray.std() > 0.05  # not a blank canvas
        # content spread over the picture: every horizontal band of the image has ink in it
        for band in np.array_split(gray, 4, axis=0):
            assert (band < 0.6).mean() > 0.002, f"{name}: an empty band"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_figure_has_the_expected_panels(world, name):
    store = world.store()
    data = gather(store, world.sessions[1])
    store.close()
    fig = FIGURES[name](data)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    for expected in EXPECTED[name][1]:
        assert any(t.startswith(expected) for t in titles), (expected, titles)
    for ax in fig.axes:
        assert ax.has_data(), ax.get_title(loc="left")


def test_alert_spans_are_drawn_only_where_alerts_were(reports):
    with_alert = shaded_fraction(reports[0].index.parent / "metrics.png")
    without = shaded_fraction(reports[1].index.parent / "metrics.png")
    assert with_alert > 0.02 and without < 0.005  # antialiased orange lines give a few such pixels


def test_the_page_links_every_figure_and_tells_what_happened(reports, world):
    page = reports[0].index.read_text()
    for name in EXPECTED:
        assert f"src='{name}'" in page
    assert "Annabelle: cadence 6 % below your baseline for 2 min" in page
    assert "shorter, quicker steps" in page
    assert "not a diagnosis" in page and "see a clinician" in page
    assert "no baseline: the run ended within its 2-min warm-up" in page  # 90 s, no earlier session
    second = reports[1].index.read_text()
    assert "mean of the previous 1 session(s)" in second and "No alerts in this session." in second


@pytest.mark.slow
def test_cli_writes_the_report_and_errors_in_one_line(world, tmp_path, capsys):
    assert main(["report", world.sessions[2][:15], "--db", str(world.db), "-o", str(tmp_path / "r")]) == 0
    assert "5 figures" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted([*EXPECTED, "index.html"])
    assert main(["report", "nobody", "--db", str(world.db)]) == 2
    err = capsys.readouterr().err
    assert "no single session matches" in err and len(err.strip().splitlines()) == 1


# ---- the reductions behind the figures -------------------------------------------------------------------
T0 = 1_700_000_000_000_000_000
MIN = 60 * 10**9


def alert(kind: RiskEventKind, metric: str, t_min: float) -> RiskEvent:
    return RiskEvent(
        runner="r",
        t_ns=T0 + int(t_min * MIN),
        kind=kind,
        metric=metric,
        severity=Severity.WARNING,
        value=1.0,
        baseline=1.0,
        deviation=0.0,
        deviation_unit="%",
        duration_s=60.0,
        message="m",
        cue="c",
        onset_t_ns=T0,
    )


def test_alert_spans_pair_each_onset_with_its_own_metric_clearing():
    events = [
        alert(RiskEventKind.ONSET, "cadence", 5),
        alert(RiskEventKind.ONSET, "lean", 6),
        alert(RiskEventKind.CLEARED, "lean", 8),
        alert(RiskEventKind.CLEARED, "cadence", 12),
    ]
    spans = alert_spans(events, t0_ns=T0, end_ns=T0 + 30 * MIN)
    assert [(s.metric, s.start_min, s.end_min, s.cleared) for s in spans] == [
        ("cadence", 5.0, 12.0, True),
        ("lean", 6.0, 8.0, True),
    ]
    [open_span] = alert_spans(events[:1], t0_ns=T0, end_ns=T0 + 30 * MIN)
    assert (open_span.end_min, open_span.cleared) == (30.0, False)


def test_side_stats_split_steps_by_side():
    steps = [
        StepEvent(runner="r", t_ns=T0 + i, index=i, side=side, impact_g=2.0 + i, step_time_s=0.3)
        for i, side in enumerate([Side.LEFT, Side.RIGHT, Side.LEFT, Side.UNKNOWN])
    ]
    stats = side_stats(steps)
    assert stats["left"].n_steps == 2 and stats["right"].n_steps == 1
    assert stats["left"].impact_g.tolist() == [2.0, 4.0]


def test_baseline_is_the_previous_sessions_mean_else_the_early_run(world):
    store = world.store()
    first, second = gather(store, world.sessions[0]), gather(store, world.sessions[1])
    store.close()
    assert second.baseline["cadence_spm"] == pytest.approx(first.history[-1].means["cadence_spm"])
    # 90 s of running, within the default 2-min warm-up: the risk engine had no baseline, nor has the report
    assert first.baseline["cadence_spm"] is None
    assert first.baseline_note == "no baseline: the run ended within its 2-min warm-up (no earlier session)"


def running_windows(cadences_spm: list[float]) -> list[WindowMetrics]:
    """10-s running windows every 5 s from T0, one per cadence."""
    return [
        WindowMetrics(
            runner="r",
            t_start_ns=T0 + i * 5 * 10**9,
            t_end_ns=T0 + i * 5 * 10**9 + 10 * 10**9,
            n_steps=28,
            running=True,
            cadence_spm=c,
        )
        for i, c in enumerate(cadences_spm)
    ]


def test_the_early_run_baseline_is_the_period_the_sessions_own_settings_gave_its_risk_engine():
    """Before: the report took 3 min from the first running window whatever the session ran with, the
    warm-up included. Windows here: cadence 150 for the first 2 min of running, then 170."""
    windows = running_windows([150.0] * 24 + [170.0] * 96)
    means, note = baseline_for(windows, [], settings={"warmup_s": 120.0, "baseline_s": 60.0})
    assert means["cadence_spm"] == pytest.approx(170.0)  # the engine's period: after the 2-min warm-up
    assert note == "this run's first 1 min of running after a 2-min warm-up (no earlier session)"
    means, _ = baseline_for(windows, [], settings={"warmup_s": 0, "baseline_s": 120.0})
    assert means["cadence_spm"] < 152.0  # no warm-up: the first two minutes (the window ending at 2 min)


@pytest.mark.slow
def test_a_session_without_results_still_renders(tmp_path):
    from strideguard.stream.runtime.session import SessionInfo
    from strideguard.stream.sqlite.store import SessionStore

    store = SessionStore(tmp_path / "s.db")
    store.open_session(SessionInfo(session_id="eve-1", runner="eve", team="t", source="gone.sgcap", started_t_ns=T0))
    result = write_report(store, "eve-1", tmp_path / "r")
    store.close()
    assert len(result.images) == 5 and all(p.stat().st_size > 5_000 for p in result.images)
    page = result.index.read_text()
    assert "No alerts in this session." in page and "unfinished" in page


def test_a_run_that_ends_inside_its_baseline_period_says_so():
    windows = running_windows([170.0] * 30)  # 155 s of running
    means, note = baseline_for(windows, [], settings={"warmup_s": 60.0, "baseline_s": 180.0})
    assert means["cadence_spm"] == pytest.approx(170.0)
    assert note.endswith("; the run ended 1.4 min before that period did")
