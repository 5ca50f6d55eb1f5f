"""Default risk settings and where each one comes from.

The defaults are a Python constant (not a packaged file) so that `analytics` stays free of file I/O;
`stream` reads the user's TOML file and passes the parsed dict in. `SOURCES` names the evidence behind
every threshold (see ../shared/EVIDENCE.md and docs/risk.md); settings marked "engineering choice" are
ours, not the literature's, and say so.
"""

from __future__ import annotations

from typing import Any

# Which WindowMetrics field each metric reads, how its deviation is measured and how it is named.
#   relative:  percent of the baseline ((value - baseline) / baseline x 100)
#   absolute:  in the metric's own unit (value - baseline), e.g. degrees of lean
#   magnitude: |value| - |baseline| in the metric's own unit (asymmetry in percentage points: a
#              symmetry index can flip sign when the side detection does, its size is what matters)
METRIC_FIELDS: dict[str, tuple[str, str, str, str]] = {
    # name: (WindowMetrics field, deviation kind, deviation unit, label for messages)
    "cadence": ("cadence_spm", "relative", "%", "Cadence"),
    "impact": ("impact_g", "relative", "%", "Impact"),
    "sway_ml": ("sway_ml_ratio", "relative", "%", "Side-to-side trunk sway"),
    "sway_ap": ("sway_ap_ratio", "relative", "%", "Front-to-back trunk sway"),
    "lean": ("lean_deg", "absolute", "deg", "Forward lean"),
    "step_asymmetry": ("step_time_asymmetry_pct", "magnitude", "points", "Step-time asymmetry"),
    "impact_asymmetry": ("impact_asymmetry_pct", "magnitude", "points", "Impact asymmetry"),
}

DEFAULTS: dict[str, Any] = {
    "warmup_s": 120.0,
    "baseline_s": 180.0,
    "min_baseline_windows": 6,
    "max_gap_s": 15.0,
    "clear_fraction": 0.6,
    "clear_s": 20.0,
    "cooldown_s": 300.0,
    "alert_factor": 2.0,
    "min_z": 3.0,
    "min_speed_span_mps": 0.5,
    "metrics": {
        "cadence": {
            "enabled": True,
            "direction": "down",
            "threshold": 5.0,
            "sustain_s": 60.0,
            "weight": 30.0,
            "speed_slope_per_mps": 4.5,
            "max_severity": "alert",
            "cue": "shorter, quicker steps",
        },
        "impact": {
            "enabled": True,
            "direction": "up",
            "threshold": 15.0,
            "sustain_s": 60.0,
            "weight": 25.0,
            "speed_slope_per_mps": 10.0,
            "max_severity": "alert",
            "cue": "land softer with shorter, quicker steps; softer surfaces and fresh shoes help",
        },
        "sway_ml": {
            "enabled": True,
            "direction": "up",
            "threshold": 20.0,
            "sustain_s": 60.0,
            "weight": 15.0,
            "speed_slope_per_mps": 0.0,
            "max_severity": "alert",
            "cue": "run tall and keep your trunk steady; core and glute work after the run",
        },
        "sway_ap": {
            "enabled": True,
            "direction": "up",
            "threshold": 20.0,
            "sustain_s": 60.0,
            "weight": 5.0,
            "speed_slope_per_mps": 0.0,
            "max_severity": "warning",
            "cue": "run tall and keep your trunk steady; core and glute work after the run",
        },
        "lean": {
            "enabled": True,
            "direction": "up",
            "threshold": 5.0,
            "sustain_s": 60.0,
            "weight": 15.0,
            "speed_slope_per_mps": 1.0,
            "max_severity": "alert",
            "cue": "run tall from the ankles, not the waist",
        },
        "step_asymmetry": {
            "enabled": True,
            "direction": "up",
            "threshold": 5.0,
            "sustain_s": 60.0,
            "weight": 5.0,
            "speed_slope_per_mps": 0.0,
            "max_severity": "warning",
            "cue": "even out your steps; core and glute work after the run",
        },
        "impact_asymmetry": {
            "enabled": True,
            "direction": "up",
            "threshold": 5.0,
            "sustain_s": 60.0,
            "weight": 5.0,
            "speed_slope_per_mps": 0.0,
            "max_severity": "warning",
            "cue": "even out your steps; core and glute work after the run",
        },
    },
    # Absolute rules: population thresholds from EVIDENCE.md, judged without a baseline (so they work
    # from the end of the warm-up). The cadence floor shares the cadence episode (see docs/risk.md).
    "absolute": {
        "cadence": {
            "enabled": True,
            "below_spm": 160.0,  # spm: the floor
            "alert_below_spm": 150.0,  # spm: severity alert (ratio = alert_factor) at or below this
            "min_speed_mps": 2.8,  # m/s (about 10 km/h): judged only at or above this speed, from a speed source
            "max_severity": "info",  # the floor alone informs; the runner's own baseline warns and alerts
            "cue": "shorter, quicker steps",
        },
    },
    # A hard start (docs/risk.md "Warm-up"): the first minutes of running already at working level.
    "warmup_check": {
        "enabled": True,
        "judge_s": 120.0,  # s: the first minutes of running that are judged (the note comes right after)
        "speed_near_pct": 95.0,  # % of working speed at or above which the start counts as working pace
        "cadence_near_pct": 98.0,  # %: cadence moves little with speed (about 4.5 % per m/s)
        "impact_near_pct": 95.0,  # %: impact moves more (about 10 % per m/s)
        "heart_rate_near_pct": 85.0,  # %: heart rate lags effort (time constant 30-60 s) even in a hard start
        "min_signs": 2,  # signals that must be comparable (speed, cadence, impact, heart rate)
        "working_after_s": 300.0,  # s: after the run, working level is the running from here on
        "min_working_windows": 60,  # windows of working running needed for the after-run verdict (5 min)
        "cue": "ease into it: a few easy minutes first",
    },
    "fatigue": {
        "enabled": True,
        "signs": ["cadence", "sway_ml", "lean", "impact"],
        "min_signs": 3,
        "sign_fraction": 0.5,
        "sustain_s": 60.0,
        "cooldown_s": 600.0,
        "cue": "ease off: slow down or walk a minute, then shorter, quicker steps",
    },
}

