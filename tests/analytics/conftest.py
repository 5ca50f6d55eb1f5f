"""Fixtures for the analytics tests: real recordings loaded once per session."""

from __future__ import annotations

import pathlib

import pytest

from tests.analytics.recordings import AlcantaraTrial, UciRun, load_alcantara, load_uci


@pytest.fixture(scope="session")
def uci_runs(real_data: pathlib.Path) -> list[UciRun]:
    paths = sorted((real_data / "uci_dsa_treadmill_running").glob("p*_a12_*.csv"))
    assert len(paths) == 4, "expected the four UCI runners"
    return [load_uci(p) for p in paths]


@pytest.fixture(scope="session")
def alcantara_trials(real_data: pathlib.Path) -> list[AlcantaraTrial]:
    return load_alcantara(real_data / "alcantara_sacral_grf")
