"""Across sessions (issue 18): impact rising over weeks (all runs, or one pair of shoes) and hard
sessions back to back with too little rest, from scripted histories with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.analytics.consts import NS_PER_DAY
from strideguard.analytics.risk.impact_trend import SessionImpact, at_common_speed, recent_rise, trend
from strideguard.analytics.risk.recovery import (
    PastSession,
    back_to_back,
    before_next_run,
    hard_reasons,
    onsets_of,
)

T0_NS = 1_780_000_000 * 1_000_000_000
H_NS = NS_PER_DAY // 24
SEED = 20261204


def history(impacts: list[float], *, every_days: float = 3.0, speeds: list[float] | None = None) -> list[SessionImpact]:
    return [
        SessionImpact(
            start_t_ns=T0_NS + int(i * every_days * NS_PER_DAY),
            impact_g=g,
            speed_mps=None if speeds is None else speeds[i],
            session_id=f"s{i}",
        )
        for i, g in enumerate(impacts)
    ]


def noisy(values: list[float], sd_pct: float = 2.0) -> list[float]:
    rng = np.random.default_rng(SEED)
    print(f"impact noise seed {SEED}")
    return [v * (1 + rng.normal(0, sd_pct / 100)) for v in values]


def test_a_sustained_rise_over_the_last_sessions_is_reported_as_an_observation() -> None:
    sessions = history(noisy([2.5] * 8 + [2.85] * 3))  # +14 % in the last three sessions
    obs = recent_rise(sessions)
    assert obs is not None and obs.kind == "recent_rise"
    assert 10 <= obs.change_pct <= 18
    assert obs.message.startswith("impact up ") and obs.message.endswith("over your last 3 sessions against your usual")
    assert "softer surfaces" in obs.cue and "500-800 km" in obs.cue


@pytest.mark.parametrize(
    "impacts",
    [
        [2.5] * 11,  # steady
        [2.5] * 8 + [2.85, 2.5, 2.85],  # one hard-surface run in the last three is not sustained
        [2.5] * 4 + [2.85] * 3,  # too little history to know the usual
    ],
)
def test_no_observation_without_a_sustained_rise_or_enough_history(impacts: list[float]) -> None:
    assert recent_rise(history(noisy(impacts, sd_pct=1.0))) is None


def test_a_faster_week_is_not_read_as_worn_shoes() -> None:
    """Impact 10 % higher in sessions run 1 m/s faster: at a common speed, no rise."""
    speeds = [3.0] * 8 + [4.0] * 3
    sessions = history([2.5] * 8 + [2.75] * 3, speeds=speeds)
    assert recent_rise(sessions) is None
    assert at_common_speed(sessions)[-1] == pytest.approx(at_common_speed(sessions)[0], rel=0.02)
    # the same rise without speed data is reported (like with like: no adjustment possible)
    assert recent_rise(history([2.5] * 8 + [2.85] * 3)) is not None


def test_impact_on_one_pair_of_shoes_rising_over_six_weeks_is_a_trend() -> None:
    weeks = 6
    n = 13  # every 3.5 days
    impacts = noisy([2.4 * (1 + 0.12 * i / (n - 1)) for i in range(n)], sd_pct=1.5)
    obs = trend(history(impacts, every_days=weeks * 7 / (n - 1)), what="these shoes")
    assert obs is not None and obs.kind == "trend"
    assert 8 <= obs.change_pct <= 16
    assert obs.message == f"impact on these shoes up {obs.change_pct:.0f} % over 6 weeks"
    # flat shoes, or too few sessions, give nothing
    assert trend(history(noisy([2.4] * n, sd_pct=1.5), every_days=3.5)) is None
    assert trend(history(impacts[:4], every_days=3.5)) is None


def past(i: int, *, day: float, minutes: float = 45, **onsets: int) -> PastSession:
    return PastSession(
        session_id=f"s{i}", start_t_ns=T0_NS + int(day * NS_PER_DAY), duration_s=minutes * 60, onsets=onsets
    )


def test_what_makes_a_session_hard() -> None:
    usual = [past(i, day=i * 2) for i in range(5)]
    assert hard_reasons(past(9, day=11), usual) == ()
    assert hard_reasons(past(9, day=11, fatigue=1), usual) == ("a fatigue alert",)
    assert hard_reasons(past(9, day=11, cadence=1, lean=1), usual) == ("2 warnings",)
    assert hard_reasons(past(9, day=11, minutes=70), usual) == ("a long run (70 min, your usual 45)",)
    assert onsets_of({"cadence:onset": 2, "cadence:cleared": 2, "warmup:note": 1, "fatigue:onset": 1}) == {
        "cadence": 2,
        "fatigue": 1,
    }


def test_back_to_back_hard_sessions_are_listed_and_rest_between_them_is_enough_otherwise() -> None:
    sessions = [
        past(0, day=0),
        past(1, day=2),
        past(2, day=4, fatigue=1),  # hard
        past(3, day=5, minutes=70),  # hard, 23 h after the end of the one before
        past(4, day=7, fatigue=1),  # hard, but 2 days after
    ]
    (pair,) = back_to_back(sessions)
    assert (pair.first.session_id, pair.second and pair.second.session_id) == ("s2", "s3")
    assert pair.rest_h == pytest.approx(23.2, abs=0.1)
    assert pair.message.startswith("two hard sessions 23 h apart (a fatigue alert; then a long run")
    assert "easy run or a rest day" in pair.advice


def test_before_the_next_run_a_hard_last_session_less_than_36_h_ago_is_mentioned() -> None:
    sessions = [past(0, day=0), past(1, day=2), past(2, day=4, fatigue=1)]
    end = sessions[-1].end_t_ns
    note = before_next_run(sessions, end + 20 * H_NS)
    assert note is not None and note.message == "your last run, 20 h ago, was hard (a fatigue alert)"
    assert before_next_run(sessions, end + 40 * H_NS) is None  # rested enough
    assert before_next_run(sessions[:2], sessions[1].end_t_ns + H_NS) is None  # the last one was easy
    assert before_next_run([], end) is None
