"""POST /api/runner/<name>/snooze over real HTTP: validation, a control message on the bus for the
runner's live session, and the pipeline's answer on the page feed."""

from __future__ import annotations

import aiohttp
import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from tests.stream.test_web import read_events

RUNNING = {"session_id": "s1", "runner": "anna", "state": "running"}


async def post(server: WebServer, runner: str, body, *, json_body: bool = True) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        kwargs = {"json": body} if json_body else {"data": body}
        async with http.post(server.url + f"api/runner/{runner}/snooze", **kwargs) as resp:
            return resp.status, await resp.json()


async def test_snooze_publishes_a_control_message_for_the_live_session(server: WebServer) -> None:
    server.bus.publish(busmod.topic("club", "anna", "status"), RUNNING)
    server.bus.publish(busmod.topic("club", "ben", "status"), {**RUNNING, "runner": "ben"})
    control = server.bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    status, reply = await post(server, "anna", {"metric": "cadence", "minutes": 10})
    assert status == 202
    assert reply["teams"] == ["club"]
    topic_name, message = control.get_nowait()
    assert topic_name == busmod.topic("club", "anna", "control")
    assert message == {
        "action": "snooze",
        "runner": "anna",
        "metric": "cadence",
        "minutes": 10.0,
        "request_id": reply["request_id"],
    }
    assert control.get_nowait() is None  # ben is not touched
    status, reply = await post(server, "anna", {"metric": None, "minutes": 2.5})
    assert (status, control.get_nowait()[1]["metric"]) == (202, None)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"metric": "cadense", "minutes": 10}, 400, "metric must be null or one of cadence"),
        ({"metric": "cadence", "minutes": 0}, 400, "minutes must be a number above 0"),
        ({"metric": "cadence", "minutes": 241}, 400, "at most 240"),
        ({"metric": "cadence", "minutes": "10"}, 400, "minutes must be a number"),
        ({"metric": "cadence"}, 400, "minutes must be a number"),
        (["cadence", 10], 400, "send a JSON object"),
    ],
)
async def test_bad_requests_are_refused_with_one_clear_line(server: WebServer, body, status: int, error: str) -> None:
    server.bus.publish(busmod.topic("club", "anna", "status"), RUNNING)
    control = server.bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    got_status, reply = await post(server, "anna", body)
    assert got_status == status
    assert error in reply["error"]
    assert control.get_nowait() is None


async def test_no_live_session_is_a_404_and_a_form_post_is_refused(server: WebServer) -> None:
    status, reply = await post(server, "anna", {"metric": None, "minutes": 10})
    assert (status, reply["error"]) == (404, "no live session for runner 'anna'")
    server.bus.publish(busmod.topic("club", "anna", "status"), {**RUNNING, "state": "finished"})
    assert (await post(server, "anna", {"metric": None, "minutes": 10}))[0] == 404
    server.bus.publish(busmod.topic("club", "anna", "status"), RUNNING)
    status, reply = await post(server, "anna", "metric=cadence&minutes=10", json_body=False)
    assert status == 415 and "send JSON" in reply["error"]
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.url + "api/runner/anna/snooze", data=b"{not json", headers={"Content-Type": "application/json"}
        ) as resp,
    ):
        assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]


async def test_the_runner_feed_carries_the_pipelines_answer(server: WebServer) -> None:
    answer = {
        "action": "snoozed",
        "runner": "anna",
        "metric": "cadence",
        "minutes": 10.0,
        "request_id": 1,
        "from_t_ns": 100,
        "until_t_ns": 600 * 10**9 + 100,
    }
    server.bus.publish(busmod.topic("club", "anna", "status"), {"runner": "anna", "state": "running"})
    async with aiohttp.ClientSession() as http, http.get(server.url + "events?runner=anna") as resp:
        ((kind, _),) = await read_events(resp, 1)
        assert kind == "status"  # the replayed status of her session
        server.bus.publish(busmod.topic("club", "ben", "control"), {**answer, "runner": "ben"})
        server.bus.publish(busmod.topic("club", "anna", "control"), answer)
        ((kind, data),) = await read_events(resp, 1)
        assert (kind, data["message"]) == ("control", answer)
