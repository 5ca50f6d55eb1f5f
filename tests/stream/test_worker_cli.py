"""`strideguard worker` and `strideguard collect`: help that teaches, and one clear line for mistakes."""

from __future__ import annotations

import pathlib

import pytest

from strideguard.stream.cli import main


@pytest.mark.parametrize("command", ["worker", "collect"])
def test_help_has_description_and_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "docs/live.md" in out and "STRIDEGUARD_MQTT_URL" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["worker", "--team", "club"], "--state-dir is required"),
        (["worker", "--state-dir", "{tmp}", "--count", "17"], "the number of workers must be 1..16, got 17"),
        (["worker", "--state-dir", "{tmp}", "--index", "2", "--count", "2"], "worker index must be 0..1, got 2"),
        (
            ["worker", "--state-dir", "{tmp}", "--influx-url", "http://x:8086"],
            "--influx-db (v1 API) or --influx-bucket",
        ),
        (
            ["worker", "--state-dir", "{tmp}", "--influx-url", "http://x:8086", "--influx-bucket", "b"],
            "needs --influx-org",
        ),
        (["worker", "--state-dir", "{tmp}", "--broker", "http://x"], "broker URL must look like mqtt://host:1883"),
        (["collect", "--team", "club"], "nothing to publish"),
        (["collect", "--runner", "a", "--runner", "b", "{tmp}/x.csv"], "2 --runner names for 1 files"),
        (["collect", "{tmp}/missing.sgcap"], "missing.sgcap"),
    ],
)
def test_mistakes_end_in_one_line_and_exit_2(
    argv: list[str],
    message: str,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "STRIDEGUARD_STATE_DIR",
        "STRIDEGUARD_INFLUX_URL",
        "STRIDEGUARD_INFLUX_DB",
        "STRIDEGUARD_INFLUX_ORG",
        "STRIDEGUARD_INFLUX_BUCKET",
        "STRIDEGUARD_INFLUX_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_an_empty_environment_setting_is_no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """`STRIDEGUARD_DB=` (as a compose file or a shell may leave it) made the store the folder "." and
    stopped the worker; it now means no store, as unset does."""
    from strideguard.stream.cli import build_parser

    monkeypatch.setenv("STRIDEGUARD_DB", "")
    monkeypatch.setenv("STRIDEGUARD_STATE_DIR", "")
    args = build_parser().parse_args(["worker"])
    assert args.db is None and args.state_dir is None
