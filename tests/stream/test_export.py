"""`strideguard export`: Motion-BIDS that the official validator accepts, Parquet that re-imports to the
identical arrays and re-analyses to the same metrics, CSV equal to Parquet, a dictionary that cannot
drift from the result types, pseudonymisation that leaves no name in any byte, and checksums."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import pathlib
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from strideguard.analytics.results import RiskEvent, StepEvent, WindowMetrics
from strideguard.sensors.types import HeartRateReading, StrideReading
from strideguard.stream.cli import main
from strideguard.stream.errors import UsageError
from strideguard.stream.export import ExportOptions, export_sessions, select_sessions
from strideguard.stream.export.checksums import verify_checksums
from strideguard.stream.export.dictionary import describe, standard_tables, unit_of
from strideguard.stream.export.exporter import find_names, parquet_text
from strideguard.stream.export.pseudonym import NS_PER_DAY
from strideguard.stream.export.reimport import read_samples, to_capture
from strideguard.stream.runtime.app import RunOptions, run_file
from strideguard.stream.sqlite.store import SessionStore
from tests.stream.test_export_helpers import RUNNERS, World, shared_world

AUTHORS = ("A. Researcher", "B. Coach")
VALIDATOR = pathlib.Path(sys.executable).with_name("bids-validator-deno")


@pytest.fixture(scope="module")
def world() -> World:
    return shared_world()


def export(world: World, out: pathlib.Path, **kw) -> object:
    store = world.store()
    try:
        return export_sessions(
            store,
            select_sessions(store, team="riverside"),
            ExportOptions(out_dir=out, authors=AUTHORS, license_id="CC-BY-4.0", **kw),
        )
    finally:
        store.close()


@pytest.fixture(scope="module")
def plain_export(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "export"
    return export(world, out)


@pytest.fixture(scope="module")
def pseudo_export(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("pseudo") / "export"
    return export(world, out, pseudonymise=True, date_shift_days=-1234)


def validate(bids_root: pathlib.Path) -> dict:
    proc = subprocess.run(
        [str(VALIDATOR), "--format", "json", "--max-rows", "-1", str(bids_root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(proc.stdout)


# ---- the data dictionary ---------------------------------------------------------------------------------
TABLE_TYPES = {
    StepEvent: "steps",
    WindowMetrics: "windows",
    RiskEvent: "alerts",
    HeartRateReading: "heart_rate",
    StrideReading: "footpod",
}


@pytest.mark.parametrize("cls", list(TABLE_TYPES))
def test_dictionary_has_every_result_field_with_a_unit_and_a_description(cls):
    table = TABLE_TYPES[cls]
    columns = standard_tables()[table]
    fields = [f.name for f in dataclasses.fields(cls) if f.name != "runner"]
    assert [c.name for c in columns] == ["subject", "session", *fields]
    for c in columns:
        assert c.unit == unit_of(c.name) and c.description == describe(c.name, table=table)


def test_units_follow_the_name_suffixes():
    assert unit_of("cadence_spm") == "steps/min"
    assert unit_of("contact_time_ms") == "ms"
    assert unit_of("impact_g") == "g"
    assert unit_of("sway_ml_ratio") == "1"
    assert unit_of("step_time_asymmetry_pct") == "%"
    with pytest.raises(KeyError):
        unit_of("mystery")


def test_dictionary_files_list_every_exported_column(plain_export):
    rows = json.loads((plain_export.out_dir / "data_dictionary.json").read_text())
    listed = {(r["table"], r["name"]) for r in rows}
    for path in (plain_export.out_dir / "parquet").glob("*.parquet"):
        for name in pq.read_schema(path).names:
            assert (path.stem, name) in listed
    assert all(r["unit"] for r in rows)


# ---- Motion-BIDS -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["plain_export", "pseudo_export"])
def test_official_bids_validator_reports_no_errors_and_no_warnings(which, request):
    result = request.getfixturevalue(which)
    report = validate(result.out_dir / "bids")
    issues = report["issues"]["issues"]
    errors = [i for i in issues if i["severity"] == "error"]
    warnings = [i for i in issues if i["severity"] == "warning"]
    print(
        f"{which}: {len(errors)} errors, {len(warnings)} warnings:",
        sorted({(i["code"], i.get("subCode", "")) for i in warnings}),
    )
    assert errors == []
    assert warnings == []
    assert report["summary"]["subjects"] and len(report["summary"]["subjects"]) == len(RUNNERS)
    assert "motion" in report["summary"]["modalities"] or "motion" in json.dumps(report["summary"])


def test_bids_layout_channels_and_events(plain_export, world):
    root = plain_export.out_dir / "bids"
    motion = sorted(root.glob("sub-*/ses-*/motion/*_tracksys-imuChest_motion.tsv"))
    assert len(motion) == len(world.sessions)
    first = world.sessions[0]
    acc, gyro = world.batches[first]
    stem = str(motion[0]).removesuffix("_motion.tsv")
    channels = list(csv.DictReader(pathlib.Path(stem + "_channels.tsv").read_text().splitlines(), delimiter="\t"))
    assert [(c["type"], c["component"], c["units"]) for c in channels] == [
        ("ACCEL", "x", "m/s^2"),
        ("ACCEL", "y", "m/s^2"),
        ("ACCEL", "z", "m/s^2"),
        ("GYRO", "x", "deg/s"),
        ("GYRO", "y", "deg/s"),
        ("GYRO", "z", "deg/s"),
        ("LATENCY", "n/a", "s"),
    ]
    data = np.loadtxt(stem + "_motion.tsv", delimiter="\t")
    assert data.shape == (len(acc), 7)
    np.testing.assert_allclose(data[:, :3], acc.values * 9.80665, rtol=1e-6)
    np.testing.assert_allclose(data[:, 3:6], gyro.values, rtol=1e-6)
    np.testing.assert_allclose(data[:, 6], (acc.t_ns - acc.t_ns[0]) / 1e9, atol=1e-9)
    sidecar = json.loads(pathlib.Path(stem + "_motion.json").read_text())
    assert sidecar["SamplingFrequency"] == 100.0 and sidecar["ACCELChannelCount"] == 3
    events = list(csv.DictReader(pathlib.Path(stem + "_events.tsv").read_text().splitlines(), delimiter="\t"))
    store = world.store()
    assert sum(e["trial_type"] == "step" for e in events) == len(store.steps(first))
    [onset] = [e for e in events if e["trial_type"] == "alert_onset"]
    assert float(onset["onset"]) == pytest.approx(40.0) and float(onset["duration"]) == pytest.approx(30.0)
    assert [float(e["onset"]) for e in events] == sorted(float(e["onset"]) for e in events)
    store.close()


# ---- Parquet, CSV, round trip ----------------------------------------------------------------------------
def test_parquet_reimport_gives_identical_arrays(plain_export, world):
    store = world.store()
    for session_id in world.sessions:
        row = store.session(session_id)
        info = next(s for s in plain_export.sessions if s["session_id"] == session_id)
        got = read_samples(plain_export.out_dir, subject=info["subject"], session=info["session"], runner=row.runner)
        assert [(b.kind.value, b.device) for b in got] == [(b.kind.value, b.device) for b in world.batches[session_id]]
        for mine, original in zip(got, world.batches[session_id]):
            assert mine.t_ns.dtype == np.int64 and mine.values.dtype == np.float32
            assert np.array_equal(mine.t_ns, original.t_ns)
            assert np.array_equal(mine.values, original.values)
            assert mine == original
    store.close()


def test_date_shifted_parquet_reimport_is_identical_after_undoing_the_shift(pseudo_export, world):
    key = json.loads(pseudo_export.key_path.read_text())
    assert key["date_shift_days"] == -1234
    session_id = world.sessions[0]
    [path] = [p for p, v in key["sessions"].items() if v["session_id"] == session_id]
    subject, session = path.split("/")
    got = read_samples(pseudo_export.out_dir, subject=subject, session=session)
    for mine, original in zip(got, world.batches[session_id]):
        assert np.array_equal(mine.t_ns - key["date_shift_days"] * NS_PER_DAY, original.t_ns)
        assert np.array_equal(mine.values, original.values)


def test_exported_session_re_analyses_to_the_same_metrics(plain_export, world, tmp_path):
    store = world.store()
    session_id = world.sessions[1]
    row = store.session(session_id)
    info = next(s for s in plain_export.sessions if s["session_id"] == session_id)
    capture = to_capture(
        plain_export.out_dir,
        tmp_path / "again.sgcap",
        subject=info["subject"],
        session=info["session"],
        runner=row.runner,
    )
    result = asyncio.run(run_file(RunOptions(path=capture, db_path=tmp_path / "again.db", live_view=False)))
    [summary] = result.summaries.values()
    again = SessionStore(tmp_path / "again.db")
    new_id = summary.session_id
    assert len(store.steps(session_id)) > 100
    assert again.steps(new_id) == store.steps(session_id)
    assert again.windows(new_id) == store.windows(session_id)
    assert again.risk_events(new_id) == store.risk_events(session_id)
    assert {k: v for k, v in summary.as_dict().items() if k != "session_id"} == {
        k: v for k, v in row.summary.items() if k != "session_id"
    }
    store.close()
    again.close()


@pytest.mark.parametrize("table", ["steps", "windows", "alerts", "sessions", "devices", "samples", "heart_rate"])
def test_csv_holds_the_same_table_as_parquet(plain_export, table):
    parquet = pq.read_table(plain_export.out_dir / "parquet" / f"{table}.parquet")
    lists = {f.name for f in parquet.schema if pa.types.is_list(f.type)}  # in CSV: numbers joined with ';'
    types = {f.name: pa.string() if f.name in lists else f.type for f in parquet.schema}
    from_csv = pacsv.read_csv(
        plain_export.out_dir / "csv" / f"{table}.csv",
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
    )
    assert from_csv.num_rows == parquet.num_rows > 0
    assert from_csv.column_names == parquet.column_names
    for name in parquet.column_names:
        a, b = parquet[name].to_pylist(), from_csv[name].to_pylist()
        if name in lists:
            b = [[float(x) for x in text.split(";")] if text else [] for text in b]
        assert a == b, name


# ---- pseudonymisation ------------------------------------------------------------------------------------
def test_pseudonymised_export_contains_no_runner_name_in_any_file(pseudo_export, world):
    names = [r for r, _, _ in RUNNERS] + ["riverside"] + world.sessions
    files = [p for p in pseudo_export.out_dir.rglob("*") if p.is_file()]
    assert len(files) > 20 and any(p.suffix == ".parquet" for p in files)
    for path in files:
        raw = path.read_bytes().lower()
        for name in names:
            assert name.lower().encode() not in raw, f"{name} in the bytes of {path}"
        if path.suffix == ".parquet":
            text = parquet_text(path).lower()
            assert not any(n.lower() in text for n in names), path
    assert find_names(pseudo_export.out_dir, names) == []
    # the name in the alert message was replaced by the label, the rest of the message kept
    alerts = pq.read_table(pseudo_export.out_dir / "parquet" / "alerts.parquet").to_pylist()
    assert any(a["message"].startswith("sub-01: cadence 6 % below") for a in alerts)


def test_the_key_lives_outside_the_export_and_maps_labels_back(pseudo_export, world):
    key_path = pseudo_export.key_path
    assert pseudo_export.out_dir.resolve() not in key_path.resolve().parents
    assert key_path.stat().st_mode & 0o077 == 0
    key = json.loads(key_path.read_text())
    assert sorted(key["subjects"].values()) == sorted(r for r, _, _ in RUNNERS)
    assert sorted(v["session_id"] for v in key["sessions"].values()) == sorted(world.sessions)
    sessions = pq.read_table(pseudo_export.out_dir / "parquet" / "sessions.parquet").to_pylist()
    store = world.store()
    for s in sessions:
        original = store.session(key["sessions"][f"{s['subject']}/{s['session']}"]["session_id"])
        assert s["started_t_ns"] == original.started_t_ns - 1234 * NS_PER_DAY
    store.close()
    scans = next((pseudo_export.out_dir / "bids").rglob("*_scans.tsv")).read_text()
    assert "2022-" in scans or "2021-" in scans  # 1234 days before late 2025


def test_a_reused_key_keeps_labels_and_shift(pseudo_export, world, tmp_path):
    out = tmp_path / "again"
    store = world.store()
    rows = select_sessions(store, runner="bartholomew")
    result = export_sessions(
        store, rows, ExportOptions(out_dir=out, pseudonymise=True, key_path=pseudo_export.key_path)
    )
    store.close()
    key = json.loads(pseudo_export.key_path.read_text())
    assert key["subjects"]["02"] == "bartholomew" and result.sessions[0]["subject"] == "sub-02"
    assert key["date_shift_days"] == -1234


def test_a_key_inside_the_export_folder_is_refused(world, tmp_path):
    store = world.store()
    with pytest.raises(UsageError, match="must not be inside"):
        export_sessions(
            store,
            select_sessions(store, runner="annabelle"),
            ExportOptions(out_dir=tmp_path / "x", pseudonymise=True, key_path=tmp_path / "x" / "key.json"),
        )
    store.close()
    assert not (tmp_path / "x").exists()


# ---- checksums, problems, CLI ----------------------------------------------------------------------------
def test_checksums_cover_every_file_and_catch_a_change(plain_export, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(plain_export.out_dir, copy)
    listed = {line.split("  ", 1)[1] for line in (copy / "SHA256SUMS").read_text().splitlines()}
    on_disk = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file() and p.name != "SHA256SUMS"}
    assert listed == on_disk
    assert verify_checksums(copy) == []
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=copy).returncode == 0
    target = next(copy.glob("csv/steps.csv"))
    target.write_text(target.read_text().replace("left", "right", 1))
    assert verify_checksums(copy) == ["csv/steps.csv"]


def test_a_missing_recording_still_exports_results_and_says_so(world, tmp_path):
    store = world.store()
    row = store.session(world.sessions[-1])
    moved = pathlib.Path(row.source).with_suffix(".moved")
    pathlib.Path(row.source).rename(moved)
    try:
        result = export_sessions(store, [row], ExportOptions(out_dir=tmp_path / "x", authors=AUTHORS))
    finally:
        moved.rename(row.source)
        store.close()
    assert result.n_samples == 0 and "recording not found" in result.problems[0]
    steps = pq.read_table(tmp_path / "x" / "parquet" / "steps.parquet")
    assert steps.num_rows > 100
    assert not (tmp_path / "x" / "bids").exists()


def test_cli_exports_and_errors_are_one_line(world, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "export",
            "--runner",
            "annabelle",
            "-o",
            str(out),
            "--db",
            str(world.db),
            "--format",
            "parquet,csv",
            "--no-progress",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "exported 2 session(s)" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "SHA256SUMS",
        "csv",
        "data_dictionary.csv",
        "data_dictionary.json",
        "data_dictionary.md",
        "manifest.json",
        "parquet",
    ]
    assert main(["export", "--runner", "annabelle", "-o", str(out), "--db", str(world.db)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.strip().splitlines()) == 1
    assert main(["export", "-o", str(tmp_path / "y"), "--db", str(world.db)]) == 2
    assert "--runner" in capsys.readouterr().err
    assert main(["export", "--runner", "nobody", "-o", str(tmp_path / "z"), "--db", str(world.db)]) == 2
    assert "no sessions match" in capsys.readouterr().err


def test_progress_bar_draws_on_the_given_stream(world, tmp_path):
    stream = io.StringIO()
    store = world.store()
    export_sessions(
        store,
        select_sessions(store, team="riverside"),
        ExportOptions(out_dir=tmp_path / "p", formats=("parquet",), progress=True, progress_stream=stream),
    )
    store.close()
    text = stream.getvalue()
    assert "3/3 sessions" in text and "100%" in text and text.endswith("\n")


def test_the_pain_log_is_exported_per_runner_and_scrubbed(world, tmp_path):
    from strideguard.analytics.pain import PainEntry
    from strideguard.stream.sqlite import painlog

    db = tmp_path / "store.db"
    with sqlite3.connect(world.db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # a consistent copy, WAL included
    store = SessionStore(db)
    first = store.session(world.sessions[0])
    with painlog.PainLog(db) as log:
        log.add(
            PainEntry(
                runner="annabelle",
                t_ns=first.started_t_ns + 3_600 * 10**9,
                pain_before=1,
                pain_after=2,
                session_id=first.session_id,
                note="Annabelle says the left side felt tight",
            )
        )
        log.add(
            PainEntry(
                runner="annabelle",
                t_ns=first.started_t_ns - 300 * NS_PER_DAY,
                pain_after=5,
                note="long before the exported sessions",
            )
        )
        log.add(PainEntry(runner="bartholomew", t_ns=first.started_t_ns, pain_after=3))
    withheld = export_sessions(
        store, select_sessions(store, runner="annabelle"), ExportOptions(out_dir=tmp_path / "w", pseudonymise=True)
    )
    result = export_sessions(
        store,
        select_sessions(store, runner="annabelle"),
        ExportOptions(out_dir=tmp_path / "x", pseudonymise=True, keep_notes=True),
    )
    store.close()
    [row] = pq.read_table(withheld.out_dir / "parquet" / "pain_log.parquet").to_pylist()
    assert (row["subject"], row["session"], row["pain_before"], row["pain_after"]) == ("sub-01", "ses-01", 1, 2)
    assert row["note"] is None  # people's own words are left out unless asked for
    [row] = pq.read_table(result.out_dir / "parquet" / "pain_log.parquet").to_pylist()
    assert row["note"] == "sub-01 says the left side felt tight"
    assert row["t_ns"] == first.started_t_ns + 3_600 * 10**9  # no shift asked for
    assert find_names(result.out_dir, ["annabelle", "bartholomew"]) == []
    dictionary = json.loads((result.out_dir / "data_dictionary.json").read_text())
    assert {"pain_before", "note"} <= {r["name"] for r in dictionary if r["table"] == "pain_log"}


def test_several_devices_and_a_csv_recording_make_valid_bids(tmp_path):
    """A chest strap whose gyro runs on its own clock, a foot pod, and a session analysed from a CSV."""
    from strideguard.sensors.capture import write_batches
    from strideguard.sensors.synthetic import SyntheticRunner
    from strideguard.sensors.types import Placement, SampleBatch, SampleKind

    t0 = 1_763_700_000_000_000_000
    chest = SyntheticRunner().generate(40, 100, seed=1, runner="carlotta", device="chest-strap", start_t_ns=t0)
    foot = SyntheticRunner().generate(
        40, 200, seed=2, runner="carlotta", device="foot-pod", placement=Placement.FOOT, start_t_ns=t0 + 3_000_000
    )
    gyro = SampleBatch(
        runner="carlotta",
        device="chest-strap",
        placement=Placement.CHEST,
        kind=SampleKind.GYRO,
        rate_hz=52.0,
        t_ns=t0 + np.arange(52 * 40) * (10**9 // 52),
        values=np.ones((52 * 40, 3), np.float32),
    )
    write_batches(tmp_path / "c.sgcap", [chest.acc, gyro, foot.acc, foot.gyro])
    asyncio.run(run_file(RunOptions(path=tmp_path / "c.sgcap", db_path=tmp_path / "s.db", live_view=False)))
    acc = SyntheticRunner().generate(40, 50, seed=3, start_t_ns=t0).acc
    lines = ["t_s,ax_g,ay_g,az_g"] + [
        f"{(t - acc.t_ns[0]) / 1e9:.4f},{v[0]:.5f},{v[1]:.5f},{v[2]:.5f}" for t, v in zip(acc.t_ns, acc.values)
    ]
    (tmp_path / "dorothea.csv").write_text("\n".join(lines) + "\n")
    asyncio.run(
        run_file(
            RunOptions(
                path=tmp_path / "dorothea.csv",
                runner="dorothea",
                placement=Placement.SACRUM,
                db_path=tmp_path / "s.db",
                live_view=False,
            )
        )
    )
    store = SessionStore(tmp_path / "s.db")
    result = export_sessions(
        store,
        store.sessions(),
        ExportOptions(out_dir=tmp_path / "out", authors=AUTHORS, csv_placement=Placement.SACRUM, pseudonymise=True),
    )
    store.close()
    assert result.problems == []
    systems = sorted(p.name.split("tracksys-")[1] for p in (result.out_dir / "bids").rglob("*_motion.tsv"))
    assert systems == [
        "imuChestAcc_motion.tsv",
        "imuChestGyro_motion.tsv",
        "imuFoot_motion.tsv",
        "imuSacrum_motion.tsv",
    ]
    devices = pq.read_table(result.out_dir / "parquet" / "devices.parquet").to_pylist()
    assert sorted((d["placement"], d["kind"], d["n_samples"]) for d in devices) == [
        ("chest", "acc", 4000),
        ("chest", "gyro", 2080),
        ("foot", "acc", 8000),
        ("foot", "gyro", 8000),
        ("sacrum", "acc", 2000),
    ]
    assert all("dorothea.csv" not in d["meta_json"] for d in devices)  # paths left out when pseudonymised
    issues = validate(result.out_dir / "bids")["issues"]["issues"]
    assert [i["code"] for i in issues] == []
    assert find_names(result.out_dir, ["carlotta", "dorothea"]) == []


def test_a_name_that_slips_through_stops_the_export_and_leaves_nothing(world, tmp_path, monkeypatch):
    """The final check does not trust the scrubbing: with scrubbing broken, the alert message's name is caught."""
    from strideguard.stream.export.pseudonym import Labeler

    monkeypatch.setattr(Labeler, "scrub", lambda self, text: text)
    store = world.store()
    with pytest.raises(UsageError, match="pseudonymisation check failed: 'Annabelle' in"):
        export_sessions(
            store, select_sessions(store, runner="annabelle"), ExportOptions(out_dir=tmp_path / "x", pseudonymise=True)
        )
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no export, no partial folder, no key


def test_heart_rate_notifications_are_exported_as_decoded(plain_export, pseudo_export):
    from tests.stream.test_export_helpers import HR_BPM, HR_RR_RAW

    rows = pq.read_table(plain_export.out_dir / "parquet" / "heart_rate.parquet").to_pylist()
    assert len(rows) == 90 and {r["subject"] for r in rows} == {"sub-bartholomew"}
    assert rows[0]["device"] == "bartholomew-hr" and rows[0]["heart_rate_bpm"] == HR_BPM
    assert rows[0]["rr_intervals_ms"] == [HR_RR_RAW * 1000 / 1024] and rows[0]["sensor_contact"] is True
    csv_text = (plain_export.out_dir / "csv" / "heart_rate.csv").read_text().splitlines()
    assert csv_text[1].split(",")[5] == f'"{HR_RR_RAW * 1000 / 1024}"'
    pseudo = pq.read_table(pseudo_export.out_dir / "parquet" / "heart_rate.parquet").to_pylist()
    assert {r["device"] for r in pseudo} == {"dev03"}  # after the two straps' dev01 and dev02
