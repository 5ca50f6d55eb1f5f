"""Decode cost per BLE notification: Polar PMD frames (raw and delta-compressed) and the SIG
characteristics, as the parser alone and through the full stream decoder (timestamps, clock mapping,
units, SampleBatch). Prints a table; run with `.venv/bin/python -m benchmarks.bench_decode`.

Why it matters: a collector with several runners at 200 Hz decodes ~6 PMD frames/s per sensor; the
budget is generous, but replaying an hour of a team as fast as possible is decode-bound.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from strideguard.sensors import decoding
from strideguard.sensors.protocols import hrm, pmd_data, rsc
from strideguard.sensors.protocols.pmd_control import MeasurementType
from strideguard.sensors.types import Placement, StreamMeta

REPEATS = 5
HOST0_NS = 1_767_225_600_000_000_000
DEVICE0_NS = 800_000_000_000_000_000


def _walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.integers(-40, 41, size=(n, 3)), axis=0) + np.array([0, 0, 1000])


def _frames(kind: str, n_frames: int) -> tuple[list[bytes], int]:
    per_frame = {"raw type 1 (H10)": 36, "delta type 0 (Verity)": 57, "delta type 1": 57}[kind]
    period_ns = 5_000_000
    counts = _walk(n_frames * per_frame, seed=1)
    frames = []
    for f in range(n_frames):
        chunk = counts[f * per_frame : (f + 1) * per_frame]
        ts = DEVICE0_NS + ((f + 1) * per_frame - 1) * period_ns
        if kind.startswith("raw"):
            frames.append(pmd_data.build_raw_frame(MeasurementType.ACC, ts, chunk))
        else:
            frame_type = 0 if "type 0" in kind else 1
            frames.append(pmd_data.build_delta_frame(MeasurementType.ACC, ts, chunk, frame_type=frame_type))
    return frames, per_frame


def _time_per_call(run: Callable[[], int]) -> float:
    """Median seconds per item over REPEATS runs; `run` returns how many items it processed."""
    per_item = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        n = run()
        per_item.append((time.perf_counter() - start) / n)
    return statistics.median(per_item)


def main() -> int:
    rows: list[tuple[str, str, str, int, float, float]] = []  # payload, stage, bytes, samples, us, samples/s
    n_frames = 2000
    for kind in ("raw type 1 (H10)", "delta type 0 (Verity)", "delta type 1"):
        frames, per_frame = _frames(kind, n_frames)
        mean_bytes = sum(map(len, frames)) / len(frames)

        # each iteration's frames bound as defaults (the closures run within the iteration anyway)
        def parse_only(frames: list[bytes] = frames) -> int:
            for payload in frames:
                pmd_data.parse_frame(payload)
            return len(frames)

        def full_decoder(kind: str = kind, frames: list[bytes] = frames, per_frame: int = per_frame) -> int:
            decoder = decoding.make_decoder(
                "pmd_data",
                runner="r",
                device="d",
                placement=Placement.CHEST,
                rate_hz=200,
                meta=StreamMeta(acc_factor=0.000244) if "type 0" in kind else StreamMeta(),
            )
            for i, payload in enumerate(frames):
                decoder.feed(HOST0_NS + i * per_frame * 5_000_000 + 10_000_000, payload)
            return len(frames)

        for stage, stage_fn in (("parse_frame", parse_only), ("stream decoder", full_decoder)):
            seconds = _time_per_call(stage_fn)
            rows.append((f"PMD {kind}", stage, f"{mean_bytes:.0f}", per_frame, seconds * 1e6, per_frame / seconds))

    hr_payload = hrm.build_hrm(
        hrm.HeartRateMeasurement(heart_rate_bpm=150, sensor_contact=True, energy_kj=None, rr_raw_1_1024s=(410, 412))
    )
    rsc_payload = rsc.build_rsc(
        rsc.RscMeasurement(
            speed_mps=3.3, cadence_per_min=172, stride_length_m=1.15, total_distance_m=1234.5, running=True
        )
    )
    for name, source, payload in (("HRM 0x2A37", "hrm", hr_payload), ("RSC 0x2A53", "rsc", rsc_payload)):
        decoder = decoding.make_decoder(source, runner="r", device="d", placement="chest", rate_hz=None)

        def run(decoder: decoding.StreamDecoder = decoder, payload: bytes = payload) -> int:
            for i in range(20000):
                decoder.feed(i, payload)
            return 20000

        seconds = _time_per_call(run)
        rows.append((name, "stream decoder", str(len(payload)), 1, seconds * 1e6, 1 / seconds))

    print(
        f"decode cost per notification (median of {REPEATS} runs; Python {sys.version.split()[0]}, "
        f"numpy {np.__version__})"
    )
    header = ("payload", "stage", "bytes", "samples", "us/notification", "samples/s")
    print(f"{header[0]:<28} {header[1]:<15} {header[2]:>6} {header[3]:>8} {header[4]:>16} {header[5]:>12}")
    for name, stage, size, samples, us, rate in rows:
        print(f"{name:<28} {stage:<15} {size:>6} {samples:>8} {us:>16.1f} {rate:>12,.0f}")
    h10_us = next(r[4] for r in rows if r[0].startswith("PMD raw") and r[1] == "stream decoder")
    print(f"\nan H10 at 200 Hz sends 5.6 frames/s: {5.6 * h10_us / 1e4:.3f} % of one core per sensor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
