"""Run the peers (mobgap, scikit-digital-health) on a recording, each in .venv-peers.

They pin numpy/scipy versions other than ours, so each runs as a subprocess of the peers' venv on a
CSV `t_s, ax_g, ay_g, az_g` and writes the scorer's candidate JSON. The wall time reported is the one
the peer script measures around the algorithm call (imports and CSV reading excluded), comparable to
ours. A peer that is not installed or fails is reported, never fatal.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.validation.datasets import Recording

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO / ".venv-peers"
# run as modules from the repository root (the peers' venv has no StrideGuard installed)
PEERS = {"mobgap": "benchmarks.peers.run_mobgap", "skdh": "benchmarks.peers.run_skdh"}
TIMEOUT_S = 600  # per peer call
ONE_CORE_ENV = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"), "1")


@dataclass(kw_only=True)
class PeerResult:
    peer: str
    preset: str
    step_times_s: np.ndarray | None = None
    seconds: float | None = None
    error: str | None = None
    extra: dict | None = None


def peers_python(venv: pathlib.Path = DEFAULT_VENV) -> pathlib.Path | None:
    """The peers' interpreter, or None when scripts/peers_venv.sh has not been run."""
    py = venv / "bin" / "python"
    return py if py.exists() else None


def write_csv(rec: Recording, path: pathlib.Path) -> None:
    np.savetxt(
        path, np.column_stack([rec.t_s, rec.acc_g]), delimiter=",", fmt="%.6f", header="t_s,ax_g,ay_g,az_g", comments=""
    )


def run_peer_batch(
    peer: str,
    recs: list[Recording],
    presets: tuple[str, ...],
    *,
    python: pathlib.Path | None = None,
    venv: pathlib.Path = DEFAULT_VENV,
    repeat: int = 1,
) -> dict[tuple[str, str], PeerResult]:
    """One peer on many recordings and presets in one subprocess: {(recording, preset): result}.

    `python` (the peers' interpreter) defaults to the one in `venv`; without either, every result
    says the peers are not installed.
    """
    python = python or peers_python(venv)
    out: dict[tuple[str, str], PeerResult] = {}
    if python is None:
        for rec in recs:
            for preset in presets:
                out[(rec.name, preset)] = PeerResult(
                    peer=peer, preset=preset, error="not installed (run scripts/peers_venv.sh)"
                )
        return out
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        jobs: list[dict[str, Any]] = []  # the JSON the peer script reads
        for k, rec in enumerate(recs):
            csv_path = tmp / f"{k:03d}.csv"
            write_csv(rec, csv_path)
            for preset in presets:
                jobs.append(
                    {
                        "csv": str(csv_path),
                        "out": str(tmp / f"{k:03d}_{preset}.json"),
                        "preset": preset,
                        "vertical_axis": rec.vertical_axis,
                        "ap_axis": rec.ap_axis,
                        "repeat": repeat,
                        "key": [rec.name, preset],
                    }
                )
        (tmp / "jobs.json").write_text(json.dumps(jobs))
        cmd = [str(python), "-m", PEERS[peer], "--batch", str(tmp / "jobs.json")]
        try:
            env = {**os.environ, **ONE_CORE_ENV}
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, env=env, cwd=REPO
            )
            crash = None if proc.returncode in (0, 1) else _last_line(proc.stderr, proc.returncode)
        except subprocess.TimeoutExpired:
            crash = f"timed out after {TIMEOUT_S} s"
        for job in jobs:
            name, preset = job["key"]
            path = pathlib.Path(job["out"])
            if not path.exists():
                out[(name, preset)] = PeerResult(peer=peer, preset=preset, error=crash or "no output")
                continue
            obj = json.loads(path.read_text())
            if "error" in obj:
                out[(name, preset)] = PeerResult(peer=peer, preset=preset, error=obj["error"])
            else:
                out[(name, preset)] = PeerResult(
                    peer=peer,
                    preset=preset,
                    step_times_s=np.asarray(obj["step_times_s"], dtype=float),
                    seconds=float(obj["seconds"]),
                    extra=obj,
                )
    return out


def _last_line(stderr: str, code: int) -> str:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    return (lines[-1] if lines else f"exit {code}")[:200]
