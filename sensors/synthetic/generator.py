"""The physics of the synthetic runner, fully vectorised.

Two stages, so the truth does not depend on the sampling rate: (1) step events (contacts, sides,
per-step contact time, impact, braking) on a fixed 2-ms time grid with their own random draws; (2)
the signal, evaluated at the sample times from the step events. Same seed, same steps at 25 or 500 Hz.

Frames: world/heading frame and trunk frame both (x forward, y left, z up). The trunk orientation is
Rz(yaw) Ry(pitch) Rx(roll), pitch = lean + step-frequency oscillation, roll = sway - bank into a turn.
Specific force in the trunk frame is R^T f_world; the sensor reads M f_trunk (M = mount rotation); the
gyro reads M omega_trunk, which includes the heading frame's own rotation in a turn.
Sign facts the truth relies on: the vertical reads +1 g standing; during stance the mediolateral
acceleration points away from the stance foot, so at a right contact it is positive (toward the left)
and at a left contact negative; braking (negative forward acceleration) comes before propulsion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln

from strideguard.sensors.synthetic.config import MAX_RATE_HZ, MIN_RATE_HZ, SyntheticConfig, SyntheticConfigError
from strideguard.sensors.synthetic.truth import StepArrays, SyntheticRun, TruthStep
from strideguard.sensors.types import Placement, SampleBatch, SampleKind, StreamMeta
from strideguard.sensors.units import NS_PER_S, STANDARD_GRAVITY_MPS2

GRID_S = 0.002  # s, resolution of the rate-independent step-event grid
MARGIN_S = 3.0  # s, steps generated past the end so the last samples have a next contact
PEAK_AT_CONTACT_FRACTION = 0.35  # where in contact the vertical pulse peaks (impact-shaped: early)
WALK_PEAK_AT_STEP_FRACTION = 0.15  # where in a walking step the vertical peak falls
WALK_CONTACT_PER_STEP = 1.2  # walking stance is ~60 % of a stride = 1.2 step times (double support)
WALK_BRAKING_FRACTION = 0.4  # walking braking relative to running
WALK_SWAY_FRACTION = 1.2  # walking ML sway relative to running
ML_PEAK_PHASE_RAD = 0.3 * math.pi  # ML acceleration peaks 30 % into each step
LEAN_SMOOTHING_S = 1.0  # s, posture changes (stand -> run, run <-> walk) take about a second
MIN_PULSE_SHAPE = 2.0  # broadest pulse (Beta exponents a+b): about a half sine
MAX_PULSE_SHAPE = 3000.0  # narrowest pulse
JITTER_CLIP_SD = 3.0  # random per-step variations are clipped at 3 standard deviations
WALK_SETTLE_FRACTION = 0.5  # of a step: a walk's closing step settles from its peak into standing over this
TIE_SHOE_PITCH_DEG = 70.0  # forward trunk bend while tying a shoe (standing, one foot forward)
PAUSE_TAPER_S = 0.5  # s, a pause's movements fade in and out over this
# a Pause's movements: (what, band Hz, RMS) with what = world force axis 0-2 (g) or "roll"/"pitch" (deg)
PAUSE_MOTION: dict[str, tuple[tuple[int | str, tuple[float, float], float], ...]] = {
    "still": (),
    "fidget": ((1, (0.2, 1.2), 0.06), (0, (0.3, 3.0), 0.04), (2, (0.3, 3.0), 0.04), ("roll", (0.2, 1.2), 3.0)),
    "tie_shoe": ((0, (0.5, 4.0), 0.05), (1, (0.5, 4.0), 0.05), (2, (0.5, 4.0), 0.05), ("pitch", (0.2, 1.0), 3.0)),
}
GYRO_NOISE_PER_BURST_G = 60.0  # deg/s of gyro rattle per g of loose-strap acceleration noise
DEFAULT_START_T_NS = 1_767_250_800 * NS_PER_S  # 2026-01-01T07:00:00Z: deterministic default epoch


def _pulse_area_table() -> tuple[np.ndarray, np.ndarray]:
    """Area of the unit-peak Beta pulse (u/u*)^a ((1-u)/(1-u*))^b over u in [0, 1] against its shape
    a+b, decreasing: the table inverts 'area needed' into 'shape'."""
    shape = np.geomspace(MIN_PULSE_SHAPE, MAX_PULSE_SHAPE, 2048)
    u_peak = PEAK_AT_CONTACT_FRACTION
    a, b = shape * u_peak, shape * (1 - u_peak)
    area = np.exp(betaln(a + 1, b + 1) - a * math.log(u_peak) - b * math.log(1 - u_peak))
    return shape, area


_SHAPE_TABLE, _AREA_TABLE = _pulse_area_table()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Steps:
    """Step events in seconds from the recording start, including the margin past its end."""

    t_s: np.ndarray
    period_s: np.ndarray  # to the next contact
    is_left: np.ndarray
    is_walk: np.ndarray
    contact_s: np.ndarray
    impact_g: np.ndarray
    shape: np.ndarray  # Beta exponent sum of the running pulse
    braking_g: np.ndarray
    starts_bout: np.ndarray  # the first step after standing (no step time: the interval is a pause)
    ends_bout: np.ndarray  # the last contact before standing (a walking step fades into standing)
    landing: np.ndarray  # the contact that ends a running bout: the runner lands and stands (see _with_landings)


class SyntheticRunner:
    """A runner described by `SyntheticConfig`; `generate` records them with a virtual IMU."""

    def __init__(self, config: SyntheticConfig | None = None):
        self.config = config if config is not None else SyntheticConfig()

    def generate(
        self,
        duration_s: float,
        rate_hz: float,
        *,
        seed: int,
        runner: str = "synthetic",
        device: str = "synthetic-imu",
        placement: Placement = Placement.CHEST,
        start_t_ns: int = DEFAULT_START_T_NS,
    ) -> SyntheticRun:
        """Record `duration_s` seconds at `rate_hz` (25-500 Hz); deterministic for `seed`."""
        if not (MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ):
            raise SyntheticConfigError(f"must be {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz, got {rate_hz}", field="rate_hz")
        if not (math.isfinite(duration_s) and duration_s * rate_hz >= 2):
            raise SyntheticConfigError(f"must cover at least two samples, got {duration_s}", field="duration_s")
        cfg = self.config
        # a third stream for the pauses' movements: the first two (and every run without pauses) unchanged
        step_rng, signal_rng, pause_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
        grid_s = np.arange(0.0, duration_s + MARGIN_S, GRID_S)
        is_walk_grid = _walking(cfg, grid_s)
        steps = _step_events(cfg, grid_s, is_walk_grid, step_rng)
        lean_grid_deg = _lean_trajectory(cfg, grid_s, is_walk_grid)

        n = math.floor(duration_s * rate_hz)
        t_s = np.arange(n) / rate_hz
        lean_deg = np.interp(t_s, grid_s, lean_grid_deg)
        lean_rate_dps = np.interp(t_s, grid_s, np.gradient(lean_grid_deg, GRID_S))
        f_world, angles_rad, rates_rps = _world_signal(cfg, steps, t_s, lean_deg, lean_rate_dps)
        _add_turns(cfg, grid_s, t_s, f_world, angles_rad, rates_rps)
        _add_pause_motion(cfg, grid_s, t_s, f_world, angles_rad, rates_rps, pause_rng)
        f_trunk = _world_to_trunk(f_world, *angles_rad)
        omega_trunk_dps = np.degrees(_body_rates(angles_rad, rates_rps))
        mount = np.asarray(cfg.mount_rotation)
        acc_g = f_trunk @ mount.T
        gyro_dps = omega_trunk_dps @ mount.T
        acc_g += signal_rng.normal(0.0, cfg.noise_g, size=acc_g.shape) if cfg.noise_g else 0.0
        gyro_dps += signal_rng.normal(0.0, cfg.gyro_noise_dps, size=gyro_dps.shape) if cfg.gyro_noise_dps else 0.0
        _add_noise_bursts(cfg, t_s, acc_g, gyro_dps, signal_rng)

        t_ns = start_t_ns + np.round(t_s * NS_PER_S).astype(np.int64)
        meta = StreamMeta(
            origin="synthetic", synthetic_seed=seed, coordinate_frame="mount_rotation @ trunk(x fwd, y left, z up)"
        )

        def batch(kind: SampleKind, values: np.ndarray) -> SampleBatch:
            return SampleBatch(
                runner=runner,
                device=device,
                placement=placement,
                kind=kind,
                rate_hz=float(rate_hz),
                t_ns=t_ns,
                values=values,
                meta=meta,
            )

        acc = batch(SampleKind.ACC, acc_g)
        gyro = batch(SampleKind.GYRO, gyro_dps)
        step_arrays, truth_steps = _truth_steps(steps, duration_s, start_t_ns)

        def span_ns(at_s: float, duration_s: float) -> tuple[int, int]:
            return start_t_ns + round(at_s * NS_PER_S), start_t_ns + round((at_s + duration_s) * NS_PER_S)

        return SyntheticRun(
            acc=acc,
            gyro=gyro,
            steps=truth_steps,
            step_arrays=step_arrays,
            aligned_acc_g=_trunk_to_aligned(f_trunk, np.radians(lean_deg)),
            lean_deg=lean_deg,
            disturbed_spans_ns=tuple(span_ns(b.at_s, b.duration_s) for b in cfg.noise_bursts),
            seed=seed,
            turn_spans_ns=tuple(span_ns(turn.at_s, turn.duration_s) for turn in cfg.turns),
        )


def _scaled(cfg: SyntheticConfig, attr: str, t_s: np.ndarray) -> np.ndarray:
    """Product of (1 + pct/100 x progress) over the scripted changes: the multiplier of a base value."""
    factor = np.ones_like(t_s)
    for change in cfg.changes:
        if getattr(change, attr):
            factor *= 1.0 + getattr(change, attr) / 100.0 * change.progress(t_s)
    return factor


def _shifted(cfg: SyntheticConfig, attr: str, t_s: np.ndarray) -> np.ndarray:
    """Sum of additive scripted changes (degrees, percentage points) at each time."""
    total = np.zeros_like(t_s)
    for change in cfg.changes:
        if getattr(change, attr):
            total += getattr(change, attr) * change.progress(t_s)
    return total


def _moving(cfg: SyntheticConfig, t_s: np.ndarray) -> np.ndarray:
    """True where the runner is on the move: after the standing start and outside every `Pause`."""
    moving = t_s >= cfg.standing_s
    for pause in cfg.pauses:
        moving &= ~((t_s >= pause.at_s) & (t_s < pause.at_s + pause.duration_s))
    return moving


def _walking(cfg: SyntheticConfig, t_s: np.ndarray) -> np.ndarray:
    walking = np.zeros(t_s.shape, dtype=bool)
    for brk in cfg.walk_breaks:
        walking |= (t_s >= brk.at_s) & (t_s < brk.at_s + brk.duration_s)
    return walking & _moving(cfg, t_s)


def _clipped_normal(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    return np.clip(rng.normal(0.0, sd, size), -JITTER_CLIP_SD * sd, JITTER_CLIP_SD * sd) if sd else np.zeros(size)


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of the runs of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _nominal_contacts(freq_hz: np.ndarray, grid_s: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contacts from the step frequency integrated within each moving segment (a bout), the first one at
    the segment's start; returns (times, index of the bout each belongs to)."""
    times, bouts = [], []
    for bout, (a, b) in enumerate(_segments(moving)):
        f = freq_hz[a:b]
        phase = np.concatenate(([0.0], np.cumsum((f[1:] + f[:-1]) * (GRID_S / 2.0))))
        n = math.floor(phase[-1]) + 1
        nominal = np.interp(np.arange(n), phase, grid_s[a:b])
        nominal[0] = grid_s[a]
        times.append(nominal)
        bouts.append(np.full(n, bout))
    if not times:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate(times), np.concatenate(bouts)


