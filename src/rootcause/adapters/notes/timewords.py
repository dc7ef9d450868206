"""Dates and durations in clinical and lay English, with the annotation rules' arithmetic:
weeks x7, months x30.44 (rounded), years x365, "n/52" weeks, "n/12" months, "n/7" days; numeric dates
are day/month/year; a month without a day counts from the 15th."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rootcause.adapters.notes.language import NoteLanguage


@dataclass(frozen=True)
class Duration:
    days: int | None  # None when vague ("a few months")
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DateMention:
    date: dt.date
    start: int
    end: int
    text: str
    month_only: bool = False
    year_missing: bool = False
    entry: bool = False
    """The date heading an entry of a note with several ("18/06 00:50 (F1): ..."): it may follow the
    note's full dates, so without the note's own date it is placed on or after them."""


@dataclass(frozen=True)
class Patterns:
    duration: re.Pattern[str]
    slash: re.Pattern[str]
    single: re.Pattern[str]
    numeric_date: re.Pattern[str]
    short_date: re.Pattern[str]
    entry_date: re.Pattern[str]
    iso_date: re.Pattern[str]
    day_month: re.Pattern[str]
    month_day: re.Pattern[str]
    month_only: re.Pattern[str]
    numeric_month: re.Pattern[str]
    any_month: re.Pattern[str]
    this_month: re.Pattern[str]
    holiday: re.Pattern[str] | None
    weekday: re.Pattern[str]
    unit_of: dict[str, str]
    not_after: re.Pattern[str]


def alternation(words: Iterable[str]) -> str:
    """The words or phrases as one regex alternation, longest first (so "pre-op" is not cut at "pre")."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_CACHE: dict[int, tuple[NoteLanguage, Patterns]] = {}


def patterns(lang: NoteLanguage) -> Patterns:
    hit = _CACHE.get(id(lang))
    if hit is not None and hit[0] is lang:
        return hit[1]
    built = _build(lang)
    _CACHE[id(lang)] = (lang, built)
    return built


