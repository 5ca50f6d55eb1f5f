"""Fixtures every test package shares."""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.fixtures_services"]


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    """`../shared` beside the checkout (CI puts it there); STRIDEGUARD_SHARED overrides."""
    path = pathlib.Path(os.environ.get("STRIDEGUARD_SHARED", REPO.parent / "shared"))
    if not (path / "data").is_dir():
        pytest.fail(f"shared data not found at {path}: set STRIDEGUARD_SHARED to the shared/ folder")
    return path


@pytest.fixture(scope="session")
def shared_data(shared_dir: pathlib.Path) -> pathlib.Path:
    return shared_dir / "data"