def _step_events(cfg: SyntheticConfig, grid_s: np.ndarray, is_walk: np.ndarray, rng: np.random.Generator) -> _Steps:
    """Contacts from the integrated step frequency, then asymmetry and jitter on the intervals. Each bout
    (moving segment between pauses) starts with a contact at its first instant; the last step of a bout
    lasts one step interval, then the runner stands."""
    cadence = np.where(is_walk, cfg.walk_cadence_spm, cfg.cadence_spm * _scaled(cfg, "cadence_pct", grid_s))
    moving = _moving(cfg, grid_s)
    nominal_t, bout = _nominal_contacts(cadence / 60.0, grid_s, moving)
    n_steps = nominal_t.size
    if n_steps < 3:
        empty, none = np.zeros(0), np.zeros(0, dtype=bool)
        return _Steps(
            t_s=empty,
            period_s=empty,
            is_left=none,
            is_walk=none,
            contact_s=empty,
            impact_g=empty,
            shape=empty,
            braking_g=empty,
            starts_bout=none,
            ends_bout=none,
            landing=none,
        )
    index = np.arange(n_steps)
    first_is_left = cfg.first_side == "left"
    is_left = (index % 2 == 0) == first_is_left
    asym_pct = cfg.step_time_asymmetry_pct + _shifted(cfg, "step_time_asymmetry_pct", nominal_t[1:])
    side_factor = np.where(is_left[1:], 1.0 + asym_pct / 200.0, 1.0 - asym_pct / 200.0)
    jitter = 1.0 + _clipped_normal(rng, cfg.step_time_jitter_pct / 100.0, n_steps - 1)
    same_bout = bout[1:] == bout[:-1]
    interval = np.diff(nominal_t) * side_factor * jitter
    # within a bout the jittered intervals add up from the bout's first contact
    summed = np.cumsum(np.concatenate(([0.0], np.where(same_bout, interval, 0.0))))
    first = np.flatnonzero(np.concatenate(([True], ~same_bout)))[bout]
    t = nominal_t[first] + summed - summed[first]
    bout_end_s = np.array([grid_s[b - 1] + GRID_S for _, b in _segments(moving)])
    keep = (t < grid_s[-1]) & (t < bout_end_s[bout])
    t, is_left, bout = t[keep], is_left[keep], bout[keep]
    last_in_bout = np.append(bout[1:] != bout[:-1], True)
    period = np.append(np.diff(t), np.nan)
    # the last step of a bout lasts as long as the one before it in the bout, else a step at its cadence
    prev = np.concatenate(([np.nan], period[:-1]))
    first_in_bout = np.concatenate(([True], last_in_bout[:-1]))
    fallback = 60.0 / np.interp(t, grid_s, cadence)
    period = np.where(last_in_bout, np.where(first_in_bout, fallback, prev), period)
    walk = np.interp(t, grid_s, is_walk.astype(np.float64)) > 0.5

    impact_asym = cfg.impact_asymmetry_pct + _shifted(cfg, "impact_asymmetry_pct", t)
    impact_factor = (
        _scaled(cfg, "impact_pct", t)
        * np.where(is_left, 1.0 + impact_asym / 200.0, 1.0 - impact_asym / 200.0)
        * (1.0 + _clipped_normal(rng, cfg.impact_jitter_pct / 100.0, t.size))
    )
    run_contact_s = np.minimum(cfg.contact_time_ms / 1000.0 * _scaled(cfg, "contact_time_pct", t), 0.9 * period)
    requested_g = cfg.impact_g * impact_factor
    # Mean vertical specific force over a step must be 1 g: peak x contact x area = period.
    area_needed = period / (requested_g * run_contact_s)
    max_area = _AREA_TABLE[0]
    shape = np.interp(-np.minimum(area_needed, max_area), -_AREA_TABLE, _SHAPE_TABLE)
    run_impact_g = np.where(area_needed > max_area, period / (max_area * run_contact_s), requested_g)
    walk_impact_g = 1.0 + (cfg.walk_impact_g - 1.0) * impact_factor
    braking = cfg.braking_g * _scaled(cfg, "braking_pct", t)
    steps = _Steps(
        t_s=t,
        period_s=period,
        is_left=is_left,
        is_walk=walk,
        contact_s=np.where(walk, WALK_CONTACT_PER_STEP * period, run_contact_s),
        impact_g=np.where(walk, walk_impact_g, run_impact_g),
        shape=shape,
        braking_g=np.where(walk, WALK_BRAKING_FRACTION * braking, braking),
        starts_bout=first_in_bout,
        ends_bout=last_in_bout & (bout_end_s[bout] < grid_s[-1]),  # a pause follows
        landing=np.zeros(t.size, dtype=bool),
    )
    return _with_landings(steps, steps.ends_bout)


