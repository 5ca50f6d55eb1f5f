"""A physically plausible running trunk IMU with known truth, for demos and for tests.

    from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner, Change, random_rotation
    run = SyntheticRunner(SyntheticConfig(cadence_spm=165, mount_rotation=random_rotation(3))).generate(
        600, 100, seed=1, placement=Placement.SACRUM)
    run.acc, run.gyro            # SampleBatch in g and deg/s
    run.steps                    # TruthStep per step: contact, toe-off, side, impact
    run.truth_window(t0_ns, t1_ns)   # cadence, sway ratios, lean, asymmetry, ...
    fatigue_run()                # the 27-min demo run with a fatigue episode from minute 20

Modules: `config` (what the runner is), `generator` (the physics), `truth` (what is known), `presets`.
"""

from strideguard.sensors.synthetic.config import (
    IDENTITY,
    Change,
    NoiseBurst,
    Pause,
    SyntheticConfig,
    SyntheticConfigError,
    Turn,
    WalkBreak,
    random_rotation,
    rotation_from_euler_deg,
)
from strideguard.sensors.synthetic.generator import SyntheticRunner
from strideguard.sensors.synthetic.presets import FATIGUE_ONSET_S, chest_strap_config, fatigue_config, fatigue_run
from strideguard.sensors.synthetic.truth import SyntheticRun, TruthStep, WindowTruth

__all__ = [
    "FATIGUE_ONSET_S",
    "IDENTITY",
    "Change",
    "NoiseBurst",
    "Pause",
    "SyntheticConfig",
    "SyntheticConfigError",
    "SyntheticRun",
    "SyntheticRunner",
    "TruthStep",
    "Turn",
    "WalkBreak",
    "WindowTruth",
    "chest_strap_config",
    "fatigue_config",
    "fatigue_run",
    "random_rotation",
    "rotation_from_euler_deg",
]
