"""Arrow tables of one session: results, samples, devices, the session row and the pain log.

Every table is built against the dictionary's columns, so Parquet, CSV and the dictionary agree; labels,
the date shift and text scrubbing are applied here, in one place, so no writer can forget them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from strideguard.stream.export.dictionary import Column, schema
from strideguard.stream.export.pseudonym import Labeler
from strideguard.stream.export.samples import SampleStream

PATH_KEYS = frozenset({"path", "file", "filename", "source_path"})  # recorder metadata keys that hold paths


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def rows_table(
    columns: list[Column], rows: Iterable[dict[str, Any]], *, subject: str, session: str | None, labeler: Labeler
) -> pa.Table:
    """A table from dict rows (result `as_row()`s, SQLite rows): shift times, scrub text, add labels."""
    data: dict[str, list[Any]] = {c.name: [] for c in columns}
    shift = labeler.shift_ns
    for row in rows:
        for c in columns:
            v: Any  # a cell: text, number, list or None, by column
            if c.name == "subject":
                v = subject
            elif c.name == "session":
                v = session
            elif c.name == "device" and row.get("device") is not None:
                v = labeler.device(str(row["device"]))
            else:
                v = _plain(row.get(c.name))
                if isinstance(v, tuple):
                    v = list(v)
                if v is not None and c.is_timestamp:
                    v = int(v) + shift
                elif isinstance(v, str):
                    v = labeler.scrub(v)
            data[c.name].append(v)
    return pa.Table.from_pydict(data, schema=schema(columns))


def results_table(
    columns: list[Column], items: Sequence[Any], *, subject: str, session: str, labeler: Labeler
) -> pa.Table:
    """Rows of frozen dataclasses (results, readings): every field by name, enums as their values."""
    rows = ({f.name: getattr(i, f.name) for f in dataclasses.fields(i)} for i in items)
    return rows_table(columns, rows, subject=subject, session=session, labeler=labeler)


def samples_table(
    columns: list[Column], stream: SampleStream, *, subject: str, session: str, labeler: Labeler
) -> pa.Table:
    """Long format: one row per sample, x/y/z in the kind's unit, exactly the recorded float32 values."""
    n = len(stream)
    arrays = {
        "subject": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([subject])),
        "session": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([session])),
        "device": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n, np.int32)), pa.array([labeler.device(stream.device)])
        ),
        "kind": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([stream.kind.value])),
        "t_ns": pa.array(stream.t_ns + np.int64(labeler.shift_ns), pa.int64()),
        "x": pa.array(stream.values[:, 0], pa.float32()),
        "y": pa.array(stream.values[:, 1], pa.float32()),
        "z": pa.array(stream.values[:, 2], pa.float32()),
    }
    table = pa.table({c.name: arrays[c.name] for c in columns})
    return table.cast(schema(columns))


def device_row(stream: SampleStream, *, tracksys: str | None, labeler: Labeler) -> dict[str, Any]:
    n = len(stream)
    meta = stream.meta.to_strings()  # the text form captures hold: the same keys, old exports and new
    if labeler.pseudonymous:  # file paths say where (and often whose) the recording was: left out
        meta = {k: labeler.scrub(v) for k, v in meta.items() if k.lower() not in PATH_KEYS}
    return {
        "device": stream.device,
        "placement": stream.placement.value,
        "kind": stream.kind.value,
        "unit": stream.kind.unit,
        "tracksys": tracksys,
        "rate_hz": stream.rate_hz,
        "effective_rate_hz": stream.effective_rate_hz,
        "n_samples": n,
        "n_gaps": len(stream.gaps),
        "n_missing": stream.n_missing,
        "missing_s": stream.missing_s,
        "first_t_ns": int(stream.t_ns[0]) if n else None,
        "last_t_ns": int(stream.t_ns[-1]) if n else None,
        "meta_json": json.dumps(meta, sort_keys=True),
    }


def gap_rows(stream: SampleStream) -> list[dict[str, Any]]:
    """One row per hole in the stream's sample times (see `gaps`)."""
    return [
        {
            "device": stream.device,
            "kind": stream.kind.value,
            "start_t_ns": g.start_t_ns,
            "end_t_ns": g.end_t_ns,
            "duration_s": g.duration_s,
            "n_missing": g.n_missing,
            "link_lost": g.link_lost,
        }
        for g in stream.gaps
    ]


def shifted_times(value: Any, shift_ns: int) -> Any:
    """A JSON-able value with every absolute time (keys `t_ns`, `*_t_ns`, `t_*_ns`) moved by `shift_ns`: a
    session summary keeps e.g. its baseline's `t_end_ns`, which must not give the true date away."""
    if isinstance(value, dict):
        return {
            k: v + shift_ns
            if isinstance(v, int)
            and not isinstance(v, bool)
            and (k.endswith("t_ns") or (k.startswith("t_") and k.endswith("_ns")))
            else shifted_times(v, shift_ns)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [shifted_times(v, shift_ns) for v in value]
    return value


def session_row(
    *,
    group: str,
    status: str,
    started_t_ns: int,
    ended_t_ns: int | None,
    summary: dict[str, Any],
    shift_ns: int = 0,
    shoe: str | None = None,
    person: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`started_t_ns` and `ended_t_ns` are shifted by rows_table; times inside the summary here."""
    summary = shifted_times(summary, shift_ns) if shift_ns else summary
    warmup = (summary.get("risk") or {}).get("warmup") or {}
    return {
        # text, never null: CSV cannot tell an empty string from a missing one (BIDS writes n/a)
        "warmup_start": ("hard" if warmup.get("hard_start") else "easy") if warmup.get("judged") else "n/a",
        "shoe": shoe if shoe is not None else "n/a",
        **{"age_years": None, "height_cm": None, "mass_kg": None, **(person or {})},
        "sex": (person or {}).get("sex") or "n/a",
        "group": group,
        "status": status,
        "started_t_ns": started_t_ns,
        "ended_t_ns": ended_t_ns,
        "duration_s": None if ended_t_ns is None else (ended_t_ns - started_t_ns) / 1e9,
        "summary_json": json.dumps(summary, sort_keys=True),
    }
