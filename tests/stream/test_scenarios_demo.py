"""Demo sessions are nobody's training: `strideguard demo` stores a session of a bundled sample (dated the
sample's fixed day every time), and such sessions are left out of the prior baseline, `load` and the
shoe history, while `sessions` still lists them.

Before (measured on main, 2026-12-04): two `demo --sample treadmill` runs made `load --runner uci-p1` print
"acute:chronic ratio 4.00", and a second fatigue demo started from the first one's baseline as its
"prior"."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from strideguard.stream.cli import main
from strideguard.stream.cli.commands.demo import sample_path
from strideguard.stream.runtime.app import prior_baseline
from strideguard.stream.runtime.history import finished, is_demo, own_sessions
from strideguard.stream.sqlite.store import SessionStore

pytestmark = pytest.mark.slow


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(argv)
    out, _ = capsys.readouterr()
    return rc, out


def test_two_demos_are_no_training_spike_and_hand_no_baseline_on(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    for _ in range(2):
        rc, _ = cli(["demo", "--speed", "0", "--no-web", "--db", str(db)], capsys)
        assert rc == 0
    store = SessionStore(db)
    try:
        rows = store.sessions(runner="alex")
        assert len(rows) == 2 and all(is_demo(r) for r in rows)
        assert rows[0].summary["risk"]["baseline"] is not None  # a demo that would have handed one on
        assert prior_baseline(store, "alex") is None
        assert own_sessions(store, "alex") == [] and finished(store, "alex") == []
    finally:
        store.close()
    rc, out = cli(["load", "--runner", "alex", "--db", str(db)], capsys)
    assert rc == 0 and out.strip() == "no finished sessions for alex (2 demo sessions of the bundled samples left out)"
    rc, out = cli(["sessions", "--db", str(db)], capsys)
    assert out.count(" alex ") == 2  # still listed: stored, just not anyone's history

    # the same recording copied elsewhere is the runner's own run: it counts, and its baseline is the prior
    own = tmp_path / "my_run.sgcap"
    shutil.copyfile(sample_path("fatigue"), own)
    rc, _ = cli(["replay", str(own), "--speed", "0", "--no-web", "--db", str(db)], capsys)
    assert rc == 0
    store = SessionStore(db)
    try:
        [mine] = own_sessions(store, "alex")
        assert not is_demo(mine) and mine.source == str(own)
        prior = prior_baseline(store, "alex")
        assert prior is not None and prior.source == "prior"
        assert prior.t_end_ns == mine.summary["risk"]["baseline"]["t_end_ns"]
    finally:
        store.close()
    rc, out = cli(["load", "--runner", "alex", "--db", str(db), "--json"], capsys)
    report = json.loads(out)
    # one run of 27 min counted, not three (the demos are of the same day: they made the spike)
    assert sum(w["amount"] for w in report["weeks"]) == pytest.approx(27.0)
    assert report["spike"]["run"] == pytest.approx(27.0)


def test_a_path_that_only_looks_like_a_sample_is_not_a_demo(tmp_path: pathlib.Path) -> None:
    from strideguard.stream.sqlite.store import SessionRow

    def row(source: str) -> SessionRow:
        return SessionRow(
            session_id="s",
            runner="alex",
            team="t",
            source=source,
            started_t_ns=0,
            ended_t_ns=None,
            status="completed",
            summary={},
        )

    fake = tmp_path / "samples" / "fatigue_run.sgcap"
    fake.parent.mkdir()
    fake.write_bytes(b"")
    assert is_demo(row(str(sample_path("fatigue"))))
    assert not is_demo(row(str(fake)))
    assert not is_demo(row(""))
    assert not is_demo(row("\x00bad"))
