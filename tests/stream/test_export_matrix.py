"""Every export of the matrix (tests/stream/export_matrix.py) validates with 0 errors and 0 warnings when
the official validator reads every row (`--max-rows -1`), and says what is missing where data is missing."""

from __future__ import annotations

import csv
import datetime as dt
import json
import pathlib
import shutil
import sqlite3

import numpy as np
import pyarrow.parquet as pq
import pytest

from strideguard.stream.cli import main
from strideguard.stream.export import ExportOptions, export_sessions
from strideguard.stream.export.exporter import find_names, known_identifiers, parquet_text
from strideguard.stream.export.pseudonym import load_key
from strideguard.stream.export.reimport import to_capture
from strideguard.stream.sqlite.store import SessionStore
from tests.stream.export_matrix import (
    CSV_START_NS,
    DEVICE_ADDRESS,
    EMAIL,
    GAP_AT_S,
    GAP_RATE_HZ,
    GAP_S,
    INJECTED_MESSAGES,
    NS,
    PHONE,
    Matrix,
    _analyse,
    _cwd,
    build_matrix,
)
from tests.stream.test_export import AUTHORS, validate

SHIFT_DAYS = -777


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Matrix:
    return build_matrix(tmp_path_factory.mktemp("matrix") / "world")


def _export(matrix: Matrix, out: pathlib.Path, **kw):
    store = matrix.store()
    try:
        with _cwd(out.parent):  # not the folder the CSV was analysed from
            return export_sessions(
                store, store.sessions(), ExportOptions(out_dir=out, authors=AUTHORS, license_id="CC0-1.0", **kw)
            )
    finally:
        store.close()


@pytest.fixture(scope="module")
def plain(matrix, tmp_path_factory):
    return _export(matrix, tmp_path_factory.mktemp("plain") / "export")


@pytest.fixture(scope="module")
def pseudo(matrix, tmp_path_factory):
    return _export(matrix, tmp_path_factory.mktemp("pseudo") / "export", pseudonymise=True, date_shift_days=SHIFT_DAYS)


def _info(result, matrix: Matrix, case: str) -> dict:
    if "session_id" in result.sessions[0]:
        return next(s for s in result.sessions if s["session_id"] == matrix.sessions[case])
    key = json.loads(result.key_path.read_text())
    [path] = [p for p, v in key["sessions"].items() if v["session_id"] == matrix.sessions[case]]
    subject, session = path.split("/")
    return next(s for s in result.sessions if (s["subject"], s["session"]) == (subject, session))


@pytest.mark.slow  # the official validator reads every row of two exports: about 5 s each here
@pytest.mark.parametrize("which", ["plain", "pseudo"])
def test_every_row_validates_with_no_error_and_no_warning(which, request, matrix):
    result = request.getfixturevalue(which)
    assert result.problems and all("incomplete" in p for p in result.problems)  # the gap, nothing else
    report = validate(result.out_dir / "bids")
    issues = report["issues"]["issues"]
    print(which, sorted({(i["severity"], i["code"], i.get("subCode", "")) for i in issues}))
    assert [(i["severity"], i["code"], i.get("location")) for i in issues] == []
    assert len(report["summary"]["subjects"]) == 5  # alex, the treadmill runner, gwendolyn, hildegard, ignatius
    assert len(result.sessions) == len(matrix.sessions)


def _motion_stem(result, info: dict) -> str:
    [motion] = (result.out_dir / "bids" / info["subject"] / info["session"] / "motion").glob("*_motion.tsv")
    return str(motion).removesuffix("_motion.tsv")


