"""The building blocks: filters with carried state, running sums and the bounded history."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt, sosfilt_zi

from strideguard.analytics.filters import History, RunningSum, SosFilter, butter_sos, clamp_cutoff_hz, one_pole_sos

SPLITS = ([1] * 50, [7] * 20, [3, 100, 1, 250, 17], [1000])


def chunks(x: np.ndarray, sizes: list[int]):
    i = 0
    for size in sizes:
        yield x[i : i + size]
        i += size
    if i < len(x):
        yield x[i:]


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize("shape", [(1000,), (1000, 3)])
def test_sos_filter_equals_scipy_for_any_chunking(sizes, shape) -> None:
    x = np.random.default_rng(0).normal(size=shape)
    sos = butter_sos(2, (0.6, 4.0), "bandpass", 100.0)
    want = sosfilt(sos, x, axis=0)
    f = SosFilter(sos)
    got = np.concatenate([f(c) for c in chunks(x, sizes)], axis=0)
    np.testing.assert_array_equal(got, want)


def test_steady_start_has_no_transient_and_seed_matches_scipy() -> None:
    sos = butter_sos(2, 0.3, "lowpass", 50.0)
    f = SosFilter(sos, steady_start=True)
    y = f(np.full((200, 3), [0.1, -0.2, 0.97]))
    np.testing.assert_allclose(y, np.tile([0.1, -0.2, 0.97], (200, 1)), atol=1e-12)
    g = SosFilter(sos)
    g.seed(2.0)
    x = np.random.default_rng(1).normal(size=300)
    zi = sosfilt_zi(sos) * 2.0
    np.testing.assert_array_equal(g(x), sosfilt(sos, x, zi=zi)[0])


def test_cutoffs_are_clamped_below_nyquist_and_one_pole_has_unit_gain() -> None:
    assert clamp_cutoff_hz(15.0, 25.0) == pytest.approx(11.25)
    butter_sos(2, 15.0, "lowpass", 25.0)  # would raise without the clamp
    y = SosFilter(one_pole_sos(1.0, 100.0))(np.ones(5000))
    assert y[-1] == pytest.approx(1.0)


def test_running_sum_is_sequential_and_chunk_invariant() -> None:
    x = np.random.default_rng(2).normal(size=(999, 2))
    whole = RunningSum(2)
    whole.add(x)
    split = RunningSum(2)
    for c in chunks(x, [1, 5, 300, 2]):
        split.add(c)
    np.testing.assert_array_equal(whole.total, split.total)
    s = 0.0
    for v in x[:, 0]:
        s += v
    assert whole.total[0] == s


def test_history_keeps_a_bounded_tail_addressed_by_absolute_index() -> None:
    h = History(2, capacity=10)
    for k in range(5):
        h.extend(np.arange(k * 7, k * 7 + 7, dtype=float).reshape(-1, 1).repeat(2, axis=1))
        h.trim()
    assert (h.start, h.end) == (25, 35)
    np.testing.assert_array_equal(h.get(30, 33, 1), [30.0, 31.0, 32.0])
    np.testing.assert_array_equal(h.get(0, 27, 0), [25.0, 26.0])
    assert h.get(40, 50, 0).size == 0
