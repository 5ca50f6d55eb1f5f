"""The export validation matrix: one store holding every kind of session an export has to get right.

- the bundled runs (`strideguard demo` samples), analysed as `strideguard analyze` would;
- a 200 Hz chest-strap session with a 139-s link gap (samples missing, link_lost/gap/link_restored logged);
- two alert onsets at the same instant, and an onset and a clearance at another (HED repeats);
- a CSV with relative times analysed with `--start` from a relative path in another folder;
- a recording split into two sessions by a pause longer than the engine's limit (segments);
- a pain-log note full of identifiers (a coach's full name, a phone number, an e-mail address, a date).

Sessions are built with the real pipeline (`run_file`) and the real store; only the alerts are written
straight to the store (as tests/stream/test_export_helpers.py does) so that their timing is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, RiskEventKind, Severity
from strideguard.sensors.capture import SAMPLES_SOURCE, CaptureWriter
from strideguard.sensors.synthetic import SyntheticRunner
from strideguard.sensors.types import Placement, SampleBatch, StreamMeta
from strideguard.stream.cli.commands.demo import SAMPLES, sample_path
from strideguard.stream.runtime.app import RunOptions, run_file
from strideguard.stream.sqlite.store import SessionStore

NS = 1_000_000_000
GAP_T0_NS = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z
GAP_S = 139.0  # the link gap
GAP_RATE_HZ = 200.0
GAP_AT_S = 60.0  # data before the gap
CSV_START_NS = 1_795_332_600_000_000_000  # 2026-11-22T07:30:00Z, the CSV's `--start`
SEGMENT_T0_NS = 1_764_300_000_000_000_000
SEGMENT_PAUSE_S = 700.0  # longer than the engine's 600 s: a second session
PHONE = "+44 7700 900123"
EMAIL = "coach.maria@example.org"
NOTE = (
    f"Felt fine. Maria Kowalczyk (coach) says call {PHONE} or mail {EMAIL} before 2026-11-30, she saw it on 12 March."
)
DEVICE_ADDRESS = "A0:9E:1A:5C:3B:77"
INJECTED_MESSAGES = frozenset({"Gwendolyn: cadence low", "impact high", "cadence back", "sway up"})


@dataclass(slots=True)
class Matrix:
    root: pathlib.Path
    db: pathlib.Path
    sessions: dict[str, str] = field(default_factory=dict)  # case -> session id
    batches: dict[str, list[SampleBatch]] = field(default_factory=dict)  # case -> recorded batches
    csv_path: pathlib.Path | None = None

    def store(self) -> SessionStore:
        return SessionStore(self.db)


@contextlib.contextmanager
def _cwd(path: pathlib.Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _analyse(path: pathlib.Path | str, db: pathlib.Path, **kw) -> list[str]:
    result = asyncio.run(run_file(RunOptions(path=pathlib.Path(path), db_path=db, live_view=False, **kw)))
    return [s.session_id for s in result.pipeline.engine.summaries.values()]


def _write_capture(path: pathlib.Path, batches: list[SampleBatch], events: list[tuple[int, str, dict]]) -> None:
    with CaptureWriter(path) as writer:
        ids = {
            b.kind: writer.add_stream(
                runner=b.runner,
                device=b.device,
                placement=b.placement,
                source=SAMPLES_SOURCE,
                rate_hz=b.rate_hz,
                kind=b.kind,
                meta=b.meta,
            )
            for b in batches
        }
        pending = sorted(events)
        step = int(batches[0].rate_hz)
        for i in range(0, len(batches[0]), step):
            t_ns = int(batches[0].t_ns[i])
            while pending and pending[0][0] <= t_ns:
                at, kind, fields = pending.pop(0)
                writer.write_event(at, kind, **fields)
            for b in batches:
                writer.write_samples(ids[b.kind], b.slice(i, i + step))


def _with_hole(batch: SampleBatch, lo_s: float, hi_s: float) -> SampleBatch:
    t_s = (batch.t_ns - batch.t_ns[0]) / NS
    return batch.select((t_s < lo_s) | (t_s >= hi_s))


def _alert(runner: str, t_ns: int, kind: RiskEventKind, metric: str, message: str) -> RiskEvent:
    return RiskEvent(
        runner=runner,
        t_ns=t_ns,
        kind=kind,
        metric=metric,
        severity=Severity.WARNING if kind is RiskEventKind.ONSET else Severity.INFO,
        value=1.0,
        baseline=1.0,
        deviation=0.0,
        deviation_unit="%",
        duration_s=60.0,
        message=message,
        cue="",
        onset_t_ns=t_ns - 60 * NS,
    )


def build_matrix(root: pathlib.Path) -> Matrix:
    root.mkdir(parents=True, exist_ok=True)
    m = Matrix(root=root, db=root / "store.db")
    for name in SAMPLES:
        [m.sessions[f"bundled-{name}"]] = _analyse(sample_path(name), m.db, team="bundled")

    # a chest strap that lost its link for 139 s: samples missing, the collector's events logged
    meta = StreamMeta(manufacturer="Polar Electro Oy", model="Polar H10", firmware="5.0.0")
    run = SyntheticRunner().generate(
        2 * GAP_AT_S + GAP_S,
        GAP_RATE_HZ,
        seed=11,
        runner="gwendolyn",
        device=DEVICE_ADDRESS,
        start_t_ns=GAP_T0_NS,
    )
    acc, gyro = (
        _with_hole(SampleBatch(**{**_fields(b), "meta": meta}), GAP_AT_S, GAP_AT_S + GAP_S) for b in (run.acc, run.gyro)
    )
    lost_ns = GAP_T0_NS + int(GAP_AT_S * NS)
    restored_ns = lost_ns + int(GAP_S * NS)
    fields = {"runner": "gwendolyn", "device": DEVICE_ADDRESS}
    _write_capture(
        root / "gap.sgcap",
        [acc, gyro],
        [
            (lost_ns, "link_lost", fields),
            (restored_ns, "link_restored", fields),
            (restored_ns + 1, "gap", {**fields, "gap_s": GAP_S}),
        ],
    )
    [m.sessions["gap"]] = _analyse(root / "gap.sgcap", m.db, team="riverside")
    m.batches["gap"] = [acc, gyro]

    # simultaneous alerts in the gap session: two onsets at one instant, an onset and a clearance at another
    t_a, t_b = GAP_T0_NS + 30 * NS, GAP_T0_NS + 220 * NS
    store = m.store()
    store.write(
        m.sessions["gap"],
        AnalyzerOutput(
            risk_events=(
                _alert("gwendolyn", t_a, RiskEventKind.ONSET, "cadence", "Gwendolyn: cadence low"),
                _alert("gwendolyn", t_a, RiskEventKind.ONSET, "impact", "impact high"),
                _alert("gwendolyn", t_b, RiskEventKind.CLEARED, "cadence", "cadence back"),
                _alert("gwendolyn", t_b, RiskEventKind.ONSET, "sway_ml", "sway up"),
            )
        ),
    )
    store.close()

    # a CSV with relative times, analysed with --start from a relative path in its own folder
    csv_dir = root / "lab"
    csv_dir.mkdir()
    samples = SyntheticRunner().generate(60, 100, seed=12, start_t_ns=0).acc
    lines = ["t_s,ax_g,ay_g,az_g"] + [
        f"{t / NS:.4f},{v[0]:.5f},{v[1]:.5f},{v[2]:.5f}" for t, v in zip(samples.t_ns, samples.values)
    ]
    m.csv_path = csv_dir / "hildegard.csv"
    m.csv_path.write_text("\n".join(lines) + "\n")
    with _cwd(csv_dir):
        [m.sessions["csv-start"]] = _analyse(
            "hildegard.csv", m.db, runner="hildegard", team="riverside", start_t_ns=CSV_START_NS
        )

    # one recording, two sessions: a pause longer than the engine's limit splits it
    part = SyntheticRunner().generate(40, 100, seed=13, runner="ignatius", device="ignatius-strap")
    shifted = []
    for b in (part.acc, part.gyro):
        t = b.t_ns - b.t_ns[0] + SEGMENT_T0_NS
        t2 = t + int((40 + SEGMENT_PAUSE_S) * NS)
        shifted.append(
            SampleBatch(**{**_fields(b), "t_ns": np.concatenate([t, t2]), "values": np.concatenate([b.values] * 2)})
        )
    _write_capture(root / "segments.sgcap", shifted, [])
    first, second = _analyse(root / "segments.sgcap", m.db, team="riverside")
    m.sessions["segment-1"], m.sessions["segment-2"] = sorted([first, second])
    m.batches["segments"] = shifted

    # a pain-log note full of identifiers
    from strideguard.analytics.pain import PainEntry
    from strideguard.stream.sqlite import painlog

    with painlog.PainLog(m.db) as log:
        log.add(
            PainEntry(
                runner="gwendolyn",
                t_ns=GAP_T0_NS + 3_600 * NS,
                pain_before=1,
                pain_after=3,
                session_id=m.sessions["gap"],
                note=NOTE,
            )
        )
    return m


def _fields(b: SampleBatch) -> dict:
    return {
        "runner": b.runner,
        "device": b.device,
        "placement": b.placement if isinstance(b.placement, Placement) else Placement(b.placement),
        "kind": b.kind,
        "rate_hz": b.rate_hz,
        "t_ns": b.t_ns,
        "values": b.values,
        "meta": b.meta,
    }
