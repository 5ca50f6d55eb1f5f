#!/usr/bin/env python3
"""mobgap (Mobilise-D) on one CSV: IcdIonescu initial contacts + CadFromIc cadence per second.

Run from the repository root with `.venv-peers/bin/python -m benchmarks.peers.run_mobgap`
(scripts/peers_venv.sh). Body frame as mobgap wants it: `acc_is` is the vertical axis in m/s^2 with +g
upright (the sign IcdIonescu's negative-peak search assumes); mobgap resamples to 40 Hz itself, so any
input rate is passed as is.

Presets (every parameter changed from mobgap 1.2's defaults is listed; docs/validation.md says why):
  default  IcdIonescu() and CadFromIc() exactly as shipped (tuned for walking).
  running  IcdIonescu(cwt_width=6.0): the gaus2 wavelet of width 9 at 40 Hz centres on 1.33 Hz
           (0.3 x 40 / 9), matched to walking steps (~1.9 Hz); running steps are ~2.8 Hz, so the width
           is scaled by 1.9 / 2.8 to 6.0 (centre 2.0 Hz). CadFromIc unchanged.
"""

from __future__ import annotations

import sys

from benchmarks.peers import _peer_io as io_
from strideguard.sensors.units import (
    STANDARD_GRAVITY_MPS2,  # a leaf module: importable without StrideGuard's dependencies
)

PRESETS = {"default": "IcdIonescu() as shipped", "running": "IcdIonescu(cwt_width=6.0)"}
CWT_WIDTH = {"default": 9.0, "running": 6.0}


def main(argv: list[str] | None = None) -> int:
    a = io_.parser(__doc__, PRESETS).parse_args(argv)
    import pandas as pd  # type: ignore[import-untyped]  # no type information shipped; pandas-stubs is not a dependency
    from mobgap import __version__
    from mobgap.cadence import CadFromIc
    from mobgap.initial_contacts import IcdIonescu

    def one(job: dict) -> dict:
        t, acc_g, rate_hz = io_.read_csv(job["csv"])
        preset = job.get("preset", "running")
        v = io_.vertical_axis(acc_g, job.get("vertical_axis"))
        sign = 1.0 if acc_g[:, v].mean() >= 0 else -1.0  # +g upright
        others = [i for i in range(3) if i != v]
        ap = job.get("ap_axis") if job.get("ap_axis") is not None else others[1]
        ml = next(i for i in others if i != ap)
        data = pd.DataFrame(
            {
                "acc_is": sign * acc_g[:, v] * STANDARD_GRAVITY_MPS2,
                "acc_ml": acc_g[:, ml] * STANDARD_GRAVITY_MPS2,
                "acc_pa": acc_g[:, ap] * STANDARD_GRAVITY_MPS2,
            }
        )
        detector = IcdIonescu(cwt_width=CWT_WIDTH[preset])
        icd, seconds = io_.timed(
            lambda: detector.clone().detect(data, sampling_rate_hz=rate_hz), int(job.get("repeat", 1))
        )
        ic = icd.ic_list_
        cad, cad_seconds = io_.timed(
            lambda: CadFromIc().calculate(data, initial_contacts=ic, sampling_rate_hz=rate_hz), 1
        )
        idx = ic["ic"].to_numpy()
        idx = idx[(idx >= 0) & (idx < len(t))]
        per_sec = cad.cadence_per_sec_["cadence_spm"].to_numpy()
        return {
            "peer": "mobgap",
            "version": __version__,
            "preset": preset,
            "params": {"IcdIonescu.cwt_width": CWT_WIDTH[preset], "vertical_axis": v, "vertical_sign": sign},
            "step_times_s": t[idx].tolist(),
            "seconds": seconds,
            "cadence_seconds": cad_seconds,
            "cadence_per_sec_spm": [None if x != x else float(x) for x in per_sec],
            "cadence_sec_centres_s": [float(t[0] + 0.5 + k) for k in range(len(per_sec))],
        }

    return io_.run_jobs(a, one)


if __name__ == "__main__":
    sys.exit(main())
