"""The service fixtures start real servers that answer, restart on the same port and keep their data."""

from __future__ import annotations

import urllib.request

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.fixtures_services import InfluxDBService, MosquittoService, VictoriaMetricsService

pytestmark = pytest.mark.services


async def test_mosquitto_delivers_and_keeps_a_persistent_session_across_restart(
    mosquitto_private: MosquittoService,
) -> None:
    broker = mosquitto_private
    kw = {"hostname": broker.host, "port": broker.port, "protocol": aiomqtt.ProtocolVersion.V5}
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    async with aiomqtt.Client(identifier="fixture-sub", clean_start=False, properties=props, **kw) as sub:
        await sub.subscribe("fixture/t", qos=1)
    async with aiomqtt.Client(identifier="fixture-pub", **kw) as pub:
        await pub.publish("fixture/t", b"queued while the subscriber is away", qos=1)
    broker.stop()
    assert not broker.tcp_open()
    broker.start()
    async with aiomqtt.Client(identifier="fixture-sub", clean_start=False, properties=props, **kw) as sub:
        async for message in sub.messages:
            assert message.payload == b"queued while the subscriber is away"
            break


def test_influxdb_writes_and_queries(influxdb: InfluxDBService) -> None:
    db = influxdb.create_database("fixture_smoke")
    req = urllib.request.Request(
        f"{influxdb.url}/write?db={db}&precision=ns", data=b"m,runner=a v=1.5 1000000000\n", method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    rows = influxdb.series_rows("SELECT v FROM m", database=db)
    assert rows == [{"time": 1_000_000_000, "v": 1.5}]


def test_victoriametrics_accepts_influx_line_protocol(victoriametrics: VictoriaMetricsService) -> None:
    req = urllib.request.Request(
        f"{victoriametrics.url}/write", data=b"fixture,runner=a v=2 1700000000000000000\n", method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    series = victoriametrics.export('{__name__="fixture_v"}')
    assert [s["values"] for s in series] == [[2]]
    assert series[0]["metric"]["runner"] == "a"


def test_a_missing_binary_fails_with_the_package_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import fixtures_services

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(fixtures_services.os, "access", lambda *_: False)
    with pytest.raises(pytest.fail.Exception, match="install the Debian package 'mosquitto'"):
        fixtures_services.require_binary("mosquitto", "mosquitto")
