"""`strideguard config`: the effective settings (defaults merged with the user's file) as TOML, with the
source of every threshold, so a user can copy what they want to change into their own file."""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

from strideguard.analytics.risk import SOURCES
from strideguard.stream.alerts.settings import ALERT_NOTES
from strideguard.stream.runtime.config_file import default_config_path
from strideguard.stream.runtime.settings import load_settings

EXAMPLES = """\
examples:
  strideguard config                      every setting with its default and source
  strideguard config --runner anna        with anna's overrides applied
  strideguard config --config my.toml     check a file (a bad key or value is named)
  strideguard config --path               where the default settings file is read from

A settings file holds only what you change, e.g.
  [risk.metrics.cadence]
  threshold = 4.0
  [runner."anna".risk.metrics.lean]
  threshold = 6.0
  [alerts.webhook]
  enabled = true
  url = "https://ntfy.sh/my-club"
  style = "ntfy"
See docs/risk.md for what each threshold means and where its default comes from."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="show the effective settings (risk thresholds, alert channels)",
        description="Print the effective settings as TOML — the defaults merged with your file and "
        "a runner's overrides — with the evidence behind each threshold.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config",
        type=pathlib.Path,
        metavar="TOML",
        help="settings file (default: $STRIDEGUARD_CONFIG or ~/.config/strideguard/config.toml when it exists)",
    )
    p.add_argument("--runner", metavar="NAME", help='apply this runner\'s [runner."NAME"] overrides')
    p.add_argument("--path", action="store_true", help="print the default settings file's path and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.path:
        print(default_config_path())
        return 0
    settings = load_settings(args.config)
    risk = settings.risk.for_runner(args.runner).as_dict()
    alerts = settings.alerts.as_dict()
    where = settings.source_path
    print(
        f"# effective settings{' for ' + args.runner if args.runner else ''}; "
        f"{'from ' + str(where) + ' over the defaults' if where else 'all defaults (no settings file)'}"
    )
    print("# heuristic thresholds from the cited evidence, not a diagnosis: see docs/risk.md\n")
    print(render_toml({"risk": risk}, notes={f"risk.{k}": v for k, v in SOURCES.items()}))
    print(render_toml({"alerts": alerts}, notes={f"alerts.{k}": v for k, v in ALERT_NOTES.items()}))
    return 0


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def _note(notes: dict[str, str], dotted: str) -> str | None:
    if dotted in notes:
        return notes[dotted]
    parts = dotted.split(".")
    if len(parts) >= 4 and parts[1] == "metrics":  # risk.metrics.<name>.<key> -> risk.metrics.*.<key>
        return notes.get(".".join([*parts[:2], "*", *parts[3:]]))
    return None


def render_toml(table: dict[str, Any], *, notes: dict[str, str], prefix: str = "") -> str:
    """A nested dict as TOML (plain keys, tables after values) with `# source` comments."""
    lines: list[str] = []
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if scalars and prefix:
        lines.append(f"[{prefix}]")
    for k, v in scalars.items():
        dotted = f"{prefix}.{k}" if prefix else k
        note = _note(notes, dotted)
        if note:
            lines.append(f"# {note}")
        lines.append(f"{k} = {_value(v)}")
    if scalars and prefix:
        lines.append("")
    for k, v in tables.items():
        name = f"{prefix}.{k}" if prefix else k
        lines.append(render_toml(v, notes=notes, prefix=name))
    return "\n".join(lines)
