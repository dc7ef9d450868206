"""Notes as speech recognition writes them ("L3 four and L4 five lamin ectomy on the seventh of January
full stop", "dorsi flexion two out of five"): spoken punctuation, words split in two, spoken levels and
numbers are rewritten the way a typed note has them, with an :class:`OffsetMap` back to the note so
evidence still points at what was dictated.

Spoken punctuation and spoken numbers are rewritten only in a note that dictates its punctuation (at least
``Dictation.min_cues`` of "full stop", "comma", "new paragraph"), so "a comma-shaped scar" or "one of the
nurses" in a typed note are left alone; split words, spoken levels ("L five S one"), dates read out digit
group by digit group ("18 06 2026") and "N out of M" scores are rewritten in any note.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rootcause.adapters.notes.language import Dictation, RunOn
from rootcause.adapters.notes.typos import OffsetMap, replace_spans

UNITS = {
    "zero": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}  # fmt: skip
_ORDINAL = rf"(?:(?:twenty|thirty)[ -](?:{'|'.join(list(ORDINALS)[:9])})|{'|'.join(ORDINALS)})"
MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
)
# "the seventh of January", "January the twenty-first": a day of a month said as a word
SPOKEN_DAY = re.compile(
    rf"\b(?P<o>{_ORDINAL})(?=\s+(?:of\s+)?{MONTHS})|\b{MONTHS}\s+(?:the\s+)?(?P<o2>{_ORDINAL})\b", re.I
)
ROOTS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}
_UNIT = "|".join(sorted(UNITS, key=len, reverse=True))
_TEN = "|".join(TENS)
# "seventy eight", "seventy-eight", "twelve", "ninety"
NUMBER = rf"(?:(?:{_TEN})(?:[ -](?:{_UNIT}))?|{_UNIT})"
SPOKEN_NUMBER = re.compile(rf"\b(?P<n>{NUMBER})\b", re.I)
OUT_OF = re.compile(rf"\b(?P<a>{NUMBER}|\d{{1,2}})\s+out\s+of\s+(?P<b>five|ten|5|10)\b", re.I)
# "18 06 2026": a date read out digit group by digit group
SPOKEN_DATE = re.compile(
    r"(?<![\d/.:])\b(?P<d>[0-3]?\d) (?P<m>[01]?\d) (?P<y>(?:19|20)\d\d)\b(?![\d/:]|\.\d)"
)
# "L3 four", "L four five", "L five S one", "L4 five", "S one": a spoken spinal level
_ROOT = r"(?:one|two|three|four|five|[1-5])"
LEVEL = re.compile(
    rf"\b(?P<r1>[LS])\s*(?P<a>{_ROOT})(?:\s*(?:-|to)?\s*(?P<r2>[LS])?\s*(?P<b>{_ROOT}))?\b(?!\s*(?:out\s+of|/))",
    re.I,
)


def number_value(words: str) -> int:
    parts = re.split(r"[ -]", words.lower())
    return sum(TENS.get(p, UNITS.get(p, 0)) for p in parts)


def ordinal_value(words: str) -> int:
    parts = re.split(r"[ -]", words.lower())
    return sum(TENS.get(p, ORDINALS.get(p, 0)) for p in parts)


def _digit(root: str) -> str:
    return ROOTS.get(root.lower(), root)


@lru_cache(maxsize=8)
def _spoken(pairs: tuple[tuple[str, str], ...], lead: str = "") -> tuple[re.Pattern[str], dict[str, str]]:
    """Any of the spoken forms (a space matches any run of spaces), and the written form of each."""
    table = {k.lower(): v for k, v in pairs}
    alternatives = "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in sorted(table, key=len, reverse=True))
    return re.compile(rf"{lead}\b(?:{alternatives})\b", re.I), table


def run_on(text: str, rules: RunOn | None) -> bool:
    """A dictation typed with no punctuation: fewer sentence ends and line breaks than one per
    ``rules.words_per_break`` words."""
    if rules is None:
        return False
    words = len(re.findall(r"\b\w+\b", text))
    breaks = len(re.findall(r"[.!?;]+(?:\s|$)|\n", text))
    return words >= rules.words_per_break and breaks * rules.words_per_break <= words


def undictate(text: str, rules: Dictation, unpunctuated: RunOn | None = None) -> tuple[str, OffsetMap | None]:
    """The note as typed, and a map from its offsets back to the note's (None when nothing changed).

    Spoken numbers are rewritten in a note that dictates its punctuation or has none (``unpunctuated``)."""
    edits: list[tuple[int, int, str]] = []  # original start, original end, replacement
    taken: list[tuple[int, int]] = []

    def put(start: int, end: int, new: str) -> None:
        if text[start:end] != new and not any(a < end and start < b for a, b in taken):
            edits.append((start, end, new))
            taken.append((start, end))

    joins, table = _spoken(tuple(rules.joins.items()))
    for m in joins.finditer(text):
        put(m.start(), m.end(), table[re.sub(r"\s+", " ", m.group().lower())])
    for m in SPOKEN_DATE.finditer(text):
        if 1 <= int(m.group("d")) <= 31 and 1 <= int(m.group("m")) <= 12:
            put(m.start(), m.end(), f"{m.group('d')}/{m.group('m')}/{m.group('y')}")
    for m in SPOKEN_DAY.finditer(text):
        group = "o" if m.group("o") else "o2"
        value = ordinal_value(m.group(group))
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(value % 10 if value not in (11, 12, 13) else 0, "th")
        put(m.start(group), m.end(group), f"{value}{suffix}")
    for m in OUT_OF.finditer(text):
        a = m.group("a")
        score = a if a.isdigit() else str(number_value(a))
        put(m.start(), m.end(), f"{score}/{'5' if m.group('b').lower() in ('five', '5') else '10'}")
    for m in LEVEL.finditer(text):
        if not any(ch.isalpha() for ch in m.group("a") + (m.group("b") or "")):
            # "L4-5" as typed; "L4 5" as dictated, when the second is the next segment
            a, b = m.group("a"), m.group("b")
            joined = (
                re.fullmatch(r"[LS]\d \d", m.group(), re.I) is not None  # not a grid's "L4    5    5"
                and re.match(r"\s*\d", text[m.end() : m.end() + 4]) is None
            )
            if joined and (int(b) == int(a) + 1 or (a, b) == ("5", "1")):
                put(m.start(), m.end(), f"{m.group('r1').upper()}{a}-{'S' if b == '1' else ''}{b}")
            continue
        level = m.group("r1").upper() + _digit(m.group("a"))
        if m.group("b"):
            level += "-" + (m.group("r2") or "").upper() + _digit(m.group("b"))
        put(m.start(), m.end(), level)
    dictated = len(re.findall(rules.cue_pattern, text, re.I)) >= rules.min_cues
    if dictated:
        # a spoken mark takes the space before it with it: "foot full stop she" -> "foot. she"
        marks, mark_table = _spoken(tuple(rules.punctuation.items()), lead=r"\s*")
        for m in marks.finditer(text):
            spoken = re.sub(r"\s+", " ", m.group().strip().lower())
            put(m.start(), m.end(), mark_table[spoken])
    if dictated or run_on(text, unpunctuated):
        for m in SPOKEN_NUMBER.finditer(text):
            after = text[m.end() : m.end() + 24].lower()
            before = text[max(0, m.start() - 12) : m.start()].lower()
            if re.match(rules.number_after, after) or re.search(rules.number_before, before):
                put(m.start(), m.end(), str(number_value(m.group("n"))))
    return replace_spans(text, edits)