def _build(lang: NoteLanguage) -> Patterns:
    tl = lang.timeline
    unit_of: dict[str, str] = {}
    words: list[str] = []
    for unit, forms in tl.units.items():
        for f in forms:
            if not f.startswith("/"):
                unit_of[f.lower()] = unit
                words.append(f)
    nums = alternation([*tl.number_words, *tl.vague_quantities])
    long_words = [w for w in words if len(w) > 1]
    # a digit may touch its unit ("3yrs", "6-week"); a number word needs a space ("an d" is not "and")
    duration = re.compile(
        rf"(?<![\w/.])~?\s*(?:about|around|approximately|approx\.?|nearly|almost|roughly|just\s+over|just\s+under|over)?"
        rf"\s*(?:(?P<num>\d+(?:\.\d+)?)\s*-?\s*(?P<unit>{alternation(words)})"
        rf"|(?P<wnum>{nums})(?:\s+|\s*-\s*)(?P<wunit>{alternation(long_words)}))(?![\w])",
        re.IGNORECASE,
    )
    slash = re.compile(r"(?<![\w/.])~?(?P<num>\d{1,2})\s*/\s*(?P<den>7|52|12)\b(?!\s*/\s*\d)")
    single = re.compile(
        r"\b(?:the\s+)?(?:past|last|previous|this)\s+(?P<unit>week|month|year|fortnight)\b|\b(?:a|one)\s+fortnight\b",
        re.IGNORECASE,
    )
    months = alternation(list(tl.month_names))
    numeric_date = re.compile(r"(?<![\d/])(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4}|\d{2})(?![\d/])")
    # "had my microdiscectomy on 12/3", "checked the wound on 19/3": a day and month after "on", no year
    wd = r"(?P<wd>mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+"
    short_date = re.compile(
        rf"\b(?:on|dated)\s+(?:{wd})?(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})(?![\d/]|\s*(?:x|of\b))", re.IGNORECASE
    )
    # "18/06 00:50 (F1): ...", "17/06 - WR", "Wed 10/06 19:30": a day and month heading an entry, before a
    # time or a colon
    entry_date = re.compile(
        rf"^[ \t]*(?:{wd})?(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}})(?![\d/])"
        r"(?=\s+\d{1,2}:\d{2}|\s*[:(]|\s+[-–]\s)",
        re.MULTILINE | re.IGNORECASE,
    )
    iso_date = re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)")
    # "3 March 2026", "the 3rd of March", "14-Jan-2026", "03-Mar-22"
    day_month = re.compile(
        rf"\b(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+(?:of\s+)?|-)(?P<mon>{months})\b\.?"
        rf"(?:,?\s+(?P<y>\d{{4}})|-(?P<y2>\d{{4}}|\d{{2}})\b)?",
        re.IGNORECASE,
    )
    month_day = re.compile(
        rf"\b(?P<mon>{months})\.?\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*/)(?:,?\s+(?P<y>\d{{4}}))?",
        re.IGNORECASE,
    )
    # "in March 2024", "since March", "March last year"; without a preposition only with its year ("PLIF,
    # January 2021") or after last/this ("with you last March")
    month_only = re.compile(
        r"\b(?:(?:in|since|from|during|of|early|late|mid|end\s+of|beginning\s+of|start\s+of)\s+"
        r"(?:(?:about|around|approximately|roughly)\s+)?(?:(?:early|late|mid)[- ])?"
        rf"(?P<mon>{months})\b(?!\s*\d{{1,2}}\b(?!\d))(?:\s+(?P<y>\d{{4}})|\s+(?P<rel>last|this)\s+year)?"
        rf"|(?P<mon2>{months})\.?,?\s+(?P<y2>(?:19|20)\d{{2}})\b"
        rf"|\b(?P<rel2>last|this)\s+(?P<mon3>{months})\b)",
        re.IGNORECASE,
    )
    # "TLIF 03/2025"
    numeric_month = re.compile(r"(?<![\d/.])(?P<m>0?[1-9]|1[0-2])/(?P<y>(?:19|20)\d{2})(?![\d/])")
    not_after = re.compile(rf"^\s*-?\s*(?:{alternation(tl.durations_not)})\b", re.IGNORECASE)
    any_month = re.compile(rf"\b(?:{months})\b", re.IGNORECASE)
    this_month = re.compile(
        r"\b(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+of\s+(?:this|the)\s+month\b"
        # "on the 14th", ", the 10th": a day of this month (or the last, if that day is still to come)
        rf"|(?:\bon\s+|,\s*)the\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)\b(?!\s*(?:of\b|-|{months}|day|week|month|year|"
        r"floor|cent|vertebra|level))",
        re.IGNORECASE,
    )
    holiday = (
        re.compile(
            rf"\b(?:(?:the\s+)?(?P<shift>day\s+after|day\s+before)\s+)?(?P<name>{alternation(list(tl.holidays))})\b",
            re.IGNORECASE,
        )
        if tl.holidays
        else None
    )
    days_alt = alternation(list(tl.weekdays))
    # "had my op on Tuesday", "on Fri 5th", "last Monday": a day of the past week (or that day of the month)
    weekday = re.compile(
        rf"\b(?:on|last|since)\s+(?P<wd>{days_alt})\b\.?(?:\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)\b)?"
        # "on Thursday 19 February": the full date says when, not the last Thursday
        rf"(?!,?\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{months})\b)"
        rf"(?!\s+(?:morning|afternoon|evening|night))?",
        re.IGNORECASE,
    )
    return Patterns(
        duration,
        slash,
        single,
        numeric_date,
        short_date,
        entry_date,
        iso_date,
        day_month,
        month_day,
        month_only,
        numeric_month,
        any_month,
        this_month,
        holiday,
        weekday,
        unit_of,
        not_after,
    )


def _number(lang: NoteLanguage, word: str) -> float | None:
    w = word.lower().strip()
    if w in lang.timeline.number_words:
        return lang.timeline.number_words[w]
    try:
        return float(w)
    except ValueError:
        return None


def to_days(lang: NoteLanguage, num: float, unit: str) -> int:
    return round(num * lang.timeline.unit_days[unit])  # type: ignore[index]


def durations(lang: NoteLanguage, text: str, base: int = 0) -> list[Duration]:
    """Every duration in text (offsets shifted by base), vague ones with days=None."""
    key = (id(lang), text)
    hit = _DURATIONS.get(key)
    if hit is None or hit[0] is not lang:
        hit = (lang, _durations(lang, text))
        if len(_DURATIONS) > 4096:
            _DURATIONS.clear()
        _DURATIONS[key] = hit
    return [Duration(d.days, d.start + base, d.end + base, d.text) for d in hit[1]]


