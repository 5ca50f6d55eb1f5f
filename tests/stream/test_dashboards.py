"""Every query in dashboards/ runs against a real InfluxDB holding replayed sessions and returns data;
the dashboard JSON and the provisioning YAML pass a structural check."""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator

import pytest

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.synthetic import Change, SyntheticConfig, SyntheticRunner
from strideguard.stream.influx import InfluxSink, V1Writer
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.collector import Collector, split_batches
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.sensor_watch import SensorChange
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import REPO_ROOT, InfluxDBService, MosquittoService

DASHBOARDS = REPO_ROOT / "dashboards"
JSON_DIR = DASHBOARDS / "json"
DATASOURCE_UID = "strideguard-influx"
RISK_TOML = """\
[risk]
warmup_s = 10.0
baseline_s = 30.0
min_baseline_windows = 3
[risk.metrics.cadence]
sustain_s = 10.0
[risk.metrics.impact]
sustain_s = 10.0
"""
TEAM, RUNNERS = "club", ("ana", "ben")


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(JSON_DIR.glob("*.json"))}


def queries(dash: dict) -> list[tuple[str, str]]:
    """(where, InfluxQL) for every panel target, template variable and annotation."""
    out = [(f"panel {p['title']!r}", t["query"]) for p in dash["panels"] for t in p["targets"]]
    out += [(f"variable ${v['name']}", v["query"]) for v in dash["templating"]["list"]]
    out += [(f"annotation {a['name']!r}", a["query"]) for a in dash["annotations"]["list"]]
    return out


def test_the_committed_json_is_what_build_py_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    rendered = module.render()
    assert set(rendered) == {p.name for p in JSON_DIR.glob("*.json")}
    for name, text in rendered.items():
        assert (JSON_DIR / name).read_text() == text, f"run `python dashboards/build.py`: {name} is stale"


def test_dashboards_are_structurally_sound() -> None:
    found = dashboards()
    assert set(found) == {"runner-live.json", "team-coach.json", "session-review.json"}
    uids = [d["uid"] for d in found.values()]
    assert len(set(uids)) == len(uids)
    for name, dash in found.items():
        assert dash["title"] and dash["schemaVersion"] >= 36 and dash["panels"], name
        defined = {v["name"] for v in dash["templating"]["list"]}
        ids = [p["id"] for p in dash["panels"]]
        assert len(set(ids)) == len(ids), name
        for p in dash["panels"]:
            assert p["type"] in {"timeseries", "stat", "table", "bargauge"}, (name, p["title"])
            g = p["gridPos"]
            assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, (name, p["title"])
            assert p["datasource"]["uid"] == DATASOURCE_UID
            refs = [t["refId"] for t in p["targets"]]
            assert refs and len(set(refs)) == len(refs)
        for where, q in queries(dash):
            used = set(re.findall(r"\$(\w+)", q)) - {"timeFilter", "__interval", "tag_side", "tag_runner"}
            assert used <= defined, f"{name} {where} uses undefined variables {used - defined}"
            if not q.startswith("SHOW"):
                assert "$timeFilter" in q, f"{name} {where}: every data query must honour the time picker"
    team = found["team-coach.json"]
    glance = team["panels"][0]
    assert glance["options"]["sortBy"] == [{"displayName": "need", "desc": True}]  # active alert, then risk
    assert all(d["annotations"]["list"][0]["query"].startswith('SELECT "message"') for d in found.values())


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    ds = (DASHBOARDS / "provisioning" / "datasources" / "strideguard.yaml").read_text()
    assert f"uid: {DATASOURCE_UID}" in ds and "type: influxdb" in ds and "dbName:" in ds
    provider = (DASHBOARDS / "provisioning" / "dashboards" / "strideguard.yaml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider
    compose = REPO_ROOT / "docker-compose.yml"
    if compose.exists():
        text = compose.read_text()
        assert "./dashboards/json:/var/lib/grafana/dashboards" in text
        assert "./dashboards/provisioning:/etc/grafana/provisioning" in text


@pytest.fixture(scope="module")
def filled(
    influxdb: InfluxDBService, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str], tuple[int, int]]:
    """Two runners' sessions (with a fatigue change so alerts fire) written through the InfluxDB sink."""
    import asyncio

    db = influxdb.create_database("dashboards")
    sessions, span = {}, [None, None]

    async def fill() -> None:
        sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path_factory.mktemp("spool"))
        for i, runner in enumerate(RUNNERS):
            change = Change(at_s=45, ramp_s=5, cadence_pct=-8, impact_pct=25, sway_pct=40)
            run = SyntheticRunner(SyntheticConfig(cadence_spm=162 + 5 * i, changes=(change,))).generate(
                100, 100, seed=10 + i, runner=runner
            )
            session = SessionInfo(
                session_id=f"{runner}-review",
                runner=runner,
                team=TEAM,
                source="test",
                started_t_ns=int(run.acc.t_ns[0]),
            )
            sessions[runner] = session.session_id
            span[0], span[1] = int(run.acc.t_ns[0]), int(run.acc.t_ns[-1])
            sink.tag_session(session.session_id, device="synthetic-imu", placement="chest")
            await sink.open_session(session)
            analyzer = analyzer_factory(RISK_TOML)(runner)
            total = AnalyzerOutput()
            for batch in split_batches([run.acc], 1.0):
                out = analyzer.push(batch)
                total = total + out
                await sink.write(session, out)
            out = analyzer.finish()
            await sink.write(session, out)
            assert (total + out).risk_events, "the fatigue change must raise alerts for the alert panels"
            await sink.close_session(
                session, SessionSummary.from_analyzer(session.session_id, analyzer.summary, dropped={})
            )
        await sink.close()

    asyncio.run(fill())
    return db, sessions, (span[0], span[1] + 10**10)


