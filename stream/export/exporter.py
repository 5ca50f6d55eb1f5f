"""The export composition: pick sessions, label them, write BIDS / Parquet / CSV, the dictionary, checksums.

Everything is written into `<out>.partial` and renamed to `<out>` at the end, so an interrupted export
never looks complete. A pseudonymised export is checked before that rename: if any runner's name is
found in any file (text files as text, Parquet files decoded), the export fails and says where.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, TextIO, TypedDict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from strideguard.sensors.types import Placement
from strideguard.stream.errors import UsageError
from strideguard.stream.export import FORMATS, bids
from strideguard.stream.export.checksums import write_checksums
from strideguard.stream.export.dictionary import (
    Column,
    dictionary_markdown,
    dictionary_rows,
    sqlite_columns,
    standard_tables,
)
from strideguard.stream.export.participants import person
from strideguard.stream.export.progress import ProgressBar
from strideguard.stream.export.pseudonym import (
    NS_PER_DAY,
    Labeler,
    check_key_outside,
    load_key,
    random_shift_days,
    write_key,
)
from strideguard.stream.export.samples import SessionSamples, load_session_samples, segment_bounds
from strideguard.stream.export.scrub import scrub_free_text
from strideguard.stream.export.tables import (
    device_row,
    gap_rows,
    results_table,
    rows_table,
    samples_table,
    session_row,
)
from strideguard.stream.export.tabular import TableWriters
from strideguard.stream.retraining.records import PROGRESS_TABLE
from strideguard.stream.sqlite.profiles import Profiles
from strideguard.stream.sqlite.shoes import ShoeLog
from strideguard.stream.sqlite.store import INCOMPLETE, STORE_LOST, SessionRow, SessionStore

MIN_BINARY_NAME = 6  # characters: shorter names turn up in compressed bytes by chance
PAIN_TABLE_PATTERN = "pain%"  # SQLite tables of the pain log (stream/sqlite/painlog.py), exported when present
FREE_TEXT_COLUMNS = ("note",)  # people's own words: withheld, or scrubbed, when pseudonymised


class ExportError(UsageError):
    """The export could not be completed; `path` says which file or folder."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


@dataclass(slots=True, kw_only=True)
class ExportOptions:
    out_dir: pathlib.Path
    formats: tuple[str, ...] = FORMATS
    pseudonymise: bool = False
    key_path: pathlib.Path | None = None  # default for pseudonymised exports: <out_dir>.key.json beside it
    date_shift_days: int | None = None  # None: none (or the key's); pseudonymised exports may ask for random
    random_date_shift: bool = False
    keep_notes: bool = False  # pseudonymised exports: keep free-text notes, scrubbed (default: left out)
    csv_placement: Placement = Placement.CHEST  # placement for sessions analysed from CSV files
    dataset_name: str = "StrideGuard running gait recordings"
    authors: tuple[str, ...] = ()
    license_id: str = "n/a"  # e.g. CC-BY-4.0 or CC0 (SPDX identifiers)
    institution: str = "n/a"
    institution_address: str = "n/a"
    department: str = "n/a"
    progress: bool = False
    progress_stream: TextIO | None = None


