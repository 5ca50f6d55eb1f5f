#!/usr/bin/env python3
"""Build the bundled sample captures in sensors/samples/ (committed; rerun only to change them).

    python scripts/make_samples.py [DATA_DIR]

- fatigue_run.sgcap: the synthetic fatigue preset (27 min, chest, 50 Hz; from minute 20 cadence -6 %,
  sway +30 %, lean +6 deg), runner "alex".
- uci_treadmill_p1.sgcap: 5 min of real treadmill running, torso unit of person 1 from the UCI Daily and
  Sports Activities data set (CC BY 4.0), from the repository's data/ by default.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sys

from benchmarks.validation import bundled_data
from strideguard.sensors.capture import write_batches
from strideguard.sensors.imports import read_any
from strideguard.sensors.synthetic.presets import fatigue_run

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "sensors" / "samples"
UCI_ATTRIBUTION = (
    "UCI Machine Learning Repository, Daily and Sports Activities (CC BY 4.0), activity a12 "
    "treadmill running 8 km/h, person 1, torso unit. K. Altun, B. Barshan, O. Tuncel, Pattern "
    "Recognition 43(10), 2010; B. Barshan, M. C. Yuksek, The Computer Journal 57(11), 2014."
)
START_T_NS = int(dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC).timestamp() * 1e9)


def main() -> None:
    data = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else bundled_data.unpack()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("fatigue_run.sgcap", "uci_treadmill_p1.sgcap"):
        (OUT / name).unlink(missing_ok=True)

    run = fatigue_run(rate_hz=50.0, runner="alex")
    write_batches(
        OUT / "fatigue_run.sgcap",
        [run.acc],
        meta={
            "description": "synthetic chest-strap run with a fatigue episode from minute 20 "
            "(cadence -6 %, sway +30 %, lean +6 deg)",
            "generator": "sensors.synthetic.presets.fatigue_run(rate_hz=50, seed=20)",
        },
    )

    uci = data / "uci_dsa_treadmill_running" / "p1_a12_running_8kmh_25Hz.csv"
    batches = list(read_any(uci, runner="uci-p1", start_t_ns=START_T_NS, batch_s=1e9))
    write_batches(
        OUT / "uci_treadmill_p1.sgcap",
        batches,
        meta={
            "description": "real chest IMU, treadmill running at 8 km/h, 5 min",
            "attribution": UCI_ATTRIBUTION,
            "license": "CC BY 4.0",
        },
    )
    for p in sorted(OUT.glob("*.sgcap")):
        print(f"{p.relative_to(REPO)}: {p.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
