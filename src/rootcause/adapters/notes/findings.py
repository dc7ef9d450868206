"""Findings from targets: ConText status, sections, test modalities, measurements and power grades,
then the annotation rules' parent statements and implications.

A finding read both present and absent is present: "L calf swollen ... R calf NAD", "38.4 on Sunday ...
37.9 today", a wound "dry" that is also "red".
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from rootcause.adapters.notes.language import Measurement
from rootcause.adapters.notes.notedoc import NoteDoc, Target
from rootcause.adapters.notes.surgery import Evidence, parse_levels

# "previously voiding normally", "had been healing": words about an earlier state, not the outcome
EARLIER_STATE = re.compile(
    r"\b(?:previously|before|until|was|were|had(?:\s+been)?|prior(?:\s+to)?)\s+$", re.IGNORECASE
)
EARLIER_AFTER = re.compile(r"\s*(?:before|previously|until|pre-?op)\b", re.IGNORECASE)
# "not asked re bowels", "not yet examined": nothing is known, so nothing is denied
NOT_YET_KNOWN = re.compile(
    r"\bnot\s+(?:yet\s+)?(?:asked|enquired|assessed|examined|checked|tested)\b", re.IGNORECASE
)
PAST = re.compile(
    r"\b(?:had|was|were|initially|earlier|required|needed|presented|at\s+presentation|(?:on\s+)?day\s+\d+"
    r"|(?:on\s+)?POD\s*#?\s*\d+"
    r"|post-?op(?:eratively)?|in\s+(?:recovery|pacu|theatre)|catheteri[sz]ed|(?:on\s+)?the\s+first\s+night"
    r"|put\s+a\s+catheter\s+in)\b",
    re.I,
)
_JERK = (
    r"(?:patellar|achilles|ankle\s+jerks?|knee\s+jerks?|ankle\s+reflex(?:es)?|knee\s+reflex(?:es)?|AJs?|KJs?)"
)
# "KJ 2+/2+, AJ 2+/0": a reflex's right/left grades
REFLEX_SLASH_PAIR = re.compile(rf"\b{_JERK}\s*:?\s*([0-4])\+*\s*/\s*([0-4])\+*(?![\d/])", re.I)
REFLEX_PAIR = re.compile(
    rf"\b{_JERK}\b\s*:?\s*[RL]\s*(?P<g1>[0-4])\s*\+?\s*[,/;]?\s*(?:and\s+)?[RL]\s*(?P<g2>[0-4])\s*\+?"
    rf"|\b[RL]\s+{_JERK}\b\s*(?P<g1b>[0-4])\s*\+?\s*[,/;]\s*[RL](?:\s+{_JERK})?\s*(?P<g2b>[0-4])\s*\+?",
    re.I,
)
# what the operation was done for: an indication line or "<operation> for <complaint> x 3 years"
INDICATION = re.compile(
    r"^\W*(?:indication|pre-?op\s+dx|reason\s+for\s+surgery)\b|\bfor\b[^.;]{0,80}(?:\bx\s*~?\d|\bduration\b|\b(?:going|dating)\s+back\b)",
    re.I,
)
ROOT_BLOCK = re.compile(
    r"\b(?:nerve[- ]root|root|transforaminal|SNRB|TFESI)\b[^.;]{0,40}?\b(?:block|injection)\b", re.I
)
OPERATED_ROOT = re.compile(
    r"\boperated\b|\bdecompressed\s+at\s+(?:the\s+)?(?:surgery|operation)\b|\bindex\s+level\b", re.I
)
HEDGED_PLAN = re.compile(r"\b(?:consider|planned|plan|booked|request(?:ed)?|will|would|if)\b", re.I)
NO_RELIEF = re.compile(
    r"\bno\s+(?:change|difference|relief|benefit|effect)\b|\bmade\s+no\s+difference\b|\bdid(?:\s+not|n't)\s+help\b|"
    r"\bunhelpful\b|\bwithout\s+(?:any\s+)?relief\b",
    re.I,
)
RELIEF_PERCENT = re.compile(r"\b(\d{1,3})\s*%\s*(?:relief|better|improvement|reduction)", re.I)
RELIEF_WORDS = re.compile(
    r"\b(?:good|complete|excellent|marked)\s+relief\b|\brelieved\b|\bhelped\b|\babolished\b|\btook\s+(?:the|his|her)"
    r"\s+(?:leg\s+)?pain\s+away\b",
    re.I,
)
POWER_WORD = re.compile(r"\b(?:power|MMT|strength|myotomes)\b", re.I)
# a power table: a header naming power with two or more columns (times, days, dates, pre-op), and rows of
# right/left grade pairs, one pair per column
POWER_TABLE_HEADER = re.compile(r"\b(?:power|MRC|myotomes?|strength|motor)\b", re.I)
TABLE_COLUMN = re.compile(
    r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\bpre-?op\b|\bPOD\s*#?\d+|\bday\s*\d+\b|\bnow\b"
    r"|\btoday\b|\bwk\s*\d+|\b\d+\s*(?:wk|wks|weeks|/52)\b",
    re.I,
)
GRADE_PAIR = re.compile(r"(?<![\d/])([0-5])[+-]?\s*/\s*([0-5])[+-]?(?![\d/])")
# a table headed by sides ("Examination (R / L)", "Myotomes R/L"): its rows are right/left pairs
TABLE_SIDES = re.compile(r"\(\s*R\s*/\s*L\s*\)|\bR\s*/\s*L\b|\bright\s*/\s*left\b", re.I)
TABLE_REFLEX = re.compile(r"^\s*(?:KJ|AJ|knee\s+jerk|ankle\s+jerk|patellar|achilles|reflex)", re.I)
REFLEX_GRADE_PAIR = re.compile(r"(?<![\d/])([0-4])\+*\s*/\s*([0-4])\+*(?![\d/])")
# a table laid out with spaces ("Neuro      R     L" over "  L5       4     5"): column labels, then rows of a
# myotome, muscle or reflex and one bare grade per column
SPACED_COLUMN = re.compile(
    r"^(?:(?P<when>pre-?op(?:eratively)?|now|today|post-?op|current|admission|day\s*\d+|POD\s*\d+)\s*)?"
    r"(?P<side>R|L|Rt|Lt|Right|Left)?$",
    re.I,
)
SPACED_CELLS = re.compile(r"[ \t]{2,}|\t")
# a chart of grades by the hour ("Time | R HF | R DF" over "04:00 |  3  |  2"): cells split by "|" or by two
# spaces, rows headed by a clock time or a date
CHART_CELLS = re.compile(r"\s*\|\s*|[ \t]{2,}|\t")
CHART_TIME = re.compile(
    r"^(?:\d{1,2}[:.]\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?(?:\s+\d{1,2}[:.]\d{2})?|day\s*\d+|POD\s*\d+)$", re.I
)
CHART_SIDE = re.compile(r"^(?:R|L|Rt|Lt|Right|Left)\s+", re.I)
SPACED_GRADE = re.compile(r"^([0-5])([+-]*)$")
MYOTOME_LABEL = re.compile(r"^(?:L[1-5]|S[12])(?:\s*[-/]\s*(?:L[1-5]|S[12]))?\b", re.I)
# "weaker than the right", "feels weaker than R": one side against the other, not a change over time
_SIDE = r"(?:the\s+|on\s+the\s+)?(?:other|opposite|good|R|L|Rt|Lt|right|left)\b"
OTHER_SIDE = re.compile(rf"\s+than\s+{_SIDE}", re.I)
SIDE_AFTER_THAN = re.compile(rf"\s*{_SIDE}", re.I)
# "stopped 2 days pre-op, restarted day 1": a stop that was undone
RESTARTED = re.compile(
    r"(?<!\bnot\s)(?<!n't\s)(?<!\bbeen\s)(?<!\byet\s)\b(?:restarted|resumed|recommenced|back\s+on|re-started)\b"
    r"|\b(?:has|have|was|were)\s+been\s+(?:restarted|resumed|recommenced)\b",
    re.I,
)
TABLE_FOOT_DROP = re.compile(r"\b(?:DF|dorsiflex\w*|TA|tibialis\s+anterior)\b", re.I)
SAME_AS_BEFORE = re.compile(
    r"\b(?:unchanged|same|similar|no\s+different)\s+(?:from|as|to)\s+(?:the\s+)?$", re.I
)
GRADE_OF_5 = re.compile(r"([0-5])\s*([+-]?)\s*/\s*5")
FULL_POWER = re.compile(r"5\s*/\s*5|full\s+power|power\s+(?:is\s+)?normal", re.I)
NEGATED_WORD = re.compile(r"\b(?:no|not|never|nil|isn.t|aren.t)\s+(?:\w+\s+){0,2}$", re.I)
MEASURED_BESIDE_CHARS = 24  # a lexicon word this close to a measurement of its finding is the measurement's
NOW = re.compile(
    r"\b(?:now|currently|at\s+present|no\s+longer|since\s+resolved|has\s+since|successful(?:ly)?|since\s+then"
    r"|subsequently|thereafter|(?:foley|catheter)\s+out|returned\s+to\s+normal|fully\s+returned|recovered"
    r"|resolved|since\s+~?\d{1,2}[:.]\d{2}|(?:normally|fine|well)\s+since|since\s+(?:it|the\s+catheter)\s+came\s+out)\b",
    re.I,
)


@dataclass
class Reading:
    finding: str
    value: bool
    start: int
    end: int
    source: str
    target: Target | None = None


@lru_cache(maxsize=64)
def _terse_grade_rx(words: tuple[str, ...]) -> re.Pattern[str]:
    """A muscle name, an optional side and a bare grade 0-4 ("EHL 3", "DF L 2")."""
    return re.compile(rf"{_rx(list(words)).pattern}\s+(?:[RL]\s+)?(?P<g>[0-4])(?![\d/.+-])", re.IGNORECASE)


def _rx(words: list[str], case_sensitive_caps: bool = True) -> re.Pattern[str]:
    return _rx_cached(tuple(words), case_sensitive_caps)


@lru_cache(maxsize=512)
def _rx_cached(words: tuple[str, ...], case_sensitive_caps: bool) -> re.Pattern[str]:
    parts = []
    for w in sorted(words, key=len, reverse=True):
        esc = re.escape(w)
        if case_sensitive_caps and w.isupper() and len(w) <= 4:
            parts.append(f"(?-i:{esc})")
        else:
            parts.append(esc)
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])", re.IGNORECASE)


PREOP = re.compile(
    r"\bpre-?op(?:erative(?:ly)?)?\b|\bbefore\s+(?:the\s+|his\s+|her\s+|my\s+)?(?:surgery|operation|op)\b"
    r"|\bpre-?(?:assessment|admission)\b|\bat\s+listing\b|\bprior\s+to\s+(?:the\s+)?(?:surgery|operation)\b",
    re.I,
)


def report_modality(nd: NoteDoc) -> str | None:
    """The one modality a report's first line names ("MRI LUMBAR SPINE WITH AND WITHOUT GADOLINIUM"): the
    note is that imaging report."""
    rules = nd.lang.finding_rules
    if not rules.modality_from_title:
        return None
    first = next((ln for ln in nd.text.splitlines() if ln.strip()), "")
    if len(first) > 90 or re.search(r"[.;]\s*\S", first):
        return None
    named = {mod for mod, words in rules.modalities.items() if _rx(words).search(first)}
    if len(named) != 1 or _rx(rules.modality_not_result).search(first) or PREOP.search(first):
        return None
    return next(iter(named))


class FindingReader:
    def __init__(self, nd: NoteDoc, categories: dict[str, str], context: dict[str, Any]) -> None:
        self.nd = nd
        self.lang = nd.lang
        self.categories = categories
        self.ctx = context
        self.readings: list[Reading] = []
        self.examined_normal: list[Target] = []
        rules = self.lang.finding_rules
        self.modality_rx = {k: _rx(v) for k, v in rules.modalities.items()}
        self.not_result = _rx(rules.modality_not_result)
        self.examiner = _rx(rules.examiner_cues)
        self.preop = PREOP

    # ------------------------------------------------------------------ gates
    def exam_context(self, t: Target) -> bool:
        if t.section in self.lang.section_effects.examination:
            return True
        _, line = self.nd.line_text(t.sentence.line)
        return bool(self.examiner.search(line))

    @cached_property
    def title_modality(self) -> str | None:
        return report_modality(self.nd)

    def modality_ok(self, t: Target, finding: str) -> bool:
        wanted = self.lang.finding_rules.finding_modalities.get(finding)
        if not wanted:
            return True
        if self.title_modality in wanted:
            return True
        line_start, line = self.nd.line_text(t.sentence.line)
        sent = t.sentence
        window_end = max(sent.end, t.end) - line_start
        for mod in wanted:
            for m in self.modality_rx[mod].finditer(line[:window_end] if True else line):
                pos = line_start + m.start()
                in_sentence = sent.start <= pos < sent.end
                if not in_sentence and pos > t.start:
                    continue
                around = self.nd.text[max(line_start, pos - 25) : line_start + m.end() + 30]
                if self.not_result.search(around) or self.preop.search(
                    self.nd.text[max(line_start, pos - 12) : pos]
                ):
                    continue
                return True
        return False

    def qualified(self, finding: str, t: Target) -> bool | None:
        """For a present reading: True (keep), False (absent instead) or None (not qualified: no reading)."""
        for q in self.lang.frame_qualifiers:
            if q.finding != finding:
                continue
            text = t.sentence.text
            if _rx(q.negate).search(text):
                return False
            placeholders = self.lang.placeholders
            words = [w for w in q.require if not w.startswith("{")]
            for w in q.require:
                if w.startswith("{") and w[1:-1] in placeholders:
                    words += placeholders[w[1:-1]]
            return True if _rx(words, case_sensitive_caps=False).search(text) else None
        return True

    def timed_ok(self, finding: str) -> bool:
        limit = self.lang.finding_rules.max_days_after_surgery.get(finding)
        if limit is None:
            return True
        when = self.ctx.get("onset_days")
        if when is None:
            when = self.ctx.get("days_since")
        return when is None or when <= limit

    def add(
        self, finding: str, value: bool, t: Target | None, source: str, start: int = -1, end: int = -1
    ) -> None:
        s = t.start if t is not None and start < 0 else start
        e = t.end if t is not None and end < 0 else end
        self.readings.append(Reading(finding, value, s, e, source, t))

    # ------------------------------------------------------------------ phrase and frame targets
    def read_phrases(self) -> None:
        rules = self.lang.finding_rules
        for t in self.nd.targets:
            if t.info.kind not in ("lex", "negonly", "frame", "bare") or not self.nd.usable(t):
                continue
            negated = "NEGATED_EXISTENCE" in t.flags
            if t.info.kind == "bare":
                if self.inside_phrase(t):
                    continue  # "hasn't passed urine": the phrase is read, not the bare name in it
                negated = negated or self.denied_list(t)
                if (negated or "RESOLVED" in t.flags) and "HISTORICAL" not in t.flags:
                    for fid in t.info.findings:
                        self.add(fid, False, t, "bare")
                continue
            if t.text.lower().endswith("than") and SIDE_AFTER_THAN.match(self.nd.text, t.end):
                continue  # "feels weaker than the right": one side against the other, not over time
            for fid in t.info.findings:
                category = self.categories.get(fid)
                if category is None:
                    continue
                if "HISTORICAL" in t.flags and category in rules.current_categories:
                    preop = self.lang.preop_links.get(fid)
                    if preop and self.preop.search(t.sentence.text):
                        self.add(preop, not (t.info.negative or negated), t, "preop")
                    continue
                if fid in rules.not_with and self.examined_with(t, rules.not_with[fid]):
                    continue
                if t.info.kind == "lex" and self.measured_beside(t, fid):
                    continue  # "had a temperature of 37.4": the measurement decides
                if t.info.kind == "negonly":
                    if negated:
                        self.add(fid, False, t, "negonly")
                    continue
                if t.info.negative and negated and self.denied_at_once(t):
                    continue  # a denied absence phrase ("hasn't passed urine") is not a clear statement
                value = not t.info.negative and not negated
                if value and ("RESOLVED" in t.flags or self.resolved_later(t, fid)):
                    value = fid in rules.since_surgery
                if value and "DISCONTINUED" in t.flags and fid in rules.discontinuable:
                    value = False
                if fid in rules.examiner_only and not self.exam_context(t):
                    continue
                if not self.modality_ok(t, fid):
                    continue
                if value:
                    verdict = self.qualified(fid, t)
                    if verdict is None:
                        continue
                    value = verdict
                    if not self.timed_ok(fid):
                        continue
                self.add(fid, value, t, t.info.kind)
                if value:
                    self.qualify_reading(fid, t)
                elif fid == "leg_weakness" and self.exam_context(t):
                    self.examined_normal.append(t)

    @cached_property
    def measured_sentences(self) -> dict[int, list[tuple[str, int, int]]]:
        """Sentence index -> (finding, start, end) of each usable measurement in that sentence (one that is
        someone else's, hypothetical or uncertain decides nothing)."""
        by_id = {m.id: m.finding for m in self.lang.measurements}
        out: dict[int, list[tuple[str, int, int]]] = {}
        for t in self.nd.targets:
            if t.info.kind == "meas" and t.info.key in by_id and self.nd.usable(t):
                out.setdefault(t.sentence.index, []).append((by_id[t.info.key], t.start, t.end))
        return out

    def measured_beside(self, t: Target, fid: str) -> bool:
        """A measurement of ``fid`` in the target's clause ("had a temperature of 37.4"), not one told
        earlier in a long sentence ("bladder scan 600 ml - catheterised, ... voiding normally since")."""
        return any(
            f == fid and max(start - t.end, t.start - end) <= MEASURED_BESIDE_CHARS
            for f, start, end in self.measured_sentences.get(t.sentence.index, ())
        )

    def denied_at_once(self, t: Target) -> bool:
        """A negation written right before the target ("hasn't passed urine"), not one reaching it across a
        list ("No fevers, wound is fine")."""
        return any(
            m.category == "NEGATED_EXISTENCE" and m.modifier_span[1] <= t.span.start <= m.modifier_span[1] + 1
            for m in t.span._.modifiers
        )

    def inside_phrase(self, t: Target) -> bool:
        """A bare name that is part of a lexicon phrase or frame (the phrase says what the name means)."""
        return any(
            o is not t and o.info.kind in ("lex", "negonly", "frame") and o.start <= t.start <= t.end <= o.end
            for o in self.nd.targets
        )

    def resolved_later(self, t: Target, fid: str) -> bool:
        """'urinary retention after catheter removal on day 1, ...; voiding normally at discharge': the
        problem is over by the end of its sentence, or of the clause a semicolon joins to it
        (finding_rules.resolved_later)."""
        words = self.lang.finding_rules.resolved_later.get(fid)
        if not words:
            return False
        rest = self.nd.text[t.end : t.sentence.end]
        following = t.sentence.index + 1
        if rest.rstrip().endswith(";") and following < len(self.nd.sentences):
            rest += " " + self.nd.sentences[following].text  # clauses the semicolon splits off are one story
        for m in _rx(words).finditer(rest):
            before = rest[max(0, m.start() - 20) : m.start()]
            after = rest[m.end() : m.end() + 15]
            if not (EARLIER_STATE.search(before) or EARLIER_AFTER.match(after)):
                return True
        return False

    def denied_list(self, t: Target) -> bool:
        """'No problems peeing or with bowel movements': a denial earlier in the sentence, no 'but' between,
        covers a bare name it lists (ConText gives the denial to the first target only)."""
        lead = NOT_YET_KNOWN.sub(" ", self.nd.text[t.sentence.start : t.start])
        return bool(
            re.search(r"\b(?:no|nil|denies|denied|never|not|don't|doesn't|didn't|dont)\b", lead, re.I)
            and not re.search(r"\b(?:but|however|although|though|except|yet|whereas)\b|[;:]", lead, re.I)
        )

    def examined_with(self, t: Target, others: list[str]) -> bool:
        return any(
            o.sentence.index == t.sentence.index
            and o.info.kind in ("frame", "bare")
            and set(o.info.findings) & set(others)
            for o in self.nd.targets
        )

    def qualify_reading(self, fid: str, t: Target) -> None:
        """Words after a reading in its sentence, or in the next sentence when that opens with its subject
        ("It has not worsened since"), that set other findings."""
        spans = [(t.end, self.nd.text[t.end : t.sentence.end])]
        following = t.sentence.index + 1
        if following < len(self.nd.sentences):
            nxt = self.nd.sentences[following]
            if _rx(self.lang.reading_subjects, case_sensitive_caps=False).match(nxt.text.lstrip()):
                spans.append((nxt.start, nxt.text))
        for rq in self.lang.reading_qualifiers:
            if rq.finding != fid:
                continue
            for offset, after in spans:
                m = _rx(rq.words, case_sensitive_caps=False).search(after)
                if m and OTHER_SIDE.match(after, m.end()):
                    continue  # "feels weaker than the right": one side against the other, not over time
                if m and not NEGATED_WORD.search(after[: m.start()]):  # "no worse since" is not "worse since"
                    for other, val in rq.sets.items():
                        self.add(other, val, t, "qualifier", offset + m.start(), offset + m.end())
                    break

    # ------------------------------------------------------------------ measurements
    def read_measurements(self) -> None:
        by_id = {m.id: m for m in self.lang.measurements}
        for t in self.nd.targets:
            if t.info.kind != "meas" or not self.nd.usable(t):
                continue
            m = by_id.get(t.info.key)
            if m is None:
                continue
            if (
                "HISTORICAL" in t.flags
                and m.drop_at_least is None  # "Hb 88 from 121 pre-op": the baseline is pre-operative
                and self.categories.get(m.finding) in self.lang.finding_rules.current_categories
            ):
                continue
            value = self.judge(m, t)
            if value is not None:
                self.add(m.finding, value, t, f"measurement:{m.id}")

    def _value(self, m: Measurement, text: str) -> tuple[float, re.Match[str]] | None:
        for rx in m.patterns:
            hit = re.search(rx, text, re.IGNORECASE)
            if hit and hit.groupdict().get("value"):
                try:
                    return float(hit.group("value")), hit
                except ValueError:
                    return None
        return None

    def judge(self, m: Measurement, t: Target) -> bool | None:
        text = self.nd.text[t.start : t.sentence.end]
        if m.value_pattern is not None:
            values = [float(v) for v in re.findall(m.value_pattern, t.text)]
            values = [v for v in values if m.range[0] <= v <= m.range[1]]
            if not values:
                return None
            return any(v < m.true_below for v in values) if m.true_below is not None else None
        got = self._value(m, text)
        if got is None:
            return None
        value, hit = got
        if m.drop_at_least is not None:
            base_s = hit.groupdict().get("base")
            if not base_s:
                return None
            base = float(base_s)
            if value < 25 and base < 25:
                value, base = value * 10, base * 10
            if not (m.range[0] <= value <= m.range[1] and m.range[0] <= base <= m.range[1]):
                return None
            if base - value < m.drop_at_least:
                return False
            return not self.explained(m, base - value)
        if not m.range[0] <= value <= m.range[1]:
            return None
        if m.by_day:
            day_s = hit.groupdict().get("day")
            day = int(day_s) if day_s else self.ctx.get("days_since")
            if day is None:
                rule: Any = m.unknown_day
            else:
                rule = next((r for r in m.by_day if day <= r.up_to_day), m.by_day[-1])
            if rule is None:
                return None
            if value > rule.true_above:
                return True
            return False if value <= rule.false_at_or_below else None
        if m.large_unit_true_above is not None and value >= 10:
            return value > m.large_unit_true_above
        if m.age_adjusted and m.true_above is not None:
            age, sex = self.ctx.get("age"), self.ctx.get("sex")
            limit = m.true_above
            if age is not None:
                limit = max(limit, (age + (10 if sex == "female" else 0)) / 2)
            return value > limit
        if m.true_at_or_above is not None:
            if value >= m.true_at_or_above:
                return True
            if m.false_below is not None:
                return False if value < m.false_below else None
            return False
        if m.true_above is not None:
            return value > m.true_above
        if m.true_below is not None:
            return value < m.true_below
        return None

    def explained(self, m: Measurement, fall: float) -> bool:
        """One of the explanations is in the note, in a sentence that does not deny it.

        A stated loss volume ("EBL 150 ml") explains the fall only when it is large enough for it.
        """
        words = _rx(m.explained_by, case_sensitive_caps=False)
        denial = _rx(m.not_explained_cues, case_sensitive_caps=False) if m.not_explained_cues else None
        for sent in self.nd.sentences:
            if denial and denial.search(sent.text):
                continue
            for hit in words.finditer(sent.text):  # "c/w EBL 250 mL + hemodilution": either may explain it
                stated = m.loss_volume and re.search(
                    m.loss_volume.pattern, sent.text[hit.end() :], re.IGNORECASE
                )
                if not stated or m.loss_volume is None:
                    return True
                litres = stated.group("unit").lower().startswith("l")
                ml = float(stated.group("volume").replace(",", "")) * (1000.0 if litres else 1.0)
                if ml >= m.loss_volume.ml_per_unit_fall * fall:
                    return True
        return False

    # ------------------------------------------------------------------ power grades
    def read_grades(self) -> None:
        power = self.lang.power
        grades = [
            t
            for t in self.nd.targets
            if t.info.kind == "grade" and self.nd.usable(t) and not self._counts_tests(t)
        ]
        preop, today = self._preop_grades(grades)
        preop_grades, todays = {id(g) for g in preop}, {id(g) for g in today}
        for g in grades:
            gm = re.search(r"([0-5])\s*[+-]?\s*/\s*5", g.text)
            if gm and id(g) in preop_grades:
                # "Right EHL 4/5 (5/5 pre-op)": full power before the operation makes today's weakness new
                self.add("preop_motor_deficit", gm.group(1) != "5", g, "preop")
        grades = [
            g
            for g in grades
            if id(g) not in preop_grades and ("HISTORICAL" not in g.flags or id(g) in todays)
        ]
        self.read_terse_grades(grades)
        if not grades:
            return
        muscle_rx = {name: _rx(words) for name, words in power.muscles.items()}
        generic = _rx(power.generic)
        graded: list[tuple[str | None, int, Target]] = []
        by_sentence: dict[int, list[Target]] = {}
        for g in grades:
            by_sentence.setdefault(g.sentence.index, []).append(g)
        for sid, gs in by_sentence.items():
            sent = self.nd.sentences[sid]
            items: list[tuple[int, str, Any]] = []
            for name, rx in muscle_rx.items():
                for mm in rx.finditer(sent.text):
                    items.append((sent.start + mm.start(), "muscle", name))
            for mm in generic.finditer(sent.text):
                items.append((sent.start + mm.start(), "muscle", None))
            paired = re.search(power.sides_header, sent.text, re.IGNORECASE) is not None
            for g in gs:
                gm = re.search(r"([0-5])\s*([+-]?)\s*/\s*([0-5])", g.text)
                if gm is None or (gm.group(3) != "5" and not paired):
                    continue  # "3/4" is a grade only as a right/left pair
                grade = int(gm.group(1)) if gm.group(3) == "5" else min(int(gm.group(1)), int(gm.group(3)))
                if grade == 5 and gm.group(2) == "-":
                    grade = 4  # "5-/5" is short of full power
                items.append((g.start, "grade", (grade, g)))
            items.sort(key=lambda x: x[0])
            pending: list[str | None] = []
            last: list[str | None] = [None]
            last_grade: tuple[int, Target] | None = None
            for _, kind, val in items:
                if kind == "muscle":
                    pending.append(val)
                    continue
                grade, g = val
                muscles = pending or last
                for mu in muscles:
                    graded.append((mu, grade, g))
                last, pending, last_grade = muscles, [], (grade, g)
            if pending and last_grade is not None:
                for mu in pending:
                    graded.append((mu, last_grade[0], last_grade[1]))
        if not graded:
            return
        held_back = _rx(power.not_weakness_after, case_sensitive_caps=False)
        below = [(mu, gr, g) for mu, gr, g in graded if gr < 5]
        weak = [
            (mu, gr, g)
            for mu, gr, g in below
            if not held_back.match(self.nd.text[g.end : g.end + 30].lstrip(" ([-–,"))
        ]
        if weak:
            for _mu, _gr, g in weak[:1]:
                self.add("leg_weakness", True, g, "grade")
                self.qualify_reading("leg_weakness", g)  # "4+/5 globally, unchanged from 2024"
        elif not below:
            g0 = graded[0][2]
            for fid in ("leg_weakness", "new_motor_deficit", "progressive_weakness"):
                self.add(fid, False, g0, "grade")
        for mu, gr, g in graded:
            if mu in power.foot_drop_muscles:
                if gr <= power.foot_drop_at_or_below:
                    self.add("foot_drop", True, g, "grade")
                elif gr == 5:
                    self.add("foot_drop", False, g, "grade")
        femoral_weak = [g for mu, gr, g in graded if mu in power.femoral_muscles and gr < 5]
        if femoral_weak:
            low = self.nd.text.lower()
            if any(p.lower() in low for group in power.femoral_support for p in group):
                self.add("femoral_nerve_deficit", True, femoral_weak[0], "grade")

    def _counts_tests(self, grade: Target) -> bool:
        """A grade in a sentence about provocation tests and naming no muscle: a count of positive tests."""
        power = self.lang.power
        sentence = grade.sentence.text
        if not _rx(power.test_counts).search(sentence):
            return False
        return not any(_rx(words).search(sentence) for words in power.muscles.values())

    def read_grade_table(self) -> None:
        """A power table with a column per examination ("Power (MRC)  08:30 R/L  14:10 R/L" over rows like
        "Ankle DF  5 / 5  3 / 2"), or one headed by sides ("Examination (R / L)"): the last column is today's
        power, and a row weaker in a later column than in an earlier one is progressive weakness. A first
        column headed pre-op is read as before the operation; reflex rows ("KJ 2+ / 1+") give a lost
        reflex."""
        starts = self.nd.line_starts
        lines = [self.nd.line_text(i)[1] for i in range(len(starts))]
        for i, header in enumerate(lines):
            sides = TABLE_SIDES.search(header) is not None
            if not (POWER_TABLE_HEADER.search(header) or sides):
                continue
            columns = len(TABLE_COLUMN.findall(header))
            if columns < 2 and not sides:
                continue
            columns = max(columns, 1)
            preop_first = bool(self.preop.search(header.split("R/L")[0] if "R/L" in header else header))
            weakest_now, worse, first_full_now_weak = 5, None, False
            for j in range(i + 1, min(len(lines), i + 16)):
                if TABLE_REFLEX.search(lines[j]):
                    # "KJ  2+ / 1+": a reflex graded 0 or 1+ beside a 2+ on the other side is lost
                    pairs = [(int(a), int(b)) for a, b in REFLEX_GRADE_PAIR.findall(lines[j])]
                    now = pairs[-1] if len(pairs) == columns else None
                    if now is not None and min(now) <= 1 and max(now) >= 2:
                        self.add("reflex_loss", True, None, "grade", starts[j], starts[j] + len(lines[j]))
                    continue
                cells = [min(int(a), int(b)) for a, b in GRADE_PAIR.findall(lines[j])]
                if len(cells) != columns:
                    if cells or not lines[j].strip():
                        break
                    continue
                start, end = starts[j], starts[j] + len(lines[j])
                weakest_now = min(weakest_now, cells[-1])
                if cells[-1] < 5:
                    self.add("leg_weakness", True, None, "grade", start, end)
                    dropped = cells[-1] <= self.lang.power.foot_drop_at_or_below
                    if dropped and TABLE_FOOT_DROP.search(lines[j]):
                        self.add("foot_drop", True, None, "grade", start, end)
                earlier = cells[1:-1] if preop_first else cells[:-1]
                if earlier and cells[-1] < min(earlier) and worse is None:
                    worse = (start, end)
                if preop_first and cells[0] == 5 and cells[-1] < 5:
                    first_full_now_weak = True
            if worse is not None:
                self.add("progressive_weakness", True, None, "grade", *worse)
            if first_full_now_weak:
                self.add("new_motor_deficit", True, None, "grade", starts[i], starts[i] + len(header))

    def read_spaced_grade_table(self) -> None:
        """A power table laid out with spaces, its columns headed by side and time ("Pre-op L  Now L  Now R",
        "Neuro   R   L"): rows of a myotome or muscle and a bare grade per column. Today's columns give
        weakness, foot drop or full power; a full pre-operative column beside a weak one today is a new
        deficit; reflex rows give a lost or a normal reflex."""
        muscles = [_rx(words) for words in self.lang.power.muscles.values()]
        starts = self.nd.line_starts
        for i in range(len(starts)):
            labels = SPACED_CELLS.split(self.nd.line_text(i)[1].strip())
            columns = [SPACED_COLUMN.match(c) for c in labels[1:] if c]
            if not labels[0] or SPACED_COLUMN.match(labels[0]):
                columns = [SPACED_COLUMN.match(c) for c in labels if c]
            if len(columns) < 2 or not all(m is not None and (m["when"] or m["side"]) for m in columns):
                continue
            preop = [bool(m and m["when"] and self.preop.search(m["when"])) for m in columns]
            power_rows: list[tuple[list[int], int, int]] = []
            weak_before = False
            for j in range(i + 1, min(len(starts), i + 20)):
                cells = SPACED_CELLS.split(self.nd.line_text(j)[1].strip())
                grades = [SPACED_GRADE.match(c) for c in cells[1:]]
                if len(grades) != len(columns) or not all(grades):
                    break
                start, end = starts[j], starts[j] + len(self.nd.line_text(j)[1])
                values = [int(g.group(1)) for g in grades if g]
                label = cells[0]
                if TABLE_REFLEX.search(label):
                    if min(values) <= 1 < max(values):
                        self.add("reflex_loss", True, None, "grade", start, end)
                    elif min(values) >= 2:
                        self.add("reflex_loss", False, None, "grade", start, end)
                    continue
                if not (MYOTOME_LABEL.match(label) or any(rx.search(label) for rx in muscles)):
                    break
                now = [v for v, p in zip(values, preop, strict=True) if not p]
                before = [v for v, p in zip(values, preop, strict=True) if p]
                power_rows.append((now, start, end))
                if min(now, default=5) < 5:
                    self.add("leg_weakness", True, None, "grade", start, end)
                    if min(now) <= self.lang.power.foot_drop_at_or_below and TABLE_FOOT_DROP.search(label):
                        self.add("foot_drop", True, None, "grade", start, end)
                    if before and min(before) == 5:
                        self.add("new_motor_deficit", True, None, "grade", start, end)
                if before and min(before) < 5:
                    weak_before = True
                    self.add("preop_motor_deficit", True, None, "grade", start, end)
            if len(power_rows) >= 3 and all(min(now, default=5) == 5 for now, _, _ in power_rows):
                _, start, end = power_rows[0]
                for fid in ("leg_weakness", "new_motor_deficit", "progressive_weakness"):
                    self.add(fid, False, None, "grade", start, end)
            if len(power_rows) >= 3 and any(preop) and not weak_before:
                _, start, end = power_rows[0]
                self.add("preop_motor_deficit", False, None, "grade", start, end)

    def read_grade_chart(self) -> None:
        """A chart of grades by the hour, as nurses keep neurological observations: a header of muscles
        ("Time | R HF | R KE | R DF | L DF | Sensation") over rows headed by a time ("04:00 | 3 | 3 | 2 | 4").
        The last row is today's power (weakness, foot drop); a muscle weaker in the last row than in the
        first is progressive weakness, and a first row at full power is a deficit new since the operation."""
        muscles = [_rx(words) for words in self.lang.power.muscles.values()]
        starts = self.nd.line_starts
        lines = [self.nd.line_text(i)[1] for i in range(len(starts))]
        for i, header in enumerate(lines):
            labels = [c for c in CHART_CELLS.split(header.strip()) if c]
            names = [CHART_SIDE.sub("", c) for c in labels[1:]]
            columns = [k for k, name in enumerate(names) if any(rx.fullmatch(name) for rx in muscles)]
            if len(columns) < 2:
                continue
            rows: list[tuple[list[int], int, int]] = []
            for j in range(i + 1, min(len(lines), i + 40)):
                cells = [c for c in CHART_CELLS.split(lines[j].strip()) if c]
                if not cells or not CHART_TIME.match(cells[0]):
                    break
                grades = [SPACED_GRADE.match(cells[1 + k]) if 1 + k < len(cells) else None for k in columns]
                if not all(grades):
                    break
                rows.append(([int(g.group(1)) for g in grades if g], starts[j], starts[j] + len(lines[j])))
            if len(rows) < 2:
                continue
            first, (last, start, end) = rows[0][0], rows[-1]
            if min(last) < 5:
                self.add("leg_weakness", True, None, "grade", start, end)
                drop_columns = [k for k, col in enumerate(columns) if TABLE_FOOT_DROP.search(names[col])]
                if any(last[k] <= self.lang.power.foot_drop_at_or_below for k in drop_columns):
                    self.add("foot_drop", True, None, "grade", start, end)
                if min(first) == 5:
                    self.add("new_motor_deficit", True, None, "grade", start, end)
            if any(now < then for now, then in zip(last, first, strict=True)):
                self.add("progressive_weakness", True, None, "grade", start, end)
            elif all(min(grades) == 5 for grades, _, _ in rows):
                for fid in ("leg_weakness", "progressive_weakness"):
                    self.add(fid, False, None, "grade", start, end)

    def _preop_grades(self, grades: list[Target]) -> tuple[list[Target], list[Target]]:
        """The grades told as before the operation, and those beside them that are today's. In a sentence with
        one pre-operative cue and several grades ("EHL 3/5, was 5/5 pre-op") only the grade nearest the cue is
        pre-operative, flagged historical or not ("4+/5 (5/5 at her pre-operative assessment)")."""
        out: list[Target] = []
        today: list[Target] = []
        by_sentence: dict[int, list[Target]] = {}
        # text copied forward from a pre-operative note ("[Copied forward from pre-op clerking: 'Power 5/5
        # throughout.']"): its grades are from before the operation, whatever their own sentence says
        copied_preop = [
            (a, b) for a, b in self.nd.copied if self.preop.search(self.nd.text[a:b].split(":", 1)[0])
        ]
        for g in grades:
            if any(a <= g.start < b for a, b in copied_preop):
                out.append(g)
            elif self.preop.search(g.sentence.text):
                by_sentence.setdefault(g.sentence.index, []).append(g)
        for gs in by_sentence.values():
            sentence = gs[0].sentence
            cues = [sentence.start + m.start() for m in self.preop.finditer(sentence.text)]
            in_sentence = [g for g in grades if g.sentence.index == sentence.index]
            same = SAME_AS_BEFORE.search(sentence.text[: cues[0] - sentence.start]) if cues else None
            if len(cues) != 1 or len(in_sentence) < 2 or same:  # "4/5 (unchanged from pre-op)" is today's
                out.extend(g for g in gs if "HISTORICAL" in g.flags)
                continue
            nearest = min(in_sentence, key=lambda g: min(abs(g.start - cues[0]), abs(g.end - cues[0])))
            out.append(nearest)
            today.extend(g for g in in_sentence if g is not nearest)
        return out, today

    def read_grade_progression(self) -> None:
        """'EHL 4/5 yesterday, now 2/5', 'deteriorated from 4/5 to 2/5', 'TA 2/5 (was 4/5 on admission)', or
        'Yesterday EHL 4/5. Today EHL 2/5.': a grade weaker than the one told before it after the operation
        is progressive weakness. Comparisons with a pre-operative grade are a new deficit (read_grades)."""
        prog = self.lang.power.progression
        by_sentence: dict[int, list[tuple[float, Target]]] = {}
        for t in self.nd.targets:
            usable = t.info.kind == "grade" and self.nd.usable(t) and not self._counts_tests(t)
            gm = GRADE_OF_5.search(t.text) if usable else None
            if gm is not None:
                value = int(gm.group(1)) + {"+": 0.3, "-": -0.3}.get(gm.group(2), 0.0)
                by_sentence.setdefault(t.sentence.index, []).append((value, t))
        text = self.nd.text
        pairs: list[tuple[float, float, Target, Target]] = []  # earlier, later
        for gs in by_sentence.values():
            gs.sort(key=lambda x: x[1].start)
            if self.preop.search(gs[0][1].sentence.text):
                continue
            for (va, a), (vb, b) in itertools.pairwise(gs):
                between = text[a.end : b.start]
                if len(between) > 60:
                    continue
                lead = re.match(prog.earlier_after, between, re.I)
                if re.match(prog.then, between[lead.end() if lead else 0 :], re.I):
                    pairs.append((va, vb, a, b))
                elif re.match(prog.was, between, re.I) or re.match(
                    prog.earlier_after, text[b.end : b.end + 40], re.I
                ):
                    pairs.append((vb, va, a, b))
        for index in sorted(by_sentence):
            following = by_sentence.get(index + 1)
            first = self.nd.sentences[index]
            if following is None or self.preop.search(first.text):
                continue
            second = self.nd.sentences[index + 1]
            if re.search(prog.earlier_sentence, first.text, re.I) and re.search(
                prog.current_sentence, second.text, re.I
            ):
                (va, a), (vb, b) = by_sentence[index][-1], following[0]
                pairs.append((va, vb, a, b))
        for earlier, later, a, b in pairs:
            if later < earlier:
                self.add("progressive_weakness", True, None, "grade", a.start, b.end)
                self.add("leg_weakness", True, None, "grade", a.start, b.end)
                return

    def read_root_blocks(self) -> None:
        """'L5 root block at the operated level: about 90% relief' / '... made no difference': a diagnostic
        block, and its result, in one sentence (half or more relief counts). The operated level's when the
        sentence says so or names only operated levels; another level's when it names only others ('right L5
        root block at the L5/S1 foramen abolished his leg pain' after an L4/5 discectomy)."""
        operated = set(self.ctx.get("levels") or [])
        done: set[str] = set()
        for sent in self.nd.live_sentences():
            text = sent.text
            if not ROOT_BLOCK.search(text) or HEDGED_PLAN.search(text):
                continue
            named = {lv for lv, _, _ in parse_levels(text, sent.start)}
            if OPERATED_ROOT.search(text) or (operated and named and named <= operated):
                finding = "root_block_relief_operated_level"
            elif operated and named and not named & operated:
                finding = "root_block_relief_other_level"
            else:
                continue
            percent = RELIEF_PERCENT.search(text)
            if NO_RELIEF.search(text):
                value = False
            elif percent is not None:
                value = int(percent.group(1)) >= self.lang.finding_rules.root_block_relief_percent
            elif RELIEF_WORDS.search(text):
                value = True
            else:
                continue
            if finding not in done:
                done.add(finding)
                self.add(finding, value, None, "root_block", sent.start, sent.end)

    def read_terse_grades(self, grades: list[Target]) -> None:
        """'power 5/5 ex R EHL 3, R PF 4': a muscle name and a bare 0-4 in a sentence that grades power."""
        power = self.lang.power
        graded_sentences = {g.sentence.index for g in grades}
        for sent in self.nd.live_sentences():
            if sent.index not in graded_sentences and not POWER_WORD.search(sent.text):
                continue
            if self.preop.search(sent.text):
                continue
            for name, words in power.muscles.items():
                for m in _terse_grade_rx(tuple(words)).finditer(sent.text):
                    start, end = sent.start + m.start(), sent.start + m.end()
                    self.add("leg_weakness", True, None, "grade", start, end)
                    if name in power.foot_drop_muscles and int(m.group("g")) <= power.foot_drop_at_or_below:
                        self.add("foot_drop", True, None, "grade", start, end)

    def drop_partial_full_power(self) -> None:
        """'L EHL 3/5 ... R 5/5 throughout': with a weak grade on examination, full power elsewhere is one
        side's and says nothing about progression; only the grades speak for the weakness."""
        if not any(r.finding == "leg_weakness" and r.value and r.source == "grade" for r in self.readings):
            return
        earlier = _rx(self.lang.new_deficit.earlier_cues, case_sensitive_caps=False)  # kept: read_new_deficit
        self.readings = [
            r
            for r in self.readings
            if not (
                r.finding in ("progressive_weakness", "leg_weakness", "new_motor_deficit")
                and not r.value
                and FULL_POWER.search(self.nd.text[r.start : r.end])
                and not (r.target is not None and earlier.search(r.target.sentence.text))
            )
        ]

    def read_reflex_grades(self) -> None:
        """'Achilles R 1+, L 2+', 'L patellar 1+, R 2+', 'KJ 2+/2+, AJ 2+/0': a reflex graded 0 or 1+
        beside a 2+ on the other side is a lost reflex. Right/left pairs all 2+ or more and equal ('KJ 2+/2+,
        AJ 2+/2+') are symmetrical reflexes: no lost reflex, as "reflexes symmetrical" says."""
        symmetric: tuple[int, int] | None = None
        for sent in self.nd.live_sentences():
            if "HISTORICAL" in self._sentence_flags(sent) or self.preop.search(sent.text):
                continue
            slashed = [(int(m.group(1)), int(m.group(2)), m) for m in REFLEX_SLASH_PAIR.finditer(sent.text)]
            if slashed and symmetric is None and all(g1 == g2 >= 2 for g1, g2, _ in slashed):
                symmetric = (sent.start + slashed[0][2].start(), sent.start + slashed[-1][2].end())
            sided = [
                (int(m.group("g1") or m.group("g1b")), int(m.group("g2") or m.group("g2b")), m)
                for m in REFLEX_PAIR.finditer(sent.text)
            ]
            for g1, g2, m in slashed + sided:
                if min(g1, g2) <= 1 and max(g1, g2) >= 2:
                    start, end = sent.start + m.start(), sent.start + m.end()
                    self.add("reflex_loss", True, None, "reflex_grade", start, end)
                    return
        if symmetric is not None:
            self.add("reflex_loss", False, None, "reflex_grade", *symmetric)

    def _sentence_flags(self, sent: Any) -> frozenset[str]:
        flags: set[str] = set()
        for t in self.nd.targets:
            if t.sentence.index == sent.index:
                flags |= t.flags
        return frozenset(flags)

    # ------------------------------------------------------------------ symptoms before the operation
    def read_long_preop(self) -> None:
        """'three years of leg pain before surgery' / 'sciatica for about 3 months before the op'."""
        from rootcause.adapters.notes.timewords import durations

        tl = self.lang.timeline
        leg = _rx(
            [*tl.leg_words, "sciatica", "symptoms", "pain", "radiculopathy", "radicular", "claudication"],
            case_sensitive_caps=False,
        )
        for sent in self.nd.live_sentences():
            indication = INDICATION.search(
                sent.text
            )  # "Indication: 2 years of ...", "TLIF ... for ... x 3 years"
            if not (self.preop.search(sent.text) or indication) or not leg.search(sent.text):
                continue
            t = next((x for x in self.nd.targets if x.sentence.index == sent.index), None)
            if t is not None and t.flags & {"POSSIBLE_EXISTENCE", "HYPOTHETICAL", "FAMILY"}:
                continue
            if re.search(r"\b(?:may|might|maybe|possibly|thinks?|not\s+sure)\b", sent.text, re.I):
                continue
            for d in durations(self.lang, sent.text, sent.start):
                before = self.nd.text[max(sent.start, d.start - 20) : d.start].lower()
                after = self.nd.text[d.end : d.end + 12].lower()
                if not (
                    re.match(r"\s*(?:of\b|'s?\s+duration|s'\s+duration)", after)
                    # "for about 3 years", "x 2 yrs", "since 3 years", "of 8 months' duration", "for the past"
                    or re.search(
                        r"\b(?:for|x|since|of|going\s+back|dating\s+back)\s*(?:the\s+(?:past|last)\s+)?"
                        r"(?:about|around|over|nearly|almost|~)?\s*$",
                        before,
                    )
                ):
                    continue
                unit = re.search(r"(day|week|fortnight|month|year|/7|/52|/12|yr|wk|mth)", d.text.lower())
                if d.days is not None:
                    value: bool | None = d.days > tl.long_preop_days
                elif unit and unit.group(1) in ("year", "yr"):
                    value = True
                elif unit and unit.group(1) in ("day", "week", "wk", "fortnight", "/7", "/52"):
                    value = False
                else:
                    value = None
                if value is not None:
                    self.add("long_preop_symptoms", value, None, "preop_duration", d.start, d.end)
                    return

    # ------------------------------------------------------------------ new motor deficit
    def read_new_deficit(self, values: dict[str, bool]) -> None:
        if values.get("preop_motor_deficit") is True:
            return
        exam_weak = [
            r
            for r in self.readings
            if r.value
            and r.finding in ("leg_weakness", "foot_drop", "femoral_nerve_deficit")
            and (r.source == "grade" or (r.target is not None and self.exam_context(r.target)))
        ]
        if not exam_weak:
            return
        hist = [
            r
            for r in self.readings
            if r.value
            and r.finding in self.lang.new_deficit.history_findings
            and r.source in ("lex", "frame")
            and r.target is not None
            and not self.exam_context(r.target)
        ]
        earlier = _rx(self.lang.new_deficit.earlier_cues, case_sensitive_caps=False)
        before = [
            r
            for r in self.readings
            if not r.value
            and r.finding == "leg_weakness"
            and r.target is not None
            and earlier.search(r.target.sentence.text)
        ]
        preop_normal = values.get("preop_motor_deficit") is False
        if hist or before or preop_normal:
            first = exam_weak[0]
            self.add("new_motor_deficit", True, first.target, "new_deficit", first.start, first.end)
        since_operation = _rx(self.lang.new_deficit.since_operation_cues, case_sensitive_caps=False)
        if any(r.target is not None and since_operation.search(r.target.sentence.text) for r in before):
            first = exam_weak[0]
            self.add("progressive_weakness", True, first.target, "new_deficit", first.start, first.end)

    # ------------------------------------------------------------------ all
    def resolve(self) -> dict[str, bool]:
        """Present wins, except that a symptom said to be over now ("now voiding normally") is absent."""
        values: dict[str, bool] = {}
        for r in self.readings:
            values[r.finding] = values.get(r.finding, False) or r.value
        since = set(self.lang.finding_rules.since_surgery)
        for fid, v in values.items():
            if not v or fid in since:
                continue
            pos = [r for r in self.readings if r.finding == fid and r.value and r.target is not None]
            neg = [r for r in self.readings if r.finding == fid and not r.value and r.target is not None]
            past = all(r.target is not None and PAST.search(r.target.sentence.text) for r in pos)
            now = any(  # "now voiding normally", "saddle sensation has fully returned", "retention resolved"
                NOW.search(
                    self.nd.text[
                        max(r.target.sentence.start, r.start - 40) : min(r.target.sentence.end, r.end + 20)
                    ]
                )
                for r in neg
                if r.target
            )
            if pos and neg and past and now:
                values[fid] = False
            if fid in self.lang.finding_rules.discontinuable and self.stopped_later(pos, neg):
                values[fid] = False
            if self.said_later(pos, neg):
                values[fid] = False
        return values

    def said_later(self, pos: list[Reading], neg: list[Reading]) -> bool:
        """In a note of dated entries, a finding denied in a later entry than every one that reported it is
        over now ("10/09: wound red, yellow discharge ... 12/11: wound healed")."""
        entries = self.nd.entry_starts
        if len(entries) < 2 or not pos or not neg:
            return False

        def entry(r: Reading) -> int:
            return bisect.bisect_right(entries, r.start)

        return max(entry(r) for r in neg) > max(entry(r) for r in pos)

    def stopped_later(self, pos: list[Reading], neg: list[Reading]) -> bool:
        """'Discharge medicines: enoxaparin 40 mg daily ... Enoxaparin: he stopped the injections on 22/02 and
        has not restarted': every mention of the drug is one said to be stopped (and not restarted)."""
        stopped = {
            r.target.text.lower()
            for r in neg
            if r.target is not None
            and "DISCONTINUED" in r.target.flags
            and not RESTARTED.search(r.target.sentence.text)
        }
        return bool(stopped) and all(r.target is not None and r.target.text.lower() in stopped for r in pos)

    def read(self) -> tuple[dict[str, bool], list[Evidence]]:
        self.read_phrases()
        self.read_measurements()
        self.read_grades()
        self.read_grade_table()
        self.read_spaced_grade_table()
        self.read_grade_chart()
        self.read_grade_progression()
        self.read_reflex_grades()
        self.read_root_blocks()
        self.drop_partial_full_power()
        self.read_long_preop()
        self.read_new_deficit(self.resolve())
        if self.examined_normal and self.resolve().get("leg_weakness") is False:
            self.add("new_motor_deficit", False, self.examined_normal[0], "examined")
        values = self.resolve()
        evidence: list[Evidence] = []
        for r in self.readings:
            if values.get(r.finding) == r.value and r.start >= 0:
                evidence.append(
                    Evidence(f"findings.{r.finding}", r.value, r.start, r.end, self.nd.text[r.start : r.end])
                )
        for imp in self.lang.implications:
            if values.get(imp.when) is imp.is_:
                src = next((e for e in evidence if e.field == f"findings.{imp.when}"), None)
                for other, val in imp.then.items():
                    if other not in values or (val is True and values[other] is False):
                        values[other] = val
                        if src is not None:
                            evidence.append(Evidence(f"findings.{other}", val, src.start, src.end, src.text))
        return values, evidence
