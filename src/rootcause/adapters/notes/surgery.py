"""The operation (procedure, levels, approach, route, implants), an earlier operation, age and sex."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from rootcause.adapters.notes.language import Operation
from rootcause.adapters.notes.notedoc import DROP_CATEGORIES, LINE_MARKER, NoteDoc, Target
from rootcause.adapters.notes.timewords import alternation, words_re

LEVEL = re.compile(
    r"(?<![\w/])(?P<a>[LT]\d{1,2}|S1)(?:\s*(?P<sep>[/-])\s*(?P<b>[LTS]?\d{1,2})|\s+(?P<b2>[LS]\d)"
    r"|\s+to\s+(?P<b3>[LTS]\d{1,2}))?(?![\w/])",
    re.IGNORECASE,
)
SPINE = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
HEDGE_AFTER = re.compile(r"^\s*(?:i\s+think|\?|or\s+so|maybe|possibly|not\s+sure)", re.IGNORECASE)
POST_OP_CHANGES = re.compile(r"\bpost-?\s?(?:op(?:erative)?|surgical)\s+(?:changes?|appearances?)\b", re.I)
TIME_ATTACHED = re.compile(r"\b(?:19|20)\d{2}\b|\bago\b|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", re.IGNORECASE)


@dataclass
class Evidence:
    field: str
    value: Any
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


@dataclass
class OperationReading:
    targets: list[Target]
    entries: list[Operation]
    surgery: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)


def _vertebra(name: str, ref: str) -> str | None:
    name = name.upper()
    if name.isdigit():
        name = ("S" if name == "1" and ref in ("L5",) else ref[0]) + name
    return name if name in SPINE else None


def parse_levels(text: str, base: int) -> list[tuple[str, int, int]]:
    """Disc levels as L4/5, L4-5, L4/L5, L5/S1 or ranges (L3-5, L4-S1, "L3 to L5") -> [("L4-L5", start, end)].

    Each disc of a range is one entry with the range's span.
    """
    out: list[tuple[str, int, int]] = []
    for m in LEVEL.finditer(text):
        second = m.group("b") or m.group("b2") or m.group("b3")
        if not second:
            continue
        if HEDGE_AFTER.match(text[m.end() :]):
            continue
        a = _vertebra(m.group("a"), m.group("a"))
        b = _vertebra(second, m.group("a").upper())
        if a is None or b is None:
            continue
        ia, ib = SPINE.index(a), SPINE.index(b)
        if ib <= ia or ib - ia > 4:
            continue
        for i in range(ia, ib):
            out.append((f"{SPINE[i]}-{SPINE[i + 1]}", base + m.start(), base + m.end()))
    return out


def _words_near(nd: NoteDoc, t: Target, words: list[str], before: int = 5) -> tuple[int, int, str] | None:
    """One of words within `before` tokens before the target, in its sentence: (start, end, text)."""
    first = max(t.sentence.tok_start, t.span.start - before)
    lo = int(nd.doc[first].idx) if first < t.span.start else t.start
    m = words_re(words).search(nd.text[lo : t.start])
    return (lo + m.start(), lo + m.end(), m.group()) if m else None


def _words_in_parens(nd: NoteDoc, t: Target, words: list[str]) -> tuple[int, int, str] | None:
    """One of words inside the parentheses just after the target: "microdiscectomy (MIS, tubular)"."""
    doc = nd.doc
    if t.span.end >= len(doc) or doc[t.span.end].text != "(":
        return None
    group = nd.token_paren[t.span.end]
    if not group:
        return None
    lo, hi = int(doc[group[0]].idx), int(doc[group[1] - 1].idx) + 1
    m = words_re(words).search(nd.text[lo:hi])
    return (lo + m.start(), lo + m.end(), m.group()) if m else None


def _in_parens_after(nd: NoteDoc, t: Target) -> str:
    doc = nd.doc
    if t.span.end < len(doc) and doc[t.span.end].text == "(":
        group = nd.token_paren[t.span.end]
        if group:
            return str(doc[group[0] : group[1]].text)
    return ""


DONE = re.compile(
    r"\b(?:s/p|status\s+post|post-?op|POD\s*#?\s*\d|underwent|had\s+(?:an?|his|her)\b|done\b|performed\b"
    # "five months after left L5/S1 microdiscectomy", "6/52 following her TLIF"
    r"|(?:days?|weeks?|wks?|months?|years?|yrs?|/52|/12)\s+(?:after|following|post)\b)",
    re.I,
)
PLAN_SECTIONS = frozenset({"plan"})
REPORT_SECTIONS = frozenset({"investigations"})


def read_operation(nd: NoteDoc) -> OperationReading | None:
    lang = nd.lang
    ops = lang.procedures.operations
    # "laminectomy ... no fusion, no implants": a denied operation is not the one done
    procs = [
        t for t in nd.targets if t.info.kind == "proc" and nd.usable(t) and "NEGATED_EXISTENCE" not in t.flags
    ]
    # "Referral: POD 5 after L4/5 PLIF - please assess", "Listed for L4/5 microdiscectomy. Op 10/03/2026": a
    # request's cue does not make an operation that the note dates ("POD 5", "s/p", "3 weeks after", a next
    # sentence "Op <date>") a planned one
    procs = sorted(
        procs
        + [
            t
            for t in nd.targets
            if t.info.kind == "proc"
            and not nd.ignored(t.section)
            and t.flags & DROP_CATEGORIES == {"HYPOTHETICAL"}
            and (DONE.search(t.sentence.text[: t.start - t.sentence.start]) or _dated_next(nd, t))
        ],
        key=lambda t: t.start,
    )
    if not procs:
        # "her dad, Mr Colin Webb (84), had a spinal decompression": a relative named as the subject of the
        # note's only operation is the patient (a family-history section still gives nothing)
        procs = [
            t
            for t in nd.targets
            if t.info.kind == "proc"
            and not nd.ignored(t.section)
            and t.section not in lang.section_effects.family
            and t.flags & DROP_CATEGORIES == {"FAMILY"}
        ]
    if not procs:
        # "Dx: POD 1 s/p L4-L5 TLIF": a diagnosis line that states the operation done (not planned)
        procs = [
            t
            for t in nd.targets
            if t.info.kind == "proc"
            and t.section in lang.section_effects.ignore
            and t.section not in PLAN_SECTIONS
            and not (t.flags & DROP_CATEGORIES)
            and DONE.search(t.sentence.text)
        ]
    if not procs:
        return None
    first = _labelled_index(nd, procs) or _latest_dated(nd, procs) or _described(nd, procs)
    group = [t for t in procs if t.sentence.index == first.sentence.index]
    entries = [ops[int(t.info.key)] for t in group]
    reading = OperationReading(group, entries)
    rank = {p: i for i, p in enumerate(lang.procedures.precedence)}
    chosen = min(zip(group, entries, strict=True), key=lambda te: rank[te[1].procedure])
    target, entry = chosen
    surgery: dict[str, Any] = {"procedure": entry.procedure}
    reading.evidence.append(
        Evidence("surgery.procedure", entry.procedure, target.start, target.end, target.text)
    )
    sent = first.sentence
    sent_text = sent.text.lower()
    # levels: in the operation's sentence, near the operation's name
    levels: list[str] = []
    for lv, s, e in parse_levels(sent.text, sent.start):
        near = any(abs(s - t.end) < 60 or abs(t.start - e) < 60 for t in group)
        if near and lv not in levels:
            levels.append(lv)
            reading.evidence.append(Evidence("surgery.levels", lv, s, e, nd.text[s:e]))
    if levels:
        surgery["levels"] = sorted(levels, key=lambda x: SPINE.index(x.split("-")[0]))
    # approach: a word just before the name, or the operation's own kind (tubular, endoscopic)
    for t, op in zip(group, entries, strict=True):
        if op.approach:
            surgery["approach"] = op.approach
            reading.evidence.append(Evidence("surgery.approach", op.approach, t.start, t.end, t.text))
            break
    if "approach" not in surgery:
        for approach, words in lang.procedures.approach_words.items():
            for t in group:
                hit = _words_near(nd, t, words, before=5) or _words_in_parens(nd, t, words)
                if hit is not None:
                    surgery["approach"] = approach
                    reading.evidence.append(Evidence("surgery.approach", approach, *hit))
                    break
            if "approach" in surgery:
                break
    # route: fixed by the name; an anterior fusion with posterior screws is combined
    routes = [op.route for op in entries if op.route]
    route = entry.route or (routes[0] if routes else None)
    if route in ("anterior", "lateral") and any(
        w.lower() in sent_text for w in lang.procedures.combined_when
    ):
        route = "combined"
    if route:
        surgery["route"] = route
        reading.evidence.append(Evidence("surgery.route", route, target.start, target.end, target.text))
    # implants: named with the operation, or the operation is an implant
    context = sent_text + " " + " ".join(_in_parens_after(nd, t).lower() for t in group)
    no_implant = any(w.lower() in context for w in lang.procedures.not_implant_words)
    implant = next(
        (w for w in lang.procedures.implant_words if re.search(rf"\b{re.escape(w.lower())}\b", context)), None
    )
    if not no_implant and (entry.instrumented or any(op.instrumented for op in entries) or implant):
        surgery["instrumented"] = True
        reading.evidence.append(Evidence("surgery.instrumented", True, target.start, target.end, target.text))
    reading.surgery = surgery
    return reading


# a date or year written right after an operation's name: "discectomy in 2013", "PLIF on 12/06/2019", "(2019)"
OPERATION_DATE = re.compile(
    # maybe past a bracket of its details: "fusion (pedicle screws to S1) 03/04/2025"
    r"^(?:\s*\([^()\n]{0,40}\))?[^.;:\n]{0,12}?\b(?:in|on|of|,|\()?\s*"
    r"(?:(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-])?(?P<y>(?:19|20)\d\d)\b"
)


# "Index operation: L4-S1 instrumented posterolateral fusion", "index procedure was an L5/S1 microdiscectomy"
INDEX_LABEL = re.compile(
    r"\bindex\s+(?:operation|procedure|surgery|op)\b(?:\s+(?:was|is))?[^.;\n]{0,30}$", re.IGNORECASE
)


def _labelled_index(nd: NoteDoc, procs: list[Target]) -> Target | None:
    """The operation the note itself calls the index one, if it names one."""
    for t in procs:
        if INDEX_LABEL.search(nd.text[max(t.sentence.start, t.start - 60) : t.start]):
            return t
    return None


# a chronology's entry: "1.4 05/09/2022: L5/S1 ALIF ...", "- 2016: right L5/S1 microdiscectomy"
LINE_DATE = re.compile(
    rf"^[ \t]*{LINE_MARKER}?(?:(?:(?P<d>\d{{1,2}})[/.-])?(?P<m>\d{{1,2}})[/.-])?"
    r"(?P<y>(?:19|20)\d\d)\s*[:–-]\s*[^.;\n]{0,40}$"
)


OP_DATED = re.compile(
    r"(?:op|operation|surgery|procedure)(?:\s+date)?\s*[:-]?\s*(?:on\s+)?\d{1,2}[/.-]\d", re.IGNORECASE
)


def _dated_next(nd: NoteDoc, t: Target) -> bool:
    """The sentence after the operation's gives its date: 'Listed for L4/5 microdiscectomy. Op 10/03/2026.'"""
    index = t.sentence.index + 1
    return index < len(nd.sentences) and bool(OP_DATED.match(nd.sentences[index].text))


