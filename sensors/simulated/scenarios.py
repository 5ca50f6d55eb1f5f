"""Scenarios for trying StrideGuard without hardware: a synthetic runner whose run shows one alert or one
sensor state, for `record --simulate --scenario NAME` (behind the simulated BLE devices) and
`collect --synthetic N --scenario NAME` (straight onto MQTT).

Each scenario is a `SyntheticConfig` (the public API of `sensors.synthetic`) and, for `dropout`, a real
link loss: the simulated H10 drops its BLE link and stops advertising for `DROPOUT_DOWN_S`, so the
collector's reconnect, the capture's gap and the pages' "sensor lost" / "sensor back" are the real ones.
(`collect` has no radio: there the dropout is the same hole in the samples.)

Times are chosen for the default risk settings: 2 min warm-up + 3 min personal baseline, so a change
from minute 6 (`CHANGE_AT_S`) alerts a few minutes later; record about 12 minutes (`--fast` does it in
seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from strideguard.sensors.synthetic import Change, SyntheticConfig

CHANGE_AT_S = 360.0  # s: the scripted change starts after the warm-up and the baseline (5 min)
RAMP_S = 30.0  # s to reach the full change
DROPOUT_AT_S = 240.0  # s: the link is lost at minute 4
DROPOUT_DOWN_S = 25.0  # s the sensor stays away (not advertising)
SUGGESTED_DURATION_S = 720.0  # s: long enough for every scenario's alert


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """What a newcomer sees: `shows` says which alert or state, in words."""

    name: str
    shows: str
    changes: tuple[Change, ...] = ()
    dropouts_s: tuple[float, ...] = ()  # link losses, s from the start of streaming

    def synthetic_config(self, *, cadence_spm: float = 170.0) -> SyntheticConfig:
        return SyntheticConfig(cadence_spm=cadence_spm, changes=self.changes)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(name="steady", shows="steady running at 170 spm: no alert at all (what a normal run looks like)"),
        Scenario(
            name="fatigue",
            shows="from minute 6 cadence -6 %, sway +30 %, lean +6 degrees: cadence, sway and lean alerts, "
            "then the fatigue pattern",
            changes=(Change(at_s=CHANGE_AT_S, ramp_s=RAMP_S, cadence_pct=-6.0, sway_pct=30.0, lean_deg=6.0),),
        ),
        Scenario(
            name="cadence",
            shows="from minute 6 cadence -10 % (about 153 spm): a cadence alert below your baseline",
            changes=(Change(at_s=CHANGE_AT_S, ramp_s=RAMP_S, cadence_pct=-10.0),),
        ),
        Scenario(
            name="asymmetry",
            shows="from minute 6 one leg lands harder and longer (impact +20 points, step time +8 points): "
            "asymmetry alerts",
            changes=(Change(at_s=CHANGE_AT_S, ramp_s=RAMP_S, impact_asymmetry_pct=20.0, step_time_asymmetry_pct=8.0),),
        ),
        Scenario(
            name="lean",
            shows="from minute 6 the trunk leans 8 degrees further forward: a lean alert",
            changes=(Change(at_s=CHANGE_AT_S, ramp_s=RAMP_S, lean_deg=8.0),),
        ),
        Scenario(
            name="dropout",
            shows=f"steady running; at minute 4 the sensor's link is lost for {DROPOUT_DOWN_S:.0f} s: "
            "'sensor lost', then 'sensor back'",
            dropouts_s=(DROPOUT_AT_S,),
        ),
    )
}
MIXED = "mixed"  # for a team: runner i gets the scenarios in turn (steady, fatigue, cadence, ...)


def scenario_names() -> list[str]:
    return [*SCENARIOS, MIXED]


def scenario_for(name: str, runner_index: int) -> Scenario:
    """The scenario of the runner at `runner_index` (0-based); `mixed` deals them out in turn."""
    if name == MIXED:
        return list(SCENARIOS.values())[runner_index % len(SCENARIOS)]
    return SCENARIOS[name]


def describe() -> str:
    """One line per scenario, for --help."""
    lines = [f"  {s.name:<10} {s.shows}" for s in SCENARIOS.values()]
    lines.append(f"  {MIXED:<10} (a team) each runner a different one of the above, in this order")
    return "\n".join(lines)
