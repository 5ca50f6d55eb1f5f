"""What a synthetic runner looks like: a keyword-only configuration with units in every name.

The configuration describes the runner in the anatomical frame of the trunk (x forward, y left, z up;
right-handed) and the sensor's mounting rotation separately, so that a test can ask the same runner
to wear the strap at any angle. Scripted `Change`s describe how the runner drifts over time (a fatigue
episode); `WalkBreak`s, `Pause`s, `NoiseBurst`s and `Turn`s add the disturbances and the course a real run has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.errors import SensorError

Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
IDENTITY: Matrix3 = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

MIN_RATE_HZ = 25.0  # Hz, slowest rate the generator promises to model (UCI data is 25 Hz)
MAX_RATE_HZ = 500.0  # Hz, fastest (Alcantara's sacral data is 500 Hz)


class SyntheticConfigError(SensorError, ValueError):
    """A synthetic-runner parameter out of its physical range; `field` names it."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return f"synthetic runner: {self.field}: {self.args[0]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A scripted drift that starts at `at_s` (seconds from the recording start) and reaches its full
    size after `ramp_s` (linear ramp), then stays. Percentages are relative to the configured value
    (several changes multiply); `lean_deg` and the asymmetries are added (degrees, percentage points).
    """

    at_s: float
    ramp_s: float = 30.0
    cadence_pct: float = 0.0
    impact_pct: float = 0.0
    sway_pct: float = 0.0
    braking_pct: float = 0.0
    contact_time_pct: float = 0.0
    lean_deg: float = 0.0
    step_time_asymmetry_pct: float = 0.0
    impact_asymmetry_pct: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.at_s) and self.at_s >= 0):
            raise SyntheticConfigError(f"must be >= 0 s, got {self.at_s}", field="Change.at_s")
        if not (math.isfinite(self.ramp_s) and self.ramp_s >= 0):
            raise SyntheticConfigError(f"must be >= 0 s, got {self.ramp_s}", field="Change.ramp_s")
        for name in ("cadence_pct", "impact_pct", "sway_pct", "braking_pct", "contact_time_pct"):
            if getattr(self, name) <= -90:
                raise SyntheticConfigError("must be above -90 %", field=f"Change.{name}")

    def progress(self, t_s: np.ndarray) -> np.ndarray:
        """0 before `at_s`, rising linearly to 1 over `ramp_s`."""
        if self.ramp_s == 0:
            return (t_s >= self.at_s).astype(np.float64)
        return np.clip((t_s - self.at_s) / self.ramp_s, 0.0, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkBreak:
    """The runner walks from `at_s` for `duration_s` (at the config's walking cadence), then runs again."""

    at_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if not (self.at_s >= 0 and self.duration_s > 0):
            raise SyntheticConfigError("needs at_s >= 0 and duration_s > 0", field="WalkBreak")


PAUSE_ACTIVITIES = ("still", "fidget", "tie_shoe")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    """The runner stops from `at_s` for `duration_s` (no steps), then goes on at the gait of that time
    (running, or walking inside a `WalkBreak`), the first step exactly at the pause's end.

    `activity` is what they do meanwhile:
    * "still": stand upright and still (sensor noise only).
    * "fidget": shift their weight from foot to foot and sway: mediolateral 0.06 g RMS (0.2-1.2 Hz,
      the trunk moving over one foot then the other), anteroposterior 0.04 g and vertical 0.04 g RMS
      (0.3-3 Hz: knees flexing, rising on the toes), trunk roll 3 deg RMS. Quiet standing at the lower
      back is about 0.01 g RMS; walking makes 0.15-0.3 g of vertical acceleration at 1.6-2 Hz.
    * "tie_shoe": bend the trunk forward by `TIE_SHOE_PITCH_DEG` (over about a second, as every posture
      change here) and back up at the end, with small movements of the hands in between (0.05 g RMS on
      every axis, 0.5-4 Hz, and 3 deg RMS of pitch)."""

    at_s: float
    duration_s: float
    activity: str = "still"

    def __post_init__(self) -> None:
        if not (self.at_s >= 0 and self.duration_s > 0 and self.activity in PAUSE_ACTIVITIES):
            raise SyntheticConfigError(
                f"needs at_s >= 0, duration_s > 0 and activity in {PAUSE_ACTIVITIES}", field="Pause"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseBurst:
    """A loose strap: from `at_s` for `duration_s` the sensor rattles (white noise of `noise_g` plus a
    flapping oscillation of the same amplitude at `flap_freq_hz`; the gyro gets `noise_g` x 60 deg/s)."""

    at_s: float
    duration_s: float
    noise_g: float = 0.5
    flap_freq_hz: float = 11.0

    def __post_init__(self) -> None:
        if not (self.at_s >= 0 and self.duration_s > 0 and self.noise_g >= 0 and self.flap_freq_hz > 0):
            raise SyntheticConfigError(
                "needs at_s >= 0, duration_s > 0, noise_g >= 0, flap_freq_hz > 0", field="NoiseBurst"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """The runner changes heading by `angle_deg` (positive = left, counter-clockwise seen from above)
    from `at_s` over `duration_s` at `speed_mps`: a track bend (180 deg over 35 s at 3.3 m/s, 0.03 g
    centripetal) or a turnaround at a cone (180 deg in 2 s, about 0.5 g).

    The centripetal acceleration v x heading rate comes from the ground: each contact's force leans
    toward the centre of the turn, and the trunk banks with it (by atan(centripetal / g)), as a runner
    leans into a bend. The heading rate has the same one-second smoothing as posture changes, so the
    bank builds up and releases instead of jumping."""

    at_s: float
    duration_s: float
    angle_deg: float
    speed_mps: float = 3.3

    def __post_init__(self) -> None:
        if not (self.at_s >= 0 and self.duration_s > 0 and abs(self.angle_deg) <= 720 and 0 < self.speed_mps <= 12):
            raise SyntheticConfigError(
                "needs at_s >= 0, duration_s > 0, |angle_deg| <= 720 and 0 < speed_mps <= 12", field="Turn"
            )

    @property
    def heading_rate_rps(self) -> float:
        """Heading rate (rad/s, positive = left) while turning."""
        return math.radians(self.angle_deg) / self.duration_s


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticConfig:
    """A runner and how the sensor sits on them.

    Running is modelled per step: a single skewed vertical force pulse during contact (peak
    `impact_g`, specific force including gravity), free fall (0 g) in flight, the pulse shaped so the
    mean vertical specific force over each step is exactly 1 g; anteroposterior braking then propulsion
    (peak `braking_g`); mediolateral acceleration at stride frequency (amplitude `sway_g`) whose sign
    at contact tells the side. The trunk leans forward by `lean_deg` while running (0 while standing)
    and oscillates in pitch, roll and yaw; the gyroscope sees the matching angular rates.

    `impact_g` is honoured when the physics allows it: a step of period T with contact Tc needs a peak
    of at least about T / (0.64 Tc) to carry the body weight, and the generator raises lower requests
    to that minimum (the per-step truth reports the peak actually used). Vertical oscillation follows
    from cadence, contact time and pulse shape, so it is reported in the truth, not configured.

    Keep `impact_g`, `contact_time_ms` and the cadence consistent when contact time is scored: the mean
    vertical force over a real running contact is about 0.6 of its peak (a half sine gives 0.64: Morin
    et al. 2005, J Appl Biomech 21:167; the Alcantara force plate measures 0.60), so peak ~ T / (0.6 Tc).
    A higher peak at the same contact time makes the generator narrow the pulse, whose flat, near-zero
    edges still count as contact in the truth but carry almost no force: no trunk sensor can see them.
    The defaults (170 spm, 250 ms, 2.8 g) give a mean/peak of 0.50 and 64 ms of each contact below
    0.4 g (the plate: 36 ms below 0.4 BW); the validation harness's scenarios use 210 ms (0.60, 30 ms),
    see `benchmarks/validation/synthetic.py` and tests/benchmarks/test_synthetic_pulse.py.

    `mount_rotation` maps trunk-frame vectors into sensor axes (sensor = R @ trunk); use
    `rotation_from_euler_deg` or `random_rotation` to build one.
    """

    cadence_spm: float = 170.0
    contact_time_ms: float = 250.0
    impact_g: float = 2.8
    braking_g: float = 0.35
    sway_g: float = 0.25
    lean_deg: float = 6.0
    step_time_asymmetry_pct: float = 0.0
    impact_asymmetry_pct: float = 0.0
    step_time_jitter_pct: float = 1.5
    impact_jitter_pct: float = 3.0
    noise_g: float = 0.02
    gyro_noise_dps: float = 0.5
    pitch_oscillation_deg: float = 2.0
    roll_oscillation_deg: float = 3.0
    yaw_oscillation_deg: float = 5.0
    mount_rotation: Matrix3 = IDENTITY
    standing_s: float = 10.0
    walk_cadence_spm: float = 115.0
    walk_impact_g: float = 1.3
    walk_lean_deg: float = 2.0
    walk_breaks: tuple[WalkBreak, ...] = ()
    pauses: tuple[Pause, ...] = ()
    noise_bursts: tuple[NoiseBurst, ...] = ()
    turns: tuple[Turn, ...] = ()
    changes: tuple[Change, ...] = ()
    first_side: str = "right"

    def __post_init__(self) -> None:
        checks = {
            "cadence_spm": 100 <= self.cadence_spm <= 240,
            "contact_time_ms": 100 <= self.contact_time_ms <= 450,
            "impact_g": 1.0 <= self.impact_g <= 15.0,
            "braking_g": 0 <= self.braking_g <= 3.0,
            "sway_g": 0 <= self.sway_g <= 2.0,
            "lean_deg": -30 <= self.lean_deg <= 45,
            "step_time_asymmetry_pct": abs(self.step_time_asymmetry_pct) <= 40,
            "impact_asymmetry_pct": abs(self.impact_asymmetry_pct) <= 60,
            "step_time_jitter_pct": 0 <= self.step_time_jitter_pct <= 10,
            "impact_jitter_pct": 0 <= self.impact_jitter_pct <= 20,
            "noise_g": 0 <= self.noise_g <= 2.0,
            "gyro_noise_dps": 0 <= self.gyro_noise_dps <= 100,
            "pitch_oscillation_deg": 0 <= self.pitch_oscillation_deg <= 20,
            "roll_oscillation_deg": 0 <= self.roll_oscillation_deg <= 20,
            "yaw_oscillation_deg": 0 <= self.yaw_oscillation_deg <= 30,
            "standing_s": self.standing_s >= 0,
            "walk_cadence_spm": 60 <= self.walk_cadence_spm <= 150,
            "walk_impact_g": 1.0 <= self.walk_impact_g <= 2.0,
            "walk_lean_deg": -30 <= self.walk_lean_deg <= 45,
            "first_side": self.first_side in ("left", "right"),
        }
        for name, ok in checks.items():
            if not ok:
                raise SyntheticConfigError(f"{getattr(self, name)!r} is out of range", field=name)
        object.__setattr__(self, "mount_rotation", as_rotation(self.mount_rotation))
        object.__setattr__(self, "walk_breaks", tuple(self.walk_breaks))
        object.__setattr__(self, "pauses", tuple(self.pauses))
        object.__setattr__(self, "noise_bursts", tuple(self.noise_bursts))
        object.__setattr__(self, "turns", tuple(self.turns))
        object.__setattr__(self, "changes", tuple(self.changes))


def as_rotation(matrix: object) -> Matrix3:
    """A proper rotation matrix as nested tuples (hashable, comparable); rejects anything else."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise SyntheticConfigError(f"must be a 3x3 matrix, got shape {m.shape}", field="mount_rotation")
    if not np.allclose(m @ m.T, np.eye(3), atol=1e-6) or not np.isclose(np.linalg.det(m), 1.0, atol=1e-6):
        raise SyntheticConfigError("must be a proper rotation (orthonormal, det +1)", field="mount_rotation")
    return (_row(m[0]), _row(m[1]), _row(m[2]))


def _row(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def rotation_from_euler_deg(*, roll_deg: float = 0.0, pitch_deg: float = 0.0, yaw_deg: float = 0.0) -> Matrix3:
    """Rz(yaw) @ Ry(pitch) @ Rx(roll): intrinsic z-y'-x'' angles in degrees, about the trunk's up (z),
    left (y) and forward (x) axes."""
    r, p, y = (math.radians(v) for v in (roll_deg, pitch_deg, yaw_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return as_rotation(rz @ ry @ rx)


def random_rotation(seed: int) -> Matrix3:
    """A rotation drawn uniformly over SO(3) (a unit quaternion from four normals), reproducible by seed."""
    q = np.random.default_rng(seed).normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    m = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return as_rotation(m)