def _described(nd: NoteDoc, procs: list[Target]) -> Target:
    """The first mention of an operation that names its levels ('Reason for referral: previous lumbar
    fusion' ... 'HPI: Instrumented posterolateral fusion L4-S1 in November 2019'), outside imaging reports;
    else the first mention."""
    for t in procs:
        if t.section in REPORT_SECTIONS:
            continue
        levels = parse_levels(t.sentence.text, t.sentence.start)
        if any(abs(s - t.end) < 60 or abs(t.start - e) < 60 for _, s, e in levels):
            return t
    return procs[0]


def _latest_dated(nd: NoteDoc, procs: list[Target]) -> Target | None:
    """'L5/S1 discectomy in 2011; revision discectomy in 2013; then an L4-S1 PLIF on 12/06/2019', or a
    chronology's dated lines ('2016: microdiscectomy', '05/09/2022: L5/S1 ALIF'): where two or more
    operations are dated, the index operation is the latest (None when fewer are dated). A report of
    imaging ('Standing X-rays (2026-02-20): solid posterolateral fusion L4-S1') dates the scan, not an
    operation."""
    dated: list[tuple[tuple[int, int, int], Target]] = []
    for t in procs:
        if t.section in REPORT_SECTIONS:
            continue
        line_start = nd.text.rfind("\n", 0, t.start) + 1
        m = OPERATION_DATE.match(nd.text[t.end : min(t.sentence.end, t.end + 40)]) or LINE_DATE.match(
            nd.text[line_start : t.start]
        )
        if m is not None:
            day, month = (int(m["d"]), int(m["m"])) if m["d"] else (0, 0)
            dated.append(((int(m["y"]), month, day), t))
    if len({when for when, _ in dated}) < 2:
        return None
    return max(dated, key=lambda d: d[0])[1]


