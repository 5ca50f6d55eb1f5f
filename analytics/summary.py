"""Running totals behind `RunnerAnalyzer.summary`: sparse (one update per step and per window), so the
summary costs nothing per sample and is the same for any chunking."""

from __future__ import annotations

from strideguard.analytics.results import StepEvent, WindowMetrics


class SessionTotals:
    """Running totals for the session summary (sparse: per step and per window)."""

    WINDOW_METRICS = (
        "cadence_spm",
        "impact_g",
        "sway_ml_ratio",
        "sway_ap_ratio",
        "lean_deg",
        "step_time_asymmetry_pct",
        "impact_asymmetry_pct",
        "contact_time_ms",
        "contact_time_asymmetry_pct",
        "vertical_oscillation_cm",
        "step_regularity",
        "stride_regularity",
        "braking_g",
        "speed_mps",
        "stride_length_m",
        "overstriding_ratio",
        "heart_rate_bpm",
    )

    def __init__(self) -> None:
        self.interval_sum_s = 0.0
        self.n_intervals = 0
        self.impact_sum_g = 0.0
        self.n_impacts = 0
        self.n_windows = 0
        self.n_running = 0
        self.window_means: dict[str, tuple[float, int]] = dict.fromkeys(self.WINDOW_METRICS, (0.0, 0))

    def add_step(self, step: StepEvent) -> None:
        if step.step_time_s is not None:
            self.interval_sum_s += step.step_time_s
            self.n_intervals += 1
        if step.impact_g is not None:
            self.impact_sum_g += step.impact_g
            self.n_impacts += 1

    def add_window(self, window: WindowMetrics) -> None:
        self.n_windows += 1
        if not window.running:
            return
        self.n_running += 1
        for name in self.WINDOW_METRICS:
            value = getattr(window, name)
            if value is not None:
                total, count = self.window_means[name]
                self.window_means[name] = (total + value, count + 1)