_DURATIONS: dict[tuple[int, str], tuple[NoteLanguage, list[Duration]]] = {}


def _durations(lang: NoteLanguage, text: str) -> list[Duration]:
    base = 0
    p = patterns(lang)
    out: list[Duration] = []
    taken: list[tuple[int, int]] = []
    for m in p.slash.finditer(text):
        den = {"7": "day", "52": "week", "12": "month"}[m.group("den")]
        out.append(
            Duration(to_days(lang, float(m.group("num")), den), base + m.start(), base + m.end(), m.group())
        )
        taken.append(m.span())
    for m in p.duration.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        if p.not_after.match(text[m.end() :]):
            continue
        numg, unitg = ("num", "unit") if m.group("num") else ("wnum", "wunit")
        unit = p.unit_of.get(m.group(unitg).lower())
        if unit is None:
            continue
        num = _number(lang, m.group(numg))
        days = None if num is None else to_days(lang, num, unit)
        s = m.start(numg)
        out.append(Duration(days, base + s, base + m.end(), text[s : m.end()]))
        taken.append(m.span())
    for m in p.single.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        unit = (m.group("unit") or "fortnight").lower()
        out.append(Duration(to_days(lang, 1, unit), base + m.start(), base + m.end(), m.group()))
    return _compounds(text, sorted(out, key=lambda d: d.start))


_JOINER = re.compile(r"\s*(?:,|\+|and)?\s*", re.IGNORECASE)


def _compounds(text: str, found: list[Duration]) -> list[Duration]:
    """One duration for "4 weeks and 2 days", "1 yr 3 mo", "2 months, 1 week": parts joined by at most
    "and", a comma or "+", each part smaller than the one before (so "2 days and 2 weeks" stays two)."""
    out: list[Duration] = []
    for d in found:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.days is not None
            and d.days is not None
            and 0 < d.days < prev.days
            and _JOINER.fullmatch(text[prev.end : d.start])
        ):
            out[-1] = Duration(prev.days + d.days, prev.start, d.end, text[prev.start : d.end])
            continue
        out.append(d)
    return out


def _year(y: str | None) -> int | None:
    if not y:
        return None
    v = int(y)
    return v + 2000 if v < 100 else v


