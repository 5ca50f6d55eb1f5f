"""The report's HTML: one self-explaining page beside its PNGs (no scripts, no network)."""

from __future__ import annotations

import datetime as dt
import html

from strideguard.stream.report.data import METRICS, ReportData, finite, window_means
from strideguard.stream.retraining.records import progress_line
from strideguard.stream.terminal import format_clock

CAPTIONS = {
    "metrics.png": "Cadence, impact, trunk sway (ML side-to-side, AP front-back) and forward lean per analysis "
    "window. Shaded: an alert was active "
    "for that metric. Dashed: the baseline. Dotted: where the metric starts to count as deviating (default "
    "settings). Hatched grey: no data (the sensor sent nothing).",
    "steps.png": "Every detected step: impact and step time, by the side the trunk signal assigned.",
    "symmetry.png": "Left against right. A symmetry index beyond a few percent is a vendor heuristic; no injury link "
    "has been shown in a large cohort (Malisoux 2024).",
    "history.png": "This session beside the runner's previous sessions (means over running windows).",
    "training_load.png": "Run lengths. A single run more than 10 % longer than the longest of the previous 30 days "
    "is associated with a higher injury hazard (Frandsen 2025).",
}

DIGITS = {"steps/min": 1, "g": 2, "ratio": 3, "deg": 1}  # decimals shown per unit

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0;display:block;overflow-x:auto;max-width:100%}
p,td{overflow-wrap:break-word} td,th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left}
th{background:#f6f6f6} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:1em 0} img{max-width:100%;box-sizing:border-box;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}
.note{background:#fff8e6;border-left:4px solid #f4a261;padding:.6em 1em} .flag{color:#b00020;font-weight:bold}
.muted{color:#777}
@media (max-width:600px){td,th{padding:.25em .2em}
table.alerts,table.alerts tbody,table.alerts tr,table.alerts td{display:block}
table.alerts tr:first-child{display:none} table.alerts tr{border-bottom:1px solid #ddd;padding:.4em 0}
table.alerts td{border:0;padding:.1em .2em;text-align:left}
table.alerts td[data-label]::before{content:attr(data-label) ": ";color:#777}}
"""


def _fmt(x: float | None, digits: int = 1) -> str:
    return f"{x:.{digits}f}" if finite(x) else "–"


def _when(t_ns: int) -> str:
    return dt.datetime.fromtimestamp(t_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(data: ReportData, images: list[str]) -> str:
    e = html.escape
    row = data.row
    means = window_means(data.windows)
    metric_rows = "".join(
        f"<tr><td>{e(label)}</td><td class=num>{_fmt(means[name], DIGITS[unit])}</td>"
        f"<td class=num>{_fmt(data.baseline.get(name), DIGITS[unit])}</td><td>{e(unit)}</td></tr>"
        for name, label, unit in METRICS
    )
    alert_rows = "".join(
        f"<tr><td class=num data-label=minutes>{s.start_min:.1f}–{s.end_min:.1f}"
        f"{'' if s.cleared else ' (not cleared)'}</td><td data-label=metric>{e(s.metric)}</td>"
        f"<td data-label=severity>{e(s.severity)}</td><td>{e(s.message)}</td><td data-label=cue>{e(s.cue)}</td></tr>"
        for s in data.spans
    )
    alerts = (
        (
            f"<table class=alerts><tr><th>minutes</th><th>metric</th><th>severity</th><th>what</th><th>cue</th></tr>"
            f"{alert_rows}</table>"
        )
        if data.spans
        else "<p>No alerts in this session.</p>"
    )
    load = data.load
    load_html = ""
    if load is not None and load.spike is not None:
        cls = "flag" if load.spike.flagged else ""
        ratio = (
            " (none: no runs in the three weeks before this one)"
            if load.acute_chronic_ratio is None
            else f" ({load.acute_chronic_ratio:.2f})"
        )
        load_html = (
            f"<p class='{cls}'>{e(load.spike.message)}</p><p class=muted>Weekly change: context only, "
            f"{e(load.weekly_caveat)}. Acute:chronic ratio{ratio}: {e(load.acwr_caveat)}.</p>"
        )
    figures = "".join(
        f"<figure><img src='{e(name)}' alt='{e(name)}'><figcaption>{e(CAPTIONS.get(name, ''))}</figcaption></figure>"
        for name in images
    )
    n_steps = len(data.steps)
    duration = format_clock(data.duration_s)
    if data.missing_s:
        duration += f" ({format_clock(data.missing_s)} of it without data)"
    gaps_html = ""
    if data.gaps:
        listed = "; ".join(f"{a:.1f}–{b:.1f} min" for a, b in data.gaps)
        gaps_html = (
            f"<p class=flag>No data for {e(format_clock(data.missing_s))} ({len(data.gaps)} gap(s): {e(listed)}): "
            "the sensor's link was lost or samples were dropped. Metrics are not known there.</p>"
        )
    elif data.samples_note:
        gaps_html = f"<p class=muted>{e(data.samples_note)}</p>"
    across_html = "".join(f"<p>{e(line)}</p>" for line in data.across)
    retraining_html = (
        f"<h2>Gait retraining</h2><p>{e(progress_line(data.retraining))}</p>" if data.retraining is not None else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>StrideGuard session report: {e(row.runner)}, {e(_when(row.started_t_ns))}</title><style>{STYLE}</style></head>
<body>
<h1>Session report: {e(row.runner)}</h1>
<p class=muted>{e(_when(row.started_t_ns))} · {e(duration)} · {n_steps} steps ·
team {e(row.team)} · session {e(row.session_id)} · {e("unfinished" if row.status == "running" else row.status)}</p>
<p class=muted>Sensor: {e(data.device_text)}.</p>{gaps_html}
<p class=note>StrideGuard's alerts are heuristics associated with low-back-pain risk in the literature, not a diagnosis.
Pain that shoots down a leg, numbness, tingling, leg weakness, pain at night or loss of bladder or bowel control:
stop running and see a clinician.</p>
<h2>Summary</h2>
<table><tr><th>metric</th><th>this run</th><th>baseline</th><th>unit</th></tr>{metric_rows}</table>
<p class=muted>Baseline: {e(data.baseline_note)}. Means over running windows.</p>
<h2>Alerts</h2>{alerts}
<h2>Training load</h2>{load_html or "<p>No earlier runs to compare with.</p>"}{across_html}{retraining_html}
<p class=muted>Run length is the session's duration (distance is not recorded without a footpod).</p>
<h2>Figures</h2>{figures}
</body></html>
"""
