"""Runner profiles (issue 17 item 4): set through the CLI, exported to participants.tsv and the sessions
table as age in years (never a birth date), coarsened under --pseudonymise, and still valid Motion-BIDS."""

from __future__ import annotations

import csv
import json
import pathlib
import shutil

import pyarrow.parquet as pq
import pytest

from strideguard.stream.cli import main
from strideguard.stream.export import ExportOptions, export_sessions, select_sessions
from strideguard.stream.export.participants import person
from strideguard.stream.sqlite.profiles import Profile
from tests.stream.test_export import validate
from tests.stream.test_export_helpers import T0_NS, World, shared_world

BIRTH_YEAR = 1988  # annabelle's first session is in 2025: 37 years; 35 when coarsened


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """A copy of the shared export world with annabelle's profile set through the CLI."""
    shared = shared_world()
    root = tmp_path_factory.mktemp("profile-world")
    db = root / "store.db"
    shutil.copy(shared.db, db)
    argv = ["runner", "--db", str(db), "set", "annabelle", "--height-cm", "171", "--mass-kg", "63.4"]
    assert main([*argv, "--birth-year", str(BIRTH_YEAR), "--sex", "female"]) == 0
    return World(db=db, batches=shared.batches, sessions=shared.sessions)


def export(world: World, out: pathlib.Path, **kw):
    store = world.store()
    try:
        return export_sessions(
            store,
            select_sessions(store, team="riverside"),
            ExportOptions(out_dir=out, authors=("A. Researcher", "B. Coach"), license_id="CC-BY-4.0", **kw),
        )
    finally:
        store.close()


def participants(result) -> dict[str, dict[str, str]]:
    with open(result.out_dir / "bids" / "participants.tsv", newline="") as f:
        return {r["participant_id"]: r for r in csv.DictReader(f, delimiter="\t")}


def test_the_cli_sets_keeps_and_refuses_profile_fields(tmp_path, capsys) -> None:
    db = tmp_path / "store.db"
    assert main(["runner", "--db", str(db), "set", "anna", "--height-cm", "168", "--birth-year", "1990"]) == 0
    assert main(["runner", "--db", str(db), "set", "anna", "--mass-kg", "61"]) == 0  # keeps the others
    capsys.readouterr()
    assert main(["runner", "--db", str(db), "show", "anna", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"runner": "anna", "height_cm": 168.0, "mass_kg": 61.0, "birth_year": 1990, "sex": None}
    for bad, message in (
        (["--height-cm", "1.68"], "height cm must be from 50 to 250, got 1.68"),  # metres, not cm
        (["--mass-kg", "610"], "mass kg must be from 20 to 300, got 610"),
        (["--birth-year", "1850"], "birth year must be from"),
    ):
        assert main(["runner", "--db", str(db), "set", "anna", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("strideguard runner: error: ") and message in err and "\n" not in err


def test_the_export_gives_age_sex_height_and_mass(world, tmp_path) -> None:
    result = export(world, tmp_path / "plain")
    rows = participants(result)
    anna = next(r for k, r in rows.items() if "annabelle" in k)
    assert (anna["age"], anna["sex"], anna["height"], anna["weight"]) == ("37", "female", "171", "63.4")
    other = next(r for k, r in rows.items() if "annabelle" not in k)
    assert (other["age"], other["sex"], other["height"], other["weight"]) == ("n/a", "n/a", "n/a", "n/a")
    sessions = pq.read_table(result.out_dir / "parquet" / "sessions.parquet").to_pylist()
    annas = [s for s in sessions if s["subject"] == f"sub-{next(k for k in rows if 'annabelle' in k)[4:]}"]
    assert annas and all((s["age_years"], s["sex"], s["mass_kg"]) == (37, "female", 63.4) for s in annas)
    assert str(BIRTH_YEAR) not in (result.out_dir / "bids" / "participants.tsv").read_text()


def test_a_pseudonymised_export_coarsens_the_profile(world, tmp_path) -> None:
    result = export(world, tmp_path / "pseudo", pseudonymise=True, date_shift_days=-400)
    values = [(r["age"], r["sex"], r["height"], r["weight"]) for r in participants(result).values()]
    assert ("35", "female", "170", "65") in values  # 37 -> 35, 171 -> 170, 63.4 -> 65
    text = (result.out_dir / "bids" / "participants.tsv").read_text()
    assert "63.4" not in text and "171" not in text and "37" not in text
    meta = json.loads((result.out_dir / "bids" / "participants.json").read_text())
    assert "rounded down to a multiple of 5" in meta["age"]["Description"] and meta["weight"]["Units"] == "kg"


@pytest.mark.slow
@pytest.mark.parametrize("pseudonymise", [False, True], ids=["plain", "pseudo"])
def test_profiles_keep_the_export_valid_to_the_last_row(world, tmp_path, pseudonymise: bool) -> None:
    result = export(world, tmp_path / "x", pseudonymise=pseudonymise)
    issues = validate(result.out_dir / "bids")["issues"]["issues"]
    print(sorted({(i["severity"], i["code"]) for i in issues}))
    assert [i for i in issues if i["severity"] in ("error", "warning")] == []


def test_person_rounds_and_never_gives_a_birth_date() -> None:
    profile = Profile(runner="x", height_cm=172.6, mass_kg=67.4, birth_year=1990, sex="other")
    at = T0_NS  # 2025-11-21
    assert person(profile, at_t_ns=at, coarse=False) == {
        "age_years": 35,
        "sex": "other",
        "height_cm": 172.6,
        "mass_kg": 67.4,
    }
    assert person(profile, at_t_ns=at, coarse=True) == {
        "age_years": 35,
        "sex": "other",
        "height_cm": 175.0,
        "mass_kg": 65.0,
    }
    assert person(None, at_t_ns=at, coarse=True) == {"age_years": None, "sex": None, "height_cm": None, "mass_kg": None}