def substitute(query: str, *, runner: str, session: str, span: tuple[int, int]) -> str:
    """What Grafana does with its macros and variables before sending the query."""
    return (
        query.replace("$timeFilter", f"time >= {span[0]} AND time <= {span[1]}")
        .replace("$__interval", "10s")
        .replace("$team", TEAM)
        .replace("$runner", runner)
        .replace("$session", session)
    )


@pytest.mark.services
@pytest.mark.parametrize("name", ["runner-live.json", "team-coach.json", "session-review.json"])
def test_every_query_returns_data_from_a_replayed_session(name: str, influxdb: InfluxDBService, filled) -> None:
    db, sessions, span = filled
    dash = dashboards()[name]
    for where, q in queries(dash):
        sql = substitute(q, runner="ana", session=sessions["ana"], span=span)
        rows = influxdb.series_rows(sql, database=db)
        values = [v for r in rows for k, v in r.items() if k != "time" and v is not None]
        assert values, f"{name} {where} returned no data:\n{sql}"
        if "GROUP BY" in sql and '"runner"' in sql.split("GROUP BY")[1]:
            assert {r.get("runner") for r in rows} == set(RUNNERS), f"{name} {where}: not every runner"


# -- the runner state in InfluxDB (`status`) and the team table built on it --------------------------------
NS = 1_000_000_000
T0 = 1_767_250_800 * NS


def team_table(panel: dict, results: dict[str, list[dict]]) -> list[dict]:
    """What Grafana shows in the team table: its targets' rows (by refId) through the panel's own
    transformations (merge on the common column, filterByValue exclude, calculateField binary) and its
    sortBy; only the operations the panel uses, read from the committed JSON (an unknown one fails)."""
    merged: dict[str, dict] = {}
    for t in panel["targets"]:
        for row in results[t["refId"]]:
            merged.setdefault(row["runner"], {}).update(row)
    rows = list(merged.values())
    for tr in panel["transformations"]:
        o = tr["options"]
        if tr["id"] == "merge":
            continue
        if tr["id"] == "filterByValue":
            assert o["type"] == "exclude" and o["match"] == "any"

            def hit(row: dict, f: dict) -> bool:
                assert f["config"]["id"] == "equal"
                return row.get(f["fieldName"]) == f["config"]["options"]["value"]

            rows = [r for r in rows if not any(hit(r, f) for f in o["filters"])]
        elif tr["id"] == "calculateField":
            b = o["binary"]
            assert o["mode"] == "binary" and b["operator"] in "*+"

            def val(row: dict, ref: str) -> float | None:
                return float(ref) if ref.replace(".", "").isdigit() else row.get(ref)

            for r in rows:
                left, right = val(r, b["left"]), val(r, b["right"])
                ok = left is not None and right is not None
                r[o["alias"]] = (left * right if b["operator"] == "*" else left + right) if ok else None
        else:
            raise AssertionError(f"the emulation does not know the transformation {tr['id']}")
    (sort,) = panel["options"]["sortBy"]
    key = sort["displayName"]
    return sorted(rows, key=lambda r: -math.inf if r.get(key) is None else r[key], reverse=sort["desc"])


def window(runner: str, t_s: int, risk: float | None) -> WindowMetrics:
    return WindowMetrics(
        runner=runner,
        t_start_ns=T0 + (t_s - 5) * NS,
        t_end_ns=T0 + t_s * NS,
        n_steps=14,
        running=True,
        cadence_spm=168.0,
        risk_score=risk,
    )


def onset(runner: str, t_s: int, severity: Severity, kind: RiskEventKind = RiskEventKind.ONSET) -> RiskEvent:
    return RiskEvent(
        runner=runner,
        t_ns=T0 + t_s * NS,
        kind=kind,
        metric="cadence",
        severity=severity,
        value=150.0,
        baseline=168.0,
        deviation=-10.0,
        deviation_unit="%",
        duration_s=12.0,
        message="Cadence dropped",
        cue="Shorter steps",
        onset_t_ns=T0 + (t_s if kind is RiskEventKind.ONSET else 50) * NS,
    )


