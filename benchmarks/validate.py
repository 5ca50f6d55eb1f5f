#!/usr/bin/env python3
"""Validate StrideGuard's streaming analytics against independent references, beside mobgap and
scikit-digital-health (skdh), and print one table per metric.

Datasets (from --data, default the repository's data/; a missing one is reported, not fatal):
  uci        4 treadmill runners, chest IMU at 25 Hz; reference = leg-unit gyro swing peaks (timed at
             the hump centre; also scored at the peak's highest sample, as the independent reference script does)
  alcantara  16 sacral trials at 500 Hz; reference = force-plate contacts, contact time, peak vGRF,
             loading rate
  synthetic  sensors.synthetic runs with known truth: 25/100/500 Hz, rotated mountings, a noisy strap,
             asymmetry, cadences 150-190, a walk break, track bends and sharp turns, 60 s standing,
             stops (standing still, fidgeting, tying a shoe) between runs and walks
  generic    any --csv CSV --ref REF.ref.json pair (t_s, ax_g, ay_g, az_g[, gx_dps, ...] + a step or
             left-stride reference, the held-out format of the independent reference.py)
  speed      a 100 Hz chest recording analysed as fast as possible, against mobgap's step detection

Methods: "ours" (analytics.runner.RunnerAnalyzer, replayed in 1-s chunks), "mobgap" (IcdIonescu +
CadFromIc) and "skdh" (GaitLumbar), each peer with its running preset and, as "<peer>:default", as
shipped. Peers run in .venv-peers (scripts/peers_venv.sh); docs/validation.md lists every parameter
changed for running, the definitions, and the latest tables.

Every step method reports a different per-step event (stance centre, initial contact, mid-swing), so a
constant lag is estimated per method and removed before matching (+-80 ms at 25 Hz, else +-50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable

# Before numpy loads: every method is timed on one core (threaded BLAS/FFT on a busy machine made the
# peers' times vary tenfold). One statement per variable: os.environ changes may precede imports (E402),
# and `python -m benchmarks.validate` runs only the import-free benchmarks/__init__.py before this.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

from benchmarks.validation import bundled_data, evaluate, synthetic
from benchmarks.validation.datasets import Recording, discover, load_generic
from benchmarks.validation.ours import (
    AnalyzerFactory,
    OurResult,
    active_peak_analyzer,
    analytics_available,
    run_ours,
)
from benchmarks.validation.peers import DEFAULT_VENV, PEERS, PeerResult, peers_python, run_peer_batch
from benchmarks.validation.tables import fmt, render

REPO = pathlib.Path(__file__).resolve().parents[1]

SECTIONS = ("uci", "alcantara", "synthetic", "generic", "speed")
SPEED_RATE_HZ = 100.0  # Hz, the target's chest recording rate
OFFLINE_CHUNK_S = 60.0  # s per push when replaying a file as fast as possible
IMPACT_CONDITION_SLOPE = (0.8, 1.2)  # issue 19: impact between conditions, ours per unit of the plate
TARGETS = {
    "cadence_mae_spm": 1.0,
    "recall": 0.99,
    "precision": 0.99,
    "impact_bw": 0.15,
    "impact_r": 0.9,
    "contact_time_ms": 20.0,
    "standing_false_steps": 0,
    "walking_cadence_spm": 2.0,
    "impact_condition_r": 0.9,
    "contact_time_rmse_ms": 12.0,
    "stop_recall_precision": 0.995,
    "x_real_time": 3600.0,
}

EPILOG = """\
examples:
  ./scripts/peers_venv.sh                         # once: mobgap + skdh in .venv-peers
  .venv/bin/python -m benchmarks.validate         # everything, tables on stdout, progress on stderr
  .venv/bin/python -m benchmarks.validate --only uci --only alcantara --json out.json
  .venv/bin/python -m benchmarks.validate --quick --no-peers
  .venv/bin/python -m benchmarks.validate --csv heldout/adept_hip.csv --ref heldout/adept_hip.ref.json \\
      --placement sacrum --only generic
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.validate",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        type=pathlib.Path,
        default=None,
        help="data folder with the published layout (default: the repository's data/, unpacked to .cache/data)",
    )
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    p.add_argument("--csv", action="append", default=[], type=pathlib.Path, help="generic recording (with --ref)")
    p.add_argument("--ref", action="append", default=[], type=pathlib.Path, help="its *.ref.json (same order)")
    p.add_argument(
        "--placement",
        default="sacrum",
        choices=("chest", "sacrum"),
        help="where the generic recordings' sensor sat (default sacrum: hip/lower back)",
    )
    p.add_argument("--no-peers", action="store_true", help="ours only")
    p.add_argument(
        "--peer-presets", default="running,default", help="comma list of peer presets to run (default running,default)"
    )
    p.add_argument("--peers-venv", type=pathlib.Path, default=DEFAULT_VENV, help="the peers' venv")
    p.add_argument("--quick", action="store_true", help="fewer synthetic scenarios, a 5-min speed run")
    p.add_argument("--chunk-s", type=float, default=1.0, help="replay chunk for ours (default 1 s)")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="time every method this many times and keep the fastest (default 3; results are the same)",
    )
    p.add_argument("--json", type=pathlib.Path, default=None, help="write every number to this JSON file")
    a = p.parse_args(argv)
    if len(a.csv) != len(a.ref):
        p.error("--csv and --ref come in pairs")
    return a


def recall_precision(recall: float | None, precision: float | None, spec: str = "{:.3f}") -> str:
    return f"{fmt(recall, spec)}/{fmt(precision, spec)}"