@dataclass(slots=True, kw_only=True)
class ExportResult:
    out_dir: pathlib.Path
    key_path: pathlib.Path | None
    files: list[pathlib.Path]
    sessions: list[dict[str, Any]] = field(default_factory=list)
    n_samples: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def select_sessions(
    store: SessionStore,
    *,
    session: str | None = None,
    runner: str | None = None,
    team: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[SessionRow]:
    """Sessions by id (or unique prefix), or by runner and/or team within [since, until] (UTC dates)."""
    if session is not None:
        row = store.session(session)
        if row is None:
            raise UsageError(f"no single session matches {session!r}: see `strideguard sessions`")
        return [row]
    rows = store.sessions(runner=runner, team=team)
    if since is not None:
        rows = [r for r in rows if _date(r.started_t_ns) >= since]
    if until is not None:
        rows = [r for r in rows if _date(r.started_t_ns) <= until]
    if not rows:
        raise UsageError("no sessions match: see `strideguard sessions`")
    return rows


def _date(t_ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(t_ns / 1e9, tz=dt.UTC).date()


def make_labeler(opts: ExportOptions) -> tuple[Labeler, pathlib.Path | None]:
    if not opts.pseudonymise:
        if opts.key_path is not None:
            raise UsageError("--key only applies to pseudonymised exports (add --pseudonymise)")
        return Labeler(pseudonymous=False, date_shift_days=opts.date_shift_days or 0), None
    key_path = opts.key_path or opts.out_dir.with_name(opts.out_dir.name + ".key.json")
    check_key_outside(key_path, opts.out_dir)
    if key_path.exists():
        labeler = load_key(key_path)
        if opts.date_shift_days is not None and opts.date_shift_days != labeler.date_shift_days:
            raise UsageError(
                f"the key {key_path} already shifts dates by {labeler.date_shift_days} days; "
                "drop --date-shift-days or use a new key"
            )
        return labeler, key_path
    shift = (
        opts.date_shift_days
        if opts.date_shift_days is not None
        else (random_shift_days() if opts.random_date_shift else 0)
    )
    return Labeler(pseudonymous=True, date_shift_days=shift), key_path


def export_sessions(store: SessionStore, rows: Sequence[SessionRow], opts: ExportOptions) -> ExportResult:
    """Write the export of `rows` to `opts.out_dir` (which must not exist yet)."""
    started = time.perf_counter()
    unknown = set(opts.formats) - set(FORMATS)
    if unknown or not opts.formats:
        raise UsageError(f"unknown format {sorted(unknown)}: choose from {', '.join(FORMATS)}")
    out = opts.out_dir
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not empty: choose a new folder", path=str(out))
    labeler, key_path = make_labeler(opts)
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    tables = standard_tables()
    pain = _pain_tables(store.path)
    with Profiles(store.path, readonly=True) as profile_log:
        profiles = {r.runner: profile_log.get(r.runner) for r in rows}
    with ShoeLog(store.path, readonly=True) as shoe_log:
        worn = {r.session_id: shoe for r in rows if (shoe := shoe_log.shoe_of(r.session_id)) is not None}
    shoe_labels: dict[int, str] = {}

    def shoe_label(session_id: str) -> str | None:
        """The shoes' name, or under --pseudonymise a label (a name may hold anything: "anna's blue")."""
        shoe = worn.get(session_id)
        if shoe is None:
            return None
        if not opts.pseudonymise:
            return shoe.name
        return shoe_labels.setdefault(shoe.shoe_id, f"shoe-{len(shoe_labels) + 1}")

    tables.update({name: cols for name, (cols, _) in pain.items()})
    writers = TableWriters(partial, tables, parquet="parquet" in opts.formats, csv="csv" in opts.formats)
    do_tables = "parquet" in opts.formats or "csv" in opts.formats
    bids_root = partial / "bids"
    result = ExportResult(out_dir=out, key_path=key_path, files=[])
    bar = ProgressBar(len(rows), unit="sessions", enabled=opts.progress, stream=opts.progress_stream)
    participants: dict[str, dict[str, Any]] = {}
    try:
        for row in sorted(rows, key=lambda r: (r.runner, r.started_t_ns)):
            subject = labeler.subject(row.runner)
            session = labeler.session(
                row.session_id, runner=row.runner, started_t_ns=row.started_t_ns, source=row.source
            )
            group = labeler.group(row.team)
            bar.set_label(f"sub-{subject} ses-{session}: reading")
            samples = load_session_samples(row, placement=opts.csv_placement, **segment_bounds(store, row))
            for device in [
                *(s.device for s in samples.streams),
                *(r.device for r in samples.heart_rate),
                *(r.device for r in samples.strides),
            ]:
                labeler.device(device)
            steps, windows, alerts = (
                store.steps(row.session_id),
                store.windows(row.session_id),
                store.risk_events(row.session_id),
            )
            info = {
                "subject": f"sub-{subject}",
                "session": f"ses-{session}",
                "status": _status(row.status),
                "n_samples": samples.n_samples,
                "n_steps": len(steps),
                "n_windows": len(windows),
                "n_alerts": len(alerts),
                **completeness(row, samples, withhold_path=labeler.pseudonymous),
                "tracksys": [],
            }
            if info["incomplete"]:
                result.problems.append(f"sub-{subject} ses-{session} is incomplete: {'; '.join(info['incomplete'])}")
            if not labeler.pseudonymous:
                info["session_id"] = row.session_id
            p = participants.setdefault(
                subject,
                {
                    "group": group,
                    "sessions": [],
                    **person(profiles.get(row.runner), at_t_ns=row.started_t_ns, coarse=opts.pseudonymise),
                },
            )
            if "bids" in opts.formats and samples.streams:
                bar.set_label(f"sub-{subject} ses-{session}: BIDS")
                info["tracksys"] = _write_bids_session(
                    bids_root, subject, session, samples, steps, alerts, labeler, opts
                )
                p["sessions"].append((session, row.started_t_ns + labeler.shift_ns, _status(row.status)))
            if do_tables:
                bar.set_label(f"sub-{subject} ses-{session}: tables")
                _write_session_tables(
                    writers,
                    tables,
                    row,
                    subject,
                    session,
                    group,
                    samples,
                    steps,
                    windows,
                    alerts,
                    labeler,
                    shoe=shoe_label(row.session_id),
                    person=person(profiles.get(row.runner), at_t_ns=row.started_t_ns, coarse=opts.pseudonymise),
                )
            result.sessions.append(info)
            result.n_samples += samples.n_samples
            bar.advance(1)
        if do_tables:
            _write_pain(writers, store.path, pain, rows, labeler, keep_notes=opts.keep_notes)
        writers.close()
        if "bids" in opts.formats and any(p["sessions"] for p in participants.values()):
            for subject, p in participants.items():
                if p["sessions"]:
                    bids.write_sessions_file(bids_root / f"sub-{subject}", subject, p["sessions"])
            bids.write_dataset_files(
                bids_root,
                participants=[
                    {**p, "subject": s, "n_sessions": len(p["sessions"])}
                    for s, p in participants.items()
                    if p["sessions"]
                ],
                pseudonymous=labeler.pseudonymous,
                dates_shifted=labeler.shift_ns != 0,
                version=_version(),
                name=opts.dataset_name,
                authors=opts.authors,
                license_id=opts.license_id,
            )
        if do_tables:
            _write_dictionary(partial, tables)
        _write_readme(partial, opts, labeler, result)
        if labeler.pseudonymous:
            leaks = find_names(partial, known_identifiers(labeler, rows))
            if leaks:
                raise ExportError(f"pseudonymisation check failed: {leaks[0]}", path=str(partial))
        write_checksums(partial)
    except BaseException:
        writers.close_quietly()
        shutil.rmtree(partial, ignore_errors=True)  # nothing half-written (or leaking) stays behind
        raise
    finally:
        bar.close()
    if key_path is not None:
        write_key(key_path, labeler)
    if out.exists():
        out.rmdir()
    partial.rename(out)
    result.files = sorted(p for p in out.rglob("*") if p.is_file())
    result.seconds = time.perf_counter() - started
    return result


def _status(raw: str) -> str:
    return "unfinished" if raw == "running" else raw


def _counts(value: Any) -> dict[str, int]:
    """The store's {"steps": n, ...} loss counts; anything else (a damaged summary) counts as nothing known."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0}


def completeness(row: SessionRow, samples: SessionSamples, *, withhold_path: bool = False) -> dict[str, Any]:
    """What of the session is missing, for the manifest: gaps in the raw samples, a recording that could not
    be read, and results the store itself lost (a session it marked `incomplete`). `incomplete` lists
    the reasons in words (empty: complete)."""
    reasons = []
    missing_s = max((s.missing_s for s in samples.streams), default=0.0)
    n_gaps = max((len(s.gaps) for s in samples.streams), default=0)
    if samples.problem:  # a path says where (and often whose) the recording is: in the key, not the export
        reasons.append(samples.problem.replace(row.source, "(path in the key)") if withhold_path else samples.problem)
    if n_gaps:
        expected = samples.n_samples + samples.n_missing
        reasons.append(
            f"{n_gaps} gap(s) in the raw samples, {missing_s:.1f} s without data, "
            f"{samples.n_missing:,} of {expected:,} expected samples missing "
            f"({100 * samples.n_missing / expected:.1f} %)"
        )
    raw_lost = row.summary.get(STORE_LOST) if isinstance(row.summary, dict) else None
    lost = _counts(raw_lost)
    if row.status == INCOMPLETE or lost:
        what = ", ".join(f"{v} {k}" for k, v in (lost or {}).items() if v) or "an unknown amount"
        reasons.append(f"the store marked it incomplete: it lost {what} of the analysis results")
    return {
        "raw_samples": "not readable"
        if samples.problem and not samples.streams
        else ("incomplete" if samples.problem or n_gaps else "complete"),
        "missing": {
            "n_gaps": n_gaps,
            "missing_s": round(missing_s, 3),
            "n_missing_samples": samples.n_missing,
            "store_lost": lost or {},
        },
        "incomplete": reasons,
    }


def _write_bids_session(
    root: pathlib.Path,
    subject: str,
    session: str,
    samples: SessionSamples,
    steps: list,
    alerts: list,
    labeler: Labeler,
    opts: ExportOptions,
) -> list[str]:
    session_dir = root / f"sub-{subject}" / f"ses-{session}"
    motion_dir = session_dir / "motion"
    motion_dir.mkdir(parents=True, exist_ok=True)
    prefix = bids.entity_prefix(subject, session)
    systems = bids.tracking_systems(samples.streams, {s.device: labeler.device(s.device) for s in samples.streams})
    motion_files = []
    for system in systems:
        files = bids.write_tracking_system(
            motion_dir,
            prefix,
            system,
            institution={
                "InstitutionName": opts.institution,
                "InstitutionAddress": opts.institution_address,
                "InstitutionalDepartmentName": opts.department,
            },
        )
        motion_files.append((files[0], int(system.t_ns[0]) + labeler.shift_ns))
    for system in systems:  # every tracking system gets the events, timed from its own first sample
        bids.write_events(motion_dir, prefix, system, steps, alerts, scrub=labeler.scrub, version=_version())
    bids.write_scans(session_dir, subject, session, motion_files)
    return [s.label for s in systems]


class _TableLabels(TypedDict):
    """The keywords every table builder takes: who and which session the rows are of, and how to label."""

    subject: str
    session: str
    labeler: Labeler


def _write_session_tables(
    writers: TableWriters,
    tables: dict[str, list[Column]],
    row: SessionRow,
    subject: str,
    session: str,
    group: str,
    samples: SessionSamples,
    steps: list,
    windows: list,
    alerts: list,
    labeler: Labeler,
    *,
    shoe: str | None = None,
    person: dict[str, Any] | None = None,
) -> None:
    kw: _TableLabels = {"subject": f"sub-{subject}", "session": f"ses-{session}", "labeler": labeler}
    summary = dict(row.summary)
    writers.write(
        "sessions",
        rows_table(
            tables["sessions"],
            [
                session_row(
                    group=group,
                    status=_status(row.status),
                    started_t_ns=row.started_t_ns,
                    ended_t_ns=row.ended_t_ns,
                    summary=summary,
                    shift_ns=labeler.shift_ns,
                    shoe=shoe,
                    person=person,
                )
            ],
            **kw,
        ),
    )
    systems = bids.tracking_systems(samples.streams, {s.device: labeler.device(s.device) for s in samples.streams})
    label_of = {id(m): s.label for s in systems for m in s.streams}
    writers.write(
        "devices",
        rows_table(
            tables["devices"],
            [device_row(s, tracksys=label_of.get(id(s)), labeler=labeler) for s in samples.streams],
            **kw,
        ),
    )
    for stream in samples.streams:
        writers.write("samples", samples_table(tables["samples"], stream, **kw))
    writers.write("gaps", rows_table(tables["gaps"], [g for s in samples.streams for g in gap_rows(s)], **kw))
    writers.write("steps", results_table(tables["steps"], steps, **kw))
    writers.write("windows", results_table(tables["windows"], windows, **kw))
    writers.write("alerts", results_table(tables["alerts"], alerts, **kw))
    writers.write("heart_rate", results_table(tables["heart_rate"], samples.heart_rate, **kw))
    writers.write("footpod", results_table(tables["footpod"], samples.strides, **kw))


def _pain_tables(db_path: pathlib.Path) -> dict[str, tuple[list[Column], list[str]]]:
    """Pain-log tables in the store (by name), with their columns; none when the pain log is not there."""
    out: dict[str, tuple[list[Column], list[str]]] = {}
    with _readonly(db_path) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND (name LIKE ? OR name = ?)",
                (PAIN_TABLE_PATTERN, PROGRESS_TABLE),
            )
        ]
        for name in names:
            decl = [(r[1], r[2] or "TEXT") for r in db.execute(f'PRAGMA table_info("{name}")')]
            cols = [d[0] for d in decl]
            if "runner" in cols:
                out[_table_name(name)] = (sqlite_columns(decl, table=name), [name, *cols])
    return out


def _table_name(sql_name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", sql_name.lower())


def _write_pain(
    writers: TableWriters,
    db_path: pathlib.Path,
    pain: dict[str, tuple[list[Column], list[str]]],
    rows: Sequence[SessionRow],
    labeler: Labeler,
    *,
    keep_notes: bool = False,
) -> None:
    """Pain-log rows of the exported runners: rows of exported sessions, and rows without a session that
    fall within the UTC days the runner's exported sessions span."""
    sessions = {r.session_id for r in rows}
    spans: dict[str, tuple[int, int]] = {}
    for r in rows:
        lo, hi = spans.get(r.runner, (r.started_t_ns, r.ended_t_ns or r.started_t_ns))
        spans[r.runner] = (min(lo, r.started_t_ns), max(hi, r.ended_t_ns or r.started_t_ns))
    for table, (cols, (sql_name, *names)) in pain.items():
        with _readonly(db_path) as db:
            data = [dict(zip(names, rec)) for rec in db.execute(f'SELECT * FROM "{sql_name}"')]
        for runner, (lo, hi) in sorted(spans.items()):
            day_lo, day_hi = lo - lo % NS_PER_DAY, hi - hi % NS_PER_DAY + NS_PER_DAY
            by_session: dict[str, list[dict[str, Any]]] = {}
            for d in data:
                sid, t_ns = d.get("session_id"), d.get("t_ns")
                if d.get("runner") != runner:
                    continue
                if sid is not None and sid not in sessions:
                    continue
                if sid is None and isinstance(t_ns, int) and not day_lo <= t_ns < day_hi:
                    continue
                by_session.setdefault(labeler.sessions.get(sid, "") if sid else "", []).append(
                    _free_text_withheld(d, labeler, keep=keep_notes)
                )
            for session, items in by_session.items():
                writers.write(
                    table,
                    rows_table(
                        cols,
                        items,
                        subject=f"sub-{labeler.subject(runner)}",
                        session=f"ses-{session}" if session else None,
                        labeler=labeler,
                    ),
                )


def _free_text_withheld(row: dict[str, Any], labeler: Labeler, *, keep: bool) -> dict[str, Any]:
    """A pseudonymised export leaves runners' own words out, or with `keep` scrubs them (scrub.py): a note
    names coaches, friends, places and dates the store knows nothing about."""
    if not labeler.pseudonymous:
        return row
    out = dict(row)
    for name in FREE_TEXT_COLUMNS:
        if isinstance(out.get(name), str):
            out[name] = scrub_free_text(out[name], labeler.scrub) if keep else None
    return out


def known_identifiers(labeler: Labeler, rows: Sequence[SessionRow]) -> list[str]:
    """Everything the store knows that identifies someone, for the final leak check: runner and team
    names, session ids, device ids (BLE addresses) and, when dates are shifted, the original dates of the
    sessions (ISO and compact), except those that are also a shifted date in the export."""
    names = list(labeler.identifying_names())
    if labeler.shift_ns:
        original, shifted = set(), set()
        for r in rows:
            for t_ns in filter(None, (r.started_t_ns, r.ended_t_ns)):
                original.add(_date(t_ns))
                shifted.add(_date(t_ns + labeler.shift_ns))
        for day in sorted(original - shifted):
            names += [day.isoformat(), day.strftime("%Y%m%d")]
    return names


class _readonly:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def _write_dictionary(root: pathlib.Path, tables: dict[str, list[Column]]) -> None:
    rows = dictionary_rows(tables)
    (root / "data_dictionary.json").write_text(json.dumps(rows, indent=1) + "\n")
    (root / "data_dictionary.md").write_text(dictionary_markdown(tables))
    header = ["table", "name", "type", "unit", "description", "nullable"]
    lines = [",".join(header)] + [",".join(_csv_cell(r[h]) for h in header) for r in rows]
    (root / "data_dictionary.csv").write_text("\n".join(lines) + "\n")


def _csv_cell(v: Any) -> str:
    text = str(v).lower() if isinstance(v, bool) else str(v)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _write_readme(root: pathlib.Path, opts: ExportOptions, labeler: Labeler, result: ExportResult) -> None:
    manifest = {
        "generated_by": f"strideguard {_version()}",
        # shifted with the data: a true export date would bound the true recording dates
        "created_utc": (dt.datetime.now(dt.UTC) + dt.timedelta(days=labeler.date_shift_days)).isoformat(
            timespec="seconds"
        ),
        "formats": list(opts.formats),
        "pseudonymised": labeler.pseudonymous,
        "dates_shifted": labeler.shift_ns != 0,
        "sessions": result.sessions,
        "incomplete_sessions": [f"{s['subject']} {s['session']}" for s in result.sessions if s["incomplete"]],
        "problems": result.problems,
        "checksums": "SHA256SUMS (check with: sha256sum -c SHA256SUMS)",
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (root / "README.md").write_text(
        "\n".join(
            [
                "# StrideGuard export",
                "",
                "- `bids/`: Motion-BIDS dataset (validate with `bids-validator-deno bids`)"
                if "bids" in opts.formats
                else "",
                "- `parquet/`: every table as Parquet (exact types; samples in g and deg/s)"
                if "parquet" in opts.formats
                else "",
                "- `csv/`: the same tables as CSV" if "csv" in opts.formats else "",
                "- `data_dictionary.md` / `.csv` / `.json`: every column with its type and unit",
                "- `manifest.json`: what was exported, and any session whose raw samples could not be read",
                "- `SHA256SUMS`: check with `sha256sum -c SHA256SUMS`",
                "",
                "Subjects and sessions are pseudonymous: the key is kept apart from this folder."
                if labeler.pseudonymous
                else "Labels are derived from runner names and session start times.",
                "Dates are shifted by a fixed number of days." if labeler.shift_ns else "",
                "Gait alerts are heuristics associated with low-back-pain risk, not a diagnosis.",
                "",
            ]
        )
    )


def find_names(root: pathlib.Path, names: list[str]) -> list[str]:
    """Where any of `names` occurs as a word in any file under root.

    Text files are searched as text; Parquet files are decoded (distinct strings, schema, metadata) and
    their raw bytes are searched too for names long enough (MIN_BINARY_NAME) that compressed bytes cannot
    spell them by chance. A fast case-insensitive substring test runs first; the word-boundary regex only
    confirms a hit.
    """
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        if path.suffix == ".parquet":
            checks = [
                (parquet_text(path).encode("utf-8", "replace"), names),
                (raw, [n for n in names if len(n) >= MIN_BINARY_NAME]),
            ]
        else:
            checks = [(raw, names)]
        for data, wanted in checks:
            low = data.lower()
            candidates = [n for n in wanted if n.strip() and n.lower().encode() in low]
            pattern = _word_pattern(candidates)
            m = pattern.search(data.decode("latin-1")) if pattern else None
            if m:
                found.append(f"{m.group(0)!r} in {path.relative_to(root)}")
                break
    return found


def _word_pattern(names: list[str]) -> re.Pattern[str] | None:
    names = sorted({n for n in names if n.strip()}, key=len, reverse=True)  # the longest match is reported
    if not names:
        return None
    return re.compile(
        r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9])", re.IGNORECASE
    )


def parquet_text(path: pathlib.Path) -> str:
    """Every distinct string value, column name and metadata entry of a Parquet file, as one text."""
    pf = pq.ParquetFile(path)
    parts = [
        str(pf.schema_arrow),
        json.dumps(
            {
                k.decode(errors="replace"): v.decode(errors="replace")
                for k, v in (pf.schema_arrow.metadata or {}).items()
            }
        ),
    ]
    string_columns = [
        f.name
        for f in pf.schema_arrow
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type)
    ]
    if string_columns:
        table = pf.read(columns=string_columns)
        for col in table.columns:
            parts.extend(str(v) for v in pc.unique(col).to_pylist() if v is not None)
    return "\n".join(parts)


def _version() -> str:
    try:
        return metadata.version("strideguard")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__all__ = ["ExportError", "ExportOptions", "ExportResult", "export_sessions", "find_names", "select_sessions"]
