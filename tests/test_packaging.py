"""The installed package claims only the `strideguard` name: `analytics` (also the name of a popular
analytics client), `sensors` and `stream` are not importable from outside the checkout."""

from __future__ import annotations

import pathlib
import subprocess
import sys


def _python(code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_only_the_strideguard_name_is_installed(tmp_path: pathlib.Path) -> None:
    for name in ("analytics", "sensors", "stream"):
        result = _python(f"import {name}", tmp_path)
        assert result.returncode != 0 and f"No module named '{name}'" in result.stderr, name
    result = _python("import strideguard.analytics.runner, strideguard.stream.cli, strideguard.sensors.types", tmp_path)
    assert result.returncode == 0, result.stderr
