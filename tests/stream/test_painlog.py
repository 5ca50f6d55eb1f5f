"""Pain log storage beside the session store, and the `pain`, `load` and `config` commands end to end."""

from __future__ import annotations

import json
import pathlib

import pytest

from strideguard.analytics.pain import RED_FLAGS, PainEntry
from strideguard.stream.cli import main
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.sqlite.painlog import PainLog
from strideguard.stream.sqlite.store import SessionStore

DAY_NS = 86_400 * 1_000_000_000
T0 = 1_700_000_000 * 1_000_000_000


def test_entries_round_trip_in_the_stores_file(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "strideguard.db"
    store = SessionStore(db)  # the session store and the pain log share one file
    e1 = PainEntry(
        runner="anna",
        t_ns=2,
        pain_before=1,
        pain_after=2,
        red_flags=dict.fromkeys(RED_FLAGS, False),
        session_id="s1",
        note="hilly",
    )
    e2 = PainEntry(runner="ben", t_ns=1, pain_after=0)
    e3 = PainEntry(runner="anna", t_ns=3, red_flags={"numbness": True})
    with PainLog(db) as log:
        for e in (e1, e2, e3):
            log.add(e)
    with PainLog(db) as log:
        assert log.entries(runner="anna") == [e1, e3]
        assert log.entries() == [e2, e1, e3]
        assert log.entries(runner="anna", since_t_ns=3) == [e3]
    assert store.sessions() == []
    store.close()


def test_pain_log_command_red_flag_says_stop(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.db")
    assert (
        main(["pain", "--db", db, "log", "--runner", "anna", "--before", "1", "--after", "1", "--flag", "leg_weakness"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("Stop running and see a clinician.")
    assert "risk" not in out.lower() and "score" not in out.replace("no gait metric", "").lower()
    assert main(["pain", "--db", db, "log", "--runner", "anna", "--after", "2", "--no-red-flags", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["advice"] == "care"
    assert main(["pain", "--db", db, "list", "--runner", "anna"]) == 0
    listing = capsys.readouterr().out
    assert "Stop running" in listing and "you may continue with care" in listing
    assert "a red flag stands" not in listing  # the later entry answered every question no


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["log", "--runner", "anna", "--no-red-flags"], "give --before and/or --after"),
        (["log", "--runner", "anna", "--after", "2"], "answer the red-flag questions"),
        (["log", "--runner", "anna", "--after", "2", "--flag", "tingling", "--no-red-flags"], "contradict"),
    ],
)
def test_pain_log_mistakes_end_in_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(["pain", "--db", str(tmp_path / "s.db"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert len(err.strip().splitlines()) == 1


def test_pain_outside_0_to_10_is_an_argument_error(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["pain", "--db", str(tmp_path / "s.db"), "log", "--runner", "anna", "--after", "11"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("argument --after: pain is a whole number from 0 to 10, got 11")


def _session(store: SessionStore, runner: str, day: float, minutes: float) -> None:
    start = T0 + int(day * DAY_NS)
    info = SessionInfo(session_id=f"{runner}-{day}", runner=runner, team="t", source="test", started_t_ns=start)
    store.open_session(info)
    store.close_session(info.session_id, ended_t_ns=start + int(minutes * 60e9), summary={"duration_s": minutes * 60})


def test_load_command_flags_a_spike_and_shows_the_caveats(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    store = SessionStore(db)
    for day, minutes in ((0, 40), (5, 50), (12, 45), (20, 60)):
        _session(store, "anna", day, minutes)
    _session(store, "ben", 20, 300)
    store.close()
    assert main(["load", "--db", str(db), "--runner", "anna"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FLAG  This run (60.0 min) was 20 % longer than your longest in the previous 30 days")
    assert "acute:chronic ratio" in out and "disputed" in out
    assert main(["load", "--db", str(db), "--runner", "anna", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spike"]["flagged"] is True and data["unit"] == "min" and data["red_flag"] is False
    with PainLog(db) as log:
        log.add(PainEntry(runner="anna", t_ns=T0, red_flags={"night_pain": True}))
    assert main(["load", "--db", str(db), "--runner", "anna"]) == 0
    assert "stop running and see a clinician" in capsys.readouterr().out


def test_config_command_prints_valid_toml_with_sources_and_overrides(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomllib

    from strideguard.analytics.risk import RiskConfig

    path = tmp_path / "c.toml"
    path.write_text('[runner."anna".risk.metrics.cadence]\nthreshold = 4.0\n[alerts.terminal]\nenabled = true\n')
    assert main(["config", "--config", str(path), "--runner", "anna"]) == 0
    out = capsys.readouterr().out
    parsed = tomllib.loads(out)
    assert parsed["risk"]["metrics"]["cadence"]["threshold"] == 4.0
    assert parsed["alerts"]["terminal"]["enabled"] is True
    assert RiskConfig.from_dict(parsed["risk"]).rule("cadence").threshold == 4.0
    assert "Drozda 2024" in out and "Teng & Powers 2015" in out


def test_config_command_names_a_bad_key(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[risk.metrics.cadence]\ntreshold = 4.0\n")
    assert main(["config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "risk.metrics.cadence.treshold: unknown setting" in err
    assert len(err.strip().splitlines()) == 1
