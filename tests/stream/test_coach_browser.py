"""Acceptance: `strideguard coach` shows the team of `strideguard collect --synthetic 6` (plus a runner
with a fatigue alert and a finished one) through real Mosquitto and a worker process, in real Chromium
on a phone-sized screen, ranked as specified: active alert severity first, then risk, then name; runners
whose sensor is lost or silent and finished runners greyed and sunk.

Before this work the team set-up had no team page at all (only Grafana)."""

from __future__ import annotations

import pathlib

import pytest

from strideguard.stream.mqtt.connection import MqttSettings
from tests.fixtures_services import MosquittoService
from tests.stream.coach_rig import TeamRig, fatigue_capture

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
SEVERITY_RANK = {"": 0, "info": 1, "warning": 2, "alert": 3}
GROUP = {"live": 0, "stale": 1, "finished": 2}
ROWS = """() => [...document.querySelectorAll('#runners tbody tr')].map(tr => ({
  runner: tr.dataset.runner, state: tr.dataset.state, severity: tr.dataset.severity || '',
  risk: StrideGuard.state.runners[tr.dataset.runner].risk }))"""  # the unrounded risk the page holds


def spec_order(rows: list[dict]) -> list[str]:
    """The ranking the issue specifies, computed independently of the page's code."""

    def key(r: dict) -> tuple:
        risk = -1.0 if r["risk"] is None else float(r["risk"])
        return (GROUP[r["state"]], -SEVERITY_RANK[r["severity"]], -risk, r["runner"])

    return [r["runner"] for r in sorted(rows, key=key)]


async def test_coach_page_shows_the_synthetic_team_through_mosquitto_and_a_worker_ranked_by_need(
    mosquitto_private: MosquittoService, browser, tmp_path: pathlib.Path
) -> None:
    settings = MqttSettings(host=mosquitto_private.host, port=mosquitto_private.port)
    rig = TeamRig(broker_url=mosquitto_private.url, team="club", tmp=tmp_path)
    try:
        rig.start_worker()
        await rig.wait_worker_online(settings)
        rig.start_coach()
        rig.wait_coach()
        page = await browser.new_page(viewport=PHONE)
        await page.goto(rig.coach_url)
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        # aaron: 60 s, as fast as possible: finished at once, with a risk score (sunk all the same)
        rig.collect(
            "collector-aaron",
            ["--speed", "0", str(fatigue_capture(tmp_path / "a.sgcap", "aaron", 60, change_at_s=None))],
        )
        # zoe: a fatigue change at 40 s of data, replayed at 4x: an active alert within ~15 s
        zoe = fatigue_capture(tmp_path / "z.sgcap", "zoe", 600, change_at_s=40)
        rig.collect("collector-zoe", ["--speed", "4", str(zoe)])
        rig.collect("collector", ["--synthetic", "6", "--duration-s", "600", "--speed", "1"])
        await page.wait_for_function(
            """() => {
              const rows = [...document.querySelectorAll('#runners tbody tr')];
              const by = Object.fromEntries(rows.map(tr => [tr.dataset.runner, tr]));
              const team = [1, 2, 3, 4, 5, 6].map(i => by['runner-' + i]);
              return rows.length === 8 && team.every(tr => tr && tr.dataset.state === 'live'
                       && tr.querySelector('td.risk').textContent !== '–')
                && by.zoe && by.zoe.dataset.severity && by.aaron && by.aaron.dataset.state === 'finished'
                && by.aaron.querySelector('td.risk').textContent !== '–';
            }""",
            timeout=90_000,
            polling=250,
        )
        rows = await page.evaluate(ROWS)
        await page.screenshot(path=str(tmp_path / "coach-team.png"), full_page=True)
        order = [r["runner"] for r in rows]
        assert order == spec_order(rows), rows
        assert order[0] == "zoe" and order[-1] == "aaron", rows  # the alert on top, the finished runner sunk
        assert sorted(order[1:-1]) == [f"runner-{i}" for i in range(1, 7)]
        # the runner page of the team set-up: the dispatcher's delivered alert is pinned in the banner
        runner_page = await browser.new_page(viewport=PHONE)
        await runner_page.goto(rig.coach_url + "runner/zoe")
        await runner_page.wait_for_function("!document.getElementById('banner').hidden", timeout=10_000)
        assert await runner_page.get_attribute("#banner", "data-kind") == "onset"
        await runner_page.screenshot(path=str(tmp_path / "coach-runner.png"), full_page=True)
        # its snooze goes through the coach to the worker (control topic) and the worker's answer comes back
        await runner_page.click("#snooze-metric")
        await runner_page.wait_for_function(
            "document.querySelector('.snooze-bar').dataset.active === 'yes'", timeout=15_000
        )
        assert "Snoozed fatigue" in await runner_page.text_content("#snooze-status")
    except Exception:
        print(rig.logs())
        raise
    finally:
        rig.stop()
    coach_log = next(r for r in rig.roles if r.args[0] == "coach").log()
    assert "'dropped': {}" in coach_log, coach_log[-2000:]  # nothing from the worker was refused