def _with_landings(steps: _Steps, ends_run: np.ndarray) -> _Steps:
    """A bout that stops ends with one more contact. Running: after the last push-off the runner is in
    the air and must land; the landing only has to stop the downward velocity of the flight (a running
    contact also launches the next flight), so its force is the running pulse up to its peak, then it
    settles into the 1 g of standing by the end of the contact. Walking: the trailing foot closes up
    beside the other; the walking wave up to its peak, then settling into 1 g over half a step. It is a
    step in the truth (pedometers count it too)."""
    after = np.flatnonzero(ends_run)
    if after.size == 0:
        return steps
    at = after + 1

    def insert(values: np.ndarray, new: np.ndarray) -> np.ndarray:
        return np.insert(values, at, new)

    return _Steps(
        t_s=insert(steps.t_s, steps.t_s[after] + steps.period_s[after]),
        period_s=insert(steps.period_s, np.where(steps.is_walk[after], steps.period_s[after], steps.contact_s[after])),
        is_left=insert(steps.is_left, ~steps.is_left[after]),
        is_walk=insert(steps.is_walk, steps.is_walk[after]),
        contact_s=insert(steps.contact_s, steps.contact_s[after]),
        impact_g=insert(steps.impact_g, steps.impact_g[after]),
        shape=insert(steps.shape, steps.shape[after]),
        braking_g=insert(steps.braking_g, steps.braking_g[after]),
        starts_bout=insert(steps.starts_bout, np.zeros(after.size, dtype=bool)),
        ends_bout=insert(np.where(ends_run, False, steps.ends_bout), np.ones(after.size, dtype=bool)),
        landing=insert(steps.landing, np.ones(after.size, dtype=bool)),
    )


