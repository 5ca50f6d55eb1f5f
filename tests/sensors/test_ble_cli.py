"""`strideguard scan` and `strideguard record`, run for real as a user would."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from strideguard.sensors.ble.recognize import DeviceKind, recognise
from strideguard.sensors.capture import replay
from strideguard.sensors.protocols import uuids
from strideguard.sensors.types import Placement, SampleBatch, StrideReading
from strideguard.stream.cli import main
from strideguard.stream.cli.commands.record import parse_device

REPO = pathlib.Path(__file__).resolve().parents[2]
# No reachable system D-Bus is what a machine without BlueZ or an adapter looks like to bleak; pointing the
# bus address at a socket that does not exist gives that condition on any machine, adapter or not.
NO_BLUEZ = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/strideguard-test-no-bus"}


def _cli(*args: str, timeout_s: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, exactly as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "strideguard.stream.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def _main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (quicker), with its exit code, stdout and stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors and --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_without_an_adapter_says_so_in_one_line_and_fails() -> None:
    result = _cli("scan", "--timeout", "0.5", env=NO_BLUEZ)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "Bluetooth adapter" in lines[0] and lines[0].startswith("strideguard scan: error:")


def test_record_without_an_adapter_says_so_in_one_line(tmp_path: pathlib.Path, capsys, monkeypatch) -> None:
    for key, value in NO_BLUEZ.items():
        monkeypatch.setenv(key, value)
    code, _, err = _main(
        capsys,
        "record",
        "--runner",
        "ann",
        "--device",
        "A0:9E:1A:12:34:56:chest",
        "--duration",
        "5",
        "--out",
        str(tmp_path / "x.sgcap"),
    )
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "Bluetooth adapter" in err
    assert not (tmp_path / "x.sgcap").exists()  # no empty capture left behind


def test_record_simulated_two_runners_writes_a_capture_that_replays(tmp_path: pathlib.Path, capsys) -> None:
    out = tmp_path / "team.sgcap"
    code, stdout, err = _main(
        capsys,
        "record",
        "--simulate",
        "--fast",
        "--duration",
        "30",
        "--runner",
        "ann",
        "--device",
        "A0:9E:1A:00:00:01:chest",
        "--device",
        "C4:00:00:00:00:01:foot",
        "--runner",
        "bob",
        "--device",
        "A0:9E:1A:00:00:02:sacrum",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "ann/A0:9E:1A:00:00:01 (chest)" in stdout and "bob/A0:9E:1A:00:00:02 (sacrum)" in stdout
    items = list(replay(out))
    runners = {(i.runner, i.device) for i in items if isinstance(i, SampleBatch)}
    assert runners == {("ann", "A0:9E:1A:00:00:01"), ("bob", "A0:9E:1A:00:00:02")}
    assert any(isinstance(i, StrideReading) and i.runner == "ann" for i in items)
    assert sum(len(i) for i in items if isinstance(i, SampleBatch) and i.runner == "bob") > 25 * 200


def test_record_usage_errors_are_one_line(capsys) -> None:
    code, _, err = _main(capsys, "record", "--device", "A0:9E:1A:00:00:01", "--runner", "ann", "--out", "x.sgcap")
    assert code == 2 and "--device must follow the --runner" in err
    code, _, err = _main(
        capsys, "record", "--fast", "--runner", "ann", "--device", "A0:9E:1A:00:00:01", "--out", "x.sgcap"
    )
    assert code == 2 and "Traceback" not in err and "--fast needs" in err


def test_help_teaches_with_examples(capsys) -> None:
    for command in ("scan", "record"):
        code, out, _ = _main(capsys, command, "--help")
        assert code == 0 and "examples:" in out


def test_device_argument_placement_suffix() -> None:
    spec = parse_device("ann", "A0:9E:1A:12:34:56:sacrum")
    assert (spec.address, spec.placement) == ("A0:9E:1A:12:34:56", Placement.SACRUM)
    spec = parse_device("ann", "A0:9E:1A:12:34:56")
    assert (spec.address, spec.placement) == ("A0:9E:1A:12:34:56", Placement.UNKNOWN)
    spec = parse_device("ann", "1B2C3D4E-0000-1111-2222-333344445555:foot")  # macOS uses UUIDs
    assert spec.placement is Placement.FOOT and spec.address.startswith("1B2C3D4E")


def test_recognition_by_name_and_by_service() -> None:
    assert recognise("Polar H10 5A3B2C1D", [uuids.HR_SERVICE]).kind is DeviceKind.POLAR_PMD
    sense = recognise("Polar Sense B5D4C3E2", [])
    assert sense.kind is DeviceKind.POLAR_PMD and sense.has_gyro
    assert recognise(None, [uuids.PMD_SERVICE]).kind is DeviceKind.POLAR_PMD
    assert recognise("Movesense 220330000123", []).kind is DeviceKind.MOVESENSE
    assert recognise("Stryd", []).kind is DeviceKind.RSC_FOOTPOD
    assert recognise("whatever", [uuids.RSC_SERVICE.upper()]).kind is DeviceKind.RSC_FOOTPOD
    assert recognise("HRM-Dual:123", [uuids.HR_SERVICE]).kind is DeviceKind.HR_STRAP
    assert recognise("Band", [uuids.IMMEDIATE_ALERT_SERVICE]).kind is DeviceKind.ALERT_BAND
    assert recognise("Kettle", []) is None
