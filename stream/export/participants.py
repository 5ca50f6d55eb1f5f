"""A runner's profile as the export gives it: age in whole years (never a birth date), sex, height and
mass; coarsened under --pseudonymise (age rounded down to a multiple of 5, height and mass to the nearest
5 cm and 5 kg), so a profile cannot single a runner out in a small cohort."""

from __future__ import annotations

from typing import Any

from strideguard.stream.sqlite.profiles import Profile

COARSE_YEARS = 5
COARSE_CM = 5.0
COARSE_KG = 5.0


def person(profile: Profile | None, *, at_t_ns: int, coarse: bool) -> dict[str, Any]:
    """`age_years`, `sex`, `height_cm`, `mass_kg` at a session that started at `at_t_ns` (true time,
    before any date shift); None (or no sex) where the profile does not say."""
    if profile is None:
        return {"age_years": None, "sex": None, "height_cm": None, "mass_kg": None}
    age = profile.age_years(at_t_ns)
    height, mass = profile.height_cm, profile.mass_kg
    if coarse:
        age = None if age is None else age - age % COARSE_YEARS
        height = None if height is None else COARSE_CM * round(height / COARSE_CM)
        mass = None if mass is None else COARSE_KG * round(mass / COARSE_KG)
    return {"age_years": age, "sex": profile.sex, "height_cm": height, "mass_kg": mass}
