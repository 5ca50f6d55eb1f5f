"""Generate the Grafana dashboards (dashboards/json/*.json) from one description, so the three views
share their queries, units and colours. Run `python dashboards/build.py` after editing; a test checks
that the committed JSON is what this script writes, and runs every query against a real InfluxDB.

Queries are InfluxQL (work on InfluxDB 1.x, and on 2.x/3.x through the v1 compatibility API and its
DBRP mapping); measurements, fields and tags are documented in stream/influx/lineproto.py.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

DATASOURCE = {"type": "influxdb", "uid": "strideguard-influx"}
HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "json"

TEAM = '"team" =~ /^$team$/'
RUNNER = '"runner" =~ /^$runner$/'
SESSION = '"session" =~ /^$session$/'

# (field, title, unit, decimals)
METRICS = [
    ("cadence_spm", "Cadence", "steps/min", 0),
    ("impact_g", "Vertical impact", "g", 2),
    ("sway_ml_ratio", "Side-to-side sway (ML ratio)", "none", 2),
    ("sway_ap_ratio", "Front-to-back sway (AP ratio)", "none", 2),
    ("lean_deg", "Forward lean", "degree", 1),
    ("step_time_asymmetry_pct", "Step-time asymmetry", "percent", 1),
    ("risk_score", "Low-back-pain risk score", "none", 0),
]


def target(query: str, ref: str = "A", fmt: str = "time_series", alias: str | None = None) -> dict[str, Any]:
    t = {"refId": ref, "datasource": DATASOURCE, "rawQuery": True, "query": query, "resultFormat": fmt}
    if alias:
        t["alias"] = alias
    return t


def metric_panels(where: str, *, top_y: int) -> list[dict[str, Any]]:
    """One time series per window metric, two per row from `top_y` (the runner's and the review's)."""
    return [
        panel(
            "timeseries",
            title,
            [
                target(
                    f'SELECT mean("{field}") FROM "windows" WHERE {where} GROUP BY time($__interval) fill(none)',
                    alias=title,
                )
            ],
            x=(i % 2) * 12,
            y=top_y + (i // 2) * 8,
            w=12,
            h=8,
            unit=unit,
            decimals=dec,
        )
        for i, (field, title, unit, dec) in enumerate(METRICS)
    ]


# The team table joins each runner's latest window with its `status` point (stream/influx/lineproto.py),
# leaves out finished and silent runners, and ranks by need: alert_rank (0 none .. 3 alert) before risk
# (0-100), as the live team page does. Grafana has no multi-key sort, so the key is one number.
HIDDEN_STATES = {"state": "finished", "sensor": "silent"}
TEAM_TABLE_TRANSFORMS: list[dict[str, Any]] = [
    {"id": "merge", "options": {}},
    {
        "id": "filterByValue",
        "options": {
            "type": "exclude",
            "match": "any",
            "filters": [
                {"fieldName": name, "config": {"id": "equal", "options": {"value": value}}}
                for name, value in HIDDEN_STATES.items()
            ],
        },
    },
    {
        "id": "calculateField",
        "options": {
            "mode": "binary",
            "binary": {"left": "alert_rank", "operator": "*", "right": "1000"},
            "alias": "alert_part",
            "replaceFields": False,
        },
    },
    {
        "id": "calculateField",
        "options": {
            "mode": "binary",
            "binary": {"left": "alert_part", "operator": "+", "right": "risk"},
            "alias": "need",
            "replaceFields": False,
        },
    },
]


def panel(
    kind: str,
    title: str,
    targets: list[dict],
    *,
    x: int,
    y: int,
    w: int,
    h: int,
    unit: str = "none",
    decimals: int | None = None,
    description: str = "",
    options: dict | None = None,
    overrides: list | None = None,
    transformations: list | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        **({"transformations": transformations} if transformations else {}),
    }


def variable(name: str, label: str, query: str, *, multi: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "multi": multi,
        "includeAll": multi,
        "sort": 1,
        "current": {},
        "options": [],
    }


def alert_annotation(where: str) -> dict[str, Any]:
    return {
        "name": "Risk alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "query": f'SELECT "message", "cue", "runner", "metric" FROM "alerts" WHERE {where} AND "kind" = \'onset\' '
        f"AND $timeFilter",
        "textColumn": "message",
        "tagsColumn": "runner,metric",
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict],
    variables: list[dict],
    annotations: list[dict],
    *,
    time_from: str = "now-1h",
    refresh: str = "5s",
) -> dict[str, Any]:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["strideguard"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"},
        "refresh": refresh,
        "timezone": "browser",
        "templating": {"list": variables},
        "annotations": {"list": annotations},
        "panels": panels,
    }


TEAM_VAR = variable("team", "Team", 'SHOW TAG VALUES FROM "windows" WITH KEY = "team"')
RUNNER_VAR = variable("runner", "Runner", f'SHOW TAG VALUES FROM "windows" WITH KEY = "runner" WHERE {TEAM}')


def runner_live() -> dict[str, Any]:
    where = f"{TEAM} AND {RUNNER} AND $timeFilter"
    panels = [
        panel(
            "stat",
            f"Now: {title}",
            [target(f'SELECT last("{field}") FROM "windows" WHERE {where}')],
            x=(i % 4) * 6,
            y=0,
            w=6,
            h=4,
            unit=unit,
            decimals=dec,
        )
        for i, (field, title, unit, dec) in enumerate([METRICS[0], METRICS[1], METRICS[2], METRICS[6]])
    ]
    panels += metric_panels(where, top_y=4)
    panels.append(
        panel(
            "timeseries",
            "Impact per step, left and right",
            [
                target(
                    f'SELECT mean("impact_g") FROM "steps" WHERE {where} GROUP BY time($__interval), "side" fill(none)',
                    alias="$tag_side",
                )
            ],
            x=12,
            y=28,
            w=12,
            h=8,
            unit="g",
            decimals=2,
        )
    )
    panels.append(
        panel(
            "table",
            "Alerts",
            [
                target(
                    f'SELECT "severity", "metric", "kind", "message", "cue" FROM "alerts" WHERE {where} '
                    "ORDER BY time DESC",
                    fmt="table",
                )
            ],
            x=0,
            y=36,
            w=24,
            h=8,
        )
    )
    return dashboard(
        "strideguard-runner-live",
        "StrideGuard — runner live view",
        "One runner's gait metrics as they come in, with risk alerts as annotations.",
        panels,
        [TEAM_VAR, RUNNER_VAR],
        [alert_annotation(f"{TEAM} AND {RUNNER}")],
        time_from="now-30m",
    )


def coach_team() -> dict[str, Any]:
    where = f"{TEAM} AND $timeFilter"
    glance = (
        'SELECT last("risk_score") AS "risk", last("cadence_spm") AS "cadence", last("impact_g") AS "impact", '
        'last("sway_ml_ratio") AS "sway ML", last("lean_deg") AS "lean" '
        f'FROM "windows" WHERE {where} GROUP BY "runner"'
    )
    state = (
        'SELECT last("state") AS "state", last("sensor") AS "sensor", last("alert") AS "alert", '
        f'last("alert_rank") AS "alert_rank" FROM "status" WHERE {where} GROUP BY "runner"'
    )
    panels = [
        panel(
            "table",
            "Team at a glance (active alert first, then risk)",
            [target(glance, fmt="table"), target(state, ref="B", fmt="table")],
            x=0,
            y=0,
            w=16,
            h=10,
            description="Latest window and state of every live runner: the most severe active alert first, "
            "then the highest risk. Finished runners and runners whose sensor sends nothing (silent) are "
            "left out; a lost sensor is shown in grey.",
            options={"sortBy": [{"displayName": "need", "desc": True}], "showHeader": True},
            transformations=TEAM_TABLE_TRANSFORMS,
            overrides=[
                *(
                    {
                        "matcher": {"id": "byName", "options": name},
                        "properties": [{"id": "custom.hidden", "value": True}],
                    }
                    for name in ("alert_rank", "alert_part", "need", "Time")
                ),
                {
                    "matcher": {"id": "byName", "options": "sensor"},
                    "properties": [
                        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                        {
                            "id": "mappings",
                            "value": [
                                {
                                    "type": "value",
                                    "options": {
                                        "lost": {"color": "text", "text": "sensor lost"},
                                        "ok": {"color": "green", "text": "ok"},
                                    },
                                }
                            ],
                        },
                    ],
                },
            ],
        ),
        panel(
            "bargauge",
            "Risk score by runner",
            [target(f'SELECT last("risk_score") FROM "windows" WHERE {where} GROUP BY "runner"', alias="$tag_runner")],
            x=16,
            y=0,
            w=8,
            h=10,
            unit="none",
            decimals=0,
            options={
                "orientation": "horizontal",
                "displayMode": "gradient",
                "reduceOptions": {"calcs": ["lastNotNull"]},
            },
        ),
    ]
    for i, (field, title, unit, dec) in enumerate([*METRICS[:3], METRICS[6]]):
        panels.append(
            panel(
                "timeseries",
                f"{title} — every runner",
                [
                    target(
                        f'SELECT mean("{field}") FROM "windows" WHERE {where} '
                        'GROUP BY time($__interval), "runner" fill(none)',
                        alias="$tag_runner",
                    )
                ],
                x=(i % 2) * 12,
                y=10 + (i // 2) * 8,
                w=12,
                h=8,
                unit=unit,
                decimals=dec,
            )
        )
    panels.append(
        panel(
            "table",
            "Recent alerts",
            [
                target(
                    f'SELECT "runner", "severity", "metric", "message", "cue" FROM "alerts" WHERE {where} '
                    "AND \"kind\" = 'onset' ORDER BY time DESC LIMIT 50",
                    fmt="table",
                )
            ],
            x=0,
            y=26,
            w=24,
            h=8,
        )
    )
    return dashboard(
        "strideguard-team",
        "StrideGuard — coach team view",
        "Every live runner's cadence, impact, sway and risk at a glance, ordered by active alert then risk; "
        "alerts as annotations.",
        panels,
        [TEAM_VAR],
        [alert_annotation(TEAM)],
        time_from="now-1h",
    )


def session_review() -> dict[str, Any]:
    session_var = variable(
        "session", "Session", f'SHOW TAG VALUES FROM "sessions" WITH KEY = "session" WHERE {TEAM} AND {RUNNER}'
    )
    where = f"{TEAM} AND {RUNNER} AND {SESSION} AND $timeFilter"
    panels = [
        panel(
            "table",
            "Session summary",
            [
                target(
                    'SELECT "state", "duration_s", "n_steps", "mean_cadence_spm", "mean_impact_g", '
                    f'"mean_sway_ml_ratio", "mean_lean_deg" FROM "sessions" WHERE {where}',
                    fmt="table",
                )
            ],
            x=0,
            y=0,
            w=24,
            h=5,
        ),
    ]
    panels += metric_panels(where, top_y=5)
    panels.append(
        panel(
            "timeseries",
            "Step time",
            [
                target(
                    f'SELECT mean("step_time_s") FROM "steps" WHERE {where} '
                    'GROUP BY time($__interval), "side" fill(none)',
                    alias="$tag_side",
                )
            ],
            x=12,
            y=29,
            w=12,
            h=8,
            unit="s",
            decimals=3,
        )
    )
    panels.append(
        panel(
            "table",
            "Alerts in this session",
            [
                target(
                    'SELECT "severity", "metric", "kind", "value", "baseline", "deviation", "deviation_unit", '
                    f'"message" FROM "alerts" WHERE {where} ORDER BY time',
                    fmt="table",
                )
            ],
            x=0,
            y=37,
            w=24,
            h=8,
        )
    )
    return dashboard(
        "strideguard-session-review",
        "StrideGuard — session review",
        "One past session: summary, every metric over the run, alerts with their reasons.",
        panels,
        [TEAM_VAR, RUNNER_VAR, session_var],
        [alert_annotation(f"{TEAM} AND {RUNNER} AND {SESSION}")],
        time_from="now-7d",
        refresh="",
    )


DASHBOARDS = {"runner-live.json": runner_live, "team-coach.json": coach_team, "session-review.json": session_review}


def render() -> dict[str, str]:
    return {name: json.dumps(make(), indent=2, ensure_ascii=False) + "\n" for name, make in DASHBOARDS.items()}


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}", file=sys.stderr)