@pytest.mark.parametrize("which", ["plain", "pseudo"])
def test_a_link_gap_is_data_not_a_slow_sensor(which, request, matrix):
    result = request.getfixturevalue(which)
    info = _info(result, matrix, "gap")
    stem = _motion_stem(result, info)
    expected_missing = round(GAP_S * GAP_RATE_HZ)  # samples at 60.000 ... 198.995 s
    sidecar = json.loads(pathlib.Path(stem + "_motion.json").read_text())
    assert sidecar["SamplingFrequency"] == GAP_RATE_HZ
    assert sidecar["SamplingFrequencyEffective"] == pytest.approx(GAP_RATE_HZ, rel=1e-3)
    assert sidecar["MissingValues"] == "n/a"
    rows = pathlib.Path(stem + "_motion.tsv").read_text().splitlines()
    missing = [r for r in rows if r.split("\t")[0] == "n/a"]
    recorded = len(matrix.batches["gap"][0])
    assert len(missing) == expected_missing and len(rows) == recorded + expected_missing
    latency = np.array([float(r.split("\t")[-1]) for r in rows])
    assert np.all(np.diff(latency) > 0) and latency[-1] == pytest.approx(2 * GAP_AT_S + GAP_S - 1 / GAP_RATE_HZ)
    events = list(csv.DictReader(pathlib.Path(stem + "_events.tsv").read_text().splitlines(), delimiter="\t"))
    [lost] = [e for e in events if e["trial_type"] == "link_lost"]
    assert float(lost["onset"]) == pytest.approx(GAP_AT_S - 1 / GAP_RATE_HZ)
    assert float(lost["duration"]) == pytest.approx(GAP_S + 1 / GAP_RATE_HZ)
    assert (int(lost["n_missing"]), lost["link_lost"]) == (expected_missing, "true")
    # the manifest and the tables say the same
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert f"{info['subject']} {info['session']}" in manifest["incomplete_sessions"]
    assert len(manifest["incomplete_sessions"]) == 1
    entry = next(s for s in manifest["sessions"] if s["session"] == info["session"] and s["subject"] == info["subject"])
    assert entry["raw_samples"] == "incomplete"
    assert entry["missing"]["n_gaps"] == 1 and entry["missing"]["missing_s"] == pytest.approx(GAP_S, abs=0.01)
    assert entry["missing"]["n_missing_samples"] == 2 * expected_missing  # acc and gyro
    gaps = pq.read_table(result.out_dir / "parquet" / "gaps.parquet").to_pylist()
    assert [(g["kind"], g["n_missing"], g["link_lost"]) for g in gaps] == [
        ("acc", expected_missing, True),
        ("gyro", expected_missing, True),
    ]
    devices = [
        d
        for d in pq.read_table(result.out_dir / "parquet" / "devices.parquet").to_pylist()
        if d["session"] == info["session"] and d["subject"] == info["subject"]
    ]
    assert [(d["n_gaps"], d["n_missing"]) for d in devices] == [(1, expected_missing)] * 2
    assert all(d["effective_rate_hz"] == pytest.approx(GAP_RATE_HZ, rel=1e-3) for d in devices)
    csv_gaps = (result.out_dir / "csv" / "gaps.csv").read_text().splitlines()
    assert len(csv_gaps) == 3


def test_device_and_axes_are_described(plain, matrix):
    """The recorder's device facts reach the sidecar; the channels say which device axis was up."""
    stem = _motion_stem(plain, _info(plain, matrix, "gap"))
    sidecar = json.loads(pathlib.Path(stem + "_motion.json").read_text())
    assert (sidecar["Manufacturer"], sidecar["ManufacturersModelName"], sidecar["SoftwareVersions"]) == (
        "Polar Electro Oy",
        "Polar H10",
        "5.0.0",
    )
    channels = list(csv.DictReader(pathlib.Path(stem + "_channels.tsv").read_text().splitlines(), delimiter="\t"))
    assert [c["reference_frame"] for c in channels] == ["local"] * 6 + ["n/a"]
    frame = json.loads(pathlib.Path(stem + "_channels.json").read_text())["reference_frame"]["Levels"]["local"]
    acc = matrix.batches["gap"][0].values.mean(axis=0)
    up = int(np.argmax(np.abs(acc)))
    assert f"lay along {'+' if acc[up] > 0 else '-'}{'xyz'[up]}" in frame["Description"]
    assert frame["RotationRule"] == "right-hand" and "SpatialAxes" not in frame  # a mounting rotation: not known


def test_simultaneous_alerts_are_all_in_the_events(plain, matrix):
    info = _info(plain, matrix, "gap")
    events = list(
        csv.DictReader(pathlib.Path(_motion_stem(plain, info) + "_events.tsv").read_text().splitlines(), delimiter="\t")
    )
    alerts = [(e["onset"], e["trial_type"], e["metric"]) for e in events if e["trial_type"].startswith("alert")]
    assert alerts == [
        ("30", "alert_onset", "cadence"),
        ("30", "alert_onset", "impact"),
        ("220", "alert_cleared", "cadence"),
        ("220", "alert_onset", "sway_ml"),
    ]


