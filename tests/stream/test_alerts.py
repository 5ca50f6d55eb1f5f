"""The alert dispatcher and the terminal, page and webhook channels, against real local receivers."""

from __future__ import annotations

import asyncio
import io
import socket

import pytest

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import AnalyzerOutput, RiskEventKind, Severity
from strideguard.stream.alerts import (
    AlertDispatcher,
    DispatchPolicy,
    PageChannel,
    TerminalChannel,
    WebhookChannel,
    alert_settings,
    build_dispatcher,
)
from strideguard.stream.alerts.base import Alert
from strideguard.stream.alerts.settings import AlertSettings
from strideguard.stream.alerts.webhook import backoff_s
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.engine import SessionSummary
from tests.stream.alert_helpers import SESSION, event, receiver

FAST_RETRY = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "attempt_timeout_s": 1.0}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_terminal_line_names_runner_severity_message_and_cue() -> None:
    out = io.StringIO()
    d = AlertDispatcher([TerminalChannel(out=out)])
    await d.write(
        SESSION, AnalyzerOutput(risk_events=(event(), event(kind=RiskEventKind.CLEARED, at_s=700, onset_s=540)))
    )
    await d.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "[22:23:20Z] anna: WARNING Cadence 6 % below your baseline for 1 min — shorter, quicker steps",
        "[22:25:00Z] anna: ok again — Cadence 6 % below your baseline for 1 min",
    ]


async def test_duplicates_are_delivered_once() -> None:
    out = io.StringIO()
    d = AlertDispatcher([TerminalChannel(out=out)])
    e = event()
    await d.write(SESSION, AnalyzerOutput(risk_events=(e, e)))
    await d.write(SESSION, AnalyzerOutput(risk_events=(e,)))
    await d.close()
    assert len(out.getvalue().splitlines()) == 1
    assert d.duplicates == 2


async def test_rate_limit_in_data_time_and_cleared_follows_its_onset() -> None:
    out = io.StringIO()
    d = AlertDispatcher([TerminalChannel(out=out)], policy=DispatchPolicy(burst=2, refill_s=60))
    metrics = ["cadence", "impact", "lean", "sway_ml"]
    accepted = [d.dispatch(SESSION, event(m, at_s=600 + i)) for i, m in enumerate(metrics)]
    assert accepted == [True, True, False, False]
    assert d.suppressed == 2
    # the suppressed lean onset's CLEARED is not delivered; cadence's is
    assert not d.dispatch(SESSION, event("lean", at_s=700, onset_s=542, kind=RiskEventKind.CLEARED))
    assert d.dispatch(SESSION, event("cadence", at_s=700, onset_s=540, kind=RiskEventKind.CLEARED))
    # one token back after 60 s of data time, not of wall time
    assert d.dispatch(SESSION, event("fatigue", at_s=662))
    assert not d.dispatch(SESSION, event("step_asymmetry", at_s=663))
    # another runner has their own bucket
    assert d.dispatch(SESSION, event("impact", at_s=603, runner="ben"))
    await d.close()
    assert len(out.getvalue().splitlines()) == 5


async def test_info_notes_never_use_up_a_warnings_place_in_the_rate_limit() -> None:
    out = io.StringIO()
    d = AlertDispatcher([TerminalChannel(out=out)], policy=DispatchPolicy(burst=1, refill_s=60))
    assert d.dispatch(SESSION, event("warmup", at_s=130, severity=Severity.INFO))
    assert d.dispatch(SESSION, event("cadence", at_s=600, severity=Severity.INFO))  # the floor's note
    assert d.dispatch(SESSION, event("lean", at_s=601))  # the one token is still there
    assert not d.dispatch(SESSION, event("impact", at_s=602))
    assert d.suppressed == 1
    await d.close()
    assert len(out.getvalue().splitlines()) == 3


async def test_page_channel_publishes_on_the_runners_alert_topic() -> None:
    bus = busmod.Bus()
    sub = bus.subscribe(busmod.topic("club", "anna", "alerts"))
    d = AlertDispatcher([PageChannel(bus)])
    await d.write(SESSION, AnalyzerOutput(risk_events=(event(),)))
    await d.close()
    _topic_name, message = sub.get_nowait()
    assert message["delivered"] is True
    assert (message["metric"], message["kind"], message["session_id"]) == ("cadence", "onset", "anna-1")


async def test_webhook_json_reaches_a_local_receiver() -> None:
    async with receiver() as rec:
        d = AlertDispatcher([WebhookChannel(url=rec.url, **FAST_RETRY)])
        await d.write(SESSION, AnalyzerOutput(risk_events=(event(severity=Severity.ALERT),)))
        await d.close()
        body = rec.json()
    assert body["schema"] == 1
    assert (body["runner"], body["team"], body["metric"], body["severity"], body["kind"]) == (
        "anna",
        "club",
        "cadence",
        "alert",
        "onset",
    )
    assert body["cue"] == "shorter, quicker steps"
    assert "not a diagnosis" in body["disclaimer"]
    assert d.stats["webhook"].delivered == 1


