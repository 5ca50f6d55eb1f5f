"""The retraining page in real headless Chromium (Debian's), driven by Playwright (issue 20 acceptance).

Observed inside the page: the look-ahead scheduler's beat times over 10 minutes of simulated clock with a
jittery, sometimes stalling timer; the clicks as actually rendered by an OfflineAudioContext (onsets found
in the samples); the noise level the page sets, and the gain the audio graph plays, for a scripted impact
sequence; the programme's on/off blocks for a series of stored sessions; the pauses and the tap.
Screenshots at phone size go to /tmp/h8_*.png.
"""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from strideguard.analytics.pain import PainEntry
from strideguard.analytics.risk import FATIGUE
from strideguard.stream.web.retrain_routes import RetrainProviders
from tests.analytics.test_retraining import _record
from tests.stream.retrain_helpers import BASELINE, PHONE, RUNNER, alert, retrain_server, status, step

pytestmark = pytest.mark.browser

TARGET = 170.0 * 1.05  # the baseline's 170 spm + 5 %
PERIOD_S = 60.0 / TARGET
NS = 1_000_000_000
SEED = 20  # the simulated timer's jitter


async def open_page(browser, server):
    page = await browser.new_page(viewport=PHONE)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(server.url + f"runner/{RUNNER}/retrain")
    await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
    return page, errors


async def wait_state(page, condition: str) -> None:
    await page.wait_for_function(
        f"(() => {{ const s = Retrain.state.snapshot; return !!s && ({condition}); }})()", timeout=10_000
    )


async def test_metronome_interval_is_60_over_target_within_1ms_over_10_simulated_minutes(browser) -> None:
    """The page's scheduler driven by a simulated clock: 10 min of 25-ms ticks with +-10 ms jitter and a
    1.2-s stall every minute (a locked screen's timer), the target changing at minute 5."""
    async with retrain_server() as server:
        page, errors = await open_page(browser, server)
        beats = await page.evaluate(
            """([period1, period2, seed]) => {
                let x = seed >>> 0;
                const rand = () => { x = (x * 1664525 + 1013904223) >>> 0; return x / 4294967296; };
                const clock = { currentTime: 0 };
                const out = [];
                const s = Retrain.createScheduler(clock, (t) => out.push([t, clock.currentTime]));
                s.aheadS = 1.5;  // hidden-page look-ahead: a stall shorter than it loses no beat
                s.setPeriod(period1);
                let changed = false;
                let nextStall = 60;
                while (clock.currentTime < 600) {
                    s.tick();
                    if (!changed && clock.currentTime >= 300) { s.setPeriod(period2); changed = true; }
                    let dt = 0.025 + (rand() - 0.5) * 0.02;
                    if (clock.currentTime >= nextStall) { dt = 1.2; nextStall += 60; }
                    clock.currentTime += dt;
                }
                return out;
            }""",
            [PERIOD_S, 60.0 / 180.0, SEED],
        )
        print(f"seed {SEED}: {len(beats)} beats")
        times = [t for t, _ in beats]
        assert all(t >= now for t, now in beats)  # never scheduled in the past
        assert all(t - now <= 1.5 + 1e-9 for t, now in beats)  # at most the look-ahead ahead
        change = next(i for i, t in enumerate(times) if t > 300.0 + 1.5)  # beats on the new period from here
        first = [b - a for a, b in itertools.pairwise(times[: change - 10])]
        second = [b - a for a, b in itertools.pairwise(times[change:])]
        assert len(first) > 800 and len(second) > 800
        assert max(abs(d - PERIOD_S) for d in first) < 1e-3
        assert max(abs(d - 60.0 / 180.0) for d in second) < 1e-3
        # across the change too: no gap and no doubled beat, each interval is one period or the other
        assert all(
            min(abs(d - PERIOD_S), abs(d - 60.0 / 180.0)) < 1e-3 for d in map(lambda a, b: b - a, times, times[1:])
        )
        # no drift: beat n is at the anchor + n periods, to far better than a millisecond
        assert abs(times[change - 11] - (times[0] + (change - 11) * PERIOD_S)) < 1e-6
        assert abs(len(times) - (300 * TARGET / 60 + 300 * 180 / 60)) < 10  # every beat, none lost in the stalls
        assert errors == []
        await page.close()


