"""The analyzer's fast paths give the same bits as the plain formulations they replace.

Speed work (issues 4 and 8) rewrote a few hot spots: contact crossings walked on a list, the braking
sign applied to the reduced value, dot products over the three axes as one (3, n) product plus in-order
row additions, the cross product on rotated row views, and a preallocated history buffer. Each is
checked here against the straightforward version, bit for bit (exact equality, not approx), on random
inputs and on real running data, so a later "simplification" that changes the rounding fails here
before it changes a step or a window.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strideguard.analytics.braking import braking_peak_g
from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.contact import MAX_CONTACT_S, contact_span, contact_span_around
from strideguard.analytics.filters import History
from strideguard.analytics.orientation import OrientationParams, OrientationStage, _dot_rows
from strideguard.analytics.step_time import time_at

FLOATS = st.floats(min_value=-3.0, max_value=4.0, allow_nan=False, width=64)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(FLOATS, min_size=1, max_size=120),
    k_frac=st.floats(0.0, 1.0),
    reach=st.integers(1, 60),
    threshold=st.sampled_from([0.4, 0.0, 1.0, 2.5]),
    rate=st.sampled_from([25.0, 100.0, 500.0]),
)
def test_contact_span_around_equals_contact_span(values, k_frac, reach, threshold, rate) -> None:
    v = np.asarray(values)
    k = min(len(values) - 1, int(k_frac * len(values)))
    want = contact_span(v[max(0, k - reach) : k + 1], v[k : k + reach + 1], threshold, rate)
    assert contact_span_around(values, k, reach, threshold, rate) == want


def test_contact_span_around_on_a_stance_pulse_matches_and_is_a_contact() -> None:
    rate = 100.0
    t = np.arange(200) / rate
    v = np.where(np.abs(t - 1.0) < 0.12, 1.0 + 1.5 * np.cos((t - 1.0) / 0.12 * np.pi / 2), 0.05)
    k = int(v.argmax())
    reach = round(MAX_CONTACT_S * rate) + 1
    got = contact_span_around(v.tolist(), k, reach, 0.4, rate)
    assert got is not None and got == contact_span(v[k - reach : k + 1], v[k : k + reach + 1], 0.4, rate)
    assert 0.2 < got[1] - got[0] < 0.26  # the pulse is above 0.4 g for ~0.23 s


@settings(max_examples=200, deadline=None)
@given(values=st.lists(FLOATS, min_size=0, max_size=40), sign=st.sampled_from([1, -1]))
def test_braking_sign_on_the_reduced_value_equals_negating_first(values, sign) -> None:
    x = np.asarray(values, dtype=np.float64)
    want = None if x.size == 0 else max(0.0, -float((sign * x).min()))
    assert braking_peak_g(x, sign=sign) == want


@pytest.mark.parametrize("n", [1, 7, 100, 1001])
def test_dot_rows_adds_the_products_in_written_order(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(3, n)) * 10.0 ** rng.uniform(-6, 6, size=(3, 1))
    y = rng.normal(size=(3, n))
    want = x[0] * y[0] + x[1] * y[1] + x[2] * y[2]
    got = _dot_rows(x, y, np.empty((3, n)))
    assert np.array_equal(got.view(np.int64), want.view(np.int64))


def _reference_orientation(stage_cfg: AnalyticsConfig, rate_hz: float, acc: np.ndarray, sizes: list[int]):
    """The orientation maths written term by term (as before the speed work): vertical, AP and ML per chunk,
    using the stage's own gravity estimate and axis updates, so only the per-sample algebra is compared."""
    stage = OrientationStage(rate_hz=rate_hz, params=OrientationParams.from_config(stage_cfg))
    out = []
    i = 0
    for size in sizes:
        chunk = acc[i : i + size]
        i += size
        got = stage.push(chunk)
        a = np.ascontiguousarray(chunk.T)
        g = np.ascontiguousarray(got.gravity.T)
        g0, g1, g2 = g
        gnorm = np.maximum(np.sqrt(g0 * g0 + g1 * g1 + g2 * g2), 1e-6)
        up = g / gnorm
        u0, u1, u2 = up
        vertical = a[0] * u0 + a[1] * u1 + a[2] * u2
        d = a - g
        dyn_v = vertical - gnorm
        h = d - dyn_v * up
        axis = stage._ref_axis
        e1 = up * -up[axis]
        e1[axis] += 1.0
        p0, p1, p2 = e1
        e1 /= np.sqrt(p0 * p0 + p1 * p1 + p2 * p2)
        e2 = np.empty_like(e1)
        np.subtract(u1 * p2, u2 * p1, out=e2[0])
        np.subtract(u2 * p0, u0 * p2, out=e2[1])
        np.subtract(u0 * p1, u1 * p0, out=e2[2])
        h1 = h[0] * p0 + h[1] * p1 + h[2] * p2
        h2 = h[0] * e2[0] + h[1] * e2[1] + h[2] * e2[2]
        d0, d1, d2 = d
        out.append((got, vertical, dyn_v, h1, h2, d0 * d0 + d1 * d1 + d2 * d2, (stage._cos, stage._sin)))
    return out


