"""The design's import rule, enforced: sensors and analytics never import stream, and never each other
except for the shared sample types (`sensors.types`)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED_FROM_SENSORS_IN_ANALYTICS = {"sensors.types"}


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(package: str, forbidden: tuple[str, ...], allowed: set[str] = frozenset()) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in forbidden and name not in allowed:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_sensors_imports_neither_analytics_nor_stream() -> None:
    assert violations("sensors", ("analytics", "stream")) == []


def test_analytics_imports_only_shared_types_from_sensors_and_never_stream() -> None:
    assert violations("analytics", ("sensors", "stream"), ALLOWED_FROM_SENSORS_IN_ANALYTICS) == []


def test_analytics_does_no_io() -> None:
    """Analytics stays pure: no asyncio, sockets, files or subprocesses."""
    io_modules = ("asyncio", "socket", "subprocess", "sqlite3", "aiomqtt", "bleak", "urllib", "http")
    assert violations("analytics", io_modules) == []