async def test_clicks_rendered_by_an_offline_audio_context_are_sample_accurate_for_10_minutes(browser) -> None:
    """The page's own click and scheduler rendered offline (8 kHz, 600 s): onsets found in the samples."""
    async with retrain_server() as server:
        page, _ = await open_page(browser, server)
        onsets = await page.evaluate(
            """async ([period, rate, seconds]) => {
                // the page's scheduler driven by the offline clock: the render suspends every second and
                // the tick schedules what lies within the look-ahead, as the 25-ms timer does live
                const ctx = new OfflineAudioContext(1, rate * seconds, rate);
                const sound = Retrain.createSound(ctx);
                const s = Retrain.createScheduler(ctx, (t) => sound.click(t));
                s.aheadS = 1.5;
                s.setPeriod(period);
                s.tick();
                for (let t = 1; t < seconds; t++) ctx.suspend(t).then(() => { s.tick(); ctx.resume(); });
                const data = (await ctx.startRendering()).getChannelData(0);
                const found = [];
                let quietUntil = 0;
                for (let i = 0; i < data.length; i++) {
                    if (i >= quietUntil && Math.abs(data[i]) > 0.02) { found.push(i); quietUntil = i + rate * 0.1; }
                }
                return found;
            }""",
            [PERIOD_S, 8000, 600],
        )
        times = [i / 8000 for i in onsets]
        assert len(times) == math.floor((600 - 0.05 - 0.01) / PERIOD_S) + 1  # every beat up to the end
        intervals = [b - a for a, b in itertools.pairwise(times)]
        worst = max(abs(d - PERIOD_S) for d in intervals)
        print(f"{len(times)} clicks, worst interval error {worst * 1000:.3f} ms")
        assert worst < 1e-3
        assert max(abs(t - (times[0] + n * PERIOD_S)) for n, t in enumerate(times)) < 1e-3  # no drift
        await page.close()


async def test_sonification_follows_a_scripted_impact_sequence_and_the_metronome_plays(browser) -> None:
    script = [2.5] * 5 + [2.0] * 6 + [3.0] * 6 + [2.35] * 5
    async with retrain_server() as server:
        bus = server.bus
        page, errors = await open_page(browser, server)
        status(bus, "running")
        await page.click("#start")
        await wait_state(page, "s.mode === 'active'")
        t_ns = 0
        for k, impact in enumerate(script):
            t_ns += round(PERIOD_S * NS)
            step(bus, t_ns, None if k == 0 else PERIOD_S, impact, k)
            await page.wait_for_function(f"Retrain.state.levels.filter(l => l.stepTNs === {t_ns}).length === 1")
            if k in (10, 16):  # after five 2.0 g steps, after five 3.0 g steps: the graph's gain has settled
                await asyncio.sleep(0.3)
                played = await page.evaluate("Retrain.state.audio.sound.noiseLevel()")
                assert played == pytest.approx(0.0 if k == 10 else 1.0, abs=0.01)
        levels = await page.evaluate("Retrain.state.levels.filter(l => l.stepTNs !== null).map(l => l.level)")
        expected = []
        for k in range(len(script)):
            window = script[max(0, k - 4) : k + 1]
            if len(window) < 5:
                expected.append(0.0)  # no 5-step average yet: no noise
                continue
            ratio = sum(window) / 5 / 2.5
            expected.append(min(1.0, max(0.0, (ratio - 0.85) / 0.30)))
        assert levels == pytest.approx(expected, abs=1e-4)
        assert levels[4] == pytest.approx(0.5, abs=1e-4) and levels[9] == 0.0 and levels[15] == 1.0
        # the metronome on the real AudioContext: beats at 60 / target, audible while the cue is on
        await page.wait_for_function("Retrain.state.beats.length >= 8")
        beats = await page.evaluate("Retrain.state.beats")
        assert len(beats) >= 5 and all(b["audible"] for b in beats)
        assert all(abs(b["t"] - a["t"] - PERIOD_S) < 1e-3 for a, b in itertools.pairwise(beats))
        assert await page.text_content("#target") == "179"
        assert await page.text_content("#band") == "IN BAND"
        await page.screenshot(path="/tmp/h8_active.png")
        assert errors == []
        await page.close()


@pytest.mark.parametrize(
    ("stored", "phase", "share"), [(0, "continuous", 1.0), (5, "fading", 0.6), (9, "maintenance", 0.2)]
)
async def test_the_page_plays_the_programme_blocks_of_the_stored_sessions(browser, stored, phase, share) -> None:
    history = [_record(active_s=900.0, t=n) for n in range(stored)]
    providers = RetrainProviders(baseline=lambda r: BASELINE, history=lambda r: history)
    async with retrain_server(providers) as server:
        bus = server.bus
        page, _ = await open_page(browser, server)
        status(bus, "running")
        await page.click("#start")
        await wait_state(page, f"s.programme.session_number === {stored + 1}")
        text = await page.text_content("#programme")
        assert text.startswith(f"Session {stored + 1} · ")
        if share < 1:
            assert f"on {round(100 * share)} % of each 2-min cycle" in text
        cycle = 120.0
        probes = [(0.0, True), (share * cycle - 5, True), (share * cycle + 5, share >= 1), (cycle + 5, True)]
        for k, (t_s, on) in enumerate(probes):
            step(bus, round(t_s * NS) + k, None, 2.5, k)
            await wait_state(page, f"s.step_t_ns === {round(t_s * NS) + k}")
            assert await page.evaluate("Retrain.state.snapshot.feedback_on") is on, (t_s, on)
            assert await page.evaluate("Retrain.state.audio.metronomeOn") is on
            assert ("cue on now" if on else "cue off now") in await page.text_content("#programme")
        assert await page.evaluate("Retrain.state.snapshot.programme.phase") == phase
        await page.close()


