"""An alert phrased for the ear: what the runner page speaks, and the advice that waits for the run's end.

The risk engine writes for the eye ("Cadence 154 spm, 9 % below your baseline and below 160 for 2 min
(...)"); read aloud, "spm", "%", "°" and parentheses come out literally and a 14-s sentence is more than
a runner takes in. `spoken_text` keeps it short: the message without its duration or parenthesised
asides, units as words, then the run-time part of the cue. Advice for after the run ("core and glute
work after the run", shoes) is never spoken mid-run: `after_run_advice` returns it for the end-of-run
summary. The one place this phrasing lives; the page (stream/web/live.js) only reads the fields.
"""

from __future__ import annotations

import re

from strideguard.analytics.results import RiskEvent, RiskEventKind

# clauses of a cue that belong after the run, not in the runner's ear during it
AFTER_RUN_MARKERS = ("after the run", "after your run", "shoes")

_DURATION = r"\d+ (?:min|s)(?: \d+ s)?"
_UNITS: tuple[tuple[str, str, str], ...] = (
    # (pattern after a number, plural words, singular words)
    (r"\s*spm\b", "steps per minute", "step per minute"),
    (r"\s*bpm\b", "beats per minute", "beat per minute"),
    (r"\s*%", "percent", "percent"),
    (r"\s*°", "degrees", "degree"),
    (r"\s*deg\b", "degrees", "degree"),
    (r"\s*km/h\b", "kilometres per hour", "kilometre per hour"),
    (r"\s*m/s\b", "metres per second", "metre per second"),
    (r"\s*min\b", "minutes", "minute"),
    (r"\s*s\b", "seconds", "second"),
)


def _words_for_units(text: str) -> str:
    for unit, plural, singular in _UNITS:

        def words(m: re.Match[str], plural: str = plural, singular: str = singular) -> str:
            return f"{m.group(1)} {singular if m.group(1) == '1' else plural}"

        text = re.sub(r"(\d+(?:\.\d+)?)" + unit, words, text)
    return text


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip(" ,;:.")
    return text[:1].upper() + text[1:] + "." if text else ""


def _cue_clauses(cue: str) -> list[str]:
    return [c.strip() for c in cue.split(";") if c.strip()]


def _after_run(clause: str) -> bool:
    return any(marker in clause.lower() for marker in AFTER_RUN_MARKERS)


def spoken_message(message: str) -> str:
    """The message for the ear: no parenthesised aside, no 'for 2 min' / 'after 45 s', units as words."""
    text = re.sub(r"\s*\([^)]*\)", "", message)
    text = re.sub(rf"\s+(?:for|after) {_DURATION}\b", "", text)
    return _sentence(_words_for_units(text))


def spoken_text(event: RiskEvent) -> str:
    """What the page speaks for this event: the short message, then the run-time cue (onsets only)."""
    parts = [spoken_message(event.message)]
    if event.kind is RiskEventKind.ONSET:
        now = [c for c in _cue_clauses(event.cue) if not _after_run(c)]
        if now:
            parts.append(_sentence(_words_for_units("; ".join(now))))
    return " ".join(p for p in parts if p)


def after_run_advice(event: RiskEvent) -> list[str]:
    """The cue's clauses meant for after the run (shown in the end-of-run summary, never spoken)."""
    return [_sentence(c) for c in _cue_clauses(event.cue) if _after_run(c)]


__all__ = ["AFTER_RUN_MARKERS", "after_run_advice", "spoken_message", "spoken_text"]
