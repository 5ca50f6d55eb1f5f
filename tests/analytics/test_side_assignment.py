"""Left/right side per step: the ML direction is found from the step-to-step alternation, so a runner
whose fore-aft and side-to-side trunk energies are alike (the orientation's AP/ML axes swap) keeps
consistent sides. Checked on UCI p1 (where the old ML-sign vote agreed 9-96 % per 30-s stretch with
the leg gyros) and on all four runners, plus the unit behaviour on constructed step sequences."""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.analytics.results import Side
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.analytics.symmetry import AlternationAxis
from tests.analytics.recordings import T0_NS

STRETCH_S = 30.0  # s, side agreement is checked per stretch so a flip mid-run cannot average out


def alternating_steps(
    *, alternation: tuple[float, float], offset: tuple[float, float], noise_g: float, n: int, seed: int
) -> np.ndarray:
    """(n, 2) per-step mean contact acceleration (AP, ML): a constant part, a part that alternates with
    the step (even steps +alternation), and independent noise."""
    rng = np.random.default_rng(seed)
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    return np.asarray(offset) + sign * np.asarray(alternation) + rng.normal(0.0, noise_g, (n, 2))


@pytest.mark.parametrize("seed", range(3))
def test_alternation_along_the_ap_axis_still_gives_a_consistent_phase(seed: int) -> None:
    """Axes swapped by the orientation stage: the push alternates along 'AP', and ML carries a large
    constant offset and noise; the old per-step ML sign would be a coin toss."""
    axis = AlternationAxis()
    steps = alternating_steps(alternation=(0.1, 0.0), offset=(0.05, 0.3), noise_g=0.05, n=400, seed=seed)
    out = [axis.push(ap, ml) for ap, ml in steps]
    assert out[0] is None
    parity_sign = np.sign(np.array(out[60:])) * np.where(np.arange(60, 400) % 2 == 0, 1.0, -1.0)
    assert abs(parity_sign.mean()) >= 0.95, f"seed {seed}: phase consistency {abs(parity_sign.mean()):.2f}"


def test_alternation_along_ml_keeps_the_ml_sign() -> None:
    """A clear side-to-side push: the returned value has the sign of the ML alternation (the runner's
    forward sign then maps it to left), even if the first differences pointed elsewhere."""
    axis = AlternationAxis()
    steps = alternating_steps(alternation=(0.02, -0.15), offset=(0.1, 0.0), noise_g=0.03, n=200, seed=7)
    out = np.array([v if v is not None else np.nan for v in (axis.push(ap, ml) for ap, ml in steps)])
    even = np.arange(200) % 2 == 0
    assert np.nanmedian(out[even][10:]) < 0 < np.nanmedian(out[~even][10:])


def test_a_new_bout_starts_without_a_difference() -> None:
    axis = AlternationAxis()
    assert axis.push(0.0, 0.1) is None
    assert axis.push(0.0, -0.1) is not None
    axis.new_bout()
    assert axis.push(0.0, 0.1) is None


@pytest.mark.parametrize("index", range(4))
def test_uci_sides_agree_with_the_leg_gyros_in_every_stretch(uci_runs, index: int) -> None:
    """The reference side of each step is the leg whose mid-swing event is nearest to it; the lag
    between a trunk impact and a leg's mid-swing is fixed per runner but only known modulo a step, so
    the mapping (same or opposite leg) is fixed once per recording, then every 30-s stretch must
    agree >= 90 % (a flip mid-run fails it)."""
    run = uci_runs[index]
    analyzer = RunnerAnalyzer(runner=run.name)
    out = analyzer.push(run.batch) + analyzer.finish()
    steps_s = np.array([(s.t_ns - T0_NS) / 1e9 for s in out.steps])
    left_s = run.ref_steps_s[~np.isin(run.ref_steps_s, run.ref_right_s)]
    to_right = np.abs(steps_s[:, None] - run.ref_right_s[None, :]).min(axis=1)
    to_left = np.abs(steps_s[:, None] - left_s[None, :]).min(axis=1)
    ref_right = to_right < to_left
    ok = (steps_s >= run.ref_steps_s[0]) & (steps_s <= run.ref_steps_s[-1])
    ours_right = np.array([s.side is Side.RIGHT for s in out.steps])
    sided = ok & np.array([s.side is not Side.UNKNOWN for s in out.steps])
    assert sided.sum() >= 0.9 * ok.sum(), f"{run.name}: only {sided.sum()} of {ok.sum()} matched steps sided"
    same = ours_right == ref_right
    mapping = same[sided].mean() >= 0.5
    for start in np.arange(0.0, steps_s[-1], STRETCH_S):
        stretch = sided & (steps_s >= start) & (steps_s < start + STRETCH_S)
        if stretch.sum() < 20:
            continue
        agree = float((same[stretch] == mapping).mean())
        print(f"{run.name} {start:5.0f} s: {agree:.2f}")
        assert agree >= 0.9, f"{run.name}: sides agree {agree:.0%} with the leg gyros at {start:.0f}-{start + 30:.0f} s"