async def test_never_starts_by_itself_and_fatigue_pauses_with_the_reason_spoken(browser) -> None:
    async with retrain_server() as server:
        bus = server.bus
        page, errors = await open_page(browser, server)
        status(bus, "running")
        for k in range(12):
            step(bus, (k + 1) * round(0.35 * NS), None if k == 0 else 0.35, 2.6, k)
        await wait_state(page, f"s.step_t_ns === {12 * round(0.35 * NS)}")
        assert await page.evaluate("Retrain.state.snapshot.mode") == "off"
        assert await page.evaluate("Retrain.state.audio") is None  # no AudioContext before the tap
        assert await page.text_content("#mode") == "Off. The mode starts only when you tap Start."

        await page.click("#start")
        await wait_state(page, "s.mode === 'active'")
        for k in range(12, 24):
            step(bus, (k + 1) * round(0.35 * NS), 0.35, 2.6, k)  # 171 spm: below the 178.5 target
        await wait_state(page, "s.band === 'below'")
        assert await page.text_content("#band") == "BELOW"
        assert await page.text_content("#band-cue") == "quicker, shorter steps"
        await page.screenshot(path="/tmp/h8_below.png")

        alert(bus, FATIGUE, "onset", onset_t_ns=5 * NS)
        await page.wait_for_selector("#pause:not([hidden])", timeout=10_000)
        spoken = await page.evaluate("Retrain.state.spoken")
        assert spoken == ["Retraining paused: fatigue pattern. Ease off: slow down or walk a minute."]
        assert await page.evaluate("Retrain.state.audio.metronomeOn") is False
        assert await page.is_hidden("#start")  # no resume while the fatigue alert is active
        await page.screenshot(path="/tmp/h8_paused.png")

        alert(bus, FATIGUE, "cleared", onset_t_ns=5 * NS)
        await page.wait_for_function("document.getElementById('pause-hint').textContent === 'Tap Start to resume.'")
        assert await page.evaluate("Retrain.state.snapshot.mode") == "paused"  # waits for the tap
        assert await page.text_content("#start") == "Tap to resume"
        assert len(await page.evaluate("Retrain.state.spoken")) == 1  # told once
        await page.click("#start")
        await wait_state(page, "s.mode === 'active'")
        assert errors == []
        await page.close()


async def test_a_red_flag_in_the_pain_log_refuses_the_start_and_says_why(browser) -> None:
    flagged = PainEntry(runner=RUNNER, t_ns=1, red_flags={"leg_pain": True})
    providers = RetrainProviders(baseline=lambda r: BASELINE, pain=lambda r: [flagged])
    async with retrain_server(providers) as server:
        page, _ = await open_page(browser, server)
        status(server.bus, "running")
        await wait_state(page, "s.session_id === 's1'")
        await page.click("#start")
        await page.wait_for_selector("#pause:not([hidden])", timeout=10_000)
        text = await page.text_content("#pause-text")
        assert "you answered yes to: does pain shoot down one or both legs" in text
        assert "Stop running and see a clinician" in text
        assert await page.is_hidden("#start")  # no resume offered while the red flag stands
        assert await page.evaluate("Retrain.state.spoken") == [text]
        assert await page.text_content("#pause-hint") == ""  # no resume offered while it stands
        assert await page.evaluate("Retrain.state.beats.length") == 0
        await page.screenshot(path="/tmp/h8_red_flag.png")
        await page.close()


async def test_calibrating_without_a_stored_baseline_is_shown(browser) -> None:
    async with retrain_server(RetrainProviders()) as server:
        page, _ = await open_page(browser, server)
        status(server.bus, "running")
        await wait_state(page, "s.session_id === 's1'")
        await page.click("#start")
        await wait_state(page, "s.mode === 'calibrating'")
        assert await page.text_content("#band") == "MEASURING"
        assert (await page.text_content("#mode")).startswith("Run at your usual pace: measuring your cadence (60 s)")
        assert await page.evaluate("Retrain.state.audio.metronomeOn") is False
        await page.screenshot(path="/tmp/h8_calibrating.png")
        await page.close()
