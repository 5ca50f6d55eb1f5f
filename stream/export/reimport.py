"""Parquet back to sample batches, and to a capture that `strideguard analyze` re-analyses.

The samples table keeps the recorded int64 times and float32 values, so the arrays that come back are
identical to the ones the analyzer saw (dates shifted by the export's offset, if any); the devices
table gives each stream's placement and nominal rate.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from strideguard.sensors.capture import write_batches
from strideguard.sensors.types import Placement, SampleBatch, SampleKind, StreamMeta
from strideguard.stream.errors import UsageError


def read_samples(
    export_dir: pathlib.Path, *, subject: str, session: str, runner: str | None = None
) -> list[SampleBatch]:
    """One batch per (device, kind) of `sub-XX`/`ses-YY`; `runner` names them (default: the subject label)."""
    subject, session = _prefixed("sub-", subject), _prefixed("ses-", session)
    parquet = export_dir / "parquet"
    if not (parquet / "samples.parquet").is_file():
        raise UsageError(f"{export_dir} has no parquet/samples.parquet: export with --format parquet")
    where = [("subject", "=", subject), ("session", "=", session)]
    devices = pq.read_table(parquet / "devices.parquet", filters=where).to_pylist()
    samples = pq.read_table(
        parquet / "samples.parquet", filters=where, columns=["device", "kind", "t_ns", "x", "y", "z"]
    )
    if not devices:
        raise UsageError(f"no samples for {subject} {session} in {export_dir}")
    batches = []
    for d in devices:
        mask = pc.and_(pc.equal(samples["device"], d["device"]), pc.equal(samples["kind"], d["kind"]))
        part = samples.filter(mask)
        values = np.column_stack([part[c].to_numpy() for c in ("x", "y", "z")]).astype(np.float32, copy=False)
        batches.append(
            SampleBatch(
                runner=runner or subject,
                device=d["device"],
                placement=Placement(d["placement"]),
                kind=SampleKind(d["kind"]),
                rate_hz=d["rate_hz"],
                t_ns=part["t_ns"].to_numpy(),
                values=values,
                meta=_meta(d["meta_json"]),
            )
        )
    return batches


def to_capture(
    export_dir: pathlib.Path, out_path: pathlib.Path, *, subject: str, session: str, runner: str | None = None
) -> pathlib.Path:
    """A .sgcap capture of one exported session, ready for `strideguard analyze`."""
    batches = read_samples(export_dir, subject=subject, session=session, runner=runner)
    write_batches(out_path, batches, meta={"source": "strideguard export re-import"})
    return out_path


def _meta(meta_json: str | None) -> StreamMeta:
    """The devices table's text form back to a StreamMeta. Lenient: a pseudonymised export may have
    rewritten a value, which is then kept as text rather than refusing the whole re-import."""
    strings = json.loads(meta_json or "{}")
    return StreamMeta.from_strings({str(k): str(v) for k, v in strings.items()}, lenient=True)


def _prefixed(prefix: str, label: str) -> str:
    return label if label.startswith(prefix) else prefix + label
