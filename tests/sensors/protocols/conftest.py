"""Fixtures for the protocol tests: the shared BLE vectors, read from ../shared/data at test time."""

from __future__ import annotations

import json
import pathlib

import pytest


@pytest.fixture(scope="session")
def ble_vectors(shared_data: pathlib.Path) -> dict:
    return json.loads((shared_data / "ble_vectors.json").read_text())