def _same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    return x.shape == y.shape and np.array_equal(
        np.asarray(x, np.float64).view(np.int64), np.asarray(y, np.float64).view(np.int64)
    )


@pytest.mark.parametrize("sizes", [[25] * 120, [1, 37, 250, 999, 713], [3000]])
def test_orientation_fast_algebra_equals_the_written_out_formulas(uci_runs, sizes) -> None:
    run = uci_runs[0]
    rate = run.batch.rate_hz
    assert rate == 25.0  # one axis update per 25 samples: the [25] * 120 split has one axis per chunk
    acc = np.asarray(run.batch.values[: sum(sizes)], dtype=np.float64)
    assert acc.shape[0] == sum(sizes)
    for got, vertical, dyn_v, h1, h2, power, (c, s) in _reference_orientation(AnalyticsConfig(), rate, acc, sizes):
        assert _same_bits(got.vertical_g, vertical)
        assert _same_bits(got.dyn_vertical_g, dyn_v)
        assert _same_bits(got.dyn_power_g2, power)
        if len(set(sizes)) == 1 and sizes[0] == 25:  # one axis for the whole chunk: the (c, s) after the push
            assert _same_bits(got.ap_g, c * h1 + s * h2)
            assert _same_bits(got.ml_g, c * h2 - s * h1)


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(1, 400), min_size=1, max_size=40), capacity=st.integers(1, 300))
def test_history_buffer_matches_a_plain_list_for_any_chunking(sizes, capacity) -> None:
    h = History(2, capacity)
    held: list[float] = []
    start = 0
    total = 0
    for size in sizes:
        rows = np.arange(total, total + size, dtype=np.float64)
        total += size
        h.extend_columns(rows, -rows) if size % 2 else h.extend(np.stack([rows, -rows], axis=1))
        held.extend(rows.tolist())
        assert (h.start, h.end) == (start, total)
        view, base = h.rows(total - size - 5, total)
        assert base == max(start, total - size - 5)
        assert view[:, 0].tolist() == held[base - start :] and view[:, 1].tolist() == [-v for v in held[base - start :]]
        h.trim()
        drop = max(0, len(held) - capacity)
        held = held[drop:]
        start += drop
        assert (h.start, h.end) == (start, total)
        assert h.get(0, total, 0).tolist() == held


@pytest.mark.parametrize("position", [0.0, 0.25, 3.5, 3.999, 4.0, -2.0, 10.0])
def test_time_at_interpolates_between_stamps(position: float) -> None:
    t = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    i = min(max(int(np.floor(position)), 0), 4)
    frac = position - i
    want = t[i] if frac <= 0.0 or i + 1 >= 5 else t[i] + frac * (t[i + 1] - t[i])
    assert time_at(t, position) == want
