"""The team set-up as processes for the coach tests and the latency benchmark: a real Mosquitto, a
`strideguard worker`, a `strideguard coach` and `strideguard collect` processes (stopped by their PIDs)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import signal
import time
import urllib.request

from strideguard.sensors import capture
from strideguard.sensors.synthetic import Change, SyntheticConfig, SyntheticRunner
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, unique_client_id
from tests.fixtures_services import free_port
from tests.stream.test_e2e_live import Role

# Short warm-up and baseline so a test sees risk scores and an alert within a minute of data.
RISK_TOML = """\
[risk]
warmup_s = 5.0
baseline_s = 20.0
min_baseline_windows = 3
cooldown_s = 20.0
clear_s = 5.0
[risk.metrics.cadence]
sustain_s = 10.0
[risk.metrics.sway_ml]
sustain_s = 10.0
[risk.metrics.impact]
sustain_s = 10.0
"""


def fatigue_capture(path: pathlib.Path, runner: str, duration_s: float, *, change_at_s: float | None) -> pathlib.Path:
    """A synthetic runner (acc at 100 Hz), with a fatigue change at `change_at_s` (None: steady)."""
    changes = (
        () if change_at_s is None else (Change(at_s=change_at_s, ramp_s=5, cadence_pct=-8, sway_pct=40, impact_pct=25),)
    )
    run = SyntheticRunner(SyntheticConfig(cadence_spm=166.0, changes=changes)).generate(
        duration_s, 100, seed=7, runner=runner, device=f"imu-{runner}"
    )
    capture.write_batches(path, [run.acc])
    return path


@dataclasses.dataclass
class TeamRig:
    broker_url: str
    team: str
    tmp: pathlib.Path
    roles: list[Role] = dataclasses.field(default_factory=list)
    coach_port: int = 0

    def start(self, name: str, args: list[str]) -> Role:
        role = Role(args, self.tmp / f"{name}.log")
        role.start()
        self.roles.append(role)
        return role

    def start_worker(self) -> Role:
        config = self.tmp / "risk.toml"
        config.write_text(RISK_TOML)
        return self.start(
            "worker",
            [
                "worker",
                "--broker",
                self.broker_url,
                "--team",
                self.team,
                "--state-dir",
                str(self.tmp / "worker"),
                "--config",
                str(config),
                "--linger-ms",
                "0",
            ],
        )

    def start_coach(self) -> Role:
        self.coach_port = free_port()
        return self.start(
            "coach", ["coach", "--broker", self.broker_url, "--team", self.team, "--port", str(self.coach_port)]
        )

    def collect(self, name: str, args: list[str]) -> Role:
        return self.start(name, ["collect", "--broker", self.broker_url, "--team", self.team, "--id", name, *args])

    @property
    def coach_url(self) -> str:
        return f"http://127.0.0.1:{self.coach_port}/"

    def wait_coach(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.coach_url + "healthz", timeout=1) as r:
                    if json.loads(r.read())["ok"]:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the coach did not serve its pages within {timeout_s:g} s:\n{self.logs()}")

    async def wait_worker_online(self, settings: MqttSettings, timeout_s: float = 30) -> None:
        """Until the worker's retained service status says online (it has subscribed)."""
        async with MqttConnection(
            settings=settings,
            client_id=unique_client_id("rig-watch"),
            subscriptions=["strideguard/v1/_services/+/status"],
        ) as conn:
            async with asyncio.timeout(timeout_s):
                async for message in conn.messages():
                    if "/worker-" in message.topic and json.loads(message.payload).get("state") == "online":
                        return

    def stop(self) -> None:
        for role in reversed(self.roles):
            role.signal(signal.SIGTERM)

    def logs(self) -> str:
        return "\n".join(f"--- {r.log_path.name}\n{r.log()[-2000:]}" for r in self.roles)