def _mk(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


_DATE_MATCHES: dict[tuple[int, str], tuple[NoteLanguage, dict[int, list[re.Match[str]]]]] = {}


def _date_matches(lang: NoteLanguage, text: str) -> dict[int, list[re.Match[str]]]:
    """Every match of each date pattern in text (keyed by id of the pattern), found once per text: dates() is
    called more than once per note with different reference dates."""
    key = (id(lang), text)
    hit = _DATE_MATCHES.get(key)
    if hit is not None and hit[0] is lang:
        return hit[1]
    p = patterns(lang)
    has_month = not lang.timeline.month_names.keys().isdisjoint(re.findall(r"[a-z]+", text.lower()))
    found: dict[int, list[re.Match[str]]] = {}
    for rx in (
        p.iso_date,
        p.numeric_date,
        p.short_date,
        p.entry_date,
        p.day_month,
        p.month_day,
        p.month_only,
        p.this_month,
    ):
        named = rx in (p.day_month, p.month_day, p.month_only)  # need a month name
        found[id(rx)] = list(rx.finditer(text)) if has_month or not named else []
    found[id(p.numeric_month)] = list(p.numeric_month.finditer(text))
    found[id(p.holiday)] = list(p.holiday.finditer(text)) if p.holiday is not None else []
    found[id(p.weekday)] = list(p.weekday.finditer(text))
    if len(_DATE_MATCHES) > 256:
        _DATE_MATCHES.clear()
    _DATE_MATCHES[key] = (lang, found)
    return found


def month_first_note(lang: NoteLanguage, text: str) -> bool:
    """Whether the note writes numeric dates month first (US), as its dates are read."""
    return _month_first(lang, text, _date_matches(lang, text)[id(patterns(lang).numeric_date)])


def _month_first(lang: NoteLanguage, text: str, numeric: list[re.Match[str]]) -> bool:
    """Whether the note writes numeric dates month first (US): certain when one of its dates can only be read
    that way ("09/14/2026") and none only the other way ("14/09/2026"); when all are ambiguous ("04/07/2026"),
    the note's spelling and usage decide (°F, "y/o", "lbs" against °C, "GP", "mum"), day first on a tie."""
    firsts = [int(m.group("d")) for m in numeric]
    seconds = [int(m.group("m")) for m in numeric]
    if any(v > 12 for v in firsts):
        return False
    if any(v > 12 for v in seconds):
        return True
    if not numeric:
        return False
    style = lang.timeline.date_style
    us = sum(len(re.findall(rx, text)) for rx in style.month_first_cues)
    uk = sum(len(re.findall(rx, text)) for rx in style.day_first_cues)
    return us > uk


ENTRY_AHEAD_DAYS = 120
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day_month(m: re.Match[str], reference: dt.date, ahead: int, month_first: bool) -> dt.date | None:
    """A day and month without a year: the latest such date up to ``ahead`` days after the reference, read as
    the note reads its dates; a weekday written with it ("Monday 05/04") picks the reading it fits."""
    a, b = int(m.group("d")), int(m.group("m"))
    orders = [(b, a), (a, b)] if month_first else [(a, b), (b, a)]
    candidates = []
    for day, month in orders:
        d = _mk(reference.year, month, day)
        if d is not None and d > reference + dt.timedelta(days=ahead):
            d = _mk(reference.year - 1, month, day)
        if d is not None:
            candidates.append(d)
    if not candidates:
        return None
    weekday = m.group("wd")
    if weekday:
        fitting = [d for d in candidates if WEEKDAYS[d.weekday()] == weekday.lower()[:3]]
        if fitting:
            return fitting[0]
    first = orders[0]
    return candidates[0] if _mk(reference.year, first[1], first[0]) is not None else None


def dates(lang: NoteLanguage, text: str, reference: dt.date | None) -> list[DateMention]:
    """Full dates, dates without a year (placed in the year before `reference`), and month-only dates."""
    p = patterns(lang)
    months = lang.timeline.month_names
    out: list[DateMention] = []
    spans: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return not any(x < b and a < y for x, y in spans)

    found = _date_matches(lang, text)
    month_first = _month_first(lang, text, found[id(p.numeric_date)])
    for rx in (p.iso_date, p.numeric_date):
        for m in found[id(rx)]:
            y = _year(m.group("y"))
            first, second = int(m.group("d")), int(m.group("m"))
            if rx is p.numeric_date and month_first and first <= 12:
                first, second = second, first
            d = _mk(y, second, first) if y else None
            if d is None and y and rx is p.numeric_date and second > 12:
                d = _mk(y, first, second)  # month/day/year ("09/14/2026")
            if d and free(*m.span()):
                out.append(DateMention(d, m.start(), m.end(), m.group()))
                spans.append(m.span())
    for rx, ahead in ((p.entry_date, ENTRY_AHEAD_DAYS), (p.short_date, 0)):
        # an entry's date may follow the reference (entries follow the operation's date); "on 12/3" may not
        for m in found[id(rx)]:
            if reference is None or not free(*m.span()):
                continue
            d = _day_month(m, reference, ahead, month_first)
            if d is not None:
                start = m.start("wd") if m.group("wd") else m.start("d")
                out.append(
                    DateMention(
                        d, start, m.end(), text[start : m.end()], year_missing=True, entry=rx is p.entry_date
                    )
                )
                spans.append(m.span())
    for rx in (p.day_month, p.month_day):
        for m in found[id(rx)]:
            if not free(*m.span()):
                continue
            mon = months[m.group("mon").lower().rstrip(".")]
            y = _year(m.group("y") or (m.groupdict().get("y2")))
            missing = y is None
            if y is None:
                if reference is None:
                    continue
                y = reference.year
                cand = _mk(y, mon, int(m.group("d")))
                if cand and cand > reference:
                    y -= 1
            d = _mk(y, mon, int(m.group("d")))
            if d:
                out.append(DateMention(d, m.start(), m.end(), m.group(), year_missing=missing))
                spans.append(m.span())
    for m in found[id(p.this_month)]:
        # "on the 2nd of this month": the note's month (the month before, if that day is still to come)
        if reference is None or not free(*m.span()):
            continue
        day = int(m.group("d") or m.group("d2"))
        d = _mk(reference.year, reference.month, day)
        if d is not None and d > reference:
            prev = reference.replace(day=1) - dt.timedelta(days=1)
            d = _mk(prev.year, prev.month, day)
        if d:
            out.append(DateMention(d, m.start(), m.end(), m.group(), year_missing=True))
            spans.append(m.span())
    weekdays = {k.lower(): v for k, v in lang.timeline.weekdays.items()}
    for m in found[id(p.weekday)]:
        # "on Fri 5th": that day of this month or the last; "on Tuesday": the latest Tuesday before the note
        if reference is None or not free(*m.span()):
            continue
        if m.group("d"):
            day = int(m.group("d"))
            d = _mk(reference.year, reference.month, day)
            if d is None or d > reference:
                prev = reference.replace(day=1) - dt.timedelta(days=1)
                d = _mk(prev.year, prev.month, day)
        else:
            back = (reference.weekday() - weekdays[m.group("wd").lower()]) % 7 or 7
            d = reference - dt.timedelta(days=back)
        if d is not None:
            start = m.start("wd")
            out.append(DateMention(d, start, m.end(), text[start : m.end()], year_missing=True))
            spans.append(m.span())
    holidays = {k.lower(): v for k, v in lang.timeline.holidays.items()}
    for m in found[id(p.holiday)]:
        # "the day after Boxing Day": the latest one on or before the reference date
        if reference is None or not free(*m.span()):
            continue
        month, day = holidays[re.sub(r"\s+", " ", m.group("name").lower())]
        shift = m.group("shift")
        delta = 0 if shift is None else (1 if "after" in shift.lower() else -1)
        d = _mk(reference.year, month, day)
        if d is not None and d + dt.timedelta(days=delta) > reference:
            d = _mk(reference.year - 1, month, day)
        if d is not None:
            out.append(
                DateMention(d + dt.timedelta(days=delta), m.start(), m.end(), m.group(), year_missing=True)
            )
            spans.append(m.span())
    for m in found[id(p.month_only)]:
        if not free(*m.span()):
            continue
        name = next(g for g in ("mon", "mon2", "mon3") if m.group(g))
        mon = months[m.group(name).lower().rstrip(".")]
        y = _year(m.group("y") or m.group("y2"))
        rel = m.group("rel")
        if y is None:
            if reference is None:
                continue
            if rel:
                y = reference.year - (1 if rel.lower() == "last" else 0)
            elif m.group("rel2"):
                # "last March": the latest March before this month; "this March": this year's
                last = m.group("rel2").lower() == "last"
                y = reference.year - 1 if last and mon >= reference.month else reference.year
            else:
                y = reference.year if (reference.month, reference.day) >= (mon, 15) else reference.year - 1
        d = dt.date(y, mon, 15)
        start = m.start("rel2") if m.group("rel2") else m.start(name)
        out.append(DateMention(d, start, m.end(), text[start : m.end()], month_only=True))
        spans.append(m.span())
    for m in found[id(p.numeric_month)]:  # "TLIF 08/2025": a month, counted from its 15th
        if free(*m.span()):
            d = dt.date(int(m.group("y")), int(m.group("m")), 15)
            out.append(DateMention(d, m.start(), m.end(), m.group(), month_only=True))
            spans.append(m.span())
    return sorted(out, key=lambda d: d.start)


def month_only_days(lang: NoteLanguage, mention: DateMention, reference: dt.date) -> int | None:
    """Days from a month-only date (the 15th) to reference, if the month's spread is within the allowed share
    (annotation rule: month-only dates are used only when that is within 10 %)."""
    days = (reference - mention.date).days
    if days <= 0:
        return None
    first = mention.date.replace(day=1)
    last = mention.date.replace(day=calendar.monthrange(mention.date.year, mention.date.month)[1])
    spread = max(abs((reference - first).days - days), abs((reference - last).days - days))
    return days if spread <= lang.timeline.month_only_within * days else None


@lru_cache(maxsize=256)
def _words_re_cached(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{alternation(words)})(?![\w-])", re.IGNORECASE)


def words_re(words: list[str]) -> re.Pattern[str]:
    """Any of these words or phrases, as whole words, case-insensitive (compiled once)."""
    return _words_re_cached(tuple(words))
