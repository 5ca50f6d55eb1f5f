"""Names are validated once, where they enter: the CLI, a file name a runner is named after, a recording,
and the topic levels a worker receives. Before, `run #2.csv` and a runner `a/b` inside a capture ended in
a ValueError traceback, and a runner `bob\\` or one with control characters went everywhere unchecked."""

from __future__ import annotations

import json
import pathlib
import unicodedata

import numpy as np
import pytest

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream import names
from strideguard.stream.cli import main
from strideguard.stream.mqtt.topics import imu_topic, parse_topic

ALLOWED = names.ALLOWED_TEXT


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("anna", "runner"),
        ("Anna Müller", "runner"),
        ("runner-1.b_2", "runner"),
        ("_services", "team"),
        ("A0:9E:1A:12:34:56", "device"),
        ("anna-20260101T070000Z-1e5dd5~2", "session"),
        ("x" * 64, "runner"),
    ],
)
def test_names_in_the_allowed_set_pass_unchanged(name: str, kind: str) -> None:
    assert names.check(name, kind) == name


def test_a_name_is_normalised_to_nfc_where_it_enters() -> None:
    decomposed = unicodedata.normalize("NFD", "Zoë")
    assert decomposed != "Zoë" and names.check(decomposed) == "Zoë"


@pytest.mark.parametrize(
    ("name", "kind", "problem"),
    [
        ("a/b", "runner", "runner name 'a/b' contains '/'"),
        ("a+b", "team", "team name 'a+b' contains '+'"),
        ("a#b", "runner", "runner name 'a#b' contains '#'"),
        ("bob\\", "runner", "runner name 'bob\\\\' contains a backslash"),
        ("a\x1b[2J", "runner", "runner name 'a\\x1b[2J' contains U+001B (a control character)"),
        ("ev\u202eil", "runner", "runner name 'ev\\u202eil' contains U+202E (right-to-left override)"),
        ("", "runner", "runner name '' is empty"),
        ("x" * 65, "runner", f"runner name '{'x' * 65}' is longer than 64 characters"),
        ("-rf", "runner", "runner name '-rf' starts with '-'"),
        ("..", "runner", "runner name '..' starts with '.'"),
        (" anna", "runner", "runner name ' anna' starts with U+0020 (space)"),
        ("anna ", "runner", "runner name 'anna ' ends with a space"),
        ("A0:9E", "runner", "runner name 'A0:9E' contains ':'"),
        ("s~2/x", "session", "session id 's~2/x' contains '/'"),
    ],
)
def test_names_outside_the_set_are_refused_with_one_line_saying_why(name: str, kind: str, problem: str) -> None:
    with pytest.raises(names.InvalidName) as raised:
        names.check(name, kind)
    assert str(raised.value) == f"{problem} (allowed: {ALLOWED})"
    assert "\n" not in str(raised.value) and "\x1b" not in str(raised.value)


@pytest.mark.parametrize(
    ("stem", "derived"),
    [
        ("run #2", "run_2"),
        ("anna", "anna"),
        ("../../etc/passwd", "etc_passwd"),
        ("-rf", "rf"),
        ("bob\\", "bob"),
        ("a\x1b[2Jb", "a_2Jb"),
        ("###", "runner"),
        ("x" * 80, "x" * 64),
    ],
)
def test_a_runner_name_derived_from_a_file_name_is_always_valid(stem: str, derived: str) -> None:
    assert names.from_file_name(stem) == derived
    assert names.is_valid(derived)


def test_printable_escapes_what_would_move_the_terminal_cursor() -> None:
    assert names.printable("ok Zoë") == "ok Zoë"
    assert names.printable("a\x1b[2J\r\\") == "a\\x1b[2J\\r\\\\"


# -- where names enter -------------------------------------------------------------------------------------
def _csv(path: pathlib.Path) -> pathlib.Path:
    t_s = np.arange(0, 60, 0.01)
    rows = (f"{t:.2f},0,0,{1 + 0.8 * np.sin(2 * np.pi * 2.8 * t):.4f}" for t in t_s)
    path.write_text("t_s,ax_g,ay_g,az_g\n" + "\n".join(rows) + "\n")
    return path