@pytest.mark.services
async def test_status_points_rank_the_team_table_and_hide_finished_and_silent_runners(
    influxdb: InfluxDBService, tmp_path
) -> None:
    """Before: Grafana's team table sorted by risk alone, so a finished runner's last risk topped it, and
    a runner with an active alert but risk 0 sank; InfluxDB had no runner state at all."""
    db = influxdb.create_database("teamstate")
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path / "spool")
    risks = {
        "alerted": 0.0,
        "calm": 20.0,
        "higher": 35.0,
        "finished": 90.0,
        "silent": 80.0,
        "lost": 10.0,
        "cleared": 5.0,
    }
    infos = {}
    for runner, risk in risks.items():
        info = SessionInfo(session_id=f"{runner}-1", runner=runner, team=TEAM, source="test", started_t_ns=T0)
        infos[runner] = info
        await sink.open_session(info)
        await sink.write(info, AnalyzerOutput(windows=(window(runner, 60, risk),)))
    await sink.write(infos["alerted"], AnalyzerOutput(risk_events=(onset("alerted", 61, Severity.WARNING),)))
    await sink.write(infos["cleared"], AnalyzerOutput(risk_events=(onset("cleared", 50, Severity.ALERT),)))
    await sink.write(
        infos["cleared"], AnalyzerOutput(risk_events=(onset("cleared", 62, Severity.ALERT, RiskEventKind.CLEARED),))
    )
    sink.sensor(infos["silent"], SensorChange(runner="silent-1", sensor="silent", was="ok"))
    sink.sensor(infos["lost"], SensorChange(runner="lost-1", sensor="lost", was="ok"))
    # a sensor lost and back with no data between: two points, the second does not overwrite the first
    sink.sensor(infos["calm"], SensorChange(runner="calm-1", sensor="lost", was="ok"))
    sink.sensor(infos["calm"], SensorChange(runner="calm-1", sensor="ok", was="lost", gap_s=3.0))
    await sink.close_session(
        infos["finished"], SessionSummary.from_analyzer("finished-1", {"duration_s": 60.0}, dropped={})
    )
    await sink.close()

    history = influxdb.series_rows(
        'SELECT "state", "sensor", "alert", "gap_s" FROM "status" WHERE "runner" = \'calm\' ORDER BY time', database=db
    )
    assert [(r["state"], r["sensor"]) for r in history] == [("running", "ok"), ("running", "lost"), ("running", "ok")]
    assert history[-1]["gap_s"] == 3.0

    panel = dashboards()["team-coach.json"]["panels"][0]
    span = (T0 - 10 * NS, T0 + 600 * NS)
    results = {}
    for t in panel["targets"]:
        sql = substitute(t["query"], runner="", session="", span=span)
        results[t["refId"]] = influxdb.series_rows(sql, database=db)
    shown = team_table(panel, results)
    assert [r["runner"] for r in shown] == ["alerted", "higher", "calm", "lost", "cleared"], shown
    by = {r["runner"]: r for r in shown}
    assert by["alerted"]["alert"] == "warning" and by["cleared"]["alert"] == "none" and by["lost"]["sensor"] == "lost"


@pytest.mark.services
async def test_the_worker_writes_its_runners_sensor_state_to_influxdb(
    mosquitto: MosquittoService, influxdb: InfluxDBService, tmp_path
) -> None:
    """collector -> real Mosquitto -> worker -> InfluxDB `status`: running, sensor lost and back, finished;
    and no window over the 25-s dropout (Grafana showed them as "not running", 0 steps, for a strap whose
    link was down). Before: the worker published the sensor state on MQTT only; InfluxDB had no runner state."""
    import asyncio

    db = influxdb.create_database("workerstate")
    team = "influxstate"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(75.0, 50.0, seed=3, runner="anna", device="h10")
    batches = list(split_batches([run.acc], 1.0))
    lost_at, back_at = int(batches[20].t_ns[0]), int(batches[45].t_ns[0])  # 25 s without samples
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path / "spool")
    stop = asyncio.Event()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path / "w", team=team, silent_after_s=None),
        analyzer_factory=analyzer_factory(""),
        sinks=[sink],
    )
    worker_task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)

    async def items() -> AsyncIterator[object]:
        for b in batches[:20]:
            yield b
        yield CaptureEvent(t_ns=0, kind="link_lost", fields={"runner": "anna", "device": "h10"})
        yield CaptureEvent(t_ns=0, kind="link_restored", fields={"runner": "anna", "device": "h10"})
        for b in batches[45:]:
            yield b

    async with Collector(settings=settings, team=team) as collector:
        await collector.publish_session("anna", items())
    for _ in range(200):
        if worker.stats.sessions_finished:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await worker_task
    rows = influxdb.series_rows('SELECT "state", "sensor" FROM "status" ORDER BY time', database=db)
    assert [(r["state"], r["sensor"]) for r in rows] == [
        ("running", "ok"),
        ("running", "lost"),
        ("running", "ok"),
        ("finished", "ok"),
    ]
    windows = influxdb.series_rows('SELECT "t_start_ns", "n_steps" FROM "windows" ORDER BY time', database=db)
    assert [w for w in windows if w["time"] <= lost_at] and [w for w in windows if w["t_start_ns"] >= back_at]
    over = [w for w in windows if w["t_start_ns"] < back_at and lost_at < w["time"]]  # time: the window's end
    assert over == [], over
