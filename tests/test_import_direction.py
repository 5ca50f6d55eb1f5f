"""The design's import rule, enforced: sensors and analytics never import stream, and never each other
except for the shared modules: the sample types (`strideguard.sensors.types`) and the unit constants
(`strideguard.sensors.units`).
Both are leaves, so allowing them lets nothing else of `sensors` into `analytics`."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_MODULES = {"strideguard.sensors.types", "strideguard.sensors.units"}
ALLOWED_FROM_SENSORS_IN_ANALYTICS = SHARED_MODULES


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top_level(name: str) -> str:
    """The project package a module belongs to (`strideguard.sensors.types` -> `sensors`), or its top."""
    parts = name.split(".")
    return parts[1] if parts[0] == "strideguard" and len(parts) > 1 else parts[0]


def violations(package: str, forbidden: tuple[str, ...], allowed: set[str] = frozenset()) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            top = top_level(name)
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


def test_the_shared_modules_are_leaves() -> None:
    """What analytics may import from sensors imports nothing of the project but the other shared module."""
    for name in sorted(SHARED_MODULES):
        path = ROOT / (name.replace(".", "/") + ".py")
        project = {m for m in imported_modules(path) if top_level(m) in ("sensors", "analytics", "stream")}
        assert project <= SHARED_MODULES - {name}, f"{name} imports {sorted(project)}"
    assert imported_modules(ROOT / "sensors" / "units.py") <= {"math"}  # no numpy: the peer runners import it


# Modules that still define a unit constant of their own (none: the test fails on any duplicate).
KNOWN_DUPLICATES: set[str] = set()


def unit_constant_definitions() -> set[str]:
    """Module-level assignments, outside sensors/units.py, of a name sensors.units defines or of the
    value of standard gravity or of ns per second under another name."""
    units = ast.parse((ROOT / "sensors" / "units.py").read_text())
    names = {
        t.id for node in units.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    }
    found = set()
    for package in ("sensors", "analytics", "stream", "dashboards", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "sensors" / "units.py":
                continue
            for node in ast.parse(path.read_text(), filename=str(path)).body:
                if not isinstance(node, ast.Assign | ast.AnnAssign):
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                literal = isinstance(node.value, ast.Constant) and node.value.value in (9.80665, 1_000_000_000)
                for target in targets:
                    if isinstance(target, ast.Name) and (target.id in names or literal):
                        found.add(f"{path.relative_to(ROOT)}: {target.id}")
    return found


def test_unit_constants_are_defined_once_in_sensors_units() -> None:
    assert unit_constant_definitions() <= KNOWN_DUPLICATES
