"""The report's figures (matplotlib, Agg backend: no display needed). One function per PNG.

Every function takes `ReportData` and returns a Figure whose axes carry titles, so a test can check the
panels it expects; `save` writes it at a fixed size and closes it.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

# imported after matplotlib.use(): the backend must be chosen first
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import Side
from strideguard.analytics.risk.config import RiskConfig
from strideguard.analytics.training_load import DAY_NS, SPIKE_LIMIT_PCT, SPIKE_WINDOW_DAYS, amount
from strideguard.stream.report.data import NS_PER_S, ReportData, finite, minutes, series

DPI = 100  # dots per inch: figure sizes below are in inches, so 10 in = 1000 px
SIDE_COLOURS = {"left": "#1f77b4", "right": "#d62728", "unknown": "#999999"}
ALERT_COLOUR = "#f4a261"
CURRENT_COLOUR = "#e76f51"
PAST_COLOUR = "#8ab6d6"
LOAD_WEEKS = 8  # weeks of runs shown in the training-load chart
GAP_COLOUR = "#9e9e9e"
# The smallest y range a metric panel shows, in the metric's unit: a steady run's impact varying by
# 0.05 g must not fill the panel as if it were a swing.
MIN_SPAN = {"cadence_spm": 20.0, "impact_g": 0.6, "sway_ml_ratio": 0.15, "lean_deg": 8.0}

plt.rcParams.update(
    {"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10}
)


def _shade_alerts(ax: Axes, data: ReportData, metrics: tuple[str, ...] | None = None, *, fatigue: bool = True) -> bool:
    """Shade where an alert for one of `metrics` (or any, or the fatigue combination) was active; overlapping
    spans are merged so they do not darken each other, and drawn beneath the data."""
    chosen = sorted(
        (s.start_min, s.end_min)
        for s in data.spans
        if s.severity != "info"  # notes (the warm-up check, the cadence floor alone) are not alerts
        and (metrics is None or (fatigue and s.metric == "fatigue") or any(s.metric.startswith(m) for m in metrics))
    )
    merged: list[list[float]] = []
    for start, end in chosen:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        ax.axvspan(start, end, color=ALERT_COLOUR, alpha=0.25, lw=0, zorder=0)
    return bool(merged)


def _shade_gaps(ax: Axes, data: ReportData) -> bool:
    """Hatched grey where the sensor sent nothing: a gap is missing data, not a flat line."""
    for start, end in data.gaps:
        ax.axvspan(start, end, facecolor="none", edgecolor=GAP_COLOUR, hatch="///", lw=0, zorder=0)
    return bool(data.gaps)


def settings_of(data: ReportData) -> RiskConfig:
    """The risk settings the session ran with (its summary keeps them), else the defaults (older sessions)."""
    stored = (data.row.summary.get("risk") or {}).get("settings")
    if isinstance(stored, dict):
        try:
            return RiskConfig.from_dict(stored)
        except ConfigError:
            pass  # a damaged or older table: the defaults, as for sessions stored before it was kept
    return RiskConfig.default()


def threshold_of(field: str, baseline: float | None, config: RiskConfig | None = None) -> float | None:
    """Where the risk engine's rule for `field` starts to count a window as deviating, from the baseline
    and the session's settings (default: the defaults)."""
    if not finite(baseline):
        return None
    assert baseline is not None
    rules = (config or RiskConfig.default()).metrics
    rule = next((r for r in rules if r.field == field and r.enabled), None)
    if rule is None or rule.kind not in ("relative", "absolute"):
        return None
    sign = 1.0 if rule.direction == "up" else -1.0
    step = baseline * rule.threshold / 100 if rule.kind == "relative" else rule.threshold
    return baseline + sign * step


def _min_span(ax: Axes, span: float) -> None:
    """Widen the y axis about its centre to at least `span`."""
    lo, hi = ax.get_ylim()
    if hi - lo < span:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - span / 2, mid + span / 2)


def _legend(ax: Axes, **kw: Any) -> None:
    """Above the panel, right-aligned: never over the data (nothing when nothing is labelled)."""
    if not ax.get_legend_handles_labels()[0]:
        return
    ax.legend(
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
        borderaxespad=0.2,
        ncol=kw.pop("ncol", 4),
        **kw,
    )


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777777")


