"""The InfluxDB sink against real servers: v1 API on InfluxDB 1.x, v2 API on VictoriaMetrics, and a
spool that keeps everything, in order, while the database is down."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from strideguard.analytics.results import (
    AnalyzerOutput,
    RiskEvent,
    RiskEventKind,
    Severity,
    Side,
    StepEvent,
    WindowMetrics,
)
from strideguard.stream.influx import InfluxSink, V1Writer, V2Writer
from strideguard.stream.influx.lineproto import output_lines
from strideguard.stream.influx.spool import Spool
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo
from tests.fixtures_services import InfluxDBService, VictoriaMetricsService

pytestmark = pytest.mark.services

T0 = 1_700_000_000_000_000_000


def session(runner: str = "ana b", sid: str = "s,1") -> SessionInfo:
    return SessionInfo(session_id=sid, runner=runner, team="club=1", source="test", started_t_ns=T0)


def output(k: int, n_steps: int = 3) -> AnalyzerOutput:
    base = T0 + k * 10**10
    steps = tuple(
        StepEvent(
            runner="ana b",
            t_ns=base + i * 10**8,
            index=k * n_steps + i,
            side=Side.LEFT if i % 2 else Side.RIGHT,
            impact_g=2.0 + i / 10,
            step_time_s=0.36 if i else None,
        )
        for i in range(n_steps)
    )
    window = WindowMetrics(
        runner="ana b",
        t_start_ns=base,
        t_end_ns=base + 5 * 10**9,
        n_steps=n_steps,
        running=True,
        cadence_spm=170.0 + k,
        impact_g=2.1,
        sway_ml_ratio=0.5,
        lean_deg=None,
    )
    event = RiskEvent(
        runner="ana b",
        t_ns=base + 1,
        kind=RiskEventKind.ONSET,
        metric="cadence_spm",
        severity=Severity.WARNING,
        value=160.0,
        baseline=170.0,
        deviation=-5.9,
        deviation_unit="%",
        duration_s=30.0,
        message='cadence "dropped", 6 %',
        cue="quicker steps",
        onset_t_ns=base - 1,
    )
    return AnalyzerOutput(steps=steps, windows=(window,), risk_events=(event,))


async def test_v1_points_read_back_with_tags_types_and_escaping(
    influxdb: InfluxDBService, tmp_path: pathlib.Path
) -> None:
    db = influxdb.create_database("influx_v1_roundtrip")
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path)
    s = session()
    sink.tag_session(s.session_id, device="H10 A", placement="chest")
    await sink.open_session(s)
    for k in range(3):
        await sink.write(s, output(k))
    await sink.close_session(
        s,
        SessionSummary(session_id=s.session_id, runner=s.runner, duration_s=3.0, n_samples=300, n_steps=9, n_windows=0),
    )
    await sink.close()

    steps = influxdb.series_rows("SELECT * FROM steps ORDER BY time", database=db)
    assert [r["index"] for r in steps] == list(range(9))
    assert steps[0] | {"time": 0} == {
        "time": 0,
        "index": 0,
        "impact_g": 2.0,
        "step_time_s": None,
        "runner": "ana b",
        "team": "club=1",
        "session": "s,1",
        "device": "H10 A",
        "placement": "chest",
        "side": "right",
    }
    windows = influxdb.series_rows("SELECT cadence_spm, n_steps, running FROM windows", database=db)
    assert [(w["cadence_spm"], w["n_steps"], w["running"]) for w in windows] == [
        (170.0, 3, True),
        (171.0, 3, True),
        (172.0, 3, True),
    ]
    alerts = influxdb.series_rows("SELECT message, metric, kind FROM alerts", database=db)
    assert alerts[0]["message"] == 'cadence "dropped", 6 %' and len(alerts) == 3
    sessions = influxdb.series_rows("SELECT * FROM sessions", database=db)
    assert len(sessions) == 1 and sessions[0]["state"] == "finished" and sessions[0]["n_steps"] == 9.0
    status = influxdb.series_rows("SELECT state, sensor FROM status", database=db)  # the runner's state changes
    assert status[0]["state"] == "running" and status[-1]["state"] == "finished"
    assert sink.lines_written == 9 + 3 + 3 + 2 + len(status)


async def test_writing_a_session_twice_overwrites_instead_of_duplicating(
    influxdb: InfluxDBService, tmp_path: pathlib.Path
) -> None:
    db = influxdb.create_database("influx_idempotent")
    for attempt in range(2):
        sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path / str(attempt))
        await sink.open_session(session())
        await sink.write(session(), output(0))
        await sink.close()
    assert influxdb.series_rows("SELECT count(impact_g) FROM steps", database=db)[0]["count"] == 3
    assert influxdb.series_rows("SELECT count(value) FROM alerts", database=db)[0]["count"] == 1


async def test_database_down_spools_in_order_and_flushes_when_it_returns(
    influxdb_private: InfluxDBService, tmp_path: pathlib.Path
) -> None:
    db = influxdb_private.create_database("spooled")
    sink = InfluxSink(
        writer=V1Writer(url=influxdb_private.url, database=db),
        spool_dir=tmp_path / "spool",
        batch_lines=4,
        retry_initial_s=0.05,
        retry_max_s=0.2,
    )
    s = session()
    await sink.open_session(s)
    await sink.write(s, output(0))
    await sink.flush()
    influxdb_private.stop()
    for k in range(1, 6):
        await sink.write(s, output(k))
    await sink.flush()
    assert sink.batches_spooled >= 5 and not sink.spool.empty
    influxdb_private.start()
    await sink.close()
    assert sink.spool.empty
    rows = influxdb_private.series_rows("SELECT index FROM steps ORDER BY time", database=db)
    assert [r["index"] for r in rows] == list(range(18))


async def test_a_spool_left_by_a_crashed_sink_is_delivered_by_the_next_one(
    influxdb: InfluxDBService, tmp_path: pathlib.Path
) -> None:
    db = influxdb.create_database("leftover")
    spool = Spool(tmp_path)
    spool.append("\n".join(output_lines(output(0), {"runner": "x", "session": "left"})).encode() + b"\n")
    spool.close()
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path)
    await sink.open_session(session("x", "left"))
    await sink.close()
    assert influxdb.series_rows("SELECT count(impact_g) FROM steps", database=db)[0]["count"] == 3


async def test_rejected_batches_are_set_aside_not_retried(influxdb: InfluxDBService, tmp_path: pathlib.Path) -> None:
    db = influxdb.create_database("rejected")
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path)
    sink._buffer.append("steps,runner=x impact_g=1.0 1")
    await sink.flush()
    sink._buffer.append('steps,runner=x impact_g="text" 2')  # field type conflict: HTTP 400
    await sink.flush()
    await sink.close()
    assert sink.batches_rejected == 1
    assert b'impact_g="text"' in (tmp_path / "rejected.lp").read_bytes()


def test_spool_survives_a_torn_record_and_keeps_order(tmp_path: pathlib.Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(f"m v={i} {i}\n".encode())
    assert spool.peek() == b"m v=0 0\n"
    spool.commit()
    spool.close()
    with open(tmp_path / "spool.log", "ab") as f:
        f.write(b"\x20\x00\x00\x00\x01\x02\x03\x04torn")  # a crash inside append
    spool = Spool(tmp_path)
    got = []
    while (body := spool.peek()) is not None:
        got.append(body)
        spool.commit()
    assert got == [b"m v=1 1\n", b"m v=2 2\n"]
    assert spool.empty and (tmp_path / "spool.log").stat().st_size == 0


async def test_v2_api_through_influxdb_client_on_victoriametrics(
    victoriametrics: VictoriaMetricsService, tmp_path: pathlib.Path
) -> None:
    writer = V2Writer(url=victoriametrics.url, token="unused", org="club", bucket="strideguard")
    sink = InfluxSink(writer=writer, spool_dir=tmp_path)
    s = session("vm-runner", "vm-1")
    await sink.open_session(s)
    await sink.write(s, output(0))
    await sink.close()
    assert sink.lines_written == 6 + 2 and sink.spool.empty  # + `status`: the session opened, its alert began
    series = victoriametrics.export('{__name__="windows_cadence_spm", session="vm-1"}')
    assert [x["values"] for x in series] == [[170.0]]
    assert series[0]["metric"]["runner"] == "vm-runner"
    impacts = victoriametrics.export('{__name__="steps_impact_g", session="vm-1"}')
    assert sorted(v for x in impacts for v in x["values"]) == [2.0, 2.1, 2.2]


async def test_v2_writer_unreachable_is_retryable(tmp_path: pathlib.Path) -> None:
    from strideguard.stream.influx import RetryableWriteError
    from tests.fixtures_services import free_port

    writer = V2Writer(url=f"http://127.0.0.1:{free_port()}", token="t", org="o", bucket="b", timeout_s=1)
    with pytest.raises(RetryableWriteError, match="unreachable"):
        await asyncio.to_thread(writer.write, b"m v=1 1\n")
    writer.close()


def test_the_sessions_point_carries_how_the_run_started_and_its_warnings() -> None:
    """Issue 18: session-level risk facts as flat fields Grafana can filter on (the summary's risk table
    is nested, and nested entries are not fields)."""
    from strideguard.stream.influx.lineproto import session_line

    summary = {
        "duration_s": 1500.0,
        "risk": {
            "warmup": {"judged": True, "hard_start": True, "pct_of_working": {"cadence_spm": 99.0}},
            "cadence_floor_windows": {"judged": 12, "no_speed": 0, "below_running_speed": 3},
            "events": {"cadence:onset": 2, "cadence:cleared": 2, "warmup:note": 1, "fatigue:onset": 1},
        },
    }
    line = session_line({"runner": "anna", "team": "club"}, 1_700_000_000 * 10**9, state="finished", summary=summary)
    assert 'warmup_start="hard"' in line and "cadence_floor_judged_windows=12" in line and "n_onsets=3" in line
    unjudged = {"risk": {"warmup": {"judged": False, "reason": "too short"}}}
    assert "warmup_start" not in session_line({"runner": "anna"}, 1, state="finished", summary=unjudged)