_ENGINEERING = "engineering choice, not from the literature"
SOURCES: dict[str, str] = {
    "warmup_s": "EVIDENCE.md 'always warm up': early-run gait is not the runner's settled gait; " + _ENGINEERING,
    "baseline_s": "personal baseline from the early run (EVIDENCE.md: prefer a runner's own baseline); "
    "3-5 min; " + _ENGINEERING,
    "min_baseline_windows": _ENGINEERING,
    "max_gap_s": _ENGINEERING,
    "clear_fraction": "hysteresis: " + _ENGINEERING,
    "clear_s": "hysteresis: " + _ENGINEERING,
    "cooldown_s": "not a flood of alerts (issue 5); " + _ENGINEERING,
    "alert_factor": "severity 'alert' at this multiple of the threshold; " + _ENGINEERING,
    "min_z": "a metric must also move this many of its own baseline standard deviations, so a noisy "
    "metric does not alert on noise; " + _ENGINEERING,
    "min_speed_span_mps": "speed slope learned from the baseline only when it spans this; " + _ENGINEERING,
    "metrics.cadence.threshold": "5 % below personal baseline: Drozda 2024 Gait Posture (LBP runners "
    "166 vs 171 spm); Heiderscheit 2011 Med Sci Sports Exerc (+5-10 % step rate lowers joint loading)",
    "metrics.cadence.speed_slope_per_mps": "cadence rises with speed (about 150-185 spm across "
    "running speeds, EVIDENCE.md); " + _ENGINEERING,
    "metrics.cadence.cue": "Heiderscheit 2011; Willy 2016 Scand J Med Sci Sports; Anderson 2022",
    "metrics.impact.threshold": "+15 % over personal baseline: Crowell & Davis 2011 Clin Biomech; "
    "Davis 2016 Br J Sports Med; Van den Berghe 2021 Sci Rep",
    "metrics.impact.speed_slope_per_mps": "impact rises with speed; " + _ENGINEERING,
    "metrics.impact.cue": "Chan 2018 Am J Sports Med (gait retraining); EVIDENCE.md (surfaces, shoes "
    "every 500-800 km); Willy 2016 (+7.5 % cadence cut loading rate about 19 %)",
    "metrics.sway_ml.threshold": "+20 % over personal baseline: Schutte 2015 PLoS One (fatigue raises "
    "ML/AP RMS ratios); Drozda 2024; Seay 2011 Clin Biomech",
    "metrics.sway_ap.threshold": "+20 % over personal baseline: Schutte 2015 PLoS One",
    "metrics.lean.threshold": "+5 deg over baseline: Teng & Powers 2015 Med Sci Sports Exerc",
    "metrics.lean.speed_slope_per_mps": "lean grows with speed; " + _ENGINEERING,
    "metrics.lean.cue": "Teng & Powers 2015; EVIDENCE.md cues",
    "metrics.step_asymmetry.threshold": "+5 points over baseline: vendor heuristics only; no injury "
    "link in 836 runners (Malisoux 2024 BMJ Open Sport Exerc Med), hence severity capped at warning "
    "and a small weight",
    "metrics.impact_asymmetry.threshold": "as step_asymmetry (Malisoux 2024)",
    "metrics.*.sustain_s": "'sustained' (EVIDENCE.md); the duration is " + _ENGINEERING,
    "metrics.*.weight": "points of the 0-100 score at twice the threshold; cadence and impact weigh "
    "most (direct LBP-cohort and loading evidence), asymmetry least (no injury link); " + _ENGINEERING,
    "absolute.cadence.below_spm": "below about 160 spm at running speed (EVIDENCE.md): runners with LBP ran "
    "at about 166 spm vs 171 in controls (Drozda 2024 Gait Posture); healthy runners about 171 +- 9 spm; "
    "+5-10 % step rate lowers joint loading (Heiderscheit 2011 Med Sci Sports Exerc)",
    "absolute.cadence.alert_below_spm": "severity steps up 10 spm under the floor; " + _ENGINEERING,
    "absolute.cadence.min_speed_mps": "'at running speed' (EVIDENCE.md): judged only where a speed source "
    "(footpod, phone GPS) reports at least 2.8 m/s, about 10 km/h; slower or unknown speed is not judged "
    "(four real treadmill runners at 8 km/h ran 149-165 spm); " + _ENGINEERING,
    "absolute.cadence.max_severity": "the floor is a population figure from group means (LBP 166 vs 171 spm), "
    "not a personal threshold: alone it gives an 'info' note (no buzz); a drop below the runner's own "
    "baseline warns and alerts. A real outdoor run at 3.2 m/s sat at 158-160 spm for a minute with no "
    "other sign; " + _ENGINEERING,
    "absolute.cadence.cue": "Heiderscheit 2011; Willy 2016 Scand J Med Sci Sports; Anderson 2022",
    "warmup_check": "EVIDENCE.md and the runners' sources: 'always warm up', a few easy minutes before "
    "working pace. HEURISTIC: no study gives a cut-off for a hard start from trunk or heart-rate data",
    "warmup_check.judge_s": "HEURISTIC: the first 2 min of running, so the note comes within the first 3 min; "
    + _ENGINEERING,
    "warmup_check.speed_near_pct": "HEURISTIC: within 5 % of working speed is working pace; " + _ENGINEERING,
    "warmup_check.cadence_near_pct": "HEURISTIC: cadence moves about 4.5 % per m/s (metrics.cadence "
    "speed slope), so a start 0.5 m/s easier sits about 2 % lower; " + _ENGINEERING,
    "warmup_check.impact_near_pct": "HEURISTIC: impact moves about 10 % per m/s (metrics.impact speed "
    "slope), so a start 0.5 m/s easier sits about 5 % lower; " + _ENGINEERING,
    "warmup_check.heart_rate_near_pct": "HEURISTIC: heart rate lags effort with a 30-60 s time constant, so "
    "even a hard start averages below working heart rate over its first 2 min; " + _ENGINEERING,
    "warmup_check.min_signs": "one signal alone is too weak to call a start hard; " + _ENGINEERING,
    "warmup_check.cue": "the runners' sources: 'always warm up' (EVIDENCE.md)",
    "absolute": "tibial peak acceleration above 8 g (Davis 2016 Br J Sports Med; Van den Berghe 2021 Sci "
    "Rep) is NOT available: it needs a shank or foot IMU, which the analytics do not process yet "
    "(trunk impact uses the baseline-relative rule metrics.impact)",
    "fatigue.signs": "fatigue drift: cadence down, sway up, lean up, impact up (Mizrahi 2000 Hum Mov "
    "Sci; Clansey 2012 Med Sci Sports Exerc; Schutte 2015)",
    "fatigue.min_signs": _ENGINEERING,
    "fatigue.sign_fraction": "a sign counts at this fraction of its metric threshold; " + _ENGINEERING,
}
