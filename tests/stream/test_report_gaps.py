"""The report on the matrix's sessions (tests/stream/export_matrix.py): a link gap is labelled and not
counted as running time, the sensor is named, alert shading stays on the panel of the metric that alerted,
and a steady metric's axis is not zoomed into its noise."""

from __future__ import annotations

import pytest

from strideguard.stream.report import write_report
from strideguard.stream.report.data import gather
from strideguard.stream.report.plots import MIN_SPAN, metrics_over_time
from tests.stream.export_matrix import DEVICE_ADDRESS, GAP_AT_S, GAP_S, Matrix, build_matrix


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Matrix:
    return build_matrix(tmp_path_factory.mktemp("report-matrix") / "world")


def test_a_link_gap_is_labelled_and_named_on_the_page(matrix, tmp_path):
    store = matrix.store()
    data = gather(store, matrix.sessions["gap"])
    result = write_report(store, matrix.sessions["gap"], tmp_path / "r")
    store.close()
    [(start, end)] = data.gaps
    assert start == pytest.approx(GAP_AT_S / 60, abs=1e-3) and end == pytest.approx((GAP_AT_S + GAP_S) / 60, abs=1e-3)
    assert data.missing_s == pytest.approx(GAP_S, abs=0.01)
    page = result.index.read_text()
    assert "No data for 02:19 (1 gap(s): 1.0–3.3 min)" in page
    assert "04:19 (02:19 of it without data)" in page
    assert f"Sensor: {DEVICE_ADDRESS}, worn at the chest, 200 Hz." in page


def test_a_missing_recording_says_gaps_are_not_known(matrix, tmp_path):
    csv_path = matrix.csv_path
    moved = csv_path.with_suffix(".moved")
    csv_path.rename(moved)
    try:
        store = matrix.store()
        data = gather(store, matrix.sessions["csv-start"])
        store.close()
    finally:
        moved.rename(csv_path)
    assert data.gaps == [] and data.samples_note.startswith("gaps not shown: recording not found")


def test_fatigue_shading_is_not_drawn_on_panels_whose_metric_did_not_alert(matrix):
    """The bundled fatigue run alerts on cadence, sway, lean and the fatigue combination, never on impact."""
    store = matrix.store()
    data = gather(store, matrix.sessions["bundled-fatigue"])
    store.close()
    assert {s.metric for s in data.spans} == {"cadence", "sway_ml", "lean", "fatigue"}
    fig = metrics_over_time(data)
    shaded = {ax.get_title(loc="left").split(" ")[0]: len(ax.patches) for ax in fig.axes}
    assert shaded["Impact"] == 0 and shaded["Cadence"] >= 1 and shaded["Forward"] >= 1
    impact = fig.axes[1]
    lo, hi = impact.get_ylim()
    assert hi - lo >= MIN_SPAN["impact_g"] - 1e-9  # 2.64-2.72 g is noise, not a swing


def test_threshold_lines_sit_where_the_default_rules_start_counting():
    from strideguard.stream.report.plots import threshold_of

    assert threshold_of("cadence_spm", 170.0) == pytest.approx(170.0 * 0.95)  # 5 % down
    assert threshold_of("impact_g", 2.0) == pytest.approx(2.3)  # 15 % up
    assert threshold_of("lean_deg", 6.0) == pytest.approx(6.0 + 5.0)  # degrees up
    assert threshold_of("impact_g", None) is None and threshold_of("braking_g", 1.0) is None


def test_a_note_is_listed_but_never_shaded_as_an_alert():
    """An info note (a hard start, the cadence floor alone) has no clearing: shaded, it would colour the
    whole session on every panel."""
    import types

    from matplotlib.figure import Figure

    from strideguard.stream.report.data import AlertSpan
    from strideguard.stream.report.plots import _shade_alerts

    def span(metric: str, severity: str) -> AlertSpan:
        return AlertSpan(
            metric=metric, severity=severity, start_min=2.0, end_min=30.0, cleared=False, message="", cue=""
        )

    ax = Figure().subplots()
    notes = types.SimpleNamespace(spans=[span("warmup", "info"), span("cadence", "info")])
    assert _shade_alerts(ax, notes) is False and len(ax.patches) == 0  # type: ignore[arg-type]
    alerts = types.SimpleNamespace(spans=[span("cadence", "warning")])
    assert _shade_alerts(ax, alerts) is True and len(ax.patches) == 1  # type: ignore[arg-type]


def test_threshold_lines_follow_the_settings_the_session_ran_with():
    import types

    from strideguard.analytics.risk import RiskConfig, parse_risk_config
    from strideguard.stream.report.plots import settings_of, threshold_of

    stricter = parse_risk_config("[risk.metrics.impact]\nthreshold = 10.0\n")
    ran = types.SimpleNamespace(row=types.SimpleNamespace(summary={"risk": {"settings": stricter.as_dict()}}))
    config = settings_of(ran)  # type: ignore[arg-type]
    assert threshold_of("impact_g", 2.0, config) == pytest.approx(2.2)  # 10 % up, not the default 15 %
    older = types.SimpleNamespace(row=types.SimpleNamespace(summary={"risk": {}}))
    damaged = types.SimpleNamespace(row=types.SimpleNamespace(summary={"risk": {"settings": {"cooldown_s": -1}}}))
    assert settings_of(older) == settings_of(damaged) == RiskConfig.default()  # type: ignore[arg-type]


def test_the_steps_figure_shades_only_the_alerts_about_what_each_panel_shows(matrix):
    """The bundled fatigue run alerts on cadence, sway, lean and fatigue: the step-time panel (cadence)
    is shaded, the impact-per-step panel is not (it shaded every alert before)."""
    from strideguard.stream.report.plots import steps_scatter

    store = matrix.store()
    data = gather(store, matrix.sessions["bundled-fatigue"])
    store.close()
    fig = steps_scatter(data)
    impact, step_time = fig.axes[0], fig.axes[1]
    assert len(impact.patches) == 0 and len(step_time.patches) >= 1