def metrics_over_time(data: ReportData) -> Figure:
    """Cadence, impact, sway and lean per window, with alert spans and the baseline."""
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True, constrained_layout=True)
    t0 = data.row.started_t_ns
    panels = (
        (("cadence_spm",), "Cadence", "steps/min", ("cadence",)),
        (("impact_g",), "Impact (peak vertical acceleration)", "g", ("impact",)),
        (
            ("sway_ml_ratio", "sway_ap_ratio"),
            "Trunk sway (RMS ratio)",
            "ratio",
            ("sway",),
        ),
        (("lean_deg",), "Forward lean", "deg", ("lean",)),
    )
    labels = {"sway_ml_ratio": "ML", "sway_ap_ratio": "AP"}
    config = settings_of(data)
    for ax, (names, title, unit, alert_metrics) in zip(axes, panels):
        shaded = _shade_alerts(ax, data, alert_metrics, fatigue=False)  # only this panel's metric
        gaps = _shade_gaps(ax, data)
        for i, name in enumerate(names):
            t, v = series(data.windows, name)
            colour = f"C{i}"
            ax.plot(minutes(t, t0), v, "-", color=colour, lw=1.6, label=labels.get(name, "this run"))
            base = data.baseline.get(name)
            if finite(base):
                ax.axhline(
                    base, color=colour, ls="--", lw=1, alpha=0.8, label=f"baseline {labels.get(name, '')}".strip()
                )
            limit = threshold_of(name, base, config)
            if limit is not None:
                ax.axhline(limit, color=colour, ls=":", lw=1.2, label=f"threshold {labels.get(name, '')}".strip())
        if not any(np.isfinite(series(data.windows, n)[1]).any() for n in names):
            _no_data(ax, "no analysed windows with this metric")
        ax.set_title(title, loc="left", fontweight="bold")
        ax.set_ylabel(unit)
        if shaded:
            ax.plot([], [], color=ALERT_COLOUR, alpha=0.5, lw=8, label="alert active")
        if gaps:
            ax.fill_between([], [], facecolor="none", edgecolor=GAP_COLOUR, hatch="///", label="no data")
        _min_span(ax, MIN_SPAN.get(names[0], 0.0))
        _legend(ax, ncol=6)
    axes[-1].set_xlabel("minutes from start")
    fig.suptitle(f"Gait metrics over time (baseline: {data.baseline_note})", fontsize=11)
    return fig


def steps_scatter(data: ReportData) -> Figure:
    """Every step: impact and step time against time, coloured by the side it landed on."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True, constrained_layout=True)
    t0 = data.row.started_t_ns
    for side in (Side.LEFT, Side.RIGHT, Side.UNKNOWN):
        mine = [s for s in data.steps if s.side is side]
        if not mine:
            continue
        t = minutes(np.array([s.t_ns for s in mine]), t0)
        impact = np.array([np.nan if s.impact_g is None else s.impact_g for s in mine])
        step_time = np.array([np.nan if s.step_time_s is None else s.step_time_s * 1000 for s in mine])
        kw = {
            "s": 4,
            "alpha": 0.5,
            "color": SIDE_COLOURS[side.value],
            "label": f"{side.value} ({len(mine)})",
            "rasterized": True,
        }
        axes[0].scatter(t, impact, **kw)
        axes[1].scatter(t, step_time, **kw)
    # each panel shades only the alerts about what it shows (impact; step timing: cadence and step asymmetry)
    for ax, metrics in zip(axes, (("impact",), ("cadence", "step_asymmetry")), strict=True):
        _shade_alerts(ax, data, metrics, fatigue=False)
        _legend(ax, markerscale=3)
        if not data.steps:
            _no_data(ax, "no steps detected")
    axes[0].set_title("Impact per step", loc="left", fontweight="bold")
    axes[0].set_ylabel("g")
    axes[1].set_title("Step time per step", loc="left", fontweight="bold")
    axes[1].set_ylabel("ms")
    axes[1].set_xlabel("minutes from start")
    _robust_ylim(axes[0], [s.impact_g for s in data.steps])
    _robust_ylim(axes[1], [s.step_time_s * 1000 for s in data.steps if s.step_time_s is not None])
    return fig


def _robust_ylim(ax: Axes, values: Sequence[float | None]) -> None:
    """Clip the axis to the 0.5-99.5 % range so one glitch does not flatten the cloud."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size > 10:
        lo, hi = np.percentile(v, [0.5, 99.5])
        pad = (hi - lo) * 0.15 or 0.1
        ax.set_ylim(lo - pad, hi + pad)


