"""A processed note: the spaCy doc plus the per-token facts the readers need (sentence, line, section,
parenthesis group) and each target's ConText status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from rootcause.adapters.notes.language import NoteLanguage
from rootcause.adapters.notes.pipeline import INLINE_SECTIONS, TARGETS, LabelInfo, label_info
from rootcause.adapters.notes.timewords import alternation

DROP_CATEGORIES = {"POSSIBLE_EXISTENCE", "HYPOTHETICAL", "FAMILY"}


# an SBAR handover (Situation, Background, Assessment, Recommendation): its "A -" is findings, not a diagnosis
SBAR = re.compile(r"^\s*S\s*[-:][^\n]*\n(?:[^\n]*\n)*?\s*B\s*[-:](?:[^\n]*\n)*?\s*R\s*[-:]", re.M)


# what may open a line before its text: a bullet, or a chronology's number ("1.3 ", "2. ")
LINE_MARKER = r"(?:[-*•]\s*|\d{1,2}(?:\.\d{1,2})*\.?\s+)"

_ENTRY_HEAD = (
    r"(?:\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?|\d{4}-\d{2}-\d{2}|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
    r"|\d{1,2}:\d{2}|(?:Day|POD|D)\s*\+?\d{1,3})"
)
_ENTRY_LABEL = r"[A-Za-z][A-Za-z-]{0,11}(?:[ \t]+[A-Za-z][A-Za-z-]{0,11}){0,3}\.?[ \t]*\d{0,2}"
# "18/06 00:50 (F1):", "Call 3 - 16/02/2026 (day 14):", "Triage 08:50 (RN):", "ED registrar 09:40:": a line
# opening one dated or timed entry of a note written as several
ENTRY_LINE = re.compile(
    rf"^[ \t]*((?P<label>{_ENTRY_LABEL}[ \t]*[-–:][ \t]*)?{_ENTRY_HEAD}\b|(?P<label2>{_ENTRY_LABEL})[ \t]+"
    r"\d{1,2}:\d{2}\b)[^\n]{0,40}?(?:\d{1,2}:\d{2}|:|\s[-–]\s|\))",
    re.MULTILINE | re.IGNORECASE,
)


def _result_line_rx(lang: NoteLanguage) -> re.Pattern[str] | None:
    titles = [t for sec in lang.sections if sec.category == "investigations" for t in sec.titles]
    return _titles_rx(tuple(titles)) if titles else None


@lru_cache(maxsize=8)
def _titles_rx(titles: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*((?:{alternation(titles)})\b)[^:\n]{{1,30}}:", re.MULTILINE)


@dataclass
class Sentence:
    index: int
    start: int  # character offsets
    end: int
    tok_start: int
    tok_end: int
    text: str
    section: str | None
    line: int


@dataclass
class Target:
    span: Any
    info: LabelInfo
    flags: frozenset[str]
    section: str | None
    sentence: Sentence

    @property
    def start(self) -> int:
        return int(self.span.start_char)

    @property
    def end(self) -> int:
        return int(self.span.end_char)

    @property
    def text(self) -> str:
        return str(self.span.text)


def copied_ranges(text: str, cues: list[str]) -> list[tuple[int, int]]:
    """Where a record copied text from an earlier note: from each cue to the "]" closing the bracket it opens,
    or to the end of its line."""
    if not cues:
        return []
    pattern = re.compile(r"(?i)(\[\s*)?\b(?:" + alternation(cues) + r")\b")
    out: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        line_end = text.find("\n", m.end())
        end = len(text) if line_end < 0 else line_end
        if m.group(1):
            close = text.find("]", m.end())
            end = close if close >= 0 else end
        out.append((m.start(), end))
    return out


@dataclass
class NoteDoc:
    text: str
    doc: Any
    lang: NoteLanguage
    sentences: list[Sentence] = field(default_factory=list)
    token_sentence: list[int] = field(default_factory=list)
    token_section: list[str | None] = field(default_factory=list)
    token_paren: list[tuple[int, int] | None] = field(default_factory=list)
    line_starts: list[int] = field(default_factory=list)
    entry_starts: list[int] = field(default_factory=list)
    """Where each dated or timed entry begins, in a note written as several ("18/06 00:50 (F1): ...")."""
    copied: list[tuple[int, int]] = field(default_factory=list)
    """Character ranges of text copied from an earlier note (language data: copied_forward)."""

    @classmethod
    def build(cls, text: str, doc: Any, lang: NoteLanguage) -> NoteDoc:
        nd = cls(text=text, doc=doc, lang=lang)
        n = len(doc)
        nd.token_section = [None] * n
        line_start = doc.user_data.get("rc_line_start") or [t.i == 0 for t in doc]
        current: str | None = None
        sbar = bool(SBAR.search(text))
        for sec in getattr(doc._, "sections", None) or []:
            a, b = sec.title_start, min(sec.body_end, n)
            if sec.category is not None:
                # a title counts at the start of a line; plan and assessment titles also at a sentence start
                inline = sec.category in INLINE_SECTIONS and doc[a].is_sent_start
                if line_start[a] or inline:
                    current = sec.category
                    if sbar and current == "assessment" and doc[a].text == "A":
                        current = "examination"  # SBAR's "A -" holds the observations and examination
            else:  # text before the first title, or after a one-paragraph section (fastcontext.run_sections)
                current = None
            if b > a:
                nd.token_section[a:b] = [current] * (b - a)
        nd.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        nd.copied = copied_ranges(text, lang.copied_forward)
        nd._result_lines_end_plans(line_start)
        # parenthesis groups: innermost (open, close) token range around each token
        stack: list[int] = []
        groups: list[tuple[int, int]] = []
        cached = doc.user_data.get("rc_tokens")
        texts = [t for t, _ in cached] if cached is not None and len(cached) == n else [t.text for t in doc]
        if "(" in text:
            for i, tx in enumerate(texts):
                if tx == "(":
                    stack.append(i)
                elif tx.startswith(")") and stack:  # also a token like "):"
                    groups.append((stack.pop(), i + 1))
        nd.token_paren = [None] * n
        for a, b in sorted(groups, key=lambda g: g[1] - g[0], reverse=True):
            nd.token_paren[a:b] = [(a, b)] * (b - a)
        owner = doc.user_data.get("rc_sentence_of")
        if owner is None or len(owner) != n:
            owner, sid = [], -1
            for tok in doc:
                sid += 1 if (tok.i == 0 or tok.is_sent_start) else 0
                owner.append(sid)
        nd.token_sentence = list(owner)
        count = (owner[-1] + 1) if owner else 0
        first: list[int] = [-1] * count
        last: list[int] = [-1] * count
        for i, tx in enumerate(texts):
            if not tx.isspace():
                k = owner[i]
                if first[k] < 0:
                    first[k] = i
                last[k] = i
        for k in range(count):
            s = Sentence(k, 0, 0, 0, 0, "", None, 0)
            nd.sentences.append(s)
            if first[k] < 0:
                continue
            a, b = doc[first[k]], doc[last[k]]
            s.start, s.end = a.idx, b.idx + len(b.text)
            s.tok_start, s.tok_end = a.i, b.i + 1
            s.text = text[s.start : s.end]
            s.section = nd.token_section[a.i]
            s.line = nd.line_of(s.start)
        return nd

    def relabel(self, old: str, new: str) -> None:
        """Read the ``old`` sections as ``new`` ones (before any target is read)."""
        self.token_section = [new if s == old else s for s in self.token_section]
        for sentence in self.sentences:
            if sentence.section == old:
                sentence.section = new

    def _result_lines_end_plans(self, line_start: list[bool]) -> None:
        """'Imp: ?epidural haematoma -> MRI stat' then 'MRI 04:05: large epidural collection': a line opening
        with a test's name, a time or detail and a colon reports a result, so it ends the assessment or plan
        above it."""
        ignore = self.lang.section_effects.ignore
        starts = {t.idx: t.i for t in self.doc if line_start[t.i]}
        rx = _result_line_rx(self.lang)
        lines: list[tuple[int, str | None]] = (
            [(m.start(1), "investigations") for m in rx.finditer(self.text)] if rx is not None else []
        )
        # "18/06 00:50 (F1): ...", "Day 3 -", "Tues 14:20": a dated or timed entry starts after the plan of
        # the one before it
        titles = {t.lower() for sec in self.lang.sections for t in sec.titles}
        entries = [  # "Call 3 - 16/02/2026:" is an entry; "Plan: 14/06 start enoxaparin" is still the plan
            m.start(1)
            for m in ENTRY_LINE.finditer(self.text)
            if (m.group("label") or m.group("label2") or "").strip(" \t-–:.0123456789").lower() not in titles
        ]
        self.entry_starts = entries
        lines += [(char, None) for char in entries]
        for char, category in sorted(lines, key=lambda x: x[0]):
            i = starts.get(char)
            # a result line ends only an assessment or plan; a new entry ends any section before it
            if (
                i is None
                or self.token_section[i] is None
                or (category and self.token_section[i] not in ignore)
            ):
                continue
            held = self.token_section[i]
            j = i
            while j < len(self.token_section) and self.token_section[j] == held:  # until the next title
                self.token_section[j] = category
                j += 1

    def line_of(self, char: int) -> int:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= char:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def line_text(self, line: int) -> tuple[int, str]:
        start = self.line_starts[line]
        end = self.line_starts[line + 1] - 1 if line + 1 < len(self.line_starts) else len(self.text)
        return start, self.text[start:end]

    def ignored(self, section: str | None) -> bool:
        return section in self.lang.section_effects.ignore

    def flags(self, span: Any) -> frozenset[str]:
        """ConText categories that apply to the span; a modifier inside parentheses reaches only into them."""
        out: set[str] = set()
        for m in span._.modifiers:
            ms, me = m.modifier_span
            group = self.token_paren[ms] if ms < len(self.token_paren) else None
            covers = (
                group is not None and ms <= group[0] and group[1] <= me
            )  # the cue is the parenthesis: "(-)"
            if group is not None and not covers and not (group[0] <= span.start and span.end <= group[1]):
                continue
            if (
                m.category == "NEGATED_EXISTENCE"
                and me <= span.start
                and any(t.text == ":" for t in self.doc[me : span.start])
            ):
                continue  # a colon ends a forward negation's reach
            out.add(m.category)
        if self.copied and any(a <= span.start_char < b for a, b in self.copied):
            out.add("HISTORICAL")
        if self.token_section[span.start] in self.lang.section_effects.family:
            out.add("FAMILY")
        return frozenset(out)

    @cached_property
    def targets(self) -> list[Target]:
        out = []
        for span in self.doc.spans.get(TARGETS, []):
            info = label_info(span.label_, self.lang)
            # ConText's span attributes (is_negated, ...) stay as ConText set them; the reader uses these
            # flags, which also apply the parenthesis and colon limits
            flags = self.flags(span)
            sent = self.sentences[self.token_sentence[span.start]]
            out.append(Target(span, info, flags, self.token_section[span.start], sent))
        return out

    def usable(self, t: Target) -> bool:
        """Not in an ignored section, not uncertain, hypothetical or about someone else."""
        return not self.ignored(t.section) and not (t.flags & DROP_CATEGORIES)

    @cached_property
    def _live(self) -> list[Sentence]:
        return [s for s in self.sentences if s.text and not self.ignored(s.section)]

    def live_sentences(self) -> list[Sentence]:
        return self._live
