"""The retraining mode's pure parts (issue 20) against scripted truth: the target, the band and time in
band of a synthetic runner who answers the cue with a time constant, the impact sonification of a
scripted impact sequence, the programme's fade across a series of stored sessions, and the pauses.
"""

from __future__ import annotations

import math
import random

import pytest

from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.errors import AnalyticsError, ConfigError
from strideguard.analytics.pain import RED_FLAGS, PainEntry
from strideguard.analytics.retraining import (
    Band,
    ProgrammeStep,
    Reference,
    RetrainingConfig,
    RetrainingSession,
    SessionProgress,
    band_time_from_windows,
    classify,
    fade_table,
    impact_level,
    programme_step,
    target_spm,
)
from strideguard.analytics.risk import FATIGUE, MetricBaseline

SEED = 2016  # printed by the tests that use it


def responsive_runner(
    *,
    c0_spm: float,
    target: float,
    tau_s: float,
    duration_s: float,
    seed: int = SEED,
    asym: float = 0.02,
    jitter: float = 0.005,
    impact0_g: float = 2.5,
) -> list[tuple[int, float | None, float]]:
    """Steps (t_ns, step_time_s, impact_g) of a runner whose cadence rises from c0 to the target as
    c(t) = target - (target - c0) exp(-t / tau), with left/right alternation (+-asym) and jitter; impact
    falls with cadence as (c0 / c)^3 (quicker steps land softer). The first step has no interval."""
    rng = random.Random(seed)
    steps: list[tuple[int, float | None, float]] = [(0, None, impact0_g)]
    t = 0.0
    k = 0
    while True:
        c = target - (target - c0_spm) * math.exp(-t / tau_s)
        k += 1
        dt = 60.0 / c * (1 + (asym if k % 2 else -asym)) * (1 + rng.uniform(-jitter, jitter))
        t += dt
        if t > duration_s:
            return steps
        c_now = target - (target - c0_spm) * math.exp(-t / tau_s)
        steps.append((round(t * NS_PER_S), dt, impact0_g * (c0_spm / c_now) ** 3))


def entry_time_s(c0: float, target: float, tau: float, band_pct: float) -> float:
    """When c(t) reaches the lower band edge."""
    low = target * (1 - band_pct / 100)
    return -tau * math.log(1 - (low - c0) / (target - c0))


def programme(**kw: object) -> ProgrammeStep:
    fields: dict[str, object] = {
        "session_number": 1,
        "phase": "continuous",
        "on_share": 1.0,
        "cycle_s": 120.0,
        "first_impact_g": None,
    }
    fields.update(kw)
    return ProgrammeStep(**fields)  # type: ignore[arg-type]


def session(cfg: RetrainingConfig, step: ProgrammeStep, *, cadence: float | None = 170.0, impact: float = 2.5):
    return RetrainingSession(
        runner="anna",
        session_id="s",
        config=cfg,
        programme=step,
        cadence_ref=None if cadence is None else Reference(value=cadence),
        impact_ref=Reference(value=impact),
    )


def feed(s: RetrainingSession, steps: list[tuple[int, float | None, float]]) -> None:
    for t_ns, dt, impact in steps:
        s.push_step(t_ns=t_ns, step_time_s=dt, impact_g=impact)


