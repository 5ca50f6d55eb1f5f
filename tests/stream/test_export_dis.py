"""`record --simulate` -> `export`: the device's Device Information Service names it in the research export.

Before: the BLE collector never read DIS, so a recording from an identified Polar H10 exported
`Manufacturer`/`ManufacturersModelName`/`SoftwareVersions` "n/a" and an empty devices-table meta.
A device without DIS still records and exports, with "n/a" (nothing invented)."""

from __future__ import annotations

import json
import pathlib

import pyarrow.parquet as pq

from strideguard.sensors import simulated
from strideguard.stream.cli import main

H10 = "A0:9E:1A:00:00:01"


def record_and_export(tmp_path: pathlib.Path, monkeypatch, capsys) -> tuple[dict, list[dict]]:
    db = tmp_path / "demo.db"
    monkeypatch.setenv("STRIDEGUARD_DEMO_DB", str(db))
    monkeypatch.setenv("STRIDEGUARD_DB", str(tmp_path / "mine.db"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    argv = ["record", "--simulate", "--fast", "--duration", "90", "--runner", "ann"]
    assert main([*argv, "--device", f"{H10}:chest", "--out", str(tmp_path / "run.sgcap")]) == 0, capsys.readouterr()
    out = tmp_path / "export"
    assert main(["export", "--runner", "ann", "-o", str(out), "--db", str(db)]) == 0, capsys.readouterr()
    [sidecar] = sorted(out.rglob("*_motion.json"))
    devices = pq.read_table(next(out.rglob("devices.parquet"))).to_pylist()
    return json.loads(sidecar.read_text()), devices


def test_a_simulated_h10_recording_exports_its_manufacturer_model_and_firmware(tmp_path, monkeypatch, capsys) -> None:
    sidecar, devices = record_and_export(tmp_path, monkeypatch, capsys)
    assert sidecar["Manufacturer"] == "Polar Electro Oy"
    assert sidecar["ManufacturersModelName"] == "H10"
    assert sidecar["SoftwareVersions"] == "software 3.1.1, firmware 2.1.9"
    acc = [d for d in devices if d["device"].upper() == H10 and d["kind"] == "acc"]
    assert acc, devices
    for row in acc:
        meta = json.loads(row["meta_json"])
        assert (meta["manufacturer"], meta["model"]) == ("Polar Electro Oy", "H10"), meta


def test_a_device_without_device_information_still_records_and_exports_n_a(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(simulated, "H10_DEVICE_INFO", {})
    sidecar, devices = record_and_export(tmp_path, monkeypatch, capsys)
    assert (sidecar["Manufacturer"], sidecar["ManufacturersModelName"], sidecar["SoftwareVersions"]) == (
        "n/a",
        "n/a",
        "n/a",
    )
    assert devices and all("manufacturer" not in json.loads(d["meta_json"]) for d in devices)