def earlier_operation(nd: NoteDoc, reading: OperationReading) -> Target | None:
    """Another operation, told apart from the index one by its own time or by kind and level."""
    lang = nd.lang
    ops = lang.procedures.operations
    index_sentence = reading.targets[0].sentence.index
    index_kind = {op.procedure for op in reading.entries}
    index_levels = set(reading.surgery.get("levels", []))
    for t in nd.targets:
        if t.info.kind != "proc" or not nd.usable(t) or t.sentence.index == index_sentence:
            continue
        if "HISTORICAL" in t.flags and not TIME_ATTACHED.search(t.sentence.text):
            continue
        if POST_OP_CHANGES.search(t.sentence.text):  # a scan's "post-op changes L4-5 hemilaminotomy"
            continue
        before = nd.doc[max(0, t.span.start - 2) : t.span.start].text.lower()
        if any(w in before.split() for w in ("the", "her", "his", "my", "your", "this", "that")):
            continue
        kind = ops[int(t.info.key)].procedure
        levels = {lv for lv, _, _ in parse_levels(t.sentence.text, t.sentence.start)}
        timed = bool(TIME_ATTACHED.search(t.sentence.text))
        if (timed and (kind not in index_kind or (levels and levels != index_levels))) or (
            kind not in index_kind and levels and levels != index_levels
        ):
            return t
    return None


