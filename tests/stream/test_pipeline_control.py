"""The control path without a browser: a snooze published on the bus reaches the runner's RiskEngine
through the Pipeline, on data time (latest data of that runner + minutes), and is answered on the bus."""

from __future__ import annotations

import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from tests.stream.snooze_helpers import NS, RUNNER, analyzer, onsets_s, snooze_run

RUN = snooze_run()
T0 = RUN.start_t_ns


def snooze_message(metric: str | None, minutes: float, request_id: int = 1) -> dict:
    return {"action": "snooze", "runner": RUNNER, "metric": metric, "minutes": minutes, "request_id": request_id}


async def replay(control: list[tuple[float, dict]], *, team: str = "t", runner_topic: str = RUNNER):
    """Replay the run through a Pipeline with a BusSink; publish each control message once the data
    reaches its time (as the web server does when the runner taps). Returns (pipeline, onsets, replies)."""
    bus = busmod.Bus()
    replies = bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team=team, keep_outputs=True)
    pending = sorted(control, key=lambda c: c[0])
    for batch in RUN.iter_batches(1.0):
        while pending and batch.t_ns[0] - T0 >= pending[0][0] * NS:
            bus.publish(busmod.topic(team, runner_topic, "control"), pending.pop(0)[1])
        await pipeline.push(batch)
    await pipeline.finish()
    await pipeline.close()
    seen = []
    while (item := replies.get_nowait()) is not None:
        if item[1].get("action") != "snooze":
            seen.append(item[1])
    return pipeline, onsets_s(list(pipeline.outputs(RUNNER).risk_events), T0), seen


async def test_without_a_snooze_every_episode_fires() -> None:
    _, onsets, _ = await replay([])
    assert [m for m, _ in onsets] == ["cadence", "cadence", "lean", "cadence"]
    times = dict(zip(["c1", "c2", "lean", "c3"], [t for _, t in onsets], strict=True))
    assert 60 < times["c1"] <= 80 and 150 < times["c2"] <= 170 and 150 < times["lean"] <= 170
    assert 300 < times["c3"] <= 320


async def test_snooze_of_one_metric_holds_it_on_data_time_and_others_still_fire() -> None:
    pipeline, onsets, replies = await replay([(90.0, snooze_message("cadence", 3.0))])
    (reply,) = replies
    assert reply["action"] == "snoozed" and reply["metric"] == "cadence" and reply["request_id"] == 1
    # until = the runner's latest data time when the message was applied + 3 min
    assert reply["until_t_ns"] - reply["from_t_ns"] == 180 * NS
    assert 89 <= (reply["from_t_ns"] - T0) / NS <= 91
    assert pipeline.control_replies == [reply]
    metrics = [m for m, _ in onsets]
    assert metrics == ["cadence", "lean", "cadence"]  # the 150-s cadence drop fell in the snooze
    assert onsets[-1][1] > (reply["until_t_ns"] - T0) / NS


async def test_snooze_of_everything_holds_every_metric_until_it_ends() -> None:
    _, onsets, (reply,) = await replay([(90.0, snooze_message(None, 3.0))])
    assert reply["action"] == "snoozed" and reply["metric"] is None
    assert [m for m, _ in onsets] == ["cadence", "cadence"]  # before the snooze, and after it ended


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (snooze_message("cadense", 10), "unknown or disabled metric 'cadense'"),
        (snooze_message("cadence", 0), "minutes must be a number above 0"),
        (snooze_message("cadence", 10_000), "at most 240"),
        (snooze_message("cadence", True), "minutes must be a number"),
        (snooze_message(3, 10), "metric must be a name or null"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason_and_change_nothing(message: dict, reason: str) -> None:
    _, onsets, (reply,) = await replay([(90.0, message)])
    assert reply["action"] == "refused"
    assert reason in reply["reason"]
    assert [m for m, _ in onsets] == ["cadence", "cadence", "lean", "cadence"]


async def test_messages_for_other_runners_or_teams_are_ignored() -> None:
    _, onsets, replies = await replay([(90.0, snooze_message("cadence", 3.0))], runner_topic="ben")
    assert replies == [] and [m for m, _ in onsets] == ["cadence", "cadence", "lean", "cadence"]
    bus = busmod.Bus()
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team="t")
    bus.publish(busmod.topic("other", RUNNER, "control"), snooze_message("cadence", 3.0))
    await pipeline.push(next(RUN.iter_batches(1.0)))
    assert pipeline.control_replies == []
    await pipeline.close()


async def test_an_explicit_control_bus_works_without_a_bus_sink() -> None:
    bus = busmod.Bus()
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[], team="t", control=bus)
    batches = RUN.iter_batches(1.0)
    first = next(batches)
    await pipeline.push(first)
    bus.publish(busmod.topic("t", RUNNER, "control"), snooze_message("lean", 1.5))
    await pipeline.push(next(batches))
    (reply,) = pipeline.control_replies
    assert reply["action"] == "snoozed"
    assert reply["from_t_ns"] == int(first.t_ns[-1])  # applied before the next batch: the data time so far
    assert reply["until_t_ns"] == reply["from_t_ns"] + 90 * NS
    assert bus.last[busmod.topic("t", RUNNER, "control")] == reply
    await pipeline.close()
