"""The InfluxDB path against hostile names and a refusing database, on the real InfluxDB 1.x: a name
the line protocol cannot carry as it is never costs another runner's points, a line the database refuses
is split out of its batch and dropped alone (counted, logged, kept in rejected.lp), and a fresh server
gets its database."""

from __future__ import annotations

import json
import logging
import pathlib
import urllib.parse
import urllib.request

import pytest

from strideguard.analytics.results import AnalyzerOutput, Side, StepEvent
from strideguard.stream.errors import SinkError
from strideguard.stream.influx import InfluxSink, V1Writer
from strideguard.stream.influx.writers import LineWriter
from strideguard.stream.runtime.session import SessionInfo
from tests.fixtures_services import InfluxDBService

pytestmark = pytest.mark.services

T0 = 1_700_000_000_000_000_000
# Names that line protocol must escape or cannot carry as they are (a tag value cannot end in a backslash
# on InfluxDB 1.x: its parser takes `\,` and `\ ` as escaped whatever precedes them).
HOSTILE_NAMES = ["ana\\", "\\", "a b\\", "a\\,b", "a=b", "a,b c", "x\ny", "x\ty", "x\ry", "x\x01y", "#x", "é ü"]


def session(runner: str, team: str = "club") -> SessionInfo:
    return SessionInfo(session_id=f"s-{runner!r}", runner=runner, team=team, source="test", started_t_ns=T0)


def steps(runner: str, n: int, *, step_time_at: int | None = None) -> AnalyzerOutput:
    """`n` steps; only step `step_time_at` (if any) has a step time."""
    return AnalyzerOutput(
        steps=tuple(
            StepEvent(
                runner=runner,
                t_ns=T0 + i * 10**8,
                index=i,
                side=Side.LEFT,
                impact_g=2.0 + i,
                step_time_s=0.36 if i == step_time_at else None,
            )
            for i in range(n)
        )
    )


class CountingWriter:
    """The real V1Writer, counting the requests the sink makes."""

    def __init__(self, inner: LineWriter) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint
        self.requests = 0

    def write(self, body: bytes) -> None:
        self.requests += 1
        self.inner.write(body)

    def close(self) -> None:
        self.inner.close()


async def test_hostile_runner_names_lose_no_point_of_anyone(influxdb: InfluxDBService, tmp_path: pathlib.Path) -> None:
    """Before: `ana\\` made InfluxDB answer 400 for the batch; the sink set the whole batch aside as
    rejected (every runner's points in rejected.lp, none counted as written)."""
    db = influxdb.create_database("hostile_names")
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path)
    runners = ["bo", *HOSTILE_NAMES, "cy"]
    for runner in runners:
        await sink.write(session(runner), steps(runner, 3))
    await sink.close()
    assert (sink.lines_written, sink.lines_rejected) == (3 * len(runners), 0)
    assert not (tmp_path / "rejected.lp").exists()
    counts = influxdb.series_rows("SELECT count(impact_g) FROM steps GROUP BY session", database=db)
    assert sorted(r["count"] for r in counts) == [3] * len(runners)  # every runner its own series, all points
    stored = {r["value"] for r in influxdb.series_rows('SHOW TAG VALUES FROM steps WITH KEY = "runner"', database=db)}
    # Faithful where line protocol can be: everything but a trailing backslash and line breaks/tabs
    # (those become a space, and the two-character escapes \n \t \r, as influxdb-client's Point writes them).
    assert {"bo", "cy", "a\\,b", "a=b", "a,b c", "x\x01y", "#x", "é ü"} <= stored
    assert {"ana ", " ", "a b ", "x\\ny", "x\\ty", "x\\ry"} <= stored