def test_a_csv_named_run_2_gets_a_safe_runner_name_not_a_traceback(tmp_path, capsys) -> None:
    """Before: ValueError: runner 'run #2' must be non-empty and contain no '/', '+' or '#' (a traceback)."""
    path = _csv(tmp_path / "run #2.csv")
    assert main(["analyze", str(path), "--json", "--no-store"]) == 0
    out, err = capsys.readouterr()
    assert list(json.loads(out)["runners"]) == ["run_2"]
    assert err.strip() == "runner name 'run_2', from the file name 'run #2.csv'"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "{csv}", "--runner", "a/b"], "argument --runner: runner name 'a/b' contains '/'"),
        (["replay", "{csv}", "--runner", "bob\\"], "argument --runner: runner name 'bob\\\\' contains a backslash"),
        (
            ["record", "--runner", "x\x07", "--device", "A0:9E:1A:00:00:01", "--out", "{out}"],
            "argument --runner: runner name 'x\\x07' contains U+0007 (a control character)",
        ),
        (
            ["record", "--runner", "ann", "--device", "A0:9E:1A:00:00:01", "--team", "a+b", "--out", "{out}"],
            "argument --team: team name 'a+b' contains '+'",
        ),
        (["collect", "--team", "#", "--synthetic", "1"], "argument --team: team name '#' contains '#'"),
    ],
)
def test_bad_names_on_the_command_line_are_one_line_errors(tmp_path, capsys, argv: list[str], message: str) -> None:
    csv = _csv(tmp_path / "lab.csv")
    argv = [a.format(csv=csv, out=tmp_path / "x.sgcap") for a in argv]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"strideguard {argv[0]}: error: {message} (allowed: {ALLOWED})"


def test_a_bad_device_address_on_the_command_line_is_one_line(tmp_path, capsys) -> None:
    argv = ["record", "--simulate", "--runner", "ann", "--device", "A0/9E:chest", "--out", str(tmp_path / "x.sgcap")]
    assert main(argv) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"strideguard record: error: --device: device name 'A0/9E' contains '/' (allowed: {ALLOWED})"
    assert not (tmp_path / "x.sgcap").exists()


def test_a_bad_runner_name_inside_a_capture_is_one_line_for_the_file(tmp_path, capsys) -> None:
    """A capture is data from elsewhere: its runner names enter at the pipeline. Before: a traceback."""
    run = SyntheticRunner(SyntheticConfig()).generate(30.0, 100, seed=5, runner="a/b")
    path = tmp_path / "bad.sgcap"
    write_batches(path, [run.acc])
    assert main(["analyze", str(path), "--no-store"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"strideguard analyze: error: runner name 'a/b' contains '/' (allowed: {ALLOWED})"


@pytest.mark.parametrize(
    "topic_name",
    [
        "strideguard/v1/club/bob\\/imu/3",
        "strideguard/v1/club/a\x1b[2J/imu/3",
        "strideguard/v1/-x/ann/imu/3",
        "strideguard/v1/club//imu/3",
    ],
)
def test_a_topic_with_a_bad_team_or_runner_level_is_refused(topic_name: str) -> None:
    with pytest.raises(ValueError, match=r"name '.*' (contains|starts with|is empty)"):
        parse_topic(topic_name)


def test_a_good_topic_still_parses() -> None:
    parts = parse_topic(imu_topic("club", "Anna Müller"))
    assert (parts.team, parts.runner, parts.kind) == ("club", "Anna Müller", "imu")


@pytest.mark.services
@pytest.mark.slow
async def test_a_worker_drops_and_counts_a_message_whose_topic_names_a_bad_runner(mosquitto, tmp_path) -> None:
    """Through the real Mosquitto: a runner login publishing under `bob\\` (a name that poisoned InfluxDB
    batches) is a counted bad message, and the good runner's session is served. Before: a session `bob\\`."""
    import asyncio

    from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
    from strideguard.stream.mqtt.payload import encode_imu
    from strideguard.stream.runtime.app import analyzer_factory
    from strideguard.stream.runtime.worker import Worker, WorkerOptions
    from tests.stream.engine_helpers import Recorder
    from tests.stream.test_worker import run_batches
    from tests.stream.test_worker_hostile import wait_for

    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    recorder = Recorder()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path / "w", team="names"),
        analyzer_factory=analyzer_factory(""),
        sinks=[recorder],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)
    good, bad = run_batches("ana", 1, duration_s=5), run_batches("bob", 2, duration_s=5)
    async with MqttConnection(settings=settings, client_id="names-runners") as pub:
        await pub.publish(imu_topic("names", "bob\\"), encode_imu(bad[0], session="bob-1", seq=0))
        for seq, batch in enumerate(good):
            await pub.publish(imu_topic("names", "ana"), encode_imu(batch, session="ana-1", seq=seq))
        await wait_for(lambda: worker.stats.messages >= 1 + len(good), "the messages")
    stop.set()
    await asyncio.wait_for(task, 30)
    assert worker.stats.bad_payloads == 1
    assert set(worker.sessions) == {"ana-1"}
