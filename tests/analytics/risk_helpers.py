"""Crafted window sequences for the risk tests: a steady runner with seeded noise and scripted changes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from strideguard.analytics.results import WindowMetrics

NS = 1_000_000_000
WINDOW_S = 10.0
HOP_S = 5.0
T0_NS = 1_700_000_000 * NS  # session start on the epoch clock

STEADY = {
    "cadence_spm": 170.0,
    "impact_g": 2.5,
    "sway_ml_ratio": 0.40,
    "sway_ap_ratio": 0.50,
    "lean_deg": 8.0,
    "step_time_asymmetry_pct": 2.0,
    "impact_asymmetry_pct": 3.0,
}
# Window-to-window noise of a steady runner (1 x): relative sd for ratios, absolute for deg / points.
NOISE = {
    "cadence_spm": ("rel", 0.008),
    "impact_g": ("rel", 0.03),
    "sway_ml_ratio": ("rel", 0.04),
    "sway_ap_ratio": ("rel", 0.04),
    "lean_deg": ("abs", 0.6),
    "step_time_asymmetry_pct": ("abs", 1.0),
    "impact_asymmetry_pct": ("abs", 1.2),
}

# change(field, t_s) -> multiplier (relative fields) or offset (lean, asymmetry) at time t_s
Change = Callable[[str, float], float]


def no_change(field: str, t_s: float) -> float:
    return 1.0 if NOISE[field][0] == "rel" else 0.0


def step_change(at_s: float, **sizes: float) -> Change:
    """Relative fields: multiply by (1 + size); absolute fields: add size; from `at_s` on."""

    def change(field: str, t_s: float) -> float:
        rel = NOISE[field][0] == "rel"
        if field in sizes and t_s >= at_s:
            return 1.0 + sizes[field] if rel else sizes[field]
        return 1.0 if rel else 0.0

    return change


def episode(start_s: float, stop_s: float, **sizes: float) -> Change:
    inner = step_change(start_s, **sizes)

    def change(field: str, t_s: float) -> float:
        if t_s >= stop_s:
            return no_change(field, t_s)
        return inner(field, t_s)

    return change


def windows(
    duration_s: float,
    change: Change = no_change,
    *,
    noise: float = 0.0,
    seed: int = 0,
    speed_mps: Callable[[float], float | None] = lambda t: None,
    running: Callable[[float], bool] = lambda t: True,
    runner: str = "anna",
) -> list[WindowMetrics]:
    """10-s windows on a 5-s hop; each metric is the mean over the window of the scripted value
    (evaluated every 0.1 s, so a step change mid-window mixes like a mean over steps would)."""
    rng = np.random.default_rng(seed)
    out = []
    n = int((duration_s - WINDOW_S) // HOP_S) + 1
    for k in range(n):
        start_s = k * HOP_S
        ts = start_s + np.arange(0.0, WINDOW_S, 0.1)
        values = {}
        for field, base in STEADY.items():
            kind, sd = NOISE[field]
            effect = np.mean([change(field, t) for t in ts])
            v = base * effect if kind == "rel" else base + effect
            jitter = rng.normal(0.0, sd * noise)
            values[field] = float(v * (1 + jitter) if kind == "rel" else v + jitter)
        centre = start_s + WINDOW_S / 2
        out.append(
            WindowMetrics(
                runner=runner,
                t_start_ns=T0_NS + int(start_s * NS),
                t_end_ns=T0_NS + int((start_s + WINDOW_S) * NS),
                n_steps=28,
                running=running(centre),
                speed_mps=speed_mps(centre),
                **values,
            )
        )
    return out


def t_s(t_ns: int) -> float:
    return (t_ns - T0_NS) / NS
