"""The InfluxDB and MQTT sinks in the embedded pipeline (one process, `run_file`): what the pipeline
computed is what lands in InfluxDB and on MQTT."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from strideguard.sensors import capture
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.influx import InfluxSink, V1Writer
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.payload import loads, window_from_message
from strideguard.stream.mqtt.sink import MqttSink
from strideguard.stream.runtime.app import RunOptions, run_file
from tests.fixtures_services import InfluxDBService, MosquittoService

pytestmark = pytest.mark.services


async def test_embedded_pipeline_writes_influx_and_mqtt(
    influxdb: InfluxDBService, mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    run = SyntheticRunner(SyntheticConfig(cadence_spm=168)).generate(60, 100, seed=7, runner="eve")
    path = tmp_path / "eve.sgcap"
    capture.write_batches(path, [run.acc])
    db = influxdb.create_database("embedded")
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    windows_seen: list = []
    async with (
        MqttConnection(
            settings=settings, client_id="embedded-observer", subscriptions=["strideguard/v1/solo/eve/metrics"]
        ) as observer,
        MqttConnection(settings=settings, client_id="embedded-publisher") as publisher,
    ):
        influx = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path / "spool")
        result = await run_file(
            RunOptions(
                path=path,
                store=False,
                live_view=False,
                keep_outputs=True,
                team="solo",
                extra_sinks=[influx, MqttSink(publisher)],
            )
        )
        expected = result.pipeline.outputs("eve")
        messages = observer.messages()
        while len(windows_seen) < len(expected.windows):
            m = await asyncio.wait_for(anext(messages), 10)
            windows_seen.append(window_from_message(loads(m.payload)))
    assert windows_seen == list(expected.windows) and len(expected.windows) >= 8
    rows = influxdb.series_rows("SELECT cadence_spm FROM windows ORDER BY time", database=db)
    assert [r["cadence_spm"] for r in rows] == [w.cadence_spm for w in expected.windows if w.cadence_spm is not None]
    steps = influxdb.series_rows("SELECT count(impact_g) FROM steps", database=db)
    assert steps[0]["count"] == sum(1 for s in expected.steps if s.impact_g is not None)
    sessions = influxdb.series_rows('SELECT "state", "n_steps" FROM sessions', database=db)
    assert [(s["state"], s["n_steps"]) for s in sessions] == [("finished", float(len(expected.steps)))]
