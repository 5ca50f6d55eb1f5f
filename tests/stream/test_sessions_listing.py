"""`strideguard sessions` as a user runs it: the alerts column shows each stored session's own count."""

from __future__ import annotations

import asyncio
import json
import pathlib

import pytest

from strideguard.analytics.results import RiskEventKind, Severity
from strideguard.stream.runtime.app import RunOptions, run_file
from tests.stream.cli_run import strideguard

REPO = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sensors" / "samples"
Store = tuple[pathlib.Path, dict[str, int]]  # the store file, and the number of risk events per session id


@pytest.fixture(scope="module")
def store_with_two_runs(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store holding the bundled fatigue run (it fires alerts) and the treadmill sample (it fires none),
    with the number of alerts (WARNING and ALERT onsets) the pipeline produced for each session."""
    db = tmp_path_factory.mktemp("listing") / "store.db"
    expected: dict[str, int] = {}
    with pytest.MonkeyPatch.context() as env:
        env.delenv("STRIDEGUARD_CONFIG", raising=False)
        env.setenv("XDG_CONFIG_HOME", str(db.parent))  # default thresholds, whatever the user has
        for name in ("fatigue_run.sgcap", "uci_treadmill_p1.sgcap"):
            opts = RunOptions(path=SAMPLES / name, db_path=db, live_view=False, keep_outputs=True)
            result = asyncio.run(run_file(opts))
            for runner, summary in result.summaries.items():
                events = result.pipeline.outputs(runner).risk_events
                expected[summary.session_id] = sum(
                    e.kind is RiskEventKind.ONSET and e.severity in (Severity.WARNING, Severity.ALERT) for e in events
                )
    return db, expected


def test_sessions_shows_each_sessions_number_of_alerts(store_with_two_runs: Store) -> None:
    db, expected = store_with_two_runs
    assert len(expected) == 2 and sorted(expected.values())[0] == 0 and sorted(expected.values())[1] >= 3
    proc = strideguard("sessions", db=db)
    assert proc.returncode == 0, proc.stderr
    header, *lines = proc.stdout.splitlines()
    # "start (UTC)" in the header and a start's date and time are two words each, so words line up
    alerts_at = header.split().index("alerts")
    shown = {cells[0]: cells[alerts_at] for cells in (line.split() for line in lines)}
    assert shown == {sid: str(n) for sid, n in expected.items()}, proc.stdout


def test_sessions_json_carries_the_number_of_alerts(store_with_two_runs: Store) -> None:
    db, expected = store_with_two_runs
    proc = strideguard("sessions", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    assert {row["session_id"]: row["n_alerts"] for row in json.loads(proc.stdout)} == expected


# Not about the listing: the only test file of this change, so the regression test of the broker settings
# fix made alongside lives here (move it next to the MQTT tests when convenient).
def test_broker_url_credentials_can_be_overridden_by_the_username_option() -> None:
    """`collect`/`worker --username` (or $STRIDEGUARD_MQTT_USERNAME, as docker-compose sets it) used to
    crash with "got multiple values for keyword argument 'username'"."""
    from strideguard.stream.mqtt.connection import MqttSettings

    settings = MqttSettings.from_url("mqtt://url-user:url-pw@broker:1884", username="worker", password="secret")
    assert (settings.host, settings.port, settings.username, settings.password) == ("broker", 1884, "worker", "secret")
    timed = MqttSettings.from_url("mqtt://broker", connect_timeout_s=1.0)
    assert (timed.host, timed.port, timed.username, timed.connect_timeout_s) == ("broker", 1883, None, 1.0)
    with pytest.raises(TypeError):
        MqttSettings.from_url("mqtt://broker", no_such_setting=1)
