#!/usr/bin/env python3
"""scikit-digital-health (skdh) on one CSV: GaitLumbar initial contacts (and its gait endpoints).

Run from the repository root with `.venv-peers/bin/python -m benchmarks.peers.run_skdh`
(scripts/peers_venv.sh). GaitLumbar takes acceleration in g and unix seconds; the CSV's t_s is shifted
to an arbitrary epoch (2023-11-14) and back. The whole recording is declared gait (gait_pred=True):
skdh's own gait classifier is trained on walking and is not what is compared here.

Presets (every parameter changed from skdh 0.17's defaults is listed; docs/validation.md says why):
  default  GaitLumbar(day_window=None, min_bout_time=4.0): AP-CWT events as shipped; only the day
           windowing is off (a 5-min recording has no days) and bouts may be 4 s (the force-plate trials
           are 5 s long, shorter than the 8-s default).
  running  as default plus gait_event_method="v cwt": McCamley's vertical CWT, whose wavelet scales
           follow the bout's own step frequency, instead of the AP-CWT events whose shape assumptions
           come from walking. The stride QC (loading_factor, max_stride_time) stays as shipped: widening
           its loading window for running's missing double support was tried and found more steps
           rejected, not fewer (docs/validation.md).
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.peers import _peer_io as io_

EPOCH_S = 1_700_000_000.0  # arbitrary unix time for t_s = 0
PRESETS = {
    "default": "GaitLumbar(day_window=None, min_bout_time=4.0)",
    "running": "... + gait_event_method='v cwt'",
}


def params(preset: str) -> dict[str, float | str | None]:
    p: dict[str, float | str | None] = {"day_window": None, "min_bout_time": 4.0}
    if preset == "running":
        p.update(gait_event_method="v cwt")
    return p


def main(argv: list[str] | None = None) -> int:
    a = io_.parser(__doc__, PRESETS).parse_args(argv)
    from skdh import __version__
    from skdh.gait import GaitLumbar

    def one(job: dict) -> dict:
        t, acc_g, rate_hz = io_.read_csv(job["csv"])
        preset = job.get("preset", "running")
        v = io_.vertical_axis(acc_g, job.get("vertical_axis"))
        kw = params(preset)
        unix_s = EPOCH_S + t

        def run() -> dict:
            return GaitLumbar(**kw).predict(
                time=unix_s, accel=acc_g, fs=rate_hz, gait_pred=True, v_axis=v, ap_axis=job.get("ap_axis"), height=1.75
            )

        res, seconds = io_.timed(run, int(job.get("repeat", 1)), quiet_stderr=True)
        ic_s = np.sort(np.asarray(res.get("IC Timestamp", []), dtype=float) - EPOCH_S)
        return {
            "peer": "skdh",
            "version": __version__,
            "preset": preset,
            "params": {**kw, "v_axis": v, "ap_axis": job.get("ap_axis")},
            "step_times_s": ic_s.tolist(),
            "seconds": seconds,
            "n_bouts": len(set(res.get("Bout N", []))),
        }

    return io_.run_jobs(a, one)


if __name__ == "__main__":
    sys.exit(main())