async def test_a_refused_line_is_split_out_of_its_batch_and_dropped_alone(
    influxdb: InfluxDBService, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A field-type conflict (step_time_s already stored as text) makes InfluxDB refuse the one line of a
    100-line batch of 4 runners that has a step time. Before: the whole batch went to rejected.lp and no
    line was counted as written."""
    db = influxdb.create_database("bisect")
    writer = CountingWriter(V1Writer(url=influxdb.url, database=db))
    writer.write(f'steps,runner=old step_time_s="text" {T0}\n'.encode())
    sink = InfluxSink(writer=writer, spool_dir=tmp_path, batch_lines=10_000)
    for runner in ("ann", "bob", "zed", "cat"):
        await sink.write(session(runner), steps(runner, 25, step_time_at=12 if runner == "zed" else None))
    caplog.set_level(logging.WARNING, logger="strideguard.stream.influx")
    await sink.flush()
    assert (sink.lines_written, sink.lines_rejected) == (99, 1)
    assert writer.requests - 1 <= 2 * 7 + 1  # bisection: about two requests per halving of 100 lines
    rejected = (tmp_path / "rejected.lp").read_bytes().splitlines()
    assert len(rejected) == 1 and rejected[0].startswith(b"steps,runner=zed,session=s-'zed',side=left,team=club ")
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1 and "field type conflict" in drops[0].getMessage()
    counts = influxdb.series_rows("SELECT count(impact_g) FROM steps GROUP BY runner", database=db)
    assert {r["runner"]: r["count"] for r in counts} == {"ann": 25, "bob": 25, "cat": 25, "zed": 24}
    await sink.close()


class AuthInfluxDB(InfluxDBService):
    """InfluxDB 1.x with authentication on: an admin `admin` and a user `writer` who may not create
    databases (the usual production set-up)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config_path.write_text(self.config_path.read_text().replace("[http]\n", "[http]\n  auth-enabled = true\n"))

    def start(self) -> None:
        super().start()
        self.query("CREATE USER admin WITH PASSWORD 'admin-pw' WITH ALL PRIVILEGES")  # the first user: no auth yet
        self.admin("CREATE USER writer WITH PASSWORD 'writer-pw'")

    def admin(self, influxql: str) -> dict:
        data = urllib.parse.urlencode({"q": influxql}).encode()
        with urllib.request.urlopen(f"{self.url}/query?u=admin&p=admin-pw", data=data, timeout=10) as resp:
            return json.loads(resp.read())


async def test_a_fresh_influxdb_gets_its_database_when_the_sink_starts(
    influxdb: InfluxDBService, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the worker spooled for ever with "influxdb unreachable ... database not found"."""
    caplog.set_level(logging.WARNING, logger="strideguard.stream.influx")
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database="fresh_db"), spool_dir=tmp_path)
    await sink.start()
    await sink.write(session("ann"), steps("ann", 5))
    await sink.close()
    assert (sink.lines_written, sink.batches_spooled) == (5, 0)
    assert influxdb.series_rows("SELECT count(impact_g) FROM steps", database="fresh_db")[0]["count"] == 5
    assert [r.getMessage() for r in caplog.records] == [
        f"influxdb: created the missing database 'fresh_db' ({influxdb.url}/query)"
    ]


async def test_without_the_right_to_create_it_the_start_fails_on_one_line_and_a_404_is_not_unreachable(
    service_factory, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = service_factory(AuthInfluxDB)
    writer = V1Writer(url=server.url, database="team_db", username="writer", password="writer-pw")
    sink = InfluxSink(writer=writer, spool_dir=tmp_path, retry_initial_s=0.05, retry_max_s=0.2)
    with pytest.raises(SinkError) as failed:
        await sink.start()
    assert "\n" not in str(failed.value)
    assert str(failed.value) == (
        f"influxdb ({server.url}/write): database 'team_db' does not exist and cannot be created with these "
        "credentials (HTTP 403: error authorizing query: writer not authorized to execute statement 'CREATE "
        "DATABASE team_db', requires admin privilege); create it (influx -execute 'CREATE DATABASE "
        '"team_db"\') or use an admin user'
    )
    # Should it go on regardless (or the database go away later), the writes are spooled and the log says why.
    caplog.set_level(logging.WARNING, logger="strideguard.stream.influx")
    await sink.write(session("ann"), steps("ann", 5))
    await sink.flush()
    assert sink.batches_spooled == 1 and sink.lines_written == 0
    spooling = caplog.records[-1].getMessage()
    assert spooling.startswith(
        f"influxdb: spooling to disk: influxdb ({server.url}/write): database rejected the write (404 database"
        ' not found: "team_db"); creating it failed: HTTP 403'
    )
    assert "unreachable" not in spooling
    server.admin('CREATE DATABASE "team_db"')
    server.admin('GRANT WRITE ON "team_db" TO "writer"')
    await sink.close()
    assert sink.spool.empty and sink.lines_written == 5
    assert caplog.records[-1].getMessage().startswith("influxdb: spool drained: 1 spooled batches delivered after ")
