"""Shoes, impact across sessions and recovery through the real CLI on a real store (issue 18).

Stored histories are written with the store's own API: sessions with windows (speed, impact) and a
summary (duration, impact, alert counts), as the pipeline stores them; then `strideguard shoes`,
`load` and `analyze --shoe` are run as a user runs them.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from strideguard.analytics.consts import NS_PER_DAY
from strideguard.analytics.results import AnalyzerOutput, WindowMetrics
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.sqlite.shoes import ShoeLog
from strideguard.stream.sqlite.store import SessionStore
from tests.stream.cli_run import strideguard

REPO = pathlib.Path(__file__).resolve().parents[2]
NS = 1_000_000_000
T0_NS = 1_780_000_000 * NS  # 2026-05-28


def store_session(
    store: SessionStore,
    sid: str,
    *,
    day: float,
    minutes: float = 40.0,
    impact_g: float = 2.5,
    speed_mps: float | None = 3.0,
    events: dict[str, int] | None = None,
    runner: str = "anna",
) -> None:
    """A finished session: running windows on a 5-s hop with the given speed and impact."""
    start = T0_NS + int(day * NS_PER_DAY)
    store.open_session(SessionInfo(session_id=sid, runner=runner, team="t", source="test", started_t_ns=start))
    n = int(minutes * 60 / 5)
    windows = tuple(
        WindowMetrics(
            runner=runner,
            t_start_ns=start + k * 5 * NS,
            t_end_ns=start + (k * 5 + 10) * NS,
            n_steps=28,
            running=True,
            cadence_spm=170.0,
            impact_g=impact_g,
            speed_mps=speed_mps,
        )
        for k in range(n)
    )
    store.write(sid, AnalyzerOutput(windows=windows))
    summary = {"duration_s": minutes * 60, "impact_g": impact_g, "risk": {"events": events or {}}}
    store.close_session(sid, ended_t_ns=start + int(minutes * 60 * NS), summary=summary)


def test_shoes_add_list_default_retire_through_the_cli(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "store.db"
    assert strideguard("shoes", "add", "pegasus", "--runner", "anna", db=db).stdout == "anna: added pegasus (default)\n"
    assert strideguard("shoes", "add", "trail", "--runner", "anna", "--start-km", "520", db=db).returncode == 0
    out = strideguard("shoes", "list", "--runner", "anna", db=db).stdout
    assert out.splitlines() == [
        "pegasus (default): 0 km in 0 sessions",
        "trail: 520 km in 0 sessions",
        "  520 km: between 500 and 800 km, think about new shoes",
    ]
    assert strideguard("shoes", "default", "trail", "--runner", "anna", db=db).returncode == 0
    assert strideguard("shoes", "retire", "pegasus", "--runner", "anna", db=db).returncode == 0
    shoes = json.loads(strideguard("shoes", "list", "--runner", "anna", "--json", db=db).stdout)["shoes"]
    assert [(s["name"], s["default"], s["retired"]) for s in shoes] == [
        ("pegasus", False, True),
        ("trail", True, False),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "a/b", "--runner", "anna"], "shoe name 'a/b' contains '/'"),
        (["add", "x", "--runner", "anna", "--remind-km", "900"], "--replace-km (800) must be above --remind-km (900)"),
        (["retire", "nope", "--runner", "anna"], "anna has no shoes called 'nope' (theirs: pegasus)"),
        (["add", "pegasus", "--runner", "anna"], "anna already has shoes called 'pegasus' (retire them first)"),
    ],
)
def test_bad_shoe_requests_are_one_line_errors(tmp_path: pathlib.Path, args: list[str], message: str) -> None:
    db = tmp_path / "store.db"
    assert strideguard("shoes", "add", "pegasus", "--runner", "anna", db=db).returncode == 0
    done = strideguard("shoes", *args, db=db)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]  # argparse prints its usage first
    assert last.startswith("strideguard shoes") and ": error: " in last and message in last
    assert "Traceback" not in done.stderr


def test_km_per_shoe_from_speed_or_estimated_and_impact_rising_on_one_pair(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "store.db"
    store = SessionStore(db)
    with ShoeLog(db) as log:
        old = log.add("anna", "old", t_ns=T0_NS, remind_km=500, replace_km=800)
        new = log.add("anna", "new", t_ns=T0_NS, remind_km=500, replace_km=800)
        # 13 sessions over 6 weeks on "old": impact rising 12 % (at a steady 3 m/s: 7.2 km each)
        for i in range(13):
            store_session(store, f"o{i}", day=i * 3.5, impact_g=2.4 * (1 + 0.12 * i / 12))
            log.wear(f"o{i}", old)
        # two sessions on "new" without speed: estimated at the runner's usual (measured) pace
        for i in range(2):
            store_session(store, f"n{i}", day=50 + i, speed_mps=None)
            log.wear(f"n{i}", new)
    store.close()
    shoes = {
        s["name"]: s
        for s in json.loads(strideguard("shoes", "list", "--runner", "anna", "--json", db=db).stdout)["shoes"]
    }
    # 40 min of running at 3 m/s: 480 windows on a 5-s hop, the last one 10 s long: 2405 s x 3 m/s
    assert shoes["old"]["km"] == pytest.approx(13 * 7.215, abs=0.2) and not shoes["old"]["km_estimated"]
    assert shoes["new"]["km"] == pytest.approx(2 * 7.215, abs=0.2) and shoes["new"]["km_estimated"]
    trend = shoes["old"]["impact_trend"]
    assert trend is not None and 10 <= trend["change_pct"] <= 14
    assert trend["message"] == f"impact on these shoes up {trend['change_pct']:.0f} % over 6 weeks"
    assert shoes["new"]["impact_trend"] is None
    text = strideguard("shoes", "list", "--runner", "anna", db=db).stdout
    assert "new: about 14 km in 2 sessions" in text
    assert f"  impact on these shoes up {trend['change_pct']:.0f} % over 6 weeks: softer surfaces" in text


def test_load_lists_back_to_back_hard_sessions_and_an_impact_rise(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "store.db"
    store = SessionStore(db)
    for i in range(8):
        store_session(store, f"s{i}", day=i * 3)
    store_session(store, "hard1", day=24, impact_g=2.9, events={"fatigue:onset": 1, "fatigue:cleared": 1})
    store_session(store, "hard2", day=25, impact_g=2.9, events={"cadence:onset": 1, "lean:onset": 1})
    store_session(store, "easy", day=28, impact_g=2.9, events={"warmup:note": 1, "cadence:note": 1})
    store.close()
    report = json.loads(strideguard("load", "--runner", "anna", "--json", db=db).stdout)
    (pair,) = report["recovery"]
    assert (pair["first"], pair["second"]) == ("hard1", "hard2")
    assert pair["message"] == "two hard sessions 23 h apart (a fatigue alert; then 2 warnings)"
    assert report["impact_across_sessions"]["kind"] == "recent_rise"
    text = strideguard("load", "--runner", "anna", db=db).stdout
    assert "recovery: 2026-06-21: two hard sessions 23 h apart" in text
    assert "impact: impact up 16 % over your last 3 sessions against your usual" in text


def test_analyze_links_the_session_to_the_shoes_and_refuses_a_shoe_the_runner_lacks(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "store.db"
    sample = REPO / "sensors" / "samples" / "uci_treadmill_p1.sgcap"
    with ShoeLog(db) as log:
        log.add("uci-p1", "pegasus", t_ns=T0_NS, remind_km=500, replace_km=800)
        log.add("uci-p1", "trail", t_ns=T0_NS, remind_km=500, replace_km=800)
    assert strideguard("analyze", str(sample), "--db", str(db), db=db).returncode == 0  # the default pair
    assert strideguard("analyze", str(sample), "--db", str(db), "--shoe", "trail", db=db).returncode == 0
    store = SessionStore(db)
    ids = [s.session_id for s in store.sessions(runner="uci-p1")]
    store.close()
    with ShoeLog(db) as log:
        assert [log.shoe_of(i).name for i in ids] == ["pegasus", "trail"]  # type: ignore[union-attr]
    listed = json.loads(strideguard("sessions", "--runner", "uci-p1", "--json", db=db).stdout)
    # a 5-min treadmill segment: too short for the warm-up check's verdict
    assert [(r["shoe"], r["start"]) for r in listed] == [("pegasus", "-"), ("trail", "-")]
    lines = strideguard("sessions", "--runner", "uci-p1", db=db).stdout.splitlines()
    assert "start" in lines[0] and "shoes" in lines[0]
    assert " pegasus " in lines[1] and " trail " in lines[2]
    lacking = strideguard("analyze", str(sample), "--db", str(db), "--runner", "uci-p1", "--shoe", "nope", db=db)
    assert lacking.returncode == 2
    assert lacking.stderr.strip() == (
        "strideguard analyze: error: uci-p1 has no shoes called 'nope' (theirs: pegasus, trail); "
        "add them with `strideguard shoes add`"
    )
    store = SessionStore(db)
    assert len(store.sessions(runner="uci-p1")) == 2  # refused before anything was analysed or stored
    store.close()


def test_the_listing_says_how_each_run_started() -> None:
    from strideguard.stream.cli.commands.sessions import start_of

    def summary(**warmup: object) -> dict:
        return {"risk": {"warmup": warmup}}

    assert start_of(summary(judged=True, hard_start=True)) == "hard"
    assert start_of(summary(judged=True, hard_start=False)) == "easy"
    assert start_of(summary(judged=False, reason="too short to know your working level")) == "-"
    assert start_of({}) == "-"  # sessions stored before the check existed


def test_the_report_says_how_the_run_started_the_shoes_recovery_and_impact_across_sessions(tmp_path) -> None:
    from strideguard.stream.report.data import across_sessions

    db = tmp_path / "store.db"
    store = SessionStore(db)
    with ShoeLog(db) as log:
        pair = log.add("anna", "pegasus", t_ns=T0_NS, start_km=490, remind_km=500, replace_km=800)
        for i in range(8):
            store_session(store, f"s{i}", day=i * 3)
        store_session(store, "hard1", day=24, impact_g=2.9, events={"fatigue:onset": 1})
        store_session(store, "hard2", day=25, impact_g=2.9, events={"cadence:onset": 1, "lean:onset": 1})
        store_session(store, "last", day=28, impact_g=2.9)
        log.wear("hard2", pair)
    warmup = {"judged": True, "hard_start": True, "pct_of_working": {"speed_mps": 101.0}, "against": "this run"}
    store.close_session(
        "hard2",
        ended_t_ns=None,
        summary={
            "duration_s": 2400,
            "impact_g": 2.9,
            "risk": {"warmup": warmup, "events": {"cadence:onset": 1, "lean:onset": 1}},
        },
    )
    row = store.session("hard2")
    assert row is not None
    lines = across_sessions(store, row)
    store.close()
    assert (
        lines[0]
        == "Start: hard: at working level from the first minutes (speed 101 % of working level, against this run)."
    )
    assert lines[1].startswith("Shoes: pegasus, 497 km in total.")  # 490 + 7.2 km at 3 m/s
    assert any(line.startswith("Recovery: two hard sessions") for line in lines)
    assert any(line.startswith("Across sessions: impact up") for line in lines)
