"""The live terminal view: one status line per runner, alerts as they fire, progress of a replay.

On a terminal the status lines are redrawn in place; otherwise (a pipe, CI, a log file) a plain line is
printed every `every_s` seconds of recording time so the output stays readable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.runtime.sources import Progress

BAR_WIDTH = 20  # characters in the progress bar


def format_clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60:02d}:{seconds % 60:02d}"
    )


def format_metrics(w: WindowMetrics | None) -> str:
    if w is None:
        return "waiting for steps..."
    if not w.running:
        return "not running (standing or walking)"

    def f(value: float | None, fmt: str, unit: str) -> str:
        return "-" if value is None else format(value, fmt) + unit

    parts = [
        f"cadence {f(w.cadence_spm, '.0f', ' spm')}",
        f"impact {f(w.impact_g, '.2f', ' g')}",
        f"sway ML {f(w.sway_ml_ratio, '.2f', '')}",
        f"lean {f(w.lean_deg, '+.1f', '°')}",
        f"L/R {f(w.step_time_asymmetry_pct, '+.1f', ' %')}",
    ]
    if w.risk_score is not None:
        parts.append(f"risk {w.risk_score:.0f}/100")
    return "  ".join(parts)


def format_alert(session: SessionInfo, event: RiskEvent, t0_ns: int) -> str:
    at = format_clock((event.t_ns - t0_ns) / 1e9)
    if event.kind is RiskEventKind.CLEARED:
        return f"[{at}] {session.runner}: ok again — {event.message}"
    return f"[{at}] {session.runner}: {event.severity.value.upper()} {event.message} — {event.cue}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def format_alert_counts(onsets: dict[Severity, int], summary: SessionSummary) -> str | None:
    """ "2 alerts (1 ALERT, 1 WARNING)", or "no alerts" (saying when the run built no baseline to judge
    against); None when the session had no risk stage. Info notes are not alerts but were shown: counted."""
    if summary.risk is None:
        return None
    serious = [(severity, onsets.get(severity, 0)) for severity in (Severity.ALERT, Severity.WARNING)]
    total = sum(n for _, n in serious)
    if total:
        text = f"{_plural(total, 'alert')} ({', '.join(f'{n} {s.value.upper()}' for s, n in serious if n)})"
    else:
        text = "no alerts" + ("" if summary.baseline is not None else " (too short for a baseline)")
    notes = onsets.get(Severity.INFO, 0)
    return text + (f", {_plural(notes, 'note')}" if notes else "")


def format_finished(runner: str, summary: SessionSummary, onsets: dict[Severity, int]) -> str:
    """The one line a runner or coach reads when a session ends: "alex: finished — 27:00, 4,493 steps,
    167 spm, 2 alerts (1 ALERT, 1 WARNING)", then what the trust boundary refused, if anything."""
    parts = [format_clock(summary.duration_s), _plural(summary.n_steps, "step")]
    if summary.cadence_spm is not None:
        parts.append(f"{summary.cadence_spm:.0f} spm")
    alerts = format_alert_counts(onsets, summary)
    if alerts is not None:
        parts.append(alerts)
    line = f"{runner}: finished — {', '.join(parts)}"
    if summary.dropped:
        line += "; dropped " + "; ".join(f"{n:,} {reason}" for reason, n in summary.dropped.items())
    return line


class TerminalView:
    """A sink that draws the live view (a live sink: no window over a sensor dropout reaches it)."""

    name = "terminal"
    live = True

    def __init__(
        self,
        *,
        progress: Progress | None = None,
        out: TextIO | None = None,
        every_s: float = 60.0,
        interactive: bool | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.progress = progress
        self.interactive = self.out.isatty() if interactive is None else interactive
        self.every_s = every_s
        self._latest: dict[str, WindowMetrics | None] = {}
        self._t0: dict[str, int] = {}
        self._onsets: dict[str, dict[Severity, int]] = {}  # session id -> onsets shown, by severity
        self._drawn_lines = 0
        self._last_plain_t_ns: int | None = None
        self.alerts_shown = 0
        self.page_url: Callable[[str], str] | None = None  # a runner's live page, when pages are served

    async def open_session(self, session: SessionInfo) -> None:
        self._latest[session.runner] = None
        self._t0[session.runner] = session.started_t_ns
        self._onsets[session.session_id] = {}
        page = f" — page {self.page_url(session.runner)}" if self.page_url is not None else ""
        self._print(f"{session.runner}: session {session.session_id} started{page}")

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        for event in output.risk_events:
            self.alerts_shown += 1
            if event.kind is RiskEventKind.ONSET:
                onsets = self._onsets.setdefault(session.session_id, {})
                onsets[event.severity] = onsets.get(event.severity, 0) + 1
            self._print(format_alert(session, event, self._t0[session.runner]))
        if output.windows:
            self._latest[session.runner] = output.windows[-1]
            self._status(output.windows[-1].t_end_ns)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        self._clear()
        onsets = self._onsets.pop(session.session_id, {})
        self._print(format_finished(session.runner, summary, onsets))

    async def close(self) -> None:
        self._clear()
        self.out.flush()

    def _progress_text(self) -> str:
        p = self.progress
        if p is None or p.fraction is None or p.start_t_ns is None or p.end_t_ns is None:
            return ""  # (a fraction implies both ends)
        done = round(p.fraction * BAR_WIDTH)
        total_s = (p.end_t_ns - p.start_t_ns) / 1e9
        return (
            f"[{'#' * done}{'-' * (BAR_WIDTH - done)}] {p.fraction:4.0%} {format_clock(p.elapsed_s)}/"
            f"{format_clock(total_s)}"
        )

    def _lines(self) -> list[str]:
        head = self._progress_text()
        lines = [head] if head else []
        lines += [f"  {runner:<12} {format_metrics(w)}" for runner, w in self._latest.items()]
        return lines

    def _status(self, t_ns: int) -> None:
        if self.interactive:
            self._clear()
            lines = self._lines()
            self.out.write("\n".join(lines) + "\n")
            self._drawn_lines = len(lines)
            self.out.flush()
        elif self._last_plain_t_ns is None or (t_ns - self._last_plain_t_ns) / 1e9 >= self.every_s:
            self._last_plain_t_ns = t_ns
            for line in self._lines():
                self.out.write(line.strip() + "\n")
            self.out.flush()

    def _clear(self) -> None:
        if self.interactive and self._drawn_lines:
            self.out.write("\x1b[1A\x1b[2K" * self._drawn_lines)
            self._drawn_lines = 0

    def _print(self, line: str) -> None:
        redraw = self.interactive and self._drawn_lines
        self._clear()
        self.out.write(line + "\n")
        if redraw:
            lines = self._lines()
            self.out.write("\n".join(lines) + "\n")
            self._drawn_lines = len(lines)
        self.out.flush()
