"""A runner's history from the store: shoes and their wear, impact across sessions, recovery.

The pure rules live in `analytics.risk` (shoes, impact_trend, recovery); this module only reads the
stored sessions and hands them over, so `shoes`, `load` and `record` say the same thing.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import os
import pathlib
from typing import Any

from strideguard.analytics.risk.impact_trend import ImpactObservation, SessionImpact, recent_rise, trend
from strideguard.analytics.risk.recovery import BackToBack, PastSession, back_to_back, before_next_run, onsets_of
from strideguard.analytics.risk.shoes import SessionDistance, session_distance, usual_speed, wear_note
from strideguard.stream.errors import UsageError
from strideguard.stream.sqlite.shoes import Shoe, ShoeLog
from strideguard.stream.sqlite.store import SessionRow, SessionStore, default_db_path


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShoeStatus:
    shoe: Shoe
    km: float
    estimated: bool  # some of the distance is estimated from running time and pace
    n_sessions: int
    note: str | None  # the wear reminder
    impact: ImpactObservation | None  # impact on these shoes rising over weeks

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.shoe.name,
            "default": self.shoe.is_default,
            "retired": not self.shoe.active,
            "km": round(self.km, 1),
            "km_estimated": self.estimated,
            "sessions": self.n_sessions,
            "remind_km": self.shoe.remind_km,
            "replace_km": self.shoe.replace_km,
            "note": self.note,
            "impact_trend": None if self.impact is None else dataclasses.asdict(self.impact),
        }


def demo_db_path() -> pathlib.Path:
    """Where `demo` and `record --simulate` keep their sessions unless told otherwise: $STRIDEGUARD_DEMO_DB,
    else `demo.db` beside the runner's own store, so a demo never becomes part of anyone's history."""
    if os.environ.get("STRIDEGUARD_DEMO_DB"):
        return pathlib.Path(os.environ["STRIDEGUARD_DEMO_DB"])
    return default_db_path().with_name("demo.db")


@functools.cache
def _samples_dir() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("strideguard.sensors") / "samples")).resolve()


def is_demo(row: SessionRow) -> bool:
    """A session of one of the bundled sample runs (`demo`, or `replay` of a bundled sample, into any
    store): not the runner's own training. Every demo of a sample is dated the same day, so counting
    them would make `load` see a spike (an acute:chronic ratio of 4 after two demos) and hand the next
    demo a "prior" baseline from the last. They are left out of the prior baseline, load and history."""
    if not row.source:
        return False
    try:
        return pathlib.Path(row.source).resolve().parent == _samples_dir()
    except (OSError, ValueError):
        return False


def own_sessions(store: SessionStore, runner: str) -> list[SessionRow]:
    """The runner's stored sessions, in start order, without demos (`is_demo`)."""
    return [s for s in store.sessions(runner=runner) if not is_demo(s)]


def finished(store: SessionStore, runner: str) -> list[SessionRow]:
    return [s for s in own_sessions(store, runner) if s.status in ("completed", "incomplete")]


def distances(store: SessionStore, rows: list[SessionRow]) -> dict[str, SessionDistance]:
    """Every session's distance; estimates use the pace of the runner's measured sessions."""
    measured = {r.session_id: session_distance(store.windows(r.session_id)) for r in rows}
    pace = usual_speed(list(measured.values()))
    return {
        sid: d if not d.estimated else session_distance(store.windows(sid), usual_speed_mps=pace)
        for sid, d in measured.items()
    }


def session_impacts(rows: list[SessionRow], dist: dict[str, SessionDistance]) -> list[SessionImpact]:
    return [
        SessionImpact(
            start_t_ns=r.started_t_ns,
            impact_g=float(r.summary["impact_g"]),
            speed_mps=dist[r.session_id].mean_speed_mps if r.session_id in dist else None,
            session_id=r.session_id,
        )
        for r in rows
        if isinstance(r.summary.get("impact_g"), (int, float)) and r.summary["impact_g"] > 0
    ]


def shoe_statuses(store: SessionStore, log: ShoeLog, runner: str) -> list[ShoeStatus]:
    rows = finished(store, runner)
    dist = distances(store, rows)
    out = []
    for shoe in log.shoes(runner):
        worn = set(log.sessions_of(shoe))
        mine = [r for r in rows if r.session_id in worn]
        km = shoe.start_km + sum(dist[r.session_id].km for r in mine)
        out.append(
            ShoeStatus(
                shoe=shoe,
                km=km,
                estimated=any(dist[r.session_id].estimated for r in mine),
                n_sessions=len(mine),
                note=wear_note(km, remind_km=shoe.remind_km, replace_km=shoe.replace_km) if shoe.active else None,
                impact=trend(session_impacts(mine, dist), what="these shoes"),
            )
        )
    return out


def impact_observation(store: SessionStore, runner: str) -> ImpactObservation | None:
    rows = finished(store, runner)
    return recent_rise(session_impacts(rows, distances(store, rows)))


def past_sessions(store: SessionStore, runner: str) -> list[PastSession]:
    return [
        PastSession(
            session_id=r.session_id,
            start_t_ns=r.started_t_ns,
            duration_s=float(r.summary.get("duration_s") or 0.0),
            onsets=onsets_of(dict((r.summary.get("risk") or {}).get("events") or {})),
        )
        for r in finished(store, runner)
    ]


def recovery(store: SessionStore, runner: str) -> list[BackToBack]:
    return back_to_back(past_sessions(store, runner))


def recovery_before_run(store: SessionStore, runner: str, now_t_ns: int) -> BackToBack | None:
    return before_next_run(past_sessions(store, runner), now_t_ns)


def wear_shoes(log: ShoeLog, sessions: dict[str, str], shoe_name: str | None) -> list[str]:
    """Link each finished session (session id -> runner) to `shoe_name`, or to its runner's default
    shoes when no name is given (nothing when the runner has none). Returns one line per session that
    could not be linked, for the caller to print; a shoe a runner does not have is such a line."""
    problems = []
    for session_id, runner in sessions.items():
        shoe = log.find(runner, shoe_name) if shoe_name is not None else log.default(runner)
        if shoe is None:
            if shoe_name is not None:
                problems.append(
                    f"{runner} has no shoes called {shoe_name!r}: session {session_id} is not linked to shoes "
                    f"(strideguard shoes add {shoe_name!r} --runner {runner!r})"
                )
            continue
        log.wear(session_id, shoe)
    return problems


def check_shoe(log: ShoeLog, runner: str, shoe_name: str) -> None:
    """Before a run whose runner is known: a shoe they do not have is a usage error, not a lost link."""
    if log.find(runner, shoe_name) is None:
        have = ", ".join(s.name for s in log.shoes(runner, active_only=True)) or "none yet"
        raise UsageError(
            f"{runner} has no shoes called {shoe_name!r} (theirs: {have}); add them with `strideguard shoes add`"
        )
