"""Training load: the 30-day spike rule (flagged), weekly change and acute:chronic ratio (context only)."""

from __future__ import annotations

import pytest

from strideguard.analytics.training_load import (
    ACWR_CAVEAT,
    DAY_NS,
    RunRecord,
    acute_chronic_ratio,
    load_report,
    spike_check,
    weekly_loads,
)

T0 = 1_700_000_000 * 1_000_000_000


def run(day: float, km: float | None, minutes: float = 50.0) -> RunRecord:
    return RunRecord(
        start_t_ns=T0 + int(day * DAY_NS), duration_s=minutes * 60, distance_m=None if km is None else km * 1000
    )


def test_a_run_20_percent_longer_than_the_30_day_longest_is_flagged() -> None:
    history = [run(0, 8.0), run(10, 10.0), run(20, 9.0)]
    check = spike_check(run(25, 12.0), history)
    assert (check.unit, check.longest_amount, check.flagged) == ("km", 10.0, True)
    assert check.change_pct == pytest.approx(20.0)
    assert "20 % longer than your longest in the previous 30 days (10.0 km)" in check.message
    assert "about 1.6x" in check.message and "Frandsen 2025" in check.message


def test_exactly_10_percent_is_not_flagged_and_older_runs_do_not_count() -> None:
    history = [run(-40, 30.0), run(10, 10.0)]  # the 30-km run is 45 days before: outside the window
    check = spike_check(run(15, 11.0), history)
    assert check.longest_amount == 10.0
    assert check.change_pct == pytest.approx(10.0)
    assert not check.flagged


def test_doubling_names_the_larger_hazard() -> None:
    assert "about 2.3x" in spike_check(run(5, 21.0), [run(0, 10.0)]).message


def test_duration_is_used_when_a_distance_is_missing() -> None:
    check = spike_check(run(5, None, minutes=66), [run(0, 10.0, minutes=60)])
    assert check.unit == "min"
    assert check.change_pct == pytest.approx(10.0)


def test_first_run_has_nothing_to_compare_with() -> None:
    check = spike_check(run(0, 5.0), [])
    assert check.longest_amount is None and not check.flagged


def test_weekly_totals_change_and_acute_chronic_ratio() -> None:
    runs = [run(d, 10.0) for d in (1, 3, 8, 10, 15, 17, 22, 24, 26)]
    end = T0 + 28 * DAY_NS
    weeks = weekly_loads(runs, end_t_ns=end)
    assert [w.amount for w in weeks] == [20.0, 20.0, 20.0, 30.0]
    assert weeks[-1].change_pct == pytest.approx(50.0)
    assert weeks[0].change_pct is None
    assert acute_chronic_ratio(runs, end_t_ns=end) == pytest.approx(30.0 / 22.5)
    assert acute_chronic_ratio([], end_t_ns=end) is None
    this_week = [r for r in runs if r.start_t_ns > end - 7 * DAY_NS]
    assert this_week and acute_chronic_ratio(this_week, end_t_ns=end) is None  # not 4.0: no chronic load


def test_load_report_for_the_latest_run_carries_the_caveats() -> None:
    runs = [run(0, 8.0), run(7, 8.0), run(14, 9.5)]
    report = load_report(runs)
    assert report.spike.flagged  # 9.5 vs 8.0: +19 %
    assert report.acwr_caveat == ACWR_CAVEAT and "disputed" in ACWR_CAVEAT
    assert len(report.weeks) == 4
    assert load_report([]).spike is None
