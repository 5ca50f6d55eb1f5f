"""Independent references derived from the instruments that are NOT the one under test.

UCI (chest running): the leg units' sagittal gyro (RL_zgyro, LL_zgyro) peaks once per stride of that
leg, at mid-swing; both legs merged give one reference time per step, offset from foot contact by a
roughly constant lag (the scorer removes it). Each leg's sign is chosen so that the two legs alternate.

Alcantara (sacrum + instrumented treadmill): foot contact is vGRF above 0.05 BW; per complete contact
this gives contact and toe-off times, contact time, peak vGRF (BW) and the loading rate (BW/s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

CONTACT_THRESHOLD_BW = 0.05  # force plate: foot on the belt above this
LEG_PEAK_MIN_INTERVAL_S = 0.5  # one swing peak per stride of one leg
NEAR_DUPLICATE_S = 0.12  # merged leg events closer than this count against a sign choice
LOADING_RATE_FRACTION = (0.2, 0.8)  # average loading rate between 20 % and 80 % of the first peak
MIN_CONTACT_MS = 50.0  # shorter above-threshold blips are belt/plate noise, not a foot contact
MIN_CONTACT_PEAK_BW = 0.5  # a running contact loads well above this
IMPACT_PEAK_MIN_BW = 1.0  # an impact transient worth the name is above body weight
IMPACT_PEAK_PROMINENCE_BW = 0.1


def leg_gyro_steps_s(t_s: np.ndarray, right_gyro: np.ndarray, left_gyro: np.ndarray,
                     rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Right and left swing-peak times (s) from the two legs' sagittal angular rate (any unit)."""

    def peaks(g: np.ndarray) -> np.ndarray:
        pk, _ = find_peaks(g, distance=int(LEG_PEAK_MIN_INTERVAL_S * rate_hz), prominence=0.5 * np.std(g))
        return t_s[pk]

    def alternation(r: np.ndarray, l: np.ndarray) -> float:
        ev = sorted([(x, 0) for x in r] + [(x, 1) for x in l])
        alt = np.mean([a[1] != b[1] for a, b in zip(ev, ev[1:])])
        close = np.mean([b[0] - a[0] < NEAR_DUPLICATE_S for a, b in zip(ev, ev[1:])])
        return float(alt - close)

    signs = [(sr, sl) for sr in (1, -1) for sl in (1, -1)]
    best = max(signs, key=lambda s: alternation(peaks(s[0] * right_gyro), peaks(s[1] * left_gyro)))
    return peaks(best[0] * right_gyro), peaks(best[1] * left_gyro)


@dataclass(frozen=True, slots=True, kw_only=True)
class ForcePlateStep:
    """One complete foot contact on the force plate."""

    contact_s: float
    toe_off_s: float
    contact_time_ms: float
    peak_vgrf_bw: float
    loading_rate_bw_per_s: float | None


def force_plate_steps(vgrf_bw: np.ndarray, rate_hz: float) -> list[ForcePlateStep]:
    """Complete contacts (both edges inside the trial) from vertical GRF in body weights.

    Unlike `shared/tools/reference.py`, blips shorter than 50 ms or below 0.5 BW are dropped: one trial
    has a 2-6 ms crossing of the 0.05 BW threshold just before most contacts (plate noise), which would
    otherwise double its step count.
    """
    on = vgrf_bw > CONTACT_THRESHOLD_BW
    edges = np.flatnonzero(np.diff(on.astype(int)))
    starts = [e + 1 for e in edges if not on[e]]
    ends = [e + 1 for e in edges if on[e]]
    steps = []
    for s0 in starts:
        e0 = next((e for e in ends if e > s0), None)
        if e0 is None:
            break
        f = vgrf_bw[s0:e0]
        if 1000.0 * (e0 - s0) / rate_hz < MIN_CONTACT_MS or f.max() < MIN_CONTACT_PEAK_BW:
            continue
        steps.append(ForcePlateStep(contact_s=s0 / rate_hz, toe_off_s=e0 / rate_hz,
                                    contact_time_ms=1000.0 * (e0 - s0) / rate_hz, peak_vgrf_bw=float(f.max()),
                                    loading_rate_bw_per_s=loading_rate_bw_per_s(f, rate_hz)))
    return steps


def loading_rate_bw_per_s(force_bw: np.ndarray, rate_hz: float) -> float | None:
    """Average vertical loading rate between 20 % and 80 % of the first force peak of one contact.

    The first peak is the impact transient for a rearfoot strike, else the active peak: the first local
    maximum in the first half of the contact, or the contact's maximum when there is none.
    """
    half = force_bw[: max(len(force_bw) // 2, 3)]
    pk, _ = find_peaks(half, height=IMPACT_PEAK_MIN_BW, prominence=IMPACT_PEAK_PROMINENCE_BW)
    i_peak = int(pk[0]) if len(pk) else int(np.argmax(force_bw))
    peak = force_bw[i_peak]
    lo, hi = LOADING_RATE_FRACTION
    rising = force_bw[: i_peak + 1]
    i_lo = int(np.argmax(rising >= lo * peak))
    i_hi = int(np.argmax(rising >= hi * peak))
    if i_hi <= i_lo:
        return None
    return float((rising[i_hi] - rising[i_lo]) * rate_hz / (i_hi - i_lo))
