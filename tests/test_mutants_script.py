"""scripts/mutants.py (the mutation check of the decoders and readers) still applies and still works.

The full run takes minutes and is not part of the suite (docs/testing.md, "Mutation check"); here every
mutant is checked to still match the source it mutates (so an edit of a decoder cannot quietly retire
one), and two mutants, the case of issue 15 among them, are run end to end.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import mutants  # noqa: E402  # a script, not a package

sys.path.remove(str(REPO / "scripts"))


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m.name for m in mutants.MUTANTS])
def test_every_mutant_matches_its_source_exactly_once(mutant: mutants.Mutant) -> None:
    text = (REPO / mutant.path).read_text()
    for old, new in mutant.edits:
        assert text.count(old) == 1, f"{old!r} in {mutant.path}"
        assert old != new
    assert mutant.tests in mutants.TESTS


def test_mutant_names_are_unique() -> None:
    names = [m.name for m in mutants.MUTANTS]
    assert len(names) == len(set(names))


@pytest.mark.slow
def test_two_mutants_run_end_to_end_and_are_killed() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/mutants.py", "--only", "capture-swallow-and-skip-header-crc,capture-skip-frame-crc"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("capture-")]
    assert [(r[0], r[2]) for r in rows] == [
        ("capture-swallow-and-skip-header-crc", "killed"),
        ("capture-skip-frame-crc", "killed"),
    ]
    assert "mutation score: 2/2 killed = 100%" in done.stdout
    assert (REPO / "sensors/capture.py").read_text().count("if zlib.crc32(packed) != crc:") == 1  # untouched
