"""Runner profiles: height, mass, birth year and sex (all optional), in the session store's SQLite file.

Kept like the pain log and the shoes, in their own table. Used by the export (participants.tsv, with
age in years and never a birth date) and to express trunk impact in newtons where the mass is known.
Every SQLite failure is a one-line `StoreError` naming the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from strideguard.stream.sqlite.side_tables import SideTables

SEXES = ("female", "male", "other")  # BIDS participants.tsv values
LIMITS = {"height_cm": (50.0, 250.0), "mass_kg": (20.0, 300.0)}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    runner: str
    height_cm: float | None = None
    mass_kg: float | None = None
    birth_year: int | None = None
    sex: str | None = None

    def age_years(self, at_t_ns: int) -> int | None:
        """Age in whole years at a time (the year of birth only is known: the age reached that year)."""
        if self.birth_year is None:
            return None
        return dt.datetime.fromtimestamp(at_t_ns / 1e9, tz=dt.UTC).year - self.birth_year


def check(profile: Profile, *, this_year: int) -> None:
    """A one-line ValueError for a value no runner has (a typo, a unit mix-up)."""
    for name, (low, high) in LIMITS.items():
        value = getattr(profile, name)
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name.replace('_', ' ')} must be from {low:g} to {high:g}, got {value:g}")
    if profile.birth_year is not None and not this_year - 110 <= profile.birth_year <= this_year - 5:
        raise ValueError(f"birth year must be from {this_year - 110} to {this_year - 5}, got {profile.birth_year}")
    if profile.sex is not None and profile.sex not in SEXES:
        raise ValueError(f"sex must be one of {', '.join(SEXES)}, got {profile.sex!r}")


class Profiles(SideTables):
    """Set and read runner profiles; `path` is the store's file, `readonly` for exports and listings."""

    TABLES = (
        (
            "runner_profiles",
            "CREATE TABLE IF NOT EXISTS runner_profiles (runner TEXT PRIMARY KEY, height_cm REAL, "
            "mass_kg REAL, birth_year INTEGER, sex TEXT)",
        ),
    )

    def set(self, profile: Profile) -> Profile:
        """Store the given fields; a field left None keeps what was stored."""
        old = self.get(profile.runner) or Profile(runner=profile.runner)
        merged = Profile(
            runner=profile.runner,
            **{
                f: getattr(profile, f) if getattr(profile, f) is not None else getattr(old, f)
                for f in ("height_cm", "mass_kg", "birth_year", "sex")
            },
        )
        with self._errors("cannot store the profile"):
            self._db.execute(
                "INSERT INTO runner_profiles (runner, height_cm, mass_kg, birth_year, sex) VALUES (?,?,?,?,?) "
                "ON CONFLICT(runner) DO UPDATE SET height_cm=excluded.height_cm, mass_kg=excluded.mass_kg, "
                "birth_year=excluded.birth_year, sex=excluded.sex",
                (merged.runner, merged.height_cm, merged.mass_kg, merged.birth_year, merged.sex),
            )
        return merged

    def get(self, runner: str) -> Profile | None:
        if not self.has_tables:
            return None
        with self._errors("cannot read the profile"):
            row = self._db.execute(
                "SELECT runner, height_cm, mass_kg, birth_year, sex FROM runner_profiles WHERE runner=?", (runner,)
            ).fetchone()
        if row is None:
            return None
        return Profile(runner=row[0], height_cm=row[1], mass_kg=row[2], birth_year=row[3], sex=row[4])