def symmetry(data: ReportData) -> Figure:
    """Left against right: step time and impact distributions, and the asymmetry indices over time."""
    fig = plt.figure(figsize=(10, 7), constrained_layout=True)
    grid = fig.add_gridspec(2, 2)
    ax_time, ax_impact, ax_si = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])
    left, right = data.sides["left"], data.sides["right"]
    for ax, attr, title, unit, scale in (
        (ax_time, "step_time_s", "Step time by side", "ms", 1000.0),
        (ax_impact, "impact_g", "Impact by side", "g", 1.0),
    ):
        values = [getattr(left, attr) * scale, getattr(right, attr) * scale]
        if all(v.size for v in values):
            parts = ax.boxplot(values, patch_artist=True, showfliers=False, widths=0.5)
            for patch, colour in zip(parts["boxes"], (SIDE_COLOURS["left"], SIDE_COLOURS["right"])):
                patch.set_facecolor(colour)
                patch.set_alpha(0.5)
            means = [float(np.mean(v)) for v in values]
            si = (means[0] - means[1]) / ((means[0] + means[1]) / 2) * 100 if sum(means) else 0.0
            ax.set_xlabel(f"symmetry index (L - R) / mean: {si:+.1f} %")
        else:
            ax.text(0.5, 0.5, "no steps with a side", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([1, 2], [f"left ({left.n_steps})", f"right ({right.n_steps})"])
        ax.set_title(title, loc="left", fontweight="bold")
        ax.set_ylabel(unit)
    t0 = data.row.started_t_ns
    _shade_alerts(
        ax_si, data, ("step_time_asymmetry", "impact_asymmetry", "contact_time_asymmetry", "asymmetry"), fatigue=False
    )
    for i, (name, label) in enumerate(
        (
            ("step_time_asymmetry_pct", "step time"),
            ("impact_asymmetry_pct", "impact"),
            ("contact_time_asymmetry_pct", "contact time"),
        )
    ):
        t, v = series(data.windows, name)
        if np.isfinite(v).any():
            ax_si.plot(minutes(t, t0), v, lw=1.4, color=f"C{i}", label=label)
    ax_si.axhspan(-5, 5, color="#2a9d8f", alpha=0.1, lw=0, label="within 5 points")
    ax_si.axhline(0, color="black", lw=0.8)
    ax_si.set_title("Asymmetry per window (+: left larger)", loc="left", fontweight="bold")
    ax_si.set_ylabel("%")
    ax_si.set_xlabel("minutes from start")
    _legend(ax_si)
    return fig


def history(data: ReportData) -> Figure:
    """This session beside the runner's previous ones (session means) and the baseline."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    panels = (
        ("cadence_spm", "Cadence", "steps/min"),
        ("impact_g", "Impact", "g"),
        ("sway_ml_ratio", "Sway mediolateral", "ratio"),
        ("lean_deg", "Forward lean", "deg"),
    )
    labels = [dt.datetime.fromtimestamp(p.started_t_ns / 1e9, tz=dt.UTC).strftime("%d %b") for p in data.history]
    x = np.arange(len(data.history))
    for ax, (name, title, unit) in zip(axes.flat, panels):
        values = np.array([np.nan if p.means.get(name) is None else p.means[name] for p in data.history])
        past = np.array([not p.is_current for p in data.history])
        ax.plot(x, values, "-", color=PAST_COLOUR, lw=1, zorder=1)
        ax.plot(x[past], values[past], "o", color=PAST_COLOUR, ms=8, zorder=2, label="previous sessions")
        ax.plot(x[~past], values[~past], "o", color=CURRENT_COLOUR, ms=11, zorder=3, label="this session")
        for xi, v in zip(x, values):
            if np.isfinite(v):
                ax.annotate(f"{v:.4g}", (xi, v), textcoords="offset points", xytext=(0, 9), ha="center", fontsize=8)
        finite_values = values[np.isfinite(values)]
        base = data.baseline.get(name)
        if finite_values.size:
            span = [*finite_values, base] if finite(base) else list(finite_values)
            lo, hi = min(span), max(span)
            pad = (hi - lo) * 0.5 or abs(hi) * 0.05 or 0.1
            ax.set_ylim(lo - pad, hi + pad)
        if finite(base):
            ax.axhline(base, color="black", ls="--", lw=1, label="baseline")
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_xticks(x, labels, rotation=45 if len(x) > 6 else 0, fontsize=8)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.set_ylabel(unit)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle(
        f"Session means: this session and the previous {len(data.history) - 1}; baseline: {data.baseline_note}",
        fontsize=11,
    )
    return fig


def training_load(data: ReportData) -> Figure:
    """Run lengths over the last weeks against the 30-day-longest + 10 % line, and weekly totals."""
    fig, (ax_runs, ax_weeks) = plt.subplots(2, 1, figsize=(10, 7), constrained_layout=True)
    report = data.load
    unit = report.unit if report else "min"
    end_ns = data.row.started_t_ns + DAY_NS
    start_ns = end_ns - LOAD_WEEKS * 7 * DAY_NS
    runs = [r for r in data.load_runs if r.start_t_ns >= start_ns]
    days = [dt.datetime.fromtimestamp(r.start_t_ns / 1e9, tz=dt.UTC) for r in runs]
    amounts = [amount(r, unit) for r in runs]
    colours = [CURRENT_COLOUR if r.session_id == data.row.session_id else PAST_COLOUR for r in runs]
    ax_runs.bar(days, amounts, width=0.8, color=colours)
    limit = _spike_limit_line(data, unit)
    if limit is not None:
        ax_runs.axhline(
            limit,
            color="black",
            ls="--",
            lw=1,
            label=f"longest of the previous {SPIKE_WINDOW_DAYS} days + {SPIKE_LIMIT_PCT:g} %",
        )
        _legend(ax_runs)
    ax_runs.set_xlim(
        dt.datetime.fromtimestamp(start_ns / 1e9, tz=dt.UTC), dt.datetime.fromtimestamp(end_ns / 1e9, tz=dt.UTC)
    )
    ax_runs.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax_runs.set_title("Runs (this one in orange)", loc="left", fontweight="bold")
    ax_runs.set_ylabel(unit)
    weeks = report.weeks if report else ()
    if weeks:
        labels = [dt.datetime.fromtimestamp(w.end_t_ns / 1e9, tz=dt.UTC).strftime("to %d %b") for w in weeks]
        ax_weeks.bar(labels, [w.amount for w in weeks], color=PAST_COLOUR, width=0.6)
        for i, w in enumerate(weeks):
            if w.change_pct is not None:
                ax_weeks.annotate(f"{w.change_pct:+.0f} %", (i, w.amount), ha="center", va="bottom", fontsize=8)
    ratio = report.acute_chronic_ratio if report else None
    ax_weeks.set_title(
        "Weekly totals (change vs the week before; shown for context"
        + (f", acute:chronic {ratio:.2f}" if ratio is not None else "")
        + ")",
        loc="left",
        fontweight="bold",
    )
    ax_weeks.set_ylabel(unit)
    return fig


def _spike_limit_line(data: ReportData, unit: str) -> float | None:
    report = data.load
    if report is None or report.spike is None or report.spike.longest_amount is None:
        return None
    return report.spike.longest_amount * (1 + SPIKE_LIMIT_PCT / 100)


FIGURES = {
    "metrics.png": metrics_over_time,
    "steps.png": steps_scatter,
    "symmetry.png": symmetry,
    "history.png": history,
    "training_load.png": training_load,
}


def save(fig: Figure, path: pathlib.Path) -> pathlib.Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


__all__ = ["FIGURES", "NS_PER_S", "save"]
