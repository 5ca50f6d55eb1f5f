"""Every query in dashboards/ runs against a real InfluxDB holding replayed sessions and returns data;
the dashboard JSON and the provisioning YAML pass a structural check."""

from __future__ import annotations

import json
import re

import pytest

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.synthetic import Change, SyntheticConfig, SyntheticRunner
from strideguard.stream.influx import InfluxSink, V1Writer
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.collector import split_batches
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo
from tests.fixtures_services import REPO_ROOT, InfluxDBService

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
    assert glance["options"]["sortBy"] == [{"displayName": "risk", "desc": True}]  # ordered by risk
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