@pytest.mark.parametrize("which", ["plain", "pseudo"])
def test_a_csv_analysed_with_start_exports_samples_on_the_steps_dates(which, request, matrix):
    result = request.getfixturevalue(which)
    shift_ns = (SHIFT_DAYS if which == "pseudo" else 0) * 86_400 * NS
    info = _info(result, matrix, "csv-start")
    assert info["raw_samples"] == "complete" and info["n_samples"] == 6000
    where = [("subject", "=", info["subject"]), ("session", "=", info["session"])]
    samples = pq.read_table(result.out_dir / "parquet" / "samples.parquet", filters=where)
    steps = pq.read_table(result.out_dir / "parquet" / "steps.parquet", filters=where)
    t = samples["t_ns"].to_numpy()
    assert t[0] == CSV_START_NS + shift_ns
    assert steps.num_rows > 50 and t[0] <= steps["t_ns"].to_numpy().min() <= steps["t_ns"].to_numpy().max() <= t[-1]
    scans = next((result.out_dir / "bids" / info["subject"] / info["session"]).glob("*_scans.tsv")).read_text()
    expected_day = "2024-10-06" if which == "pseudo" else "2026-11-22"
    assert f"{expected_day}T07:30:00.000000" in scans


def test_segments_of_one_recording_each_export_their_own_samples(plain, matrix):
    acc = matrix.batches["segments"][0]
    firsts = []
    for case in ("segment-1", "segment-2"):
        info = _info(plain, matrix, case)
        where = [("subject", "=", info["subject"]), ("session", "=", info["session"]), ("kind", "=", "acc")]
        t = pq.read_table(plain.out_dir / "parquet" / "samples.parquet", filters=where)["t_ns"].to_numpy()
        assert len(t) == len(acc) // 2 and info["raw_samples"] == "complete"
        firsts.append(int(t[0]))
    assert firsts == [int(acc.t_ns[0]), int(acc.t_ns[len(acc) // 2])]


# ---- free text and the leak check ------------------------------------------------------------------------
def _identifiers(matrix: Matrix) -> list[str]:
    """What must not be in a pseudonymised, date-shifted export: every name, id, address and true date."""
    store = matrix.store()
    rows = store.sessions()
    store.close()
    days = {dt.datetime.fromtimestamp(r.started_t_ns / 1e9, tz=dt.UTC).date() for r in rows}
    return [
        *{r.runner for r in rows},
        "riverside",
        *(r.session_id for r in rows),
        DEVICE_ADDRESS,
        *(d.isoformat() for d in days),
        *(d.strftime("%Y%m%d") for d in days),
        "Kowalczyk",
        "Maria",
        PHONE,
        EMAIL,
        "2026-11-30",
        "12 March",
        str(matrix.root),
    ]


def _occurrences(root: pathlib.Path, needles: list[str]) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes().lower()
        text = parquet_text(path).lower() if path.suffix == ".parquet" else ""
        found += [f"{n} in {path.name}" for n in needles if n.lower().encode() in raw or n.lower() in text]
    return found


def test_pseudonymised_export_withholds_notes_and_no_identifier_is_anywhere(pseudo, matrix):
    assert _occurrences(pseudo.out_dir, _identifiers(matrix)) == []
    [row] = pq.read_table(pseudo.out_dir / "parquet" / "pain_log.parquet").to_pylist()
    assert row["note"] is None and row["pain_after"] == 3
    manifest = json.loads((pseudo.out_dir / "manifest.json").read_text())
    created = dt.datetime.fromisoformat(manifest["created_utc"]).date()
    assert created == dt.datetime.now(dt.UTC).date() + dt.timedelta(days=SHIFT_DAYS)


def test_kept_notes_are_scrubbed_of_names_numbers_addresses_and_dates(matrix, tmp_path):
    result = _export(matrix, tmp_path / "x", pseudonymise=True, date_shift_days=SHIFT_DAYS, keep_notes=True)
    [row] = pq.read_table(result.out_dir / "parquet" / "pain_log.parquet").to_pylist()
    assert row["note"] == (
        "Felt fine. [name] [name] (coach) says call [phone] or mail [email] before [date], she saw it on [date]."
    )
    assert _occurrences(result.out_dir, _identifiers(matrix)) == []


@pytest.mark.parametrize("needle", ["runner", "team", "session id", "device address", "true date", "true compact date"])
def test_the_leak_check_finds_every_identifier_the_store_knows(needle, pseudo, matrix, tmp_path):
    """The built-in check (not this test's own search) stops an export holding any of them."""
    store = matrix.store()
    rows = store.sessions()
    store.close()
    gap = next(r for r in rows if r.session_id == matrix.sessions["gap"])
    day = dt.datetime.fromtimestamp(gap.started_t_ns / 1e9, tz=dt.UTC).date()
    value = {
        "runner": "Gwendolyn",
        "team": "riverside",
        "session id": gap.session_id,
        "device address": DEVICE_ADDRESS.lower(),
        "true date": day.isoformat(),
        "true compact date": day.strftime("%Y%m%d"),
    }[needle]
    copy = tmp_path / "copy"
    shutil.copytree(pseudo.out_dir, copy)
    labeler = load_key(pseudo.key_path)
    assert find_names(copy, known_identifiers(labeler, rows)) == []
    note = copy / "csv" / "pain_log.csv"
    note.write_text(note.read_text() + f'sub-05,ses-01,9,0,0,3,{{}},"seen {value} today"\n')
    assert find_names(copy, known_identifiers(labeler, rows)) == [f"{value!r} in csv/pain_log.csv"]


# ---- sessions the store itself marked incomplete --------------------------------------------------------
@pytest.mark.slow  # runs the validator
def test_a_session_the_store_marked_incomplete_is_flagged(matrix, tmp_path, capsys):
    db = tmp_path / "store.db"
    with sqlite3.connect(matrix.db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    store = SessionStore(db)  # the store's own call when it could not keep every result
    store.mark_incomplete(matrix.sessions["csv-start"], {"steps": 3, "windows": 1, "risk_events": 0})
    store.close()
    out = tmp_path / "out"
    code = main(["export", "--runner", "hildegard", "-o", str(out), "--db", str(db), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    [line] = [x for x in printed.splitlines() if "INCOMPLETE" in x]
    assert "the store marked it incomplete: it lost 3 steps, 1 windows of the analysis results" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["incomplete_sessions"] == ["sub-hildegard ses-20261122T073000"]
    [entry] = manifest["sessions"]
    assert entry["status"] == "incomplete" and entry["raw_samples"] == "complete"
    assert entry["missing"]["store_lost"] == {"steps": 3, "windows": 1, "risk_events": 0}
    sessions_tsv = next((out / "bids").rglob("*_sessions.tsv")).read_text()
    assert "\tincomplete" in sessions_tsv
    issues = validate(out / "bids")["issues"]["issues"]
    assert [i["code"] for i in issues if i["severity"] == "error"] == []


# ---- export -> re-import -> analyse ----------------------------------------------------------------------
@pytest.mark.slow  # re-analyses every session of the matrix (the bundled fatigue run is 27 min)
def test_every_session_re_analyses_from_its_export_to_the_same_results(plain, matrix, tmp_path):
    store = matrix.store()
    again = tmp_path / "again.db"
    for case in ("bundled-fatigue", "bundled-treadmill", "gap", "csv-start", "segment-1", "segment-2"):
        row = store.session(matrix.sessions[case])
        info = _info(plain, matrix, case)
        capture = to_capture(
            plain.out_dir,
            tmp_path / f"{case}.sgcap",
            subject=info["subject"],
            session=info["session"],
            runner=row.runner,
        )
        [new_id] = _analyse(capture, again, team=row.team)
        mine = SessionStore(again)
        analysed = [a for a in store.risk_events(row.session_id) if a.message not in INJECTED_MESSAGES]
        assert (len(mine.steps(new_id)), len(mine.windows(new_id))) == (info["n_steps"], info["n_windows"]), case
        assert mine.steps(new_id) == store.steps(row.session_id), case
        assert mine.windows(new_id) == store.windows(row.session_id), case
        assert mine.risk_events(new_id) == analysed, case
        mine.close()
    store.close()


@pytest.mark.parametrize("store_lost", ["lots", [1, 2], {"steps": "x", "windows": -1}, None])
def test_a_damaged_loss_count_still_flags_the_session(store_lost):
    from strideguard.stream.export.exporter import completeness
    from strideguard.stream.export.samples import SessionSamples
    from strideguard.stream.sqlite.store import SessionRow

    row = SessionRow(
        session_id="s",
        runner="r",
        team="t",
        source="",
        started_t_ns=0,
        ended_t_ns=None,
        status="incomplete",
        summary={"store_lost": store_lost},
    )
    info = completeness(row, SessionSamples())
    assert info["incomplete"] == ["the store marked it incomplete: it lost an unknown amount of the analysis results"]
    assert info["missing"]["store_lost"] == {}
