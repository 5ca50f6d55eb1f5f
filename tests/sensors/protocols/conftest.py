"""Fixtures for the protocol tests: the bundled BLE vectors (data/ble_vectors.json)."""

from __future__ import annotations

import json
import pathlib

import pytest


@pytest.fixture(scope="session")
def ble_vectors(real_data: pathlib.Path) -> dict:
    return json.loads((real_data / "ble_vectors.json").read_text())
