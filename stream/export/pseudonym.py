"""Labels for subjects, sessions, teams and devices: readable, or pseudonymous with a key kept apart.

A pseudonymised export replaces every runner, team, session id and device name with a sequential label
(sub-01, ses-01, group01, dev01) and can shift every absolute time by a fixed whole number of days. The
mapping and the shift go into a key file that is never written inside the export folder; passing the
same key to a later export reuses its labels and shift, so a runner keeps one pseudonym across exports.
Free text (alert messages, summaries, pain-log notes) is scrubbed of every known name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from strideguard.sensors.units import NS_PER_DAY
from strideguard.stream.errors import UsageError

KEY_VERSION = 1
RANDOM_SHIFT_DAYS = (365, 3650)  # a random shift goes back between one and ten years


def bids_label(text: str) -> str:
    """Letters and digits only (BIDS labels allow nothing else)."""
    return re.sub(r"[^A-Za-z0-9]", "", text) or "x"


@dataclass(slots=True, kw_only=True)
class Labeler:
    """Assigns labels; with `pseudonymous=False` labels are derived from the names themselves."""

    pseudonymous: bool
    date_shift_days: int = 0
    subjects: dict[str, str] = field(default_factory=dict)  # runner -> label
    sessions: dict[str, str] = field(default_factory=dict)  # session id -> label
    session_subjects: dict[str, str] = field(default_factory=dict)  # session id -> runner
    groups: dict[str, str] = field(default_factory=dict)  # team -> label
    devices: dict[str, str] = field(default_factory=dict)  # device -> label
    sources: dict[str, str] = field(default_factory=dict)  # session id -> recording path (key only)
    _scrub_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def shift_ns(self) -> int:
        return self.date_shift_days * NS_PER_DAY

    def subject(self, runner: str) -> str:
        if runner not in self.subjects:
            if self.pseudonymous:
                self.subjects[runner] = _next_number(self.subjects.values(), "")
            else:
                self.subjects[runner] = _unique(bids_label(runner), self.subjects.values())
            self._scrub_re = None
        return self.subjects[runner]

    def session(self, session_id: str, *, runner: str, started_t_ns: int, source: str = "") -> str:
        if session_id not in self.sessions:
            taken = [self.sessions[s] for s, r in self.session_subjects.items() if r == runner]
            if self.pseudonymous:
                label = _next_number(taken, "")
            else:
                stamp = dt.datetime.fromtimestamp(started_t_ns / 1e9, tz=dt.UTC).strftime("%Y%m%dT%H%M%S")
                label = _unique(stamp, taken)
            self.sessions[session_id] = label
            self.session_subjects[session_id] = runner
            self.sources[session_id] = source
            self._scrub_re = None
        return self.sessions[session_id]

    def group(self, team: str) -> str:
        if not self.pseudonymous:
            return team
        if team not in self.groups:
            self.groups[team] = "group" + _next_number([g.removeprefix("group") for g in self.groups.values()], "")
            self._scrub_re = None
        return self.groups[team]

    def device(self, device: str) -> str:
        if not self.pseudonymous:
            return device
        if device not in self.devices:
            self.devices[device] = "dev" + _next_number([d.removeprefix("dev") for d in self.devices.values()], "")
            self._scrub_re = None
        return self.devices[device]

    def scrub(self, text: str) -> str:
        """Free text with every known runner, team, session id and device replaced by its label."""
        if not self.pseudonymous or not text:
            return text
        if self._scrub_re is None:
            self._scrub_re = _names_pattern(self.identifying_names())
        if self._scrub_re is None:
            return text
        return self._scrub_re.sub(lambda m: self._replacement(m.group(0)), text)

    def identifying_names(self) -> list[str]:
        return [n for n in (*self.subjects, *self.sessions, *self.groups, *self.devices) if n]

    def _replacement(self, found: str) -> str:
        low = found.lower()
        for table, prefix in ((self.sessions, "ses-"), (self.subjects, "sub-"), (self.groups, ""), (self.devices, "")):
            for name, label in table.items():
                if name.lower() == low:
                    return prefix + label
        return "[removed]"

    # ---- the key file --------------------------------------------------------------------------------
    def key_json(self) -> dict[str, Any]:
        return {
            "what": "StrideGuard pseudonymisation key: keep it apart from the export, it re-identifies runners",
            "version": KEY_VERSION,
            "date_shift_days": self.date_shift_days,
            "subjects": {label: runner for runner, label in self.subjects.items()},
            "sessions": {
                f"sub-{self.subjects[self.session_subjects[s]]}/ses-{label}": {
                    "session_id": s,
                    "source": self.sources.get(s, ""),
                }
                for s, label in self.sessions.items()
            },
            "groups": {label: team for team, label in self.groups.items()},
            "devices": {label: device for device, label in self.devices.items()},
            "updated_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    @classmethod
    def from_key(cls, data: dict[str, Any]) -> Labeler:
        if data.get("version") != KEY_VERSION:
            raise UsageError(f"unsupported key file version {data.get('version')!r} (expected {KEY_VERSION})")
        lab = cls(pseudonymous=True, date_shift_days=int(data.get("date_shift_days", 0)))
        lab.subjects = {runner: label for label, runner in data.get("subjects", {}).items()}
        for path, info in data.get("sessions", {}).items():
            sub, ses = path.split("/")
            lab.sessions[info["session_id"]] = ses.removeprefix("ses-")
            lab.session_subjects[info["session_id"]] = data["subjects"][sub.removeprefix("sub-")]
            lab.sources[info["session_id"]] = info.get("source", "")
        lab.groups = {team: label for label, team in data.get("groups", {}).items()}
        lab.devices = {device: label for label, device in data.get("devices", {}).items()}
        return lab


def random_shift_days() -> int:
    """A whole number of days back, between one and ten years: weekdays stay weekdays only by chance."""
    lo, hi = RANDOM_SHIFT_DAYS
    return -(lo + secrets.randbelow(hi - lo + 1))


def load_key(path: pathlib.Path) -> Labeler:
    try:
        return Labeler.from_key(json.loads(path.read_text()))
    except (ValueError, KeyError) as exc:
        raise UsageError(f"{path} is not a StrideGuard key file ({exc})") from None


def write_key(path: pathlib.Path, labeler: Labeler) -> None:
    """Written owner-only (0600), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(labeler.key_json(), f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def check_key_outside(key_path: pathlib.Path, out_dir: pathlib.Path) -> None:
    key, out = key_path.resolve(), out_dir.resolve()
    if key == out or out in key.parents:
        raise UsageError(
            f"the key file {key_path} must not be inside the export folder {out_dir}: "
            "put it somewhere the export will not be shared from"
        )


def _next_number(taken: Any, prefix: str) -> str:
    numbers = [int(t.removeprefix(prefix)) for t in taken if t.removeprefix(prefix).isdigit()]
    n = max(numbers, default=0) + 1
    return f"{prefix}{n:02d}"


def _unique(label: str, taken: Any) -> str:
    taken = set(taken)
    if label not in taken:
        return label
    i = 2
    while f"{label}{i}" in taken:
        i += 1
    return f"{label}{i}"


def _names_pattern(names: list[str]) -> re.Pattern[str] | None:
    names = sorted({n for n in names if n.strip()}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(
        r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9])", re.IGNORECASE
    )
