"""Names that enter StrideGuard (runner, team, device, session id): validated once, where they enter.

The allowed set (checked after Unicode NFC normalisation):

- runner, team and shoe names: 1 to 64 characters: letters and digits of any script, space, `_`, `-` and
  `.`; not starting with `-`, `.` or a space, not ending with a space;
- device names: the same, plus `:` (Bluetooth addresses such as A0:9E:1A:12:34:56);
- session ids: the same as devices, plus `~` (a later segment of a session), up to 128 characters.

Why this set: a name leaves as an MQTT topic level (where `/`, `+` and `#` are syntax), an InfluxDB
tag (where a trailing backslash escaped the end of the line and lost the whole batch), terminal text
(control characters move the cursor or rewrite the screen), a file name (`/`, a leading `.` or `-`) and
a URL path segment. A name inside the set needs no escaping in a topic or on the terminal; InfluxDB
and file names still escape what their own syntax needs (space, comma, `=`; `:` on some systems).

Where names enter: the CLI (`--runner`, `--team`, `--device`: argparse types below, one-line error),
a file name a runner name is derived from (`from_file_name`: `run #2.csv` -> `run_2`, never an error),
names inside a recording (`stream.runtime.pipeline.Pipeline`: a one-line error for the file), and the
topic levels a worker receives (`stream.mqtt.topics.parse_topic`: a counted drop). The web server can
use `is_valid`/`check` for the names in its URLs.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Callable

from strideguard.stream.errors import StreamError

MAX_NAME_CHARS = 64  # runner, team and device names
MAX_SESSION_ID_CHARS = 128  # a session id is a runner name, a UTC time and a suffix
_PUNCTUATION = {"runner": " _-.", "team": " _-.", "shoe": " _-.", "device": " _-.:", "session": " _-.:~"}
ALLOWED_TEXT = (
    "1-64 letters or digits, space, '_', '-' or '.' (devices also ':'); not starting with '-', '.' or a "
    "space, not ending with a space"
)


class InvalidName(StreamError, ValueError):
    """A name outside the allowed set; `str()` is one line saying which name and why."""


def _allowed(ch: str, kind: str) -> bool:
    return ch.isalnum() or ch in _PUNCTUATION[kind]


def _problem(name: str, kind: str) -> str | None:
    longest = MAX_SESSION_ID_CHARS if kind == "session" else MAX_NAME_CHARS
    if not name:
        return "is empty"
    if len(name) > longest:
        return f"is longer than {longest} characters"
    bad = next((ch for ch in name if not _allowed(ch, kind)), None)
    if bad is not None:
        return f"contains {_shown(bad)}"
    if name[0] in "-. ":
        return f"starts with {_shown(name[0])}"
    if name[-1] == " ":
        return "ends with a space"
    return None


def _shown(ch: str) -> str:
    """A character as the error shows it: printable ones quoted, others by code point."""
    if ch == "\\":
        return "a backslash"
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}'"
    return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'a control character').lower()})"


def check(name: str, kind: str = "runner") -> str:
    """`name` NFC-normalised if it is in the allowed set of its kind ("runner", "team", "device",
    "session"); otherwise InvalidName naming the kind, the name (printably) and the problem."""
    if kind not in _PUNCTUATION:
        raise ValueError(f"unknown kind of name {kind!r}")
    normal = unicodedata.normalize("NFC", name) if isinstance(name, str) else name
    problem = _problem(normal, kind) if isinstance(normal, str) else "is not text"
    if problem is not None:
        what = "session id" if kind == "session" else f"{kind} name"
        raise InvalidName(f"{what} '{printable(str(name))}' {problem} (allowed: {ALLOWED_TEXT})")
    return normal


def is_valid(name: str, kind: str = "runner") -> bool:
    try:
        check(name, kind)
    except InvalidName:
        return False
    return True


def from_file_name(stem: str, *, fallback: str = "runner") -> str:
    """A valid runner name derived from a file name's stem: every run of characters outside the set
    becomes one `_`, leading `-`/`.`/spaces and trailing spaces go, cut to 64 characters
    (`run #2` -> `run_2`, `../x` -> `x`); `fallback` if nothing is left."""
    text = unicodedata.normalize("NFC", stem)
    text = "".join(ch if _allowed(ch, "runner") else "_" for ch in text)
    text = re.sub(r"[ _]*_[ _]*", "_", text)
    text = text.lstrip("-. _").rstrip(" _")[:MAX_NAME_CHARS].rstrip(" ")
    return text if text and _problem(text, "runner") is None else fallback


def printable(text: str) -> str:
    """`text` safe for one terminal line: control and other non-printing characters (and backslashes)
    shown as escapes, so a stored name written by an older version cannot move the cursor."""
    return "".join(
        ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def argument(kind: str) -> Callable[[str], str]:
    """An argparse `type=` for a name of `kind`: argparse prints the one-line reason and exits 2."""

    def parse(text: str) -> str:
        try:
            return check(text, kind)
        except InvalidName as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f"{kind} name"
    return parse


__all__ = [
    "ALLOWED_TEXT",
    "MAX_NAME_CHARS",
    "MAX_SESSION_ID_CHARS",
    "InvalidName",
    "argument",
    "check",
    "from_file_name",
    "is_valid",
    "printable",
]
