"""Free text made shareable: e-mail addresses, phone and other long numbers, dates and names taken out.

A pseudonymised export leaves runners' own notes out unless asked (`--keep-notes`); kept notes go
through `scrub_free_text`. Known identifiers (runners, teams, sessions, devices) are replaced by their
labels first; what the store does not know is found by form:
- e-mail addresses -> [email]; web addresses -> [url];
- dates: ISO (2026-11-30), numeric (30/11/2026, 30.11.26), with a month or weekday name
  (12 March, March 12th, 12th of March 2026, Monday) -> [date];
- phone numbers (7 or more digits with spaces, dots, dashes or brackets, optional +) -> [phone], and
  any other run of 5 or more digits -> [number];
- names: every capitalised word that is not one of a short list of common English words -> [name].
  This over-scrubs on purpose ("Felt" at the start of a sentence survives, "Kowalczyk" does not, nor
  does "Parkrun"): a note with a stray [name] is still useful, a note with a coach's name is a leak.

No maintained library on the registries here does this for short English notes without a language
model download (presidio needs spaCy models); these rules are tested against a note full of identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE), "[url]"),
    (re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?\b"), "[date]"),
    (re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"), "[date]"),
    (
        re.compile(rf"\b{_DAY}\s+(?:of\s+)?(?:{MONTHS})\b(?:\.?,?\s+\d{{4}})?", re.IGNORECASE),
        "[date]",
    ),
    (re.compile(rf"\b(?:{MONTHS})\.?\s+{_DAY}\b(?:,?\s+\d{{4}})?", re.IGNORECASE), "[date]"),
    (re.compile(rf"\b(?:{MONTHS}|{WEEKDAYS})\b", re.IGNORECASE), "[date]"),
    (re.compile(r"(?<![\w+])\+?\d(?:[\s().-]*\d){6,}"), "[phone]"),
    (re.compile(r"\d{5,}"), "[number]"),
)
# Capitalised words that are kept: pronouns, articles, and words a runner's note starts sentences with.
_COMMON_TEXT = """
    i i'm i've i'd a an the my me we us our you your he she it they them his her its their this that these
    those there here then than and but or so if when after before during while since until because also
    not no yes very quite bit some all any much more less most least just only still again ok okay
    felt feel feeling feels fine good great bad better worse sore tight pain painful ache aching hurt hurts
    ran run running runs walk walked walking easy hard long short slow fast tempo interval intervals race
    left right both back lower upper knee knees hip hips ankle ankles foot feet calf calves leg legs
    hamstring hamstrings quad quads shin shins glute glutes neck shoulder shoulders side stiff stiffness
    today yesterday tomorrow morning evening night afternoon week weekend last next first second third
    had has have was were is are be been did do does done will would should could can can't didn't don't
    warm warmed cool stretch stretched stretching rest rested slept sleep tired fresh new old call hr
"""
COMMON_WORDS = frozenset(_COMMON_TEXT.split())
_CAPITALISED = re.compile(r"\b[A-ZÀ-Þ][\w'’-]*")


def scrub_free_text(text: str, known: Callable[[str], str] = lambda s: s) -> str:
    """`text` with known identifiers replaced by `known` (e.g. Labeler.scrub), then everything that looks
    like an e-mail address, a web address, a date, a phone or other long number, or a name."""
    if not text:
        return text
    out = known(text)
    for pattern, replacement in _PATTERNS:
        out = pattern.sub(replacement, out)
    return _CAPITALISED.sub(_name_or_word, out)


def _name_or_word(m: re.Match[str]) -> str:
    word = m.group(0)
    return word if word.lower() in COMMON_WORDS else "[name]"