async def test_webhook_ntfy_style_sends_text_and_headers() -> None:
    async with receiver() as rec:
        ch = WebhookChannel(url=rec.url, style="ntfy", **FAST_RETRY)
        await ch.send(Alert(session=SESSION, event=event(severity=Severity.ALERT)))
        await ch.aclose()
        post = rec.delivered()[0]
    assert post["body"].decode() == ("anna: ALERT Cadence 6 % below your baseline for 1 min — shorter, quicker steps")
    assert post["headers"]["Title"] == "StrideGuard anna: cadence (alert)"
    assert post["headers"]["Priority"] == "5"


async def test_webhook_retries_server_errors_with_backoff() -> None:
    async with receiver(fail_first=2) as rec:
        ch = WebhookChannel(url=rec.url, **FAST_RETRY)
        await ch.send(Alert(session=SESSION, event=event()))
        await ch.aclose()
        assert [p["status"] for p in rec.posts] == [503, 503, 200]
    assert ch.attempts == 3


async def test_unreachable_webhook_is_retried_then_given_up_and_never_stalls_the_others() -> None:
    out = io.StringIO()
    hook = WebhookChannel(url=f"http://127.0.0.1:{closed_port()}/hook", max_attempts=4, **FAST_RETRY)
    d = AlertDispatcher([hook, TerminalChannel(out=out)])
    await d.write(SESSION, AnalyzerOutput(risk_events=(event(),)))  # returns at once: only queues
    assert d.lanes[0].queue and d.lanes[1].queue
    await d.close()
    assert hook.attempts == 4
    assert d.stats["webhook"].failed == 1
    assert d.stats["terminal"].delivered == 1
    assert "WARNING Cadence" in out.getvalue()


async def test_a_hanging_receiver_does_not_hold_back_other_channels() -> None:
    out = io.StringIO()
    async with receiver(hang=True) as rec:
        hook = WebhookChannel(url=rec.url, max_attempts=1, attempt_timeout_s=30.0)
        d = AlertDispatcher([hook, TerminalChannel(out=out)], policy=DispatchPolicy(queue_size=2))
        for i in range(5):
            await d.write(SESSION, AnalyzerOutput(risk_events=(event(f"m{i}", at_s=600 + 100 * i),)))
            await asyncio.sleep(0.01)  # the pipeline awaits between outputs; lanes run meanwhile
        assert await d.flush(timeout_s=0.5) is False  # the webhook lane is still stuck on its first POST
        assert d.stats["terminal"].delivered == 5
        assert d.stats["webhook"].delivered == 0
        assert d.stats["webhook"].dropped == 3  # bounded (the alert in flight counts): the oldest are dropped
        d.policy = DispatchPolicy(drain_s=0.1)
        for lane in d.lanes:
            lane.policy = d.policy
        await d.close()


def test_backoff_is_jittered_and_capped() -> None:
    delays = [backoff_s(n, 0.2, 5.0) for n in range(1, 12) for _ in range(20)]
    assert all(0.0 <= x <= 5.0 for x in delays)
    assert len(set(delays)) > 100
    assert max(backoff_s(1, 0.2, 5.0) for _ in range(200)) <= 0.2


def test_settings_build_the_configured_channels() -> None:
    from strideguard.stream.runtime.settings import parse_settings

    settings = parse_settings("""
[alerts]
burst = 2
[alerts.terminal]
enabled = true
[alerts.webhook]
enabled = true
url = "https://ntfy.sh/club"
style = "ntfy"
[alerts.haptic]
enabled = true
[runner."anna".alerts.haptic]
address = "C4:7C:8D:6A:12:34"
""")
    d = build_dispatcher(settings.alerts, bus=busmod.Bus())
    assert [lane.channel.name for lane in d.lanes] == ["terminal", "page", "haptic", "webhook"]
    assert d.policy.burst == 2
    assert d.lanes[2].channel.address_for("anna") == "C4:7C:8D:6A:12:34"
    assert d.lanes[2].channel.address_for("ben") is None
    assert build_dispatcher(AlertSettings.default(), bus=None) is None


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"alerts": {"burts": 3}}, "alerts.burts"),
        ({"alerts": {"webhook": {"enabled": True, "url": "ntfy.sh/x"}}}, "alerts.webhook.url"),
        ({"alerts": {"webhook": {"style": "xml"}}}, "alerts.webhook.style"),
        ({"alerts": {"haptic": {"enabled": True}}}, "alerts.haptic.address"),
        ({"alerts": {"mqtt": {"enabled": True, "url": "http://x"}}}, "alerts.mqtt.url"),
        ({"alerts": {"mqtt": {"enabled": True, "topic": "a/{who}"}}}, "alerts.mqtt.topic"),
        ({"alerts": {"refill_s": 0}}, "alerts.refill_s"),
    ],
)
def test_bad_alert_settings_name_the_key(settings: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        alert_settings(settings)
    assert info.value.key == key


async def test_dispatcher_is_a_pipeline_sink() -> None:
    from strideguard.stream.runtime.pipeline import Sink

    d = AlertDispatcher([TerminalChannel(out=io.StringIO())])
    assert isinstance(d, Sink)
    await d.open_session(SESSION)
    await d.close_session(
        SESSION,
        SessionSummary(session_id="s", runner="anna", duration_s=0.0, n_samples=0, n_steps=0, n_windows=0),
    )
    await asyncio.wait_for(d.close(), 5)
