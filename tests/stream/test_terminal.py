"""The terminal's "finished" line: what a runner or coach reads when a session ends, one line."""

from __future__ import annotations

import io
import pathlib
import re

import pytest

from strideguard.analytics.results import AnalyzerOutput, RiskEventKind, Severity
from strideguard.stream.cli import main
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.terminal import TerminalView
from tests.stream.alert_helpers import SESSION, event

BASELINE = {"baseline": {"cadence_spm": 170.0}}


def summary(**over: object) -> SessionSummary:
    data: dict[str, object] = {
        "session_id": SESSION.session_id,
        "runner": "anna",
        "duration_s": 1620.0,
        "n_steps": 4493,
        "cadence_spm": 167.44,
        "risk": BASELINE,
    }
    return SessionSummary.from_dict({**data, **over})


async def finished_line(output: AnalyzerOutput | None, closing: SessionSummary) -> str:
    out = io.StringIO()
    view = TerminalView(out=out, interactive=False)
    await view.open_session(SESSION)
    if output is not None:
        await view.write(SESSION, output)
    await view.close_session(SESSION, closing)
    return out.getvalue().splitlines()[-1]


async def test_the_line_reads_as_time_steps_cadence_and_alerts_by_severity() -> None:
    events = (
        event("fatigue", at_s=600, severity=Severity.ALERT),
        event("cadence", at_s=610, severity=Severity.WARNING),
        event("cadence", at_s=700, kind=RiskEventKind.CLEARED),  # an end, not another alert
        event("cadence", at_s=800, severity=Severity.INFO),  # a note below the floor, shown but not an alert
    )
    line = await finished_line(AnalyzerOutput(risk_events=events), summary())
    assert line == "anna: finished — 27:00, 4,493 steps, 167 spm, 2 alerts (1 ALERT, 1 WARNING), 1 note"


@pytest.mark.parametrize(
    ("closing", "expected"),
    [
        (summary(), "anna: finished — 27:00, 4,493 steps, 167 spm, no alerts"),
        # nothing to judge against: "no alerts" alone would read as a clean bill
        (
            summary(risk={"baseline": None}),
            "anna: finished — 27:00, 4,493 steps, 167 spm, no alerts (too short for a baseline)",
        ),
        (summary(risk=None), "anna: finished — 27:00, 4,493 steps, 167 spm"),  # no risk stage: nothing said
        (summary(duration_s=4000.0, n_steps=1, cadence_spm=None), "anna: finished — 1:06:40, 1 step, no alerts"),
        (
            summary(dropped={"samples at an impossible rate": 1200, "readings out of range": 3}),
            "anna: finished — 27:00, 4,493 steps, 167 spm, no alerts; "
            "dropped 1,200 samples at an impossible rate; 3 readings out of range",
        ),
    ],
)
async def test_the_line_without_alerts(closing: SessionSummary, expected: str) -> None:
    assert await finished_line(None, closing) == expected


def test_the_demo_ends_with_a_line_a_runner_reads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """Was `alex: finished — duration_s 1620.0, n_steps 4493, cadence_spm 167.44`; the counts are those
    of the alert lines above it."""
    monkeypatch.setenv("STRIDEGUARD_CONFIG", str(tmp_path / "none.toml"))  # the defaults, whoever runs it
    assert main(["demo", "--no-store", "--speed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    finished = [line for line in lines if ": finished — " in line]
    assert finished == ["alex: finished — 27:00, 4,493 steps, 167 spm, 4 alerts (1 ALERT, 3 WARNING)"]
    shown = [m.group(1) for line in lines if (m := re.match(r"\[[\d:]+\] alex: (ALERT|WARNING) ", line))]
    assert sorted(shown) == ["ALERT", "WARNING", "WARNING", "WARNING"]