# -- target ---------------------------------------------------------------------------------------
def test_target_is_baseline_plus_percent_or_fixed_and_follows_speed() -> None:
    cfg = RetrainingConfig()
    assert target_spm(Reference(value=170.0), cfg) == pytest.approx(178.5)
    assert target_spm(Reference(value=170.0), cfg.replace(cadence_increase_pct=10.0)) == pytest.approx(187.0)
    assert target_spm(None, cfg) is None
    fixed = cfg.replace(fixed_target_spm=180.0)
    assert target_spm(None, fixed, 2.0) == 180.0
    # a baseline measured at 3.0 m/s without a learned slope gets the risk config's 4.5 %/(m/s)
    ref = Reference.from_metric(MetricBaseline(value=170.0, sd=2.0, n_windows=30, speed_mps=3.0), 4.5)
    assert ref.slope_per_mps == pytest.approx(7.65)
    assert target_spm(ref, cfg, 2.5) == pytest.approx((170.0 - 0.5 * 7.65) * 1.05)
    assert target_spm(ref, cfg, 3.5) == pytest.approx((170.0 + 0.5 * 7.65) * 1.05)
    assert target_spm(ref, cfg, None) == pytest.approx(178.5)  # no speed now: the plain baseline
    learned = Reference.from_metric(
        MetricBaseline(value=170.0, sd=2.0, n_windows=30, speed_mps=3.0, slope_per_mps=5.0), 4.5
    )
    assert target_spm(learned, cfg, 4.0) == pytest.approx(175.0 * 1.05)