def _lean_trajectory(cfg: SyntheticConfig, grid_s: np.ndarray, is_walk: np.ndarray) -> np.ndarray:
    """Forward lean in degrees: 0 standing, the running lean plus scripted changes, the walking lean,
    bent forward while tying a shoe; transitions smoothed over about a second."""
    run_lean = cfg.lean_deg + _shifted(cfg, "lean_deg", grid_s)
    lean = np.where(_moving(cfg, grid_s), np.where(is_walk, cfg.walk_lean_deg, run_lean), 0.0)
    for pause in cfg.pauses:
        if pause.activity == "tie_shoe":
            lean[(grid_s >= pause.at_s) & (grid_s < pause.at_s + pause.duration_s)] = TIE_SHOE_PITCH_DEG
    return _smoothed(lean)


def _smoothed(grid_values: np.ndarray) -> np.ndarray:
    """Centred moving average over LEAN_SMOOTHING_S on the step-event grid (ends held): how fast a
    runner changes posture."""
    half = max(1, round(LEAN_SMOOTHING_S / GRID_S / 2))
    padded = np.concatenate((np.full(half, grid_values[0]), grid_values, np.full(half, grid_values[-1])))
    csum = np.concatenate(([0.0], np.cumsum(padded)))
    width = 2 * half + 1
    return (csum[width:] - csum[:-width])[: grid_values.size] / width


