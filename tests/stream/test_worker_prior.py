"""The team set-up judges a runner against their own history, as the embedded run does.

Before: `strideguard worker --db` stored the sessions but never read them back, so every session in the
team set-up learned its baseline from scratch (no prior, 3 minutes of "learning your baseline"), while
`analyze`/`record` against the same store started from the runner's previous baseline."""

from __future__ import annotations

import asyncio
import json
import pathlib

import pytest

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic.presets import fatigue_run
from strideguard.stream.mqtt.connection import MqttSettings
from tests.fixtures_services import MosquittoService
from tests.stream.cli_run import strideguard
from tests.stream.coach_rig import TeamRig


@pytest.mark.slow
@pytest.mark.services
async def test_the_worker_takes_the_runners_prior_baseline_from_its_store(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    db = tmp_path / "club.db"
    run = fatigue_run(duration_s=420, rate_hz=25.0, runner="kim")  # the baseline needs warm-up + 3 min
    earlier = tmp_path / "kim.sgcap"
    write_batches(str(earlier), [run.acc])
    done = strideguard("analyze", str(earlier), "--db", str(db))
    assert done.returncode == 0, done.stderr
    today = tmp_path / "kim-today.sgcap"
    write_batches(str(today), [fatigue_run(duration_s=120, rate_hz=25.0, runner="kim", seed=11).acc])

    rig = TeamRig(broker_url=f"mqtt://{mosquitto.host}:{mosquitto.port}", team="prior", tmp=tmp_path)
    try:
        worker = rig.start(
            "worker",
            [
                "worker",
                "--broker",
                rig.broker_url,
                "--team",
                rig.team,
                "--state-dir",
                str(tmp_path / "w"),
                "--db",
                str(db),
            ],
        )
        await rig.wait_worker_online(MqttSettings(host=mosquitto.host, port=mosquitto.port))
        collect = rig.collect("c1", ["--runner", "kim", str(today)])
        assert collect.proc is not None and collect.proc.wait(120) == 0, rig.logs()
        for _ in range(600):
            rows = json.loads(strideguard("sessions", "--json", "--db", str(db)).stdout)
            if len(rows) == 2 and rows[1]["status"] == "completed":
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"the worker did not store today's session:\n{rig.logs()}")
    finally:
        rig.stop()
    assert worker.proc is not None and worker.proc.wait(30) == 0, rig.logs()
    first, second = (r["summary"]["risk"]["baseline"] for r in rows)
    assert first["source"] == "run"
    # 120 s is too short for a baseline of its own: without the prior, today's session has none
    assert second is not None and "prior" in second["source"], second