def test_band_edges() -> None:
    assert classify(178.5, 178.5, 2.0) is Band.IN
    assert classify(178.5 * 0.98, 178.5, 2.0) is Band.IN
    assert classify(178.5 * 0.979, 178.5, 2.0) is Band.BELOW
    assert classify(178.5 * 1.021, 178.5, 2.0) is Band.ABOVE


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"cadence_increase_pct": 10.5}, "retraining.cadence_increase_pct"),
        ({"cadence_increase_pct": -1}, "retraining.cadence_increase_pct"),
        ({"fixed_target_spm": 60.0}, "retraining.fixed_target_spm"),
        ({"impact_window_steps": 0}, "retraining.impact_window_steps"),
        ({"impact_window_steps": 2.5}, "retraining.impact_window_steps"),
        ({"impact_clean_ratio": 1.2, "impact_full_ratio": 1.1}, "retraining.impact_full_ratio"),
        ({"band_pct": float("nan")}, "retraining.band_pct"),
        ({"cadence_pct": 5}, "retraining"),
        ({"cadence_increase_pct": True}, "retraining.cadence_increase_pct"),
    ],
)
def test_config_refuses_out_of_range_and_unknown(values: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        RetrainingConfig.from_mapping(values)
    assert err.value.key == key


# -- the synthetic runner answering the cue ----------------------------------------------------------
def test_time_in_band_and_progress_of_a_runner_answering_the_cue() -> None:
    print(f"seed {SEED}")
    cfg = RetrainingConfig()
    c0, tau, duration = 170.0, 60.0, 900.0
    target = 170.0 * 1.05
    steps = responsive_runner(c0_spm=c0, target=target, tau_s=tau, duration_s=duration)
    s = session(cfg, programme(session_number=2, first_impact_g=2.5))
    assert s.start().paused is False
    feed(s, steps)
    p = s.progress()
    active = sum(dt for _, dt, _ in steps if dt is not None)
    t_in = entry_time_s(c0, target, tau, cfg.band_pct)
    assert t_in == pytest.approx(52.05, abs=0.01)
    # the rolling cadence over 8 intervals lags the instantaneous one by about 4 steps (1.4 s)
    assert p.active_s == pytest.approx(active, abs=1e-3)
    assert p.time_in_band_s == pytest.approx(active - t_in - 1.4, abs=1.5)
    assert p.time_above_s == 0.0
    first_judged = sum(dt for _, dt, _ in steps[1:8])  # the first 7 intervals have no rolling cadence yet
    assert p.time_below_s == pytest.approx(t_in + 1.4 - first_judged, abs=1.5)
    assert p.time_in_band_share == pytest.approx(p.time_in_band_s / (active - first_judged), abs=1e-3)
    # mean cadence: (1/D) * integral of c(t) = target - (target - c0) tau / D (1 - exp(-D / tau))
    mean_truth = target - (target - c0) * tau / duration * (1 - math.exp(-duration / tau))
    assert p.cadence_spm == pytest.approx(mean_truth, abs=0.3)
    assert p.target_spm == pytest.approx(target)
    assert p.cadence_vs_target_pct == pytest.approx(100 * (mean_truth / target - 1), abs=0.2)
    assert p.cadence_change_pct == pytest.approx(100 * (mean_truth / c0 - 1), abs=0.2)
    mean_impact = sum(i for _, _, i in steps) / len(steps)
    assert p.impact_g == pytest.approx(mean_impact, abs=1e-3)
    assert p.impact_change_pct == pytest.approx(100 * (mean_impact / 2.5 - 1), abs=0.05)
    assert p.impact_change_pct < -10  # quicker steps landed softer
    assert p.feedback_on_s == pytest.approx(active, abs=1e-3)  # session 2: continuous
    # a replayed (repeated) step is not counted twice
    feed(s, steps[-20:])
    assert s.progress() == p


def test_time_in_band_from_windows_agrees_with_steps() -> None:
    cfg = RetrainingConfig()
    c0, tau, duration = 168.0, 45.0, 600.0
    target = 168.0 * 1.05
    steps = responsive_runner(c0_spm=c0, target=target, tau_s=tau, duration_s=duration, seed=SEED + 1)
    windows = []
    hop_ns, win_ns = 5 * NS_PER_S, 10 * NS_PER_S
    for start in range(0, round(duration * NS_PER_S) - win_ns + 1, hop_ns):
        inside = [dt for t, dt, _ in steps if start <= t < start + win_ns and dt is not None]
        windows.append((60.0 * len(inside) / sum(inside), True, None))
    bt = band_time_from_windows(windows, Reference(value=c0), cfg, hop_s=5.0)
    t_in = entry_time_s(c0, target, tau, cfg.band_pct)
    # a window is judged at its start; its cadence is that of its middle (5 s later): +-one hop
    assert bt.below_s == pytest.approx(t_in - 5.0, abs=5.0)
    assert bt.in_s + bt.below_s + bt.above_s == pytest.approx(len(windows) * 5.0)


# -- sonification ----------------------------------------------------------------------------------
def test_impact_level_follows_a_scripted_sequence() -> None:
    cfg = RetrainingConfig()
    assert impact_level(2.5, 2.5, cfg) == pytest.approx(0.5)  # at baseline: half noise
    assert impact_level(2.5 * 0.85, 2.5, cfg) == pytest.approx(0.0)
    assert impact_level(2.0, 2.5, cfg) == 0.0  # 20 % softer: clean
    assert impact_level(3.0, 2.5, cfg) == 1.0
    script = [2.5] * 5 + [2.0] * 6 + [3.0] * 6
    s = session(cfg, programme())
    s.start()
    levels = []
    for k, impact in enumerate(script):
        fb = s.push_step(t_ns=k * 350_000_000, step_time_s=None if k == 0 else 0.35, impact_g=impact)
        assert fb is not None
        levels.append(fb.impact_level)
    assert levels[:4] == [None] * 4  # 5-step average: nothing before the fifth step
    assert levels[4] == pytest.approx(0.5)
    assert levels[6] == pytest.approx(((2.5 * 3 + 2.0 * 2) / 5 / 2.5 - 0.85) / 0.3)  # 2.3 g: 0.2333
    assert levels[9] == 0.0  # five steps at 2.0 g
    assert levels[12] == pytest.approx(((2.0 * 3 + 3.0 * 2) / 5 / 2.5 - 0.85) / 0.3)  # 2.4 g: 0.3667
    assert levels[16] == 1.0
    # a 3-step window and a tighter mapping are honoured
    s3 = session(cfg.replace(impact_window_steps=3, impact_clean_ratio=0.9, impact_full_ratio=1.0), programme())
    s3.start()
    out = [s3.push_step(t_ns=k, step_time_s=None, impact_g=v) for k, v in enumerate([2.5, 2.5, 2.35, 2.25])]
    assert out[1] is not None and out[1].impact_level is None
    assert out[2] is not None and out[2].impact_level == pytest.approx((7.35 / 3 / 2.5 - 0.9) / 0.1)
    assert out[3] is not None and out[3].impact_level == pytest.approx(0.0 + (7.1 / 3 / 2.5 - 0.9) / 0.1)


# -- the faded programme ---------------------------------------------------------------------------
def test_fade_table_is_continuous_then_fading_then_maintenance() -> None:
    assert [(n, phase, round(share, 3)) for n, phase, share in fade_table(RetrainingConfig(), 10)] == [
        (1, "continuous", 1.0),
        (2, "continuous", 1.0),
        (3, "continuous", 1.0),
        (4, "continuous", 1.0),
        (5, "fading", 0.8),
        (6, "fading", 0.6),
        (7, "fading", 0.4),
        (8, "fading", 0.2),
        (9, "maintenance", 0.2),
        (10, "maintenance", 0.2),
    ]


def test_programme_fades_across_a_series_of_stored_sessions() -> None:
    """Ten sessions, each run through the state machine and stored as its as_dict record; each next
    session's place comes from those records, and the feedback it actually played matches the share."""
    cfg = RetrainingConfig()
    history: list[dict] = [
        {"broken": True},  # unreadable: counted in skipped, never guessed from
        {**_record(active_s=300.0, t=0)},  # too short to count (min_session_s 600)
    ]
    shares = []
    for n in range(1, 11):
        step = programme_step(history, cfg)
        assert step.session_number == n
        assert step.skipped == 1
        s = session(cfg, step)
        s.start()
        steps = responsive_runner(c0_spm=178.5, target=178.5, tau_s=1.0, duration_s=1200.0, seed=SEED + n)
        steps = [(t + n * 86_400 * NS_PER_S, dt, i) for t, dt, i in steps]
        feed(s, steps)
        p = s.progress()
        assert p.session_number == n
        shares.append((p.phase, p.on_share, round(p.feedback_on_s / p.active_s, 2)))
        history.append(p.as_dict())
    assert shares == [
        ("continuous", 1.0, 1.0),
        ("continuous", 1.0, 1.0),
        ("continuous", 1.0, 1.0),
        ("continuous", 1.0, 1.0),
        ("fading", pytest.approx(0.8), 0.8),
        ("fading", pytest.approx(0.6), 0.6),
        ("fading", pytest.approx(0.4), 0.4),
        ("fading", pytest.approx(0.2), 0.2),
        ("maintenance", 0.2, 0.2),
        ("maintenance", 0.2, 0.2),
    ]
    # the first session's impact is the reference of the later ones
    assert programme_step(history, cfg).first_impact_g == history[2]["impact_g"]


def _record(*, active_s: float, t: int) -> dict:
    return {
        "runner": "anna",
        "session_id": f"s{t}",
        "started_t_ns": t,
        "session_number": 1,
        "phase": "continuous",
        "on_share": 1.0,
        "active_s": active_s,
        "feedback_on_s": active_s,
        "paused_s": 0.0,
        "baseline_cadence_spm": 170.0,
        "target_spm": 178.5,
        "cadence_spm": 176.0,
        "cadence_vs_target_pct": -1.4,
        "cadence_change_pct": 3.5,
        "time_in_band_s": active_s / 2,
        "time_below_s": active_s / 2,
        "time_above_s": 0.0,
        "time_in_band_share": 0.5,
        "time_in_band_share_feedback_off": None,
        "baseline_impact_g": 2.5,
        "impact_g": 2.4,
        "impact_change_pct": None,
        "pause_reasons": [],
    }


def test_progress_record_round_trips_and_refuses_bad_fields() -> None:
    rec = _record(active_s=900.0, t=5)
    p = SessionProgress.from_dict(rec)
    assert p.as_dict() == rec
    for field, bad in (("active_s", "900"), ("active_s", float("inf")), ("session_number", 1.5), ("runner", 3)):
        with pytest.raises(AnalyticsError, match=field):
            SessionProgress.from_dict({**rec, field: bad})
    with pytest.raises(AnalyticsError, match="lacks 'active_s'"):
        SessionProgress.from_dict({k: v for k, v in rec.items() if k != "active_s"})


# -- safety ----------------------------------------------------------------------------------------
def test_mode_never_starts_by_itself() -> None:
    s = session(RetrainingConfig(), programme())
    steps = responsive_runner(c0_spm=178.5, target=178.5, tau_s=1.0, duration_s=120.0)
    feed(s, steps)
    assert s.mode == "off"
    assert s.feedback_on() is False
    assert s.progress().active_s == 0.0
    assert s.snapshot()["feedback_on"] is False


def test_red_flag_pauses_with_spoken_reason_until_lifted_and_tapped() -> None:
    s = session(RetrainingConfig(), programme())
    s.start()
    steps = responsive_runner(c0_spm=178.5, target=178.5, tau_s=1.0, duration_s=120.0)
    feed(s, steps[:100])
    flagged = PainEntry(runner="anna", t_ns=1, red_flags={"numbness": True})
    d = s.set_pain_entries([flagged])
    assert d.paused and d.reason == "red_flag"
    assert s.mode == "paused" and s.feedback_on() is False
    assert "clinician" in s.pause.spoken and "numbness" in s.pause.spoken
    assert s.pause_count == 1
    assert s.start().paused  # a tap does not resume while the red flag stands
    assert s.pause_count == 1  # and the reason is not told again
    feed(s, steps[100:200])
    assert s.progress().paused_s > 0
    cleared = PainEntry(runner="anna", t_ns=2, red_flags=dict.fromkeys(RED_FLAGS, False))
    assert s.set_pain_entries([flagged, cleared]).paused is False
    assert s.mode == "paused"  # lifted, but it waits for the runner's tap
    assert s.snapshot()["pause"]["holds"] is False
    assert s.start().paused is False and s.mode == "active"
    assert s.progress().pause_reasons == ("red_flag",)


def test_fatigue_alert_pauses_and_its_clearing_allows_a_tap_to_resume() -> None:
    s = session(RetrainingConfig(), programme())
    s.start()
    s.push_risk_event(metric="cadence", kind="onset", onset_t_ns=5)
    assert s.mode == "active"
    d = s.push_risk_event(metric=FATIGUE, kind="onset", onset_t_ns=10)
    assert d.paused and d.reason == "fatigue" and "ease off" in d.spoken.lower()
    assert s.mode == "paused"
    s.push_risk_event(metric=FATIGUE, kind="onset", onset_t_ns=10)  # escalation of the same episode
    assert s.pause_count == 1
    assert s.start().paused
    s.push_risk_event(metric=FATIGUE, kind="cleared", onset_t_ns=10)
    assert s.mode == "paused"
    assert s.start().paused is False and s.mode == "active"


def test_calibration_without_a_stored_baseline_then_active() -> None:
    cfg = RetrainingConfig(calibrate_s=30.0)
    s = RetrainingSession(runner="anna", session_id="s", config=cfg, programme=programme())
    s.start()
    assert s.mode == "calibrating"
    steps = responsive_runner(c0_spm=172.0, target=172.0, tau_s=1.0, duration_s=120.0, asym=0.0, jitter=0.0)
    feed(s, steps)
    assert s.mode == "active"
    assert s.cadence_ref is not None and s.cadence_ref.value == pytest.approx(172.0, abs=0.01)
    assert s.impact_ref is not None and s.impact_ref.value == pytest.approx(2.5, abs=0.01)
    assert s.target_spm == pytest.approx(172.0 * 1.05, abs=0.02)
    assert s.progress().active_s == pytest.approx(120.0 - 30.0 - 7 * 60 / 172, abs=0.5)
