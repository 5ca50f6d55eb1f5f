"""Fixtures of the fuzz package: the shared BLE vectors as seed inputs."""

from __future__ import annotations

import json
import pathlib

import pytest


@pytest.fixture(scope="session")
def ble_vectors(shared_data: pathlib.Path) -> dict:
    return json.loads((shared_data / "ble_vectors.json").read_text())
