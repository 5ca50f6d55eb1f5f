"""`strideguard` as a user runs it: a subprocess with the default settings, for the CLI tests."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def strideguard(
    *args: str, db: pathlib.Path | None = None, home: pathlib.Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `strideguard ARGS`: no user settings file (the defaults, whatever the user has); with `db`, that
    store as `$STRIDEGUARD_DB` and its folder as the config home; with `home`, no `$STRIDEGUARD_DB` and
    `home` as the working folder and config home."""
    env = {k: v for k, v in os.environ.items() if k not in ("STRIDEGUARD_CONFIG", "STRIDEGUARD_DB")}
    if db is not None:
        env.update(STRIDEGUARD_DB=str(db), XDG_CONFIG_HOME=str(db.parent))
    if home is not None:
        env["XDG_CONFIG_HOME"] = str(home / "config")
    return subprocess.run(
        [sys.executable, "-m", "strideguard.stream.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=home if home is not None else REPO,
        env=env,
        check=False,
    )
