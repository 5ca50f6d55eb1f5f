"""Pain log rules: red flags override everything and never come with a gait score."""

from __future__ import annotations

import pytest

from strideguard.analytics.errors import AnalyticsError
from strideguard.analytics.pain import CLINICIAN, RED_FLAGS, PainEntry, advise, latest_red_flag

NO_FLAGS = dict.fromkeys(RED_FLAGS, False)


def entry(before: int | None = None, after: int | None = None, t: int = 0, **flags: bool) -> PainEntry:
    return PainEntry(runner="anna", t_ns=t, pain_before=before, pain_after=after, red_flags={**NO_FLAGS, **flags})


@pytest.mark.parametrize("flag", sorted(RED_FLAGS))
def test_any_red_flag_says_stop_and_see_a_clinician_without_gait_scores(flag: str) -> None:
    advice = advise(entry(0, 0, **{flag: True}))
    assert advice.level == "red_flag"
    assert advice.message.startswith(CLINICIAN)
    assert advice.show_gait_scores is False
    assert "score" not in advice.message.replace("no gait metric", "")


@pytest.mark.parametrize(
    ("before", "after", "level"),
    [
        (0, 0, "ok"),
        (1, 2, "rest"),
        (2, 2, "care"),
        (2, 1, "care"),
        (4, 3, "rest"),
        (None, 2, "care"),
        (None, None, "unknown"),
    ],
)
def test_pain_levels_follow_the_evidence(before: int | None, after: int | None, level: str) -> None:
    assert advise(entry(before, after)).level == level


def test_rising_pain_says_rest() -> None:
    assert advise(entry(1, 2)).message.startswith("Pain rose during the run (1/10 to 2/10): rest")


@pytest.mark.parametrize("bad", [-1, 11, 2.5, True])
def test_pain_outside_0_to_10_is_refused(bad: object) -> None:
    with pytest.raises(AnalyticsError, match="0 to 10"):
        PainEntry(runner="anna", t_ns=0, pain_before=bad)


def test_unknown_question_is_refused() -> None:
    with pytest.raises(AnalyticsError, match="unknown red-flag question"):
        PainEntry(runner="anna", t_ns=0, red_flags={"headache": True})


def test_a_red_flag_stands_until_a_later_entry_answers_every_question_no() -> None:
    flagged = entry(2, 2, t=1, numbness=True)
    assert latest_red_flag([flagged, entry(1, 1, t=0)]) is flagged
    partial = PainEntry(runner="anna", t_ns=2, pain_before=1, red_flags={"numbness": False})
    assert latest_red_flag([flagged, partial]) is flagged
    assert latest_red_flag([flagged, entry(1, 1, t=3)]) is None
