"""Shared builders for the export and report tests: real synthetic runs, analysed by the real pipeline.

Runs are recorded as captures with `sensors.capture.write_batches` and analysed with `stream.app.run_file`,
so the store holds exactly what `strideguard analyze` would have written. One alert with the runner's
name in its message (as a coach's note might have) is added so that scrubbing has something to find.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import pathlib
import shutil
import tempfile
from dataclasses import dataclass, field

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, RiskEventKind, Severity
from strideguard.sensors.capture import SAMPLES_SOURCE, CaptureWriter
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import Placement, SampleBatch
from strideguard.stream.runtime.app import RunOptions, run_file
from strideguard.stream.sqlite.store import SessionStore

DAY_NS = 86_400 * 1_000_000_000
T0_NS = 1_763_700_000_000_000_000  # 2025-11-21
# Long, distinctive names: a test searches raw (compressed) Parquet bytes for them too.
RUNNERS = (("annabelle", "riverside", (168.0, 166.0)), ("bartholomew", "riverside", (176.0,)))


@dataclass(slots=True)
class World:
    db: pathlib.Path
    batches: dict[str, list[SampleBatch]] = field(default_factory=dict)  # session id -> recorded batches
    sessions: list[str] = field(default_factory=list)

    def store(self) -> SessionStore:
        return SessionStore(self.db)


HR_BPM = 150  # heart rate in the recorded Heart Rate Measurement notifications
HR_RR_RAW = 410  # RR interval in 1/1024 s (about 400 ms)


def record(
    path: pathlib.Path,
    *,
    runner: str,
    cadence_spm: float,
    seed: int,
    start_t_ns: int,
    duration_s: float = 90.0,
    rate_hz: float = 100.0,
    heart_rate: bool = False,
) -> list[SampleBatch]:
    """A synthetic run as a capture; with `heart_rate`, a chest strap's 0x2A37 notifications once a second
    (flags 0x16: contact supported and detected, RR present) as raw bytes, decoded on replay."""
    run = SyntheticRunner(SyntheticConfig(cadence_spm=cadence_spm)).generate(
        duration_s,
        rate_hz,
        seed=seed,
        runner=runner,
        device=f"{runner}-strap",
        placement=Placement.CHEST,
        start_t_ns=start_t_ns,
    )
    batches = [run.acc, run.gyro]
    with CaptureWriter(path) as writer:
        ids = {
            b.kind: writer.add_stream(
                runner=runner,
                device=b.device,
                placement=b.placement,
                source=SAMPLES_SOURCE,
                rate_hz=b.rate_hz,
                kind=b.kind,
            )
            for b in batches
        }
        hr = (
            writer.add_stream(
                runner=runner, device=f"{runner}-hr", placement=Placement.CHEST, source="hrm", characteristic="2a37"
            )
            if heart_rate
            else None
        )
        step = int(rate_hz)
        for i in range(0, len(run.acc), step):
            for b in batches:
                writer.write_samples(ids[b.kind], b.slice(i, i + step))
            if hr is not None:
                payload = bytes([0x16, HR_BPM]) + HR_RR_RAW.to_bytes(2, "little")
                writer.write_notification(hr, int(run.acc.t_ns[i]), payload)
    return batches


def analyse(path: pathlib.Path, db: pathlib.Path, *, team: str) -> str:
    result = asyncio.run(run_file(RunOptions(path=path, db_path=db, live_view=False, team=team)))
    [summary] = result.summaries.values()
    return summary.session_id


def build_world(root: pathlib.Path, *, duration_s: float = 90.0) -> World:
    root.mkdir(parents=True, exist_ok=True)
    world = World(db=root / "store.db")
    seed = 0
    for runner, team, cadences in RUNNERS:
        for k, cadence in enumerate(cadences):
            seed += 1
            path = root / f"{runner}-{k}.sgcap"
            batches = record(
                path,
                runner=runner,
                cadence_spm=cadence,
                seed=seed,
                start_t_ns=T0_NS + seed * 3 * DAY_NS,
                duration_s=duration_s,
                heart_rate=runner == "bartholomew",
            )
            session_id = analyse(path, world.db, team=team)
            world.batches[session_id] = batches
            world.sessions.append(session_id)
    first = world.sessions[0]
    store = world.store()
    t0 = int(world.batches[first][0].t_ns[0])
    onset = RiskEvent(
        runner="annabelle",
        t_ns=t0 + 40 * 10**9,
        kind=RiskEventKind.ONSET,
        metric="cadence",
        severity=Severity.WARNING,
        value=158.0,
        baseline=168.0,
        deviation=-6.0,
        deviation_unit="%",
        duration_s=120.0,
        message="Annabelle: cadence 6 % below your baseline for 2 min",
        cue="shorter, quicker steps",
        onset_t_ns=t0 + 20 * 10**9,
    )
    cleared = RiskEvent(
        runner="annabelle",
        t_ns=t0 + 70 * 10**9,
        kind=RiskEventKind.CLEARED,
        metric="cadence",
        severity=Severity.INFO,
        value=167.0,
        baseline=168.0,
        deviation=-0.6,
        deviation_unit="%",
        duration_s=0.0,
        message="cadence back in your range",
        cue="",
        onset_t_ns=t0 + 20 * 10**9,
    )
    store.write(first, AnalyzerOutput(risk_events=(onset, cleared)))
    store.close()
    return world


@functools.cache
def shared_world() -> World:
    """One world per test process, shared by the export and report tests (it is only read; tests that
    change the store work on a copy). Removed when the process exits."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="strideguard-export-world-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_world(root / "world")