def _add_turns(
    cfg: SyntheticConfig,
    grid_s: np.ndarray,
    t_s: np.ndarray,
    f_world: np.ndarray,
    angles: tuple[np.ndarray, np.ndarray, np.ndarray],
    rates: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Turns in place: the heading frame rotates at the (smoothed) heading rate, which the gyro sees as
    yaw rate; the ground force leans toward the centre by tan(bank) = centripetal / g, so its mean over
    a step is the centripetal acceleration (in g); the trunk banks with it (negative roll is to the left)."""
    if not cfg.turns:
        return
    heading_rate = np.zeros_like(grid_s)
    centripetal = np.zeros_like(grid_s)
    for turn in cfg.turns:
        inside = (grid_s >= turn.at_s) & (grid_s < turn.at_s + turn.duration_s)
        heading_rate[inside] += turn.heading_rate_rps
        centripetal[inside] += turn.speed_mps * turn.heading_rate_rps / STANDARD_GRAVITY_MPS2
    heading_rate, centripetal = _smoothed(heading_rate), _smoothed(centripetal)
    tan_bank = np.interp(t_s, grid_s, centripetal)
    tan_bank_rate = np.interp(t_s, grid_s, np.gradient(centripetal, GRID_S))
    f_world[:, 1] += f_world[:, 2] * tan_bank
    angles[0][:] -= np.arctan(tan_bank)
    rates[0][:] -= tan_bank_rate / (1.0 + tan_bank**2)
    rates[2][:] += np.interp(t_s, grid_s, heading_rate)


def _world_signal(
    cfg: SyntheticConfig, steps: _Steps, t_s: np.ndarray, lean_deg: np.ndarray, lean_rate_dps: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Specific force in the heading frame (n, 3) plus trunk Euler angles and their rates."""
    n = t_s.size
    f = np.zeros((n, 3))
    f[:, 2] = 1.0
    roll = np.zeros(n)
    yaw = np.zeros(n)
    pitch = np.radians(lean_deg)
    roll_rate, yaw_rate = np.zeros(n), np.zeros(n)
    pitch_rate = np.radians(lean_rate_dps)
    if steps.t_s.size == 0:
        return f, (roll, pitch, yaw), (roll_rate, pitch_rate, yaw_rate)

    k = np.searchsorted(steps.t_s, t_s, side="right") - 1
    moving = k >= 0
    moving[moving] = t_s[moving] - steps.t_s[k[moving]] < steps.period_s[k[moving]]  # else standing after a bout
    k = k[moving]
    tau = t_s[moving] - steps.t_s[k]
    period = steps.period_s[k]
    walk = steps.is_walk[k]
    fraction = tau / period

    # Vertical: running Beta pulse in contact and free fall in flight; walking a cosine around 1 g.
    u = tau / steps.contact_s[k]
    in_contact = u < 1.0
    uc = np.clip(u, 1e-12, 1 - 1e-12)
    u_peak = PEAK_AT_CONTACT_FRACTION
    shape = steps.shape[k]
    log_pulse = shape * (u_peak * np.log(uc / u_peak) + (1 - u_peak) * np.log((1 - uc) / (1 - u_peak)))
    run_v = np.where(in_contact, steps.impact_g[k] * np.exp(log_pulse), 0.0)
    # the landing that ends a running bout: the pulse up to its peak, then settling into standing at 1 g
    settle = _smoothstep((uc - u_peak) / (1 - u_peak))
    run_v = np.where(steps.landing[k], run_v + (1.0 - run_v) * settle, run_v)
    # a walk from standing rises into its first peak; its closing step settles from its peak into standing
    rise = np.where(steps.starts_bout[k], _smoothstep(fraction / WALK_PEAK_AT_STEP_FRACTION), 1.0)
    fall = np.where(
        steps.landing[k], 1.0 - _smoothstep((fraction - WALK_PEAK_AT_STEP_FRACTION) / WALK_SETTLE_FRACTION), 1.0
    )
    wave = np.cos(2 * np.pi * (fraction - WALK_PEAK_AT_STEP_FRACTION))
    walk_v = 1.0 + (steps.impact_g[k] - 1.0) * wave * rise * fall
    f[moving, 2] = np.where(walk, walk_v, run_v)

    # Anteroposterior: braking then propulsion, zero net impulse (constant speed).
    run_ap = np.where(in_contact, -steps.braking_g[k] * np.sin(2 * np.pi * uc), 0.0)
    walk_ap = -steps.braking_g[k] * np.sin(2 * np.pi * fraction)
    f[moving, 0] = np.where(walk, walk_ap, run_ap)

    # Mediolateral at stride frequency: stride phase advances pi per step; + at right contacts.
    # stride phase: pi per step, from the side of the step (not its index: a bout's landing step shifts
    # the index parity of every later bout; for uninterrupted alternation both are the same mod 2 pi)
    first_is_left = cfg.first_side == "left"
    stride_phase = np.pi * ((steps.is_left[k] != first_is_left) + fraction)
    phase_rate = np.pi / period
    sign = 1.0 if cfg.first_side == "right" else -1.0
    run_sway_scale = _scaled(cfg, "sway_pct", t_s[moving])
    sway_scale = np.where(walk, WALK_SWAY_FRACTION, run_sway_scale)
    sway_scale_rate = np.where(walk, 0.0, np.gradient(run_sway_scale, t_s[moving]) if k.size > 1 else 0.0)
    f[moving, 1] = sign * cfg.sway_g * sway_scale * np.cos(stride_phase - ML_PEAK_PHASE_RAD)

    # Trunk oscillations: pitch at step frequency, roll and yaw at stride frequency; zero at contacts.
    # Roll is lateral trunk sway, so it grows with the scripted sway changes like the ML acceleration.
    a_pitch, a_roll, a_yaw = np.radians([cfg.pitch_oscillation_deg, cfg.roll_oscillation_deg, cfg.yaw_oscillation_deg])
    pitch[moving] += a_pitch * np.sin(2 * stride_phase)
    pitch_rate[moving] += a_pitch * 2 * np.cos(2 * stride_phase) * phase_rate
    roll[moving] = sign * a_roll * sway_scale * np.sin(stride_phase)
    roll_rate[moving] = (
        sign * a_roll * (sway_scale_rate * np.sin(stride_phase) + sway_scale * np.cos(stride_phase) * phase_rate)
    )
    yaw[moving] = sign * a_yaw * np.sin(stride_phase)
    yaw_rate[moving] = sign * a_yaw * np.cos(stride_phase) * phase_rate
    return f, (roll, pitch, yaw), (roll_rate, pitch_rate, yaw_rate)


def _add_pause_motion(
    cfg: SyntheticConfig,
    grid_s: np.ndarray,
    t_s: np.ndarray,
    f_world: np.ndarray,
    angles: tuple[np.ndarray, np.ndarray, np.ndarray],
    rates: tuple[np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> None:
    """A pause's movements in place (`PAUSE_MOTION`): band-limited random force on the world axes and trunk
    roll or pitch, drawn on the step-event grid (the same movements at any rate), faded in and out."""
    for pause in cfg.pauses:
        lo, hi = np.searchsorted(grid_s, [pause.at_s, pause.at_s + pause.duration_s])
        if hi - lo < 8:
            continue
        span = grid_s[lo:hi] - pause.at_s
        taper = np.clip(np.minimum(span, pause.duration_s - span) / PAUSE_TAPER_S, 0.0, 1.0)
        for what, band_hz, rms in PAUSE_MOTION[pause.activity]:
            noise = _band_noise(rng, hi - lo, band_hz)
            noise *= taper * rms / max(float(np.sqrt(np.mean(noise**2))), 1e-12)
            on_grid = np.zeros_like(grid_s)
            on_grid[lo:hi] = noise
            values = np.interp(t_s, grid_s, on_grid)
            if isinstance(what, int):
                f_world[:, what] += values
            else:
                axis = 0 if what == "roll" else 1
                angles[axis][:] += np.radians(values)
                rates[axis][:] += np.radians(np.interp(t_s, grid_s, np.gradient(on_grid, GRID_S)))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, 3x^2 - 2x^3 between: a ramp with no jump in value or slope."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _band_noise(rng: np.random.Generator, n: int, band_hz: tuple[float, float]) -> np.ndarray:
    """Gaussian noise of n grid samples with a flat spectrum inside `band_hz` and none outside (white noise
    with the other frequencies removed; a filter's start-up transient would dominate a short pause)."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    freq_hz = np.fft.rfftfreq(n, GRID_S)
    spectrum[(freq_hz < band_hz[0]) | (freq_hz > band_hz[1])] = 0.0
    return np.fft.irfft(spectrum, n)


def _world_to_trunk(f: np.ndarray, roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """R^T f with R = Rz(yaw) Ry(pitch) Rx(roll), applied axis by axis (no (n, 3, 3) matrices)."""
    cz, sz = np.cos(yaw), np.sin(yaw)
    x, y, z = cz * f[:, 0] + sz * f[:, 1], -sz * f[:, 0] + cz * f[:, 1], f[:, 2]
    cy, sy = np.cos(pitch), np.sin(pitch)
    x, z = cy * x - sy * z, sy * x + cy * z
    cx, sx = np.cos(roll), np.sin(roll)
    y, z = cx * y + sx * z, -sx * y + cx * z
    return np.column_stack((x, y, z))


def _trunk_to_aligned(f_trunk: np.ndarray, lean_rad: np.ndarray) -> np.ndarray:
    """Undo the slow lean only (Ry(lean) f): the gravity-aligned frame a perfect analysis would use."""
    c, s = np.cos(lean_rad), np.sin(lean_rad)
    x, y, z = f_trunk[:, 0], f_trunk[:, 1], f_trunk[:, 2]
    return np.column_stack((c * x + s * z, y, -s * x + c * z))


def _body_rates(
    angles: tuple[np.ndarray, np.ndarray, np.ndarray], rates: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Body angular velocity (rad/s) from z-y-x Euler angles and their time derivatives."""
    roll, pitch, _ = angles
    roll_rate, pitch_rate, yaw_rate = rates
    sr, cr, sp, cp = np.sin(roll), np.cos(roll), np.sin(pitch), np.cos(pitch)
    p = roll_rate - yaw_rate * sp
    q = pitch_rate * cr + yaw_rate * cp * sr
    r = -pitch_rate * sr + yaw_rate * cp * cr
    return np.column_stack((p, q, r))


def _add_noise_bursts(
    cfg: SyntheticConfig, t_s: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray, rng: np.random.Generator
) -> None:
    for burst in cfg.noise_bursts:
        lo, hi = np.searchsorted(t_s, [burst.at_s, burst.at_s + burst.duration_s])
        if hi <= lo:
            continue
        span = t_s[lo:hi, None]
        flap = burst.noise_g * np.sin(2 * np.pi * burst.flap_freq_hz * span + rng.uniform(0, 2 * np.pi, 3))
        acc_g[lo:hi] += flap + rng.normal(0.0, burst.noise_g, (hi - lo, 3))
        gyro_dps[lo:hi] += rng.normal(0.0, burst.noise_g * GYRO_NOISE_PER_BURST_G, (hi - lo, 3))


def _vertical_oscillation_cm(steps: _Steps) -> np.ndarray:
    """Peak-to-peak vertical displacement per step (cm): the step's vertical specific force, minus
    gravity, integrated twice over one period with zero mean velocity."""
    n_points = 64
    fraction = (np.arange(n_points) + 0.5) / n_points
    period = steps.period_s[:, None]
    u = fraction * period / steps.contact_s[:, None]
    uc = np.clip(u, 1e-12, 1 - 1e-12)
    u_peak = PEAK_AT_CONTACT_FRACTION
    log_pulse = steps.shape[:, None] * (u_peak * np.log(uc / u_peak) + (1 - u_peak) * np.log((1 - uc) / (1 - u_peak)))
    run_v = np.where(u < 1.0, steps.impact_g[:, None] * np.exp(log_pulse), 0.0)
    walk_v = 1.0 + (steps.impact_g[:, None] - 1.0) * np.cos(2 * np.pi * (fraction - WALK_PEAK_AT_STEP_FRACTION))
    accel = (np.where(steps.is_walk[:, None], walk_v, run_v) - 1.0) * STANDARD_GRAVITY_MPS2
    dt = period / n_points
    velocity = np.cumsum(accel, axis=1) * dt
    velocity -= velocity.mean(axis=1, keepdims=True)
    height = np.cumsum(velocity, axis=1) * dt
    return np.ptp(height, axis=1) * 100.0


def _truth_steps(steps: _Steps, duration_s: float, start_t_ns: int) -> tuple[StepArrays, tuple[TruthStep, ...]]:
    """Per-step truth for the contacts inside the recording."""
    keep = steps.t_s < duration_s
    t_s = steps.t_s[keep]
    contact_ms = steps.contact_s[keep] * 1000.0
    walk = steps.is_walk[keep]
    peak_s = t_s + np.where(
        walk, WALK_PEAK_AT_STEP_FRACTION * steps.period_s[keep], PEAK_AT_CONTACT_FRACTION * steps.contact_s[keep]
    )
    step_time = np.concatenate(([np.nan], np.diff(t_s))) if t_s.size else np.zeros(0)
    step_time[steps.starts_bout[keep]] = np.nan  # the interval before a bout's first step is a pause
    arrays = StepArrays(
        t_ns=start_t_ns + np.round(t_s * NS_PER_S).astype(np.int64),
        is_left=steps.is_left[keep],
        is_walk=walk,
        impact_g=steps.impact_g[keep],
        contact_time_ms=contact_ms,
        step_time_s=step_time,
        vertical_oscillation_cm=_vertical_oscillation_cm(steps)[keep] if t_s.size else np.zeros(0),
    )
    braking_g = steps.braking_g[keep]
    peak_ns = start_t_ns + np.round(peak_s * NS_PER_S).astype(np.int64)
    toe_off_ns = arrays.t_ns + np.round(contact_ms * 1e6).astype(np.int64)
    truth = tuple(
        TruthStep(
            index=i,
            t_ns=int(arrays.t_ns[i]),
            side="left" if arrays.is_left[i] else "right",
            gait="walk" if walk[i] else "run",
            impact_g=float(arrays.impact_g[i]),
            impact_t_ns=int(peak_ns[i]),
            toe_off_t_ns=int(toe_off_ns[i]),
            contact_time_ms=float(contact_ms[i]),
            step_time_s=float(step_time[i]) if np.isfinite(step_time[i]) else None,
            braking_g=float(braking_g[i]),
            vertical_oscillation_cm=float(arrays.vertical_oscillation_cm[i]),
        )
        for i in range(t_s.size)
    )
    return arrays, truth
