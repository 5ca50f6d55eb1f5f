"""Alerts phrased for the ear (`stream.alerts.spoken`) and carried to the runner page by the PageChannel.

Before: the page spoke `message + ". " + cue`, e.g. "Fatigue pattern for 2 min: cadence 6 % down, ...
forward lean 6° up (associated with higher low-back load). ease off: ...", and "core and glute work after
the run" mid-run.
"""

from __future__ import annotations

import pytest

from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity
from strideguard.analytics.risk.defaults import DEFAULTS
from strideguard.stream.alerts import AlertDispatcher, PageChannel
from strideguard.stream.alerts.spoken import after_run_advice, spoken_message, spoken_text
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.session import SessionInfo

CUES = [m["cue"] for m in DEFAULTS["metrics"].values()] + [DEFAULTS["fatigue"]["cue"]]


def event(message: str, cue: str, *, kind: RiskEventKind = RiskEventKind.ONSET) -> RiskEvent:
    return RiskEvent(
        runner="anna",
        t_ns=100,
        kind=kind,
        metric="cadence",
        severity=Severity.WARNING,
        value=160.0,
        baseline=171.0,
        deviation=-6.4,
        deviation_unit="%",
        duration_s=60.0,
        message=message,
        cue=cue,
        onset_t_ns=40,
    )


@pytest.mark.parametrize(
    ("message", "spoken"),
    [
        ("Cadence 6 % below your baseline for 1 min", "Cadence 6 percent below your baseline."),
        (
            "Cadence 154 spm, 9 % below your baseline and below 160 for 2 min 30 s",
            "Cadence 154 steps per minute, 9 percent below your baseline and below 160.",
        ),
        ("Forward lean 6° more than your baseline for 45 s", "Forward lean 6 degrees more than your baseline."),
        ("Forward lean 1° more than your baseline for 1 min", "Forward lean 1 degree more than your baseline."),
        (
            "Fatigue pattern for 2 min: cadence 6 % down, side-to-side trunk sway 25 % up, forward lean 6° up "
            "(associated with higher low-back load)",
            "Fatigue pattern: cadence 6 percent down, side-to-side trunk sway 25 percent up, forward lean 6 "
            "degrees up.",
        ),
        ("Cadence back above 160 spm after 2 min", "Cadence back above 160 steps per minute."),
        (
            "Step-time asymmetry 6 points above your baseline for 1 min",
            "Step-time asymmetry 6 points above your baseline.",
        ),
    ],
)
def test_messages_for_the_ear(message: str, spoken: str) -> None:
    assert spoken_message(message) == spoken


def test_run_time_cue_is_spoken_and_after_run_advice_kept_for_the_summary() -> None:
    ev = event("Side-to-side trunk sway 25 % above your baseline for 1 min", DEFAULTS["metrics"]["sway_ml"]["cue"])
    assert (
        spoken_text(ev)
        == "Side-to-side trunk sway 25 percent above your baseline. Run tall and keep your trunk steady."
    )
    assert after_run_advice(ev) == ["Core and glute work after the run."]
    cleared = event(
        "Cadence back within your baseline band after 2 min", "shorter, quicker steps", kind=RiskEventKind.CLEARED
    )
    assert spoken_text(cleared) == "Cadence back within your baseline band."


@pytest.mark.parametrize("cue", CUES)
def test_no_default_cue_is_read_out_literally(cue: str) -> None:
    text = spoken_text(event("Cadence 154 spm, 9 % below your baseline and below 160 for 2 min (x)", cue))
    for literal in ("spm", "%", "°", "(", ")", "after the run", "shoes", "2 min"):
        assert literal not in text, (literal, text)
    assert len(text) <= 150, text  # short: a runner takes in a sentence or two


async def test_the_page_channel_sends_the_spoken_fields() -> None:
    bus = busmod.Bus()
    sub = bus.subscribe(f"{busmod.TOPIC_ROOT}/t/anna/alerts")
    dispatcher = AlertDispatcher([PageChannel(bus)])
    info = SessionInfo(session_id="s1", runner="anna", team="t", source="test", started_t_ns=0)
    dispatcher.dispatch(info, event("Impact 20 % above your baseline for 1 min", DEFAULTS["metrics"]["impact"]["cue"]))
    await dispatcher.close()
    _, message = await sub.get()
    assert message["delivered"] is True
    assert message["spoken"] == "Impact 20 percent above your baseline. Land softer with shorter, quicker steps."
    assert message["after_run"] == ["Softer surfaces and fresh shoes help."]