def percent(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def progress(msg: str) -> None:
    print(f"[validate] {msg}", file=sys.stderr, flush=True)


class Harness:
    """Runs the sections; collects the printed tables and the JSON numbers."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.tables: list[str] = []
        self.results: dict = {"run": run_metadata(args), "missing": {}, "sections": {}}
        self.ours_error = analytics_available()
        self.peer_python = None if args.no_peers else peers_python(args.peers_venv)
        self.presets = tuple(x.strip() for x in args.peer_presets.split(",") if x.strip())
        if self.ours_error:
            progress(f"ours unavailable: {self.ours_error}")
        if not args.no_peers and self.peer_python is None:
            self.results["missing"]["peers"] = f"{args.peers_venv} not found: run scripts/peers_venv.sh"
            progress(self.results["missing"]["peers"])

    # ------------------------------------------------------------------ running methods
    def run_ours_all(self, recs: list[Recording], factory: AnalyzerFactory | None = None) -> dict[str, OurResult | str]:
        out: dict[str, OurResult | str] = {}
        for rec in recs:
            if self.ours_error:
                out[rec.name] = self.ours_error
                continue
            try:
                out[rec.name] = run_ours(
                    rec, chunk_s=self.args.chunk_s, repeat=self.args.repeat, analyzer_factory=factory
                )
            except Exception as exc:  # one failing recording is a result, not a crash
                out[rec.name] = f"{type(exc).__name__}: {exc}"
            progress(f"ours on {rec.name}")
        return out

    def run_peers_all(
        self, recs: list[Recording], presets: tuple[str, ...] | None = None
    ) -> dict[tuple[str, str, str], PeerResult]:
        if self.args.no_peers or self.peer_python is None or not recs:
            return {}
        out: dict[tuple[str, str, str], PeerResult] = {}
        for peer in PEERS:
            t0 = time.perf_counter()
            res = run_peer_batch(peer, recs, presets or self.presets, python=self.peer_python, repeat=self.args.repeat)
            for (name, preset), r in res.items():
                out[(peer, preset, name)] = r
            progress(f"{peer} on {len(recs)} recordings ({time.perf_counter() - t0:.1f} s)")
        return out

    # ------------------------------------------------------------------ step tables
    def step_tables(self, label: str, recs: list[Recording], per_rec: dict, notes_extra: list[str]) -> None:
        pooled = evaluate.pooled(per_rec)
        methods = [m for m in ("ours", "mobgap", "skdh", "mobgap:default", "skdh:default") if m in pooled]
        names = [r.name for r in recs if r.name in per_rec]

        def cell(name: str, m: str, key: str, spec: str) -> str:
            r = per_rec[name].get(m)
            if r is None:
                return "-"
            return "fail" if "error" in r else fmt(r.get(key), spec)

        def pooled_cell(m: str, key: str, spec: str) -> str:
            r = pooled[m]
            return "fail" if "error" in r else fmt(r.get(key), spec)

        errors = sorted(
            {
                f"{m}: {per_rec[n][m]['error']}"
                for n in names
                for m in methods
                if m in per_rec[n] and "error" in per_rec[n][m]
            }
        )
        err_notes = [f"fail = {e}" for e in errors[:6]]
        has_windows = any(
            per_rec[n].get("ours", {}).get("cadence_interval_mae_spm") is not None
            or any(per_rec[n].get(m, {}).get("cadence_interval_mae_spm") is not None for m in methods)
            for n in names
        )
        if has_windows:
            own = [
                m
                for m in methods
                if any(per_rec[n].get(m, {}).get("own_window_cadence_mae_spm") is not None for n in names)
            ]
            header = ["recording", *methods, *[f"{m} own" for m in own]]
            rows = []
            for n in names:
                rows.append(
                    [n]
                    + [cell(n, m, "cadence_interval_mae_spm", "{:.2f}") for m in methods]
                    + [cell(n, m, "own_window_cadence_mae_spm", "{:.2f}") for m in own]
                )
            rows.append(
                ["median"]
                + [pooled_cell(m, "cadence_interval_mae_spm", "{:.2f}") for m in methods]
                + [pooled_cell(m, "own_window_cadence_mae_spm", "{:.2f}") for m in own]
            )
            self.tables.append(
                render(
                    f"{label}: cadence per 10-s window, median |error| (spm), 60 / mean step interval",
                    header,
                    rows,
                    [
                        f"target: ours <= {TARGETS['cadence_mae_spm']:g} spm and <= the best peer; "
                        "method columns: from the method's step times in each 10-s reference window",
                        "'ours own' = the analytics' WindowMetrics.cadence_spm on their own window grid; "
                        "'mobgap own' = mobgap's CadFromIc per-second cadence averaged over the window",
                        *err_notes,
                    ],
                )
            )
            rows = [[n] + [cell(n, m, "cadence_count_mae_spm", "{:.1f}") for m in methods] for n in names]
            rows.append(["median"] + [pooled_cell(m, "cadence_count_mae_spm", "{:.1f}") for m in methods])
            self.tables.append(
                render(
                    f"{label}: cadence per 10-s window, count-based (steps in window x 6), median |error| (spm)",
                    ["recording", *methods],
                    rows,
                    ["the independent scorer's count metric: one step off = 6 spm"],
                )
            )
        rows = [[n] + [cell(n, m, "interval_abs_err_ms_median", "{:.1f}") for m in methods] for n in names]
        rows.append(["median"] + [pooled_cell(m, "interval_abs_err_ms_median", "{:.1f}") for m in methods])
        self.tables.append(
            render(
                f"{label}: step intervals, median |error| (ms), consecutive matched steps",
                ["recording", *methods],
                rows,
            )
        )

        def rp(name: str, m: str) -> str:
            r = per_rec[name].get(m)
            if r is None:
                return "-"
            if "error" in r:
                return "fail"
            return f"{recall_precision(r['recall'], r['precision'])} ({fmt(r.get('lag_ms'), '{:+.0f}')})"

        rows = [[n] + [rp(n, m) for m in methods] for n in names]
        rows.append(
            ["worst"]
            + [
                (
                    "fail"
                    if "error" in pooled[m]
                    else recall_precision(pooled[m]["recall_worst"], pooled[m]["precision_worst"])
                )
                for m in methods
            ]
        )
        self.tables.append(
            render(
                f"{label}: steps, recall/precision (lag ms removed)",
                ["recording", *methods],
                rows,
                [
                    f"target: >= {TARGETS['recall']:g} both; lag = median offset of the method's step event to the "
                    "reference, removed before matching",
                    *notes_extra,
                    *err_notes,
                ],
            )
        )
        rows = [[n] + [cell(n, m, "step_count_err_pct", "{:+.1f}") for m in methods] for n in names]
        rows.append(["median"] + [pooled_cell(m, "step_count_err_pct", "{:+.1f}") for m in methods])
        self.tables.append(
            render(
                f"{label}: step count error (%)",
                ["recording", *methods],
                rows,
                ["over the running 10-s windows; without windows (5-s trials) over the reference's span"],
            )
        )
        rows = []
        for n in names:
            row = [n]
            for m in methods:
                r = per_rec[n].get(m)
                row.append(
                    "-"
                    if r is None
                    else "fail"
                    if "error" in r
                    else f"{fmt(r.get('seconds'), '{:.3f}')} ({fmt(r.get('x_real_time'), '{:,.0f}')}x)"
                )
            rows.append(row)
        self.tables.append(
            render(
                f"{label}: wall time of the algorithm (s) and x real time",
                ["recording", *methods],
                rows,
                ["ours: push+finish over 1-s chunks; peers: their detect/predict call only"],
            )
        )

    # ------------------------------------------------------------------ sections
    def uci(self, recs: list[Recording]) -> None:
        ours = self.run_ours_all(recs)
        peers = self.run_peers_all(recs)
        per_rec = evaluate.evaluate_steps_dataset(recs, ours, peers, progress)
        peak_ref = evaluate.alternative_reference_scores(recs, ours, peers)
        self.results["sections"]["uci"] = {
            "per_recording": per_rec,
            "pooled": evaluate.pooled(per_rec),
            "reference": {r.name: r.info for r in recs},
            "peak_reference": {"per_recording": peak_ref, "pooled": evaluate.pooled_matching(peak_ref)},
        }
        self.step_tables(
            "UCI chest 25 Hz vs leg-gyro",
            recs,
            per_rec,
            [
                "reference step = centre of the leg-gyro mid-swing hump, so every lag is large and only "
                "known modulo one step"
            ],
        )
        self.peak_reference_tables(recs, per_rec, peak_ref)
        self.cadence_agreement_table(recs, {"hump centre": per_rec, "highest sample": peak_ref})
        rows = []
        for r in recs:
            o = per_rec.get(r.name, {}).get("ours", {})
            if "error" in o or not o:
                rows.append([r.name, "fail", "", "", ""])
                continue
            rows.append(
                [
                    r.name,
                    fmt(percent(o.get("side_agreement")), "{:.1f}"),
                    o.get("side_mapping", "n/a"),
                    fmt(percent(o.get("side_known")), "{:.0f}"),
                    str(o.get("n_sided", 0)),
                ]
            )
        self.tables.append(
            render(
                "UCI chest 25 Hz: ours left/right per step against the leg gyros",
                ["recording", "agree %", "mapping", "sided %", "n"],
                rows,
                [
                    "the reference event is one leg's mid-swing (the other foot's stance) and lags are "
                    "known modulo a step, so the same/opposite-leg mapping is fixed per recording"
                ],
            )
        )

    def cadence_agreement_table(self, recs: list[Recording], by_reference: dict[str, dict]) -> None:
        """Window cadence per method against each reference: RMSE, bias and Bland-Altman limits (spm)."""
        methods = [
            m for m in ("ours", "mobgap", "skdh") if any(m in by_reference["hump centre"].get(r.name, {}) for r in recs)
        ]
        rows = []
        for ref_name, scores in by_reference.items():
            for r in recs:
                cells = []
                for m in methods:
                    a = (scores.get(r.name, {}).get(m) or {}).get("cadence_agreement") or {}
                    cells.append(
                        f"{fmt(a['rmse'])} {fmt(a['bias'], '{:+.2f}')} [{fmt(a['loa_low'], '{:+.2f}')}, "
                        f"{fmt(a['loa_high'], '{:+.2f}')}]"
                        if a.get("n")
                        else "-"
                    )
                rows.append([ref_name, r.name, *cells])
        self.tables.append(
            render(
                "UCI chest 25 Hz: cadence per 10-s window against each reference, RMSE bias [limits of agreement]"
                " (spm)",
                ["reference", "recording", *methods],
                rows,
                ["bias = mean(method - reference); limits = bias +- 1.96 SD over the running windows (Bland-Altman)"],
            )
        )

    def peak_reference_tables(self, recs: list[Recording], per_rec: dict, peak_ref: dict) -> None:
        """The UCI steps against the swing peak's highest sample (the independent reference script's timing),
        and how steady each reference timing is."""
        if not peak_ref:
            return
        pooled = evaluate.pooled_matching(peak_ref)
        methods = [m for m in ("ours", "mobgap", "skdh", "mobgap:default", "skdh:default") if m in pooled]
        names = [r.name for r in recs if r.name in peak_ref]

        def rp(r: dict | None) -> str:
            if r is None:
                return "-"
            if "error" in r:
                return "fail"
            return f"{recall_precision(r['recall'], r['precision'])} ({fmt(r.get('lag_ms'), '{:+.0f}')})"

        rows = [[n] + [rp(peak_ref[n].get(m)) for m in methods] for n in names]
        rows.append(
            ["worst"]
            + [
                (
                    "fail"
                    if "error" in pooled[m]
                    else recall_precision(pooled[m]["recall_worst"], pooled[m]["precision_worst"])
                )
                for m in methods
            ]
        )
        self.tables.append(
            render(
                "UCI chest 25 Hz vs leg-gyro swing PEAK (highest sample, as the independent reference.py): steps, "
                "recall/precision (lag ms removed)",
                ["recording", *methods],
                rows,
                [
                    "same peaks as the table above, timed at their highest 25-Hz sample instead of the hump centre; "
                    "see 'reference timing' below for why the hump centre is the reference"
                ],
            )
        )
        cadence = {m: {n: (peak_ref[n].get(m) or {}).get("cadence_interval_mae_spm") for n in names} for m in methods}
        rows = [[n] + [fmt(cadence[m][n], "{:.2f}") for m in methods] for n in names]
        medians = []
        for m in methods:
            values = [v for v in cadence[m].values() if v is not None]
            medians.append(fmt(float(np.median(values)) if values else None, "{:.2f}"))
        rows.append(["median", *medians])
        self.tables.append(
            render(
                "UCI chest 25 Hz vs leg-gyro swing PEAK (highest sample): cadence per 10-s window, median |error|"
                " (spm)",
                ["recording", *methods],
                rows,
                [
                    "60 / mean step interval in each 10-s window, the reference timed at the highest sample (the "
                    "independent scorer's timing); issue 19: ours at or below the best peer with both references"
                ],
            )
        )
        rows = []
        for r in recs:
            if r.name not in peak_ref:
                continue
            o = per_rec.get(r.name, {}).get("ours")
            ours_jitter = o.get("stride_jitter_ms") if o and "error" not in o else None
            rows.append(
                [
                    r.name,
                    fmt(r.info.get("stride_jitter_ms_peak"), "{:.1f}"),
                    fmt(r.info.get("stride_jitter_ms_hump_centre"), "{:.1f}"),
                    fmt(ours_jitter, "{:.1f}"),
                    str(r.info.get("implausible_steps", "n/a")),
                ]
            )
        self.tables.append(
            render(
                "UCI reference timing: stride-to-stride jitter (ms) of each leg's events",
                ["recording", "peak sample", "hump centre", "ours (same foot)", "implausible ref steps"],
                rows,
                [
                    "jitter = SD of half the second difference of one leg's (one foot's) event times: timing noise, "
                    "unaffected by slow cadence changes; mean of both legs",
                    "implausible = reference step intervals under half the median (an event on the wrong hump or "
                    "twice for one step); each costs every method a match",
                ],
            )
        )

    def alcantara(self, recs: list[Recording]) -> None:
        ours = self.run_ours_all(recs)
        peers = self.run_peers_all(recs)
        per_rec = evaluate.evaluate_steps_dataset(recs, ours, peers, progress)
        active = self.run_ours_all(recs, factory=active_peak_analyzer)
        plate = evaluate.evaluate_force_plate(recs, ours, progress, ours_active=active)
        self.results["sections"]["alcantara"] = {
            "per_recording": per_rec,
            "pooled": evaluate.pooled(per_rec),
            "force_plate": plate,
        }
        self.step_tables(
            "Alcantara sacrum 500 Hz vs force plate",
            recs,
            per_rec,
            ["5-s trials: no 10-s cadence windows; reference step = plate contact (> 0.05 BW)"],
        )
        ct, imp, lr, ic = (
            plate["contact_time_ms"],
            plate["impact_vs_peak_vgrf_bw"],
            plate["impact_vs_loading_rate"],
            plate["initial_contact_err_ms"],
        )
        rows = [
            [
                "contact time, median |error| (ms)",
                fmt(ct.get("abs_err_median"), "{:.1f}"),
                fmt(ct.get("signed_err_median"), "{:+.1f}"),
                fmt(ct.get("r"), "{:.2f}"),
                str(ct.get("n", 0)),
                f"<= {TARGETS['contact_time_ms']:g} ms",
            ],
            [
                "initial contact time, median (ms)",
                fmt(ic.get("abs_median"), "{:.1f}"),
                fmt(ic.get("signed_median"), "{:+.1f}"),
                "",
                str(ic.get("n", 0)),
                "-",
            ],
            [
                "impact vs peak vGRF (BW)",
                fmt(imp.get("abs_err_median"), "{:.3f}"),
                fmt(imp.get("signed_err_median"), "{:+.3f}"),
                fmt(imp.get("r"), "{:.2f}"),
                str(imp.get("n", 0)),
                f"<= {TARGETS['impact_bw']:g} BW, r >= {TARGETS['impact_r']:g}",
            ],
            ["impact vs loading rate (BW/s)", "", "", fmt(lr.get("r"), "{:.2f}"), str(lr.get("n", 0)), "-"],
        ]
        self.tables.append(
            render(
                "Alcantara sacrum 500 Hz: ours per step against the force plate (matched steps, lag removed)",
                ["metric", "|err| med", "signed med", "r", "n", "target"],
                rows,
                [
                    "impact = our per-step impact_g (sacral vertical acc, g incl. gravity ~ vGRF in BW); loading rate ="
                    " 20-80 % of the first vGRF peak; peers report no per-step force or contact time",
                    "other estimators of peak vGRF (cutoffs, spring-mass): benchmarks/impact_estimators.py",
                ],
            )
        )
        self.agreement_tables(plate["agreement"])
        rows = []
        for rec in recs:
            si = plate["per_trial"].get(rec.name, {}).get("symmetry_pct", {})
            rows.append(
                [
                    rec.name,
                    *[f"{si[m][0]:+.1f} / {si[m][1]:+.1f}" if m in si else "n/a" for m in evaluate.SYMMETRY_METRICS],
                ]
            )
        summary = plate["symmetry"]
        rows.append(
            [
                "median |error| (pp)",
                *[fmt(summary[m]["abs_err_median_pp"], "{:.1f}") for m in evaluate.SYMMETRY_METRICS],
            ]
        )
        rows.append(
            ["worst |error| (pp)", *[fmt(summary[m]["abs_err_max_pp"], "{:.1f}") for m in evaluate.SYMMETRY_METRICS]]
        )
        rows.append(
            [
                "r / slope over trials",
                *[" / ".join(fmt(summary[m][k], "{:.2f}") for k in ("r", "slope")) for m in evaluate.SYMMETRY_METRICS],
            ]
        )
        self.tables.append(
            render(
                "Alcantara sacrum 500 Hz: symmetry index per trial, ours / force plate (%)",
                ["trial", "step time", "impact", "contact time"],
                rows,
                [
                    "(even - odd contacts) / mean x 100 over our matched steps: the data have no ML channel, so both"
                    " sides come from the plate's alternation; what is compared is the index from our per-step values",
                    "step time runs between initial contacts (ours: contact_t_ns); slope = ours per unit of the plate's"
                    " index (1 = no compression)",
                ],
            )
        )

    @staticmethod
    def agreement_targets(agreement: dict, verdict: Callable[[bool | None], str]) -> list[list[str]]:
        """Issue 19's force-plate targets from `evaluate.force_plate_agreement`."""
        rows = []
        imp = agreement.get("impact_g vs peak vGRF (BW)", {}).get("conditions", {})
        if imp.get("n"):
            lo, hi = IMPACT_CONDITION_SLOPE
            ok = imp["r"] is not None and imp["r"] >= TARGETS["impact_condition_r"] and lo <= imp["slope"] <= hi
            rows.append(
                [
                    "impact vs peak vGRF between conditions: r >= 0.9, slope 0.8-1.2",
                    f"r {fmt(imp['r'])}, slope {fmt(imp['slope'])} ({imp['n']} conditions)",
                    verdict(ok),
                ]
            )
        active = next((a for name, a in agreement.items() if name.endswith("Hz peak vs active peak (BW)")), None)
        if active and active["steps"].get("n"):
            rows.append(
                [
                    "active peak RMSE per step (best published sacral: 0.080 BW)",
                    f"{fmt(active['steps']['rmse'], '{:.3f}')} BW",
                    "n/a",
                ]
            )
        ct = agreement.get("contact time (ms)", {}).get("steps", {})
        if ct.get("n"):
            rows.append(
                [
                    "contact time RMSE <= 12 ms",
                    f"{fmt(ct['rmse'], '{:.1f}')} ms",
                    verdict(ct["rmse"] <= TARGETS["contact_time_rmse_ms"]),
                ]
            )
        return rows

    def agreement_tables(self, agreement: dict) -> None:
        """Per step and between condition means: RMSE, bias, limits of agreement, r, slope; then the
        condition means themselves."""
        rows = []
        for name, a in agreement.items():
            for level, label in (("steps", "per step"), ("conditions", f"{a['n_conditions']} condition means")):
                s = a[level]
                if not s.get("n"):
                    rows.append([name, label, "0", *["-"] * 5])
                    continue
                spec = "{:.1f}" if "ms" in name else "{:.3f}"
                rows.append(
                    [
                        name,
                        label,
                        str(s["n"]),
                        fmt(s["rmse"], spec),
                        fmt(s["bias"], "{:+" + spec[2:]),
                        f"{fmt(s['loa_low'], '{:+' + spec[2:])} .. {fmt(s['loa_high'], '{:+' + spec[2:])}",
                        fmt(s["r"], "{:.2f}"),
                        fmt(s["slope"], "{:.2f}"),
                    ]
                )
        self.tables.append(
            render(
                "Alcantara sacrum 500 Hz: agreement with the force plate, per step and between speed x slope"
                " conditions",
                ["metric", "over", "n", "RMSE", "bias", "limits of agreement", "r", "slope"],
                rows,
                [
                    "bias = mean(ours - plate); limits of agreement = bias +- 1.96 SD of the differences"
                    " (Bland-Altman); slope = ours per unit of the plate (1 = a change shows in full)",
                    "active peak = the plate's maximum after a rearfoot strike's impact transient; "
                    f"{evaluate.ACTIVE_PEAK_LOWPASS_HZ:g}-Hz peak = our per-step impact with that low-pass instead of "
                    "the shipped one (validation only)",
                    f"targets (issue 19): between conditions r >= {TARGETS['impact_condition_r']:g} and slope "
                    f"{IMPACT_CONDITION_SLOPE[0]:g}-{IMPACT_CONDITION_SLOPE[1]:g}; contact"
                    f" time RMSE <= {TARGETS['contact_time_rmse_ms']:g} ms; active peak: best published sacral RMSE"
                    " 0.080 BW",
                ],
            )
        )
        names = list(agreement)
        conditions = sorted(
            {c for a in agreement.values() for c in a["per_condition"]},
            key=lambda c: tuple(float(x.split()[0]) for x in c.split(", ")),
        )
        rows = []
        for c in conditions:
            cells = []
            for name in names:
                pc = agreement[name]["per_condition"].get(c)
                spec = "{:.0f}" if "ms" in name else "{:.2f}"
                cells.append(f"{fmt(pc['ours'], spec)} / {fmt(pc['plate'], spec)}" if pc else "-")
            n = agreement[names[0]]["per_condition"].get(c, {}).get("n", 0)
            rows.append([c, str(n), *cells])
        self.tables.append(
            render(
                "Alcantara sacrum 500 Hz: condition means, ours / plate",
                ["speed, slope", "steps", "impact vs peak", "impact vs active", "active est vs active", "contact ms"],
                rows,
                ["one runner (76.8 kg; the plate is in body weights already), 16 trials of 5 s, 11 conditions"],
            )
        )

    def synthetic_section(self) -> None:
        why = synthetic.synthetic_available()
        if why:
            self.results["missing"]["synthetic"] = why
            progress(why)
            return
        recs = []
        for sc in synthetic.scenarios(quick=self.args.quick):
            recs.append(synthetic.generate(sc))
            progress(f"generated {sc.name}")
        ours = self.run_ours_all(recs)
        peers = self.run_peers_all(recs, presets=("running",))
        per_rec = evaluate.evaluate_steps_dataset(recs, ours, peers, progress)
        truth = {}
        for r in recs:
            o = ours.get(r.name)
            if isinstance(o, OurResult):
                truth[r.name] = synthetic.truth_scores(r, o)
        self.results["sections"]["synthetic"] = {
            "per_recording": per_rec,
            "pooled": evaluate.pooled(per_rec),
            "truth": truth,
        }
        methods = [m for m in ("ours", "mobgap", "skdh") if any(m in per_rec[r.name] for r in recs)]
        rows = []
        for r in recs:
            row = [r.name.removeprefix("syn:")]
            for m in methods:
                s = per_rec[r.name].get(m)
                row.append(
                    "-"
                    if s is None
                    else "fail"
                    if "error" in s
                    else f"{fmt(s.get('cadence_interval_mae_spm'), '{:.2f}')} | "
                    f"{fmt(s.get('recall'), '{:.3f}')}/{fmt(s.get('precision'), '{:.3f}')}"
                )
            rows.append(row)
        self.tables.append(
            render(
                "Synthetic: cadence median |error| (spm) | step recall/precision vs true contacts",
                ["scenario", *methods],
                rows,
                [
                    "each peer with its running preset; rotated mountings give peers no axis hint "
                    "(they take the axis with the largest mean as vertical)"
                ],
            )
        )
        step_cols = [
            ("step_impact_g", "impact g", "{:.3f}"),
            ("step_contact_time_ms", "contact ms", "{:.1f}"),
            ("step_braking_g", "braking g", "{:.3f}"),
            ("step_vertical_oscillation_cm", "VO cm", "{:.2f}"),
        ]
        rows = []
        for r in recs:
            t = truth.get(r.name)
            name = r.name.removeprefix("syn:")
            if t is None:
                rows.append([name] + ["fail"] * (len(step_cols) + 3))
                continue
            rows.append(
                [name]
                + [fmt(t[k].get("abs_err_median"), spec) if t[k].get("n") else "n/a" for k, _, spec in step_cols]
                + [
                    fmt(t.get("initial_contact_err_ms_median"), "{:+.1f}"),
                    fmt(percent(t.get("side_accuracy")), "{:.1f}"),
                    fmt(percent(t.get("side_known")), "{:.0f}"),
                ]
            )
        self.tables.append(
            render(
                "Synthetic: ours per step against truth, median |error| (matched steps)",
                ["scenario", *[c for _, c, _ in step_cols], "IC err ms", "side ok %", "sided %"],
                rows,
                [
                    "IC err = our contact_t_ns minus the true initial contact (signed median); "
                    "side ok = share of sided steps on the true foot; sided = share with a side",
                    "n/a = the analytics emit no value for that metric",
                ],
            )
        )
        cols = [
            ("window_cadence_spm", "cad spm", "{:.2f}"),
            ("window_impact_g", "impact g", "{:.3f}"),
            ("window_contact_time_ms", "contact ms", "{:.1f}"),
            ("window_vertical_oscillation_cm", "VO cm", "{:.2f}"),
            ("window_sway_ml_ratio", "sway ML", "{:.3f}"),
            ("window_sway_ap_ratio", "sway AP", "{:.3f}"),
            ("window_lean_deg", "lean deg", "{:.2f}"),
            ("window_step_time_asymmetry_pct", "asym t pp", "{:.2f}"),
            ("window_impact_asymmetry_pct", "asym imp pp", "{:.2f}"),
        ]
        rows = []
        for r in recs:
            t = truth.get(r.name)
            if t is None:
                rows.append([r.name.removeprefix("syn:")] + ["fail"] * (len(cols) + 3))
                continue
            row = [r.name.removeprefix("syn:")]
            row += [fmt(t[k].get("abs_err_median"), spec) if t[k].get("n") else "n/a" for k, _, spec in cols]
            walk = t.get("walking_window_cadence_spm")
            row.append(f"{fmt(walk['abs_err_median'])} / {fmt(walk['abs_err_max'])}" if walk else "-")
            row.append(fmt(percent(t.get("gait_class_agreement")), "{:.0f}"))
            row.append(
                f"{t['standing']['false_steps']} in {t['standing']['standing_scored_s']:.0f} s"
                if "standing" in t
                else "-"
            )
            rows.append(row)
        self.turn_table(recs, truth)
        self.tables.append(
            render(
                "Synthetic: ours per window against truth, median |error| (running windows)",
                ["scenario", *[c for _, c, _ in cols], "walk cad med/max", "gait ok %", "false steps standing"],
                rows,
                [
                    "n/a = the analytics emit no value for that metric; window metrics are "
                    "compared with the truth over exactly the same window span",
                    "walk cad: windows whose true steps (>= 4) are all walking, |our cadence - truth| spm (target "
                    f"<= {TARGETS['walking_cadence_spm']:g}); gait ok: windows with >= 4 true steps of one gait "
                    "reported as that gait (running = `running`, walking = a cadence and not `running`)",
                    "standing: steps found while standing (70 s before the run: the middle 60 s; pauses: after "
                    f"the first second, which holds the landing that ends the bout) (target "
                    f"{TARGETS['standing_false_steps']})",
                ],
            )
        )

    def turn_table(self, recs: list[Recording], truth: dict) -> None:
        rows = []
        for r in recs:
            t = truth.get(r.name, {}).get("turns")
            if t is None:
                continue
            rows.append(
                [
                    r.name.removeprefix("syn:"),
                    str(t["steps"]),
                    fmt(t["recall"], "{:.3f}"),
                    fmt(percent(t["side_accuracy"]), "{:.1f}"),
                    fmt(t["step_impact_g"].get("signed_err_median"), "{:+.3f}"),
                    str(t["windows"]),
                    *[
                        fmt(t[k].get("abs_err_median"), spec) if t[k].get("n") else "n/a"
                        for k, spec in (
                            ("window_cadence_spm", "{:.2f}"),
                            ("window_lean_deg", "{:.2f}"),
                            ("window_sway_ml_ratio", "{:.3f}"),
                        )
                    ],
                ]
            )
        if rows:
            self.tables.append(
                render(
                    "Synthetic: ours in turns (steps with contact in a turn +-0.5 s, windows overlapping one)",
                    [
                        "scenario",
                        "steps",
                        "recall",
                        "side ok %",
                        "impact err g",
                        "windows",
                        "cad spm",
                        "lean deg",
                        "sway ML",
                    ],
                    rows,
                    [
                        "impact err = signed median against the vertical force peak (the sensor feels the banked "
                        "resultant, 1/cos(bank) of it); window columns: median |error| against the truth over the "
                        "window"
                    ],
                )
            )

    def generic(self) -> None:
        recs = []
        for csv_path, ref_path in zip(self.args.csv, self.args.ref):
            try:
                recs.append(load_generic(csv_path, ref_path, placement=self.args.placement))
            except (OSError, ValueError, KeyError) as exc:
                self.results["missing"][f"generic:{csv_path}"] = str(exc)
                progress(f"skipping {csv_path}: {exc}")
        if not recs:
            return
        ours = self.run_ours_all(recs)
        peers = self.run_peers_all(recs)
        per_rec = evaluate.evaluate_steps_dataset(recs, ours, peers, progress)
        self.results["sections"]["generic"] = {"per_recording": per_rec, "pooled": evaluate.pooled(per_rec)}
        self.step_tables("Generic pairs", recs, per_rec, [])
        standing_rows = []
        for r in recs:
            for m, s in per_rec[r.name].items():
                st = s.get("standing") if isinstance(s, dict) else None
                if st:
                    standing_rows.append(
                        [
                            r.name,
                            m,
                            fmt(st["standing_s"], "{:.0f}"),
                            str(st["false_steps"]),
                            fmt(st["false_steps_per_min"], "{:.2f}"),
                        ]
                    )
        if standing_rows:
            self.tables.append(
                render(
                    "Generic pairs: false steps while standing (stride reference gaps >= 3 s)",
                    ["recording", "method", "standing s", "false steps", "per min"],
                    standing_rows,
                )
            )

    def speed(self, uci: list[Recording]) -> None:
        """Ours vs mobgap's step detection alone on 100 Hz chest data (synthetic and UCI upsampled)."""
        from scipy.signal import resample_poly

        recs = []
        if synthetic.synthetic_available() is None:
            from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner

            duration_s = 300.0 if self.args.quick else 1800.0
            run = SyntheticRunner(SyntheticConfig()).generate(duration_s, SPEED_RATE_HZ, seed=42)
            recs.append(
                Recording(
                    name=f"synthetic chest {duration_s / 60:.0f} min",
                    dataset="speed",
                    placement="chest",
                    rate_hz=SPEED_RATE_HZ,
                    t_s=(run.acc.t_ns - run.start_t_ns) / 1e9,
                    acc_g=np.asarray(run.acc.values, dtype=float),
                    vertical_axis=2,
                    ap_axis=0,
                )
            )
        if uci:
            src = uci[0]
            up = int(SPEED_RATE_HZ / src.rate_hz)
            acc = resample_poly(src.acc_g, up, 1, axis=0)
            recs.append(
                Recording(
                    name=f"{src.name} upsampled to 100 Hz",
                    dataset="speed",
                    placement="chest",
                    rate_hz=SPEED_RATE_HZ,
                    t_s=np.arange(len(acc)) / SPEED_RATE_HZ,
                    acc_g=acc,
                    vertical_axis=src.vertical_axis,
                )
            )
        if not recs:
            return
        repeat = self.args.repeat
        peers = {}
        if not (self.args.no_peers or self.peer_python is None):
            for peer in PEERS:
                res = run_peer_batch(peer, recs, ("running",), python=self.peer_python, repeat=repeat)
                peers.update({(peer, name): r for (name, _), r in res.items()})
            progress("peers timed")
        rows, numbers = [], {}
        for rec in recs:
            best = big = None
            if not self.ours_error:
                best = run_ours(rec, chunk_s=self.args.chunk_s, repeat=repeat).seconds
                big = run_ours(rec, chunk_s=OFFLINE_CHUNK_S, repeat=repeat).seconds
            mob, sk = peers.get(("mobgap", rec.name)), peers.get(("skdh", rec.name))
            mob_s = mob.seconds if mob is not None and not mob.error else None
            sk_s = sk.seconds if sk is not None and not sk.error else None
            x_rt = rec.duration_s / best if best else None
            x_big = rec.duration_s / big if big else None
            numbers[rec.name] = {
                "duration_s": rec.duration_s,
                "chunk_s": self.args.chunk_s,
                "ours_s": best,
                "ours_x_real_time": x_rt,
                "offline_chunk_s": OFFLINE_CHUNK_S,
                "ours_offline_s": big,
                "ours_offline_x_real_time": x_big,
                "mobgap_icd_s": mob_s,
                "skdh_gaitlumbar_s": sk_s,
                "ours_vs_mobgap_speed_ratio": (mob_s / best) if (mob_s and best) else None,
                "ours_offline_vs_mobgap_speed_ratio": (mob_s / big) if (mob_s and big) else None,
            }
            rows.append(
                [
                    rec.name,
                    fmt(rec.duration_s, "{:.0f}"),
                    f"{fmt(best, '{:.3f}')} / {fmt(big, '{:.3f}')}",
                    f"{fmt(x_rt, '{:,.0f}')} / {fmt(x_big, '{:,.0f}')}",
                    fmt(mob_s, "{:.3f}"),
                    fmt((rec.duration_s / mob_s) if mob_s else None, "{:,.0f}"),
                    f"{fmt(numbers[rec.name]['ours_vs_mobgap_speed_ratio'])} / "
                    f"{fmt(numbers[rec.name]['ours_offline_vs_mobgap_speed_ratio'])}",
                    fmt(sk_s, "{:.3f}"),
                ]
            )
            progress(f"speed {rec.name}")
        self.results["sections"]["speed"] = numbers
        self.tables.append(
            render(
                f"Speed: 100 Hz chest, one core, best of {repeat} runs",
                ["input", "dur s", "ours s", "ours x RT", "mobgap ICD s", "mobgap x RT", "ours/mobgap", "skdh s"],
                rows,
                [
                    f"ours: {self.args.chunk_s:g}-s chunks (live-like) / {OFFLINE_CHUNK_S:g}-s chunks (offline "
                    "replay); same results, only the per-push overhead differs",
                    f"target: ours >= {TARGETS['x_real_time']:,.0f}x real time with all metrics; ours/mobgap > 1 "
                    "means ours is faster than mobgap's IcdIonescu alone (which computes no other metric)",
                ],
            )
        )

    # ------------------------------------------------------------------ targets
    def targets_table(self) -> None:
        rows = []
        sec = self.results["sections"]

        def verdict(ok: bool | None) -> str:
            return "n/a" if ok is None else ("PASS" if ok else "FAIL")

        for key, label in (("uci", "UCI"), ("generic", "generic")):
            pooled = sec.get(key, {}).get("pooled", {})
            ours = pooled.get("ours")
            if not ours or "error" in ours:
                continue
            peer_best = [
                pooled[m]["cadence_interval_mae_spm"]
                for m in pooled
                if m != "ours" and "error" not in pooled[m] and pooled[m].get("cadence_interval_mae_spm") is not None
            ]
            mae = ours.get("cadence_interval_mae_spm")
            ok = None if mae is None else (mae <= TARGETS["cadence_mae_spm"] and all(mae <= b for b in peer_best))
            rows.append(
                [
                    f"{label} cadence MAE <= 1 spm and <= best peer",
                    f"{fmt(mae)} (best peer {fmt(min(peer_best) if peer_best else None)})",
                    verdict(ok),
                ]
            )
            rows.append(
                [
                    f"{label} steps recall/precision >= 0.99 (worst recording)",
                    recall_precision(ours["recall_worst"], ours["precision_worst"], "{:.4f}"),
                    verdict(
                        None
                        if ours["recall_worst"] is None
                        else ours["recall_worst"] >= 0.99 and ours["precision_worst"] >= 0.99
                    ),
                ]
            )
            peak = sec.get(key, {}).get("peak_reference", {}).get("pooled", {}).get("ours")
            if peak and "error" not in peak:
                rows.append(
                    [
                        "  same vs the swing peak's highest sample (the independent reference's timing)",
                        recall_precision(peak["recall_worst"], peak["precision_worst"], "{:.4f}"),
                        verdict(peak["recall_worst"] >= 0.99 and peak["precision_worst"] >= 0.99),
                    ]
                )
        alc = sec.get("alcantara")
        if alc:
            ours = alc["pooled"].get("ours")
            if ours and "error" not in ours:
                rows.append(
                    [
                        "Alcantara steps recall/precision >= 0.99 (worst trial)",
                        recall_precision(ours["recall_worst"], ours["precision_worst"], "{:.4f}"),
                        verdict(ours["recall_worst"] >= 0.99 and ours["precision_worst"] >= 0.99),
                    ]
                )
            imp = alc["force_plate"]["impact_vs_peak_vgrf_bw"]
            if imp.get("n"):
                rows.append(
                    [
                        "impact within 0.15 BW of peak vGRF (median), r >= 0.9",
                        f"{fmt(imp['abs_err_median'], '{:.3f}')} BW, r {fmt(imp['r'])}",
                        verdict(imp["abs_err_median"] <= TARGETS["impact_bw"] and imp["r"] >= TARGETS["impact_r"]),
                    ]
                )
            ct = alc["force_plate"]["contact_time_ms"]
            rows.append(
                [
                    "contact time median error <= 20 ms",
                    f"{fmt(ct.get('abs_err_median'), '{:.1f}')} ms" if ct.get("n") else "not emitted",
                    verdict(ct["abs_err_median"] <= TARGETS["contact_time_ms"]) if ct.get("n") else "FAIL",
                ]
            )
            rows += self.agreement_targets(alc["force_plate"].get("agreement", {}), verdict)
        syn = sec.get("synthetic")
        if syn:
            st = [t["standing"] for t in syn["truth"].values() if "standing" in t]
            if st:
                n_false, span_s = sum(x["false_steps"] for x in st), sum(x["standing_scored_s"] for x in st)
                rows.append(
                    [
                        "no steps while standing, fidgeting, tying a shoe (synthetic)",
                        f"{n_false} in {span_s:.0f} s",
                        verdict(n_false == TARGETS["standing_false_steps"]),
                    ]
                )
            walk = [t["walking_window_cadence_spm"] for t in syn["truth"].values() if "walking_window_cadence_spm" in t]
            if walk:
                worst_median = max(w["abs_err_median"] for w in walk)
                rows.append(
                    [
                        "walking windows: cadence within 2 spm of the truth (synthetic, median, worst scenario)",
                        f"{fmt(worst_median)} spm (worst window {fmt(max(w['abs_err_max'] for w in walk))}, "
                        f"{sum(w['n'] for w in walk)} windows)",
                        verdict(worst_median <= TARGETS["walking_cadence_spm"]),
                    ]
                )
            stops = [
                syn["per_recording"][name].get("ours")
                for name in syn["per_recording"]
                if any(k in name for k in ("walk break", "stop", "slow walk"))
            ]
            stops = [o for o in stops if o and "error" not in o and o.get("recall") is not None]
            if stops:
                rec_w, prec_w = min(o["recall"] for o in stops), min(o["precision"] for o in stops)
                rows.append(
                    [
                        "steps recall/precision >= 0.995 at stops, restarts, walk breaks (synthetic, worst)",
                        recall_precision(rec_w, prec_w, "{:.4f}"),
                        verdict(
                            rec_w >= TARGETS["stop_recall_precision"] and prec_w >= TARGETS["stop_recall_precision"]
                        ),
                    ]
                )
            ours = syn["pooled"].get("ours")
            if ours and "error" not in ours:
                rows.append(
                    [
                        "synthetic steps recall/precision >= 0.99 (worst scenario)",
                        recall_precision(ours["recall_worst"], ours["precision_worst"], "{:.4f}"),
                        verdict(ours["recall_worst"] >= 0.99 and ours["precision_worst"] >= 0.99),
                    ]
                )
        for name, sp in sec.get("speed", {}).items():
            x = sp.get("ours_offline_x_real_time")
            rows.append(
                [
                    f"speed >= 3,600x real time, offline replay ({name})",
                    f"{fmt(x, '{:,.0f}')}x, {fmt(sp.get('ours_offline_vs_mobgap_speed_ratio'))}x mobgap ICD",
                    verdict(None if x is None else x >= TARGETS["x_real_time"]),
                ]
            )
        if rows:
            self.tables.append(render("Targets (issues 4 and 19)", ["target", "measured", "verdict"], rows))
        self.results["targets"] = [dict(zip(("target", "measured", "verdict"), r)) for r in rows]

    # ------------------------------------------------------------------ main
    def run(self) -> int:
        only = set(self.args.only or SECTIONS)
        if self.args.csv and not self.args.only:
            only.add("generic")
        found, missing = (
            ({}, {})
            if not (only & {"uci", "alcantara", "speed"})
            else discover(self.args.data if self.args.data is not None else bundled_data.unpack())
        )
        self.results["missing"].update(missing)
        for key, why in missing.items():
            progress(f"dataset {key} missing: {why}")
        if "uci" in only and "uci" in found:
            self.uci(found["uci"])
        if "alcantara" in only and "alcantara" in found:
            self.alcantara(found["alcantara"])
        if "synthetic" in only:
            self.synthetic_section()
        if "generic" in only:
            self.generic()
        if "speed" in only:
            self.speed(found.get("uci", []))
        self.targets_table()
        notes = [f"{k}: {v}" for k, v in self.results["missing"].items()]
        if self.ours_error:
            notes.append(f"ours: {self.ours_error}")
        if notes:
            self.tables.insert(0, render("Not run", ["what", "why"], [n.split(": ", 1) for n in notes]))
        print("\n".join(self.tables))
        if self.args.json:
            self.args.json.write_text(json.dumps(self.results, indent=1, default=_json_default))
            progress(f"numbers written to {self.args.json}")
        return 0


def run_metadata(args: argparse.Namespace) -> dict:
    """What produced these numbers: commit, time, machine, options."""
    import platform
    import subprocess

    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
    return {
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_head": commit,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "argv": sys.argv[1:],
        "repeat": args.repeat,
        "chunk_s": args.chunk_s,
    }


def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer | np.floating):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return Harness(args).run()
    except KeyboardInterrupt:
        print("validate: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