AGE_SEX = [
    # "67F", "44 M", "61 yo F", "39 yo male", "67 y/o male", "63 y.o." (not "98.6 F", a temperature)
    re.compile(
        r"(?<![\d.,])\b(?P<age>\d{1,3})\s*-?\s*(?:(?:yo|y/o|y\.o\.?|yrs?|years?)\b\.?\s*(?:old\s+)?)?/?\s*"
        r"(?P<sex>[MF]|male|female|man|woman)\b(?![\w/])(?!\s*(?:°|deg))"
    ),
    re.compile(
        r"\b(?P<age>\d{1,3})[- ]?(?:year|yr)s?[- ]old\s+"
        r"(?P<word>man|woman|male|female|gentleman|lady|boy|girl|guy|bloke|chap)?",
        re.I,
    ),
    re.compile(
        r"\b(?:aged|age)\s*:?\s*(?P<age>\d{1,3})\b|\b(?P<age2>\d{1,3})\s*(?:yo|y/o|y\.o\.|yrs|yr)(?!\w)", re.I
    ),
    re.compile(r"\b(?:I'm|I\s+am|im)\s+(?:[A-Z][a-z]+,\s*)?(?P<age>\d{2})\b(?!\s*(?:-|\w|/|%|\.\d))", re.I),
    # "Age/Sex: 52/F"
    re.compile(r"\bage\s*/\s*sex\s*:?\s*(?P<age>\d{1,3})\s*/\s*(?P<sex>[MF])\b", re.I),
]
TITLE_NAME = re.compile(
    r"\b(?P<title>Mr|Mrs|Ms|Miss|Mister|MR|MRS|MS|MISS)\.?\s+(?:[A-Z][\w'-]*\.?\s+){0,3}?[A-Z][\w'-]+\s*"
    r"(?:,\s*|\(\s*)(?:aged?\s*:?\s*)?(?P<age>\d{1,3})\b"
)
TITLE_ONLY = re.compile(r"\b(?P<title>Mr|Mrs|Ms|Miss|Mister|MR|MRS|MS|MISS)\.?\s+[A-Z][\w'-]+")
NAME_AGE = re.compile(r"\b[A-Z][a-z]+\s*\(\s*(?P<age>\d{1,3})\s*\)")
DOB = re.compile(
    r"\b(?:DOB|D\.O\.B\.?|date\s+of\s+birth)\s*:?\s*(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})\b",
    re.I,
)


