"""The terminal metronome (issue 20, a laptop on a treadmill): beats on a grid, never drifting, at the
runner page's target (stored baseline cadence + %, or a fixed rate); bad requests are one-line errors."""

from __future__ import annotations

import io

import pytest

from strideguard.stream.cli import main
from strideguard.stream.cli.commands.metronome import beat_times, play
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.sqlite.store import SessionStore


class FakeClock:
    """Time that moves only when slept, plus a print that costs `work_s` each (a slow terminal)."""

    def __init__(self, work_s: float) -> None:
        self.now, self.work_s = 1000.0, work_s
        self.rung: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


class Out(io.StringIO):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.c = clock

    def write(self, text: str) -> int:
        if "\a" in text:
            self.c.rung.append(self.c.now)
            self.c.now += self.c.work_s  # each print takes time: a sleep-one-period metronome would drift
        return super().write(text)


def test_an_hour_of_beats_stays_on_the_grid_however_slow_the_terminal() -> None:
    c = FakeClock(work_s=0.004)
    n = play(176.0, duration_s=3600.0, out=Out(c), clock=c.clock, sleep=c.sleep)
    assert n == 176 * 60
    period = 60.0 / 176.0
    worst = max(abs(t - (1000.0 + k * period)) for k, t in enumerate(c.rung))
    assert worst < 1e-6  # no drift over an hour (sleeping one period per beat would be 43 s late)


def test_beat_times_are_60_over_the_target_apart() -> None:
    it = beat_times(5.0, 180.0)
    times = [next(it) for _ in range(4)]
    assert times == pytest.approx([5.0, 5.0 + 1 / 3, 5.0 + 2 / 3, 6.0])


def test_the_target_is_the_stored_baseline_plus_the_percentage(tmp_path, capsys) -> None:
    db = tmp_path / "store.db"
    store = SessionStore(db)
    store.open_session(SessionInfo(session_id="s1", runner="anna", team="t", source="x", started_t_ns=1))
    baseline = {"source": "run", "metrics": {"cadence": {"value": 160.0, "sd": 2.0, "n_windows": 30}}}
    store.close_session("s1", ended_t_ns=2, summary={"risk": {"baseline": baseline}})
    store.close()
    argv = ["metronome", "--runner", "anna", "--plus-pct", "5", "--duration", "0.5", "--db", str(db)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "metronome: 168.0 steps/min (anna's usual cadence + 5 %)" in err
    assert "2 beats at 168.0 steps/min" in err  # at 0 s and at 0.357 s


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--spm", "300"], "must be from 120 to 230, got 300"),
        (["--runner", "anna", "--plus-pct", "25"], "must be from 0 to 10, got 25"),
        (["--runner", "nobody"], "no stored cadence baseline for nobody"),
    ],
)
def test_bad_requests_are_one_line_errors(tmp_path, capsys, argv, message) -> None:
    assert main(["metronome", *argv, "--db", str(tmp_path / "none.db")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("strideguard metronome: error: ") and message in err and "\n" not in err
