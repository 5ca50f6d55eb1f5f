"""Fixtures every test package shares."""

from __future__ import annotations

import pathlib

import pytest

from benchmarks.validation.bundled_data import unpack
from tests.fuzz._support import LONG_FACTOR, SESSION_SEED

REPO = pathlib.Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.fixtures_services"]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A long fuzz run (STRIDEGUARD_FUZZ_LONG) draws hypothesis inputs from the run's seed, so the one
    printed seed replays everything (hypothesis reads its --hypothesis-seed option after this hook)."""
    if LONG_FACTOR > 1 and config.getoption("hypothesis_seed") is None:
        config.option.hypothesis_seed = str(SESSION_SEED)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The seeds of this run, so any failure can be replayed exactly."""
    hypothesis_seed = config.getoption("hypothesis_seed")
    fuzz = f"STRIDEGUARD_FUZZ_SEED={SESSION_SEED}"
    if LONG_FACTOR == 1:
        how = "hypothesis derandomized (each test's inputs fixed by its name)"
        if hypothesis_seed is not None:
            how += f"; --hypothesis-seed={hypothesis_seed} is ignored by the derandomized fuzz settings"
    else:
        how = f"STRIDEGUARD_FUZZ_LONG={LONG_FACTOR}, hypothesis --hypothesis-seed={hypothesis_seed}"
    return [f"seeds: {fuzz} ({how}); replay: {fuzz} STRIDEGUARD_FUZZ_LONG={LONG_FACTOR}"]


@pytest.fixture(scope="session")
def real_data(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The real recordings and BLE vectors carried in `data/`, unpacked and checksum-checked once per run."""
    return unpack(tmp_path_factory.mktemp("data"))