def _age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def read_demographics(nd: NoteDoc) -> tuple[dict[str, Any], list[Evidence]]:
    lang = nd.lang.demographics
    text = nd.text
    out: dict[str, Any] = {}
    ev: list[Evidence] = []

    def put(key: str, value: Any, m: re.Match[str], group: str) -> None:
        if key in out:
            return
        out[key] = value
        s, e = m.span(group)
        ev.append(Evidence(key, value, s, e, text[s:e]))

    for m in itertools.chain(AGE_SEX[4].finditer(text), AGE_SEX[0].finditer(text)):
        age = int(m.group("age"))
        if re.search(
            r"(?:\btemp\w*|\bT|\bTmax|\bfever\w*|\bto)\s*:?\s*$",
            text[max(0, m.start() - 12) : m.start()],
            re.I,
        ):
            continue  # "T 101 F", "fever to 102 F": a temperature
        if 0 < age < 120:
            put("age", age, m, "age")
            put("sex", "male" if m.group("sex").lower() in ("m", "male", "man") else "female", m, "sex")
            break
    for m in AGE_SEX[1].finditer(text):
        age = int(m.group("age"))
        before = text[max(0, m.start() - 8) : m.start()].lower()
        if re.search(r"\b(?:my|his|her|our|their|your)\s*$", before):
            continue
        if not m.group("word") and not re.search(r"(?:^|\b(?:a|is|pt|patient|aged)|[:,(–-])\s*$", before):
            continue
        if 0 < age < 120:
            word = (m.group("word") or "").lower()
            put("age", age, m, "age")
            if word in lang.male_words:
                put("sex", "male", m, "word")
            elif word in lang.female_words:
                put("sex", "female", m, "word")
            break
    for m in TITLE_NAME.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        prefix = text[line_start : m.start()].lower()
        if any(re.search(rf"\b{re.escape(c)}\b", prefix) for c in ("dear", "yours", "cc", "consultant")):
            continue
        title = m.group("title").lower()
        put("age", int(m.group("age")), m, "age")
        if title in lang.male_titles:
            put("sex", "male", m, "title")
        elif title in lang.female_titles:
            put("sex", "female", m, "title")
        break
    if "sex" not in out:
        clinician_after = re.compile(r"\s*(?:" + alternation(lang.clinician_after) + r")(?![\w])", re.I)
        for m in TITLE_ONLY.finditer(text):
            line_start = text.rfind("\n", 0, m.start()) + 1
            prefix = text[line_start : m.start()].lower().strip()
            if prefix not in (
                "",
                "re",
                "re:",
                "patient",
                "patient:",
                "pt:",
                "name:",
                "caller:",
                "name",
            ) and not re.search(r"\b(?:seeing|saw|reviewed|review|see)\s*$", prefix):
                continue
            if clinician_after.match(text, m.end()):
                continue
            title = m.group("title").lower()
            sex = "male" if title in lang.male_titles else "female" if title in lang.female_titles else None
            if sex:
                put("sex", sex, m, "title")
            break
    if "age" not in out:
        for rx in (AGE_SEX[2], AGE_SEX[3]):
            for m in rx.finditer(text):
                group = "age2" if m.groupdict().get("age2") else "age"
                put("age", int(m.group(group)), m, group)
                break
    if "age" not in out:
        _age_from_birth(nd, put)
    if "sex" not in out and lang.relatives:
        words = alternation(lang.relatives)
        rel = re.compile(
            rf"\b(?:on\s+behalf\s+of|about|for|calling\s+about|writing\s+about)\s+my\s+(?P<rel>{words})\b"
            rf"|\bmy\s+(?P<rel2>{words})\b[^.;\n]{{0,40}}?\b(?:had|has\s+had|underwent)\s+(?:her|his)\b",
            re.I,
        )
        hit = rel.search(text)
        if hit:
            group = "rel" if hit.group("rel") else "rel2"
            put("sex", lang.relatives[hit.group(group).lower()], hit, group)
    if "age" not in out:
        for m in NAME_AGE.finditer(text):
            age = int(m.group("age"))
            if 10 < age < 110:
                put("age", age, m, "age")
                break
    if "age" in out and not 0 <= out["age"] <= 120:
        del out["age"]
    return out, ev


def _age_from_birth(nd: NoteDoc, put: Any) -> None:
    """'DOB 04/07/1969' and the note's latest full date: the age on that date."""
    from rootcause.adapters.notes.timewords import dates

    m = DOB.search(nd.text)
    if m is None:
        return
    day, month, year = int(m.group("d")), int(m.group("m")), int(m.group("y"))
    try:  # day first; a month past 12 means a US date, month first ("DOB: 07/22/1964")
        born = dt.date(year, month, day) if month <= 12 else dt.date(year, day, month)
    except ValueError:
        return
    later = [d.date for d in dates(nd.lang, nd.text, None) if d.start >= m.end() or d.end <= m.start()]
    later = [d for d in later if d > born]
    if later:
        age = _age_on(born, max(later))
        if 0 < age < 120:
            put("age", age, m, "y")
