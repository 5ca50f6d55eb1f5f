"""Fixtures every test package shares."""

from __future__ import annotations

import pathlib

import pytest

from benchmarks.validation.bundled_data import unpack

REPO = pathlib.Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.fixtures_services"]


@pytest.fixture(scope="session")
def real_data(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The real recordings and BLE vectors carried in `data/`, unpacked and checksum-checked once per run."""
    return unpack(tmp_path_factory.mktemp("data"))
