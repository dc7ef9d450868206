"""Timeline of a note: days since surgery, the current leg pain's side, onset, speed and trend, the
relief the operation gave, and dated pain scores. Each value keeps the text span it came from."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from rootcause.adapters.notes.days import DaysMixin
from rootcause.adapters.notes.notedoc import NoteDoc, Sentence
from rootcause.adapters.notes.surgery import Evidence, OperationReading
from rootcause.adapters.notes.timewords import (
    DateMention,
    Duration,
    alternation,
    durations,
    month_first_note,
    words_re,
)

PREOP = re.compile(
    r"\b(?:before\s+(?:the\s+|his\s+|her\s+|my\s+)?(?:surgery|op|operation)|pre-?op(?:erative(?:ly)?)?|prior\s+to\s+(?:the\s+)?surgery"
    r"|(?:when\s+(?:i|we)\s+)?listed\s+(?:him|her|them)?\s*for\s+(?:surgery|the\s+operation)|at\s+listing)\b",
    re.IGNORECASE,
)
PREOP_PSEUDO = re.compile(
    r"\b(?:than|as|same\s+\w+\s+as|unchanged\s+from|present|there|it\s+was|they\s+were)\s+before\b|\bsince\s+before\b"
    r"|\bbefore\s+surgery\s+too\b"
    # "same as pre-op", "like before the operation": today's pain compared with the old one
    r"|\b(?:same|similar|identical|like)\s+(?:\w+\s+){0,2}?(?:as\s+|to\s+)?(?:the\s+|his\s+|her\s+|my\s+)?"
    r"(?:pre-?op(?:erative(?:ly)?)?|before\s+(?:the\s+)?(?:surgery|op|operation))\b",
    re.IGNORECASE,
)
PREOP_ATTRIBUTIVE = re.compile(
    r"\b(?:from|than|unlike|to)\s+(?:his|her|my|the|their)\s+pre-?op(?:erative)?\s+[\w-]+", re.IGNORECASE
)
COMPLAINT_CUE = re.compile(
    r"\b(?:c/o|complains?\s+of|complaining\s+of|presents?\s+with|presenting\s+with|reports?)\b", re.I
)
NEGATED_START = re.compile(r"^\W*(?:no|nil|denies|denied|not|never|without)\b", re.IGNORECASE)
PROVOKED_BY = re.compile(r"\b(?:cough(?:ing)?|sneez(?:e|ing)|valsalva|straining)\b[^.;]*$", re.I)
HEDGE = re.compile(r"\b(?:maybe|might|perhaps|possibly|not\s+sure|i\s+think|probably)\b|\?", re.IGNORECASE)
SURGERY_WORD = re.compile(
    r"\b(?:op|operation|surgery|procedure|fusion|decompression|discectomy|microdiscectomy|laminectomy|spacer)\b",
    re.I,
)
CLAUSE_BREAK = re.compile(r",\s*but\b|;|:|\bbut\b|\bhowever\b|\bwhereas\b", re.IGNORECASE)


SCORE_10 = re.compile(r"(?<![\d.])(?P<v>10|\d(?:\.\d)?)\s*/\s*10\b")
PREOP_CUE = re.compile(
    r"\bpre-?op\w*|\bbefore\s+(?:the\s+|his\s+|her\s+|my\s+)?(?:op|operation|surgery)\b|\bmorning\s+of\s+(?:the\s+)?"
    r"surgery\b|\banaesthetic\s+room\b|\bat\s+listing\b|\bpre-?operative\w*",
    re.I,
)


NEW_PAIN = re.compile(
    r"\bnew\b(?:\s+(?:onset|severe|sharp|burning|shooting|constant|[LR]|left|right|leg|and|,))*\s+"
    r"(?:leg\s+)?(?:pain|sciatica|radicular\s+pain|symptoms)\b",
    re.I,
)
# "...; since then L) thigh pain", "...; by that evening she had sharp pain": the clause before dates it
SINCE_THEN = re.compile(
    r"^\W*(?:and\s+)?(?:(?:ever\s+)?since\s+(?:then|that(?:\s+(?:day|time))?)"
    r"|(?:by|later)\s+that\s+(?:evening|night|afternoon|day)|that\s+(?:evening|night|afternoon))\b",
    re.I,
)
TREND_OPENING = re.compile(
    r"^\W*(?:it|this|these|they|the\s+pain|pain|symptoms|unchanged|stable|improving|worsening|getting|steadily"
    r"|progressively|gradually|slowly|slightly|much|a\s+(?:bit|little)|worse|better|no\s+(?:better|worse))\b",
    re.I,
)
# "At her six-week check she rated the leg 1/10", "at the 6/52 review: 3/10"
CHECK_BEFORE_SCORE = re.compile(
    r"\bat\s+(?:her|his|the|my|their)\s+(?P<when>[\w/-]+(?:\s+|-)(?:weeks?|wk|months?|/52|/12)?)[\s-]*"
    r"(?:post-?op\s+)?(?:check|review|follow-?up|appointment|visit|clinic)\b",
    re.I,
)
# a time after the operation leading a score in its sentence: "At six weeks she rated the leg pain 1/10",
# "six weeks after surgery the leg pain was 1/10", "(the operation ...:) at her wound check two weeks later
# she scored it 1/10" ("later" only in a sentence that names the operation before it)
AFTER_OP_BEFORE_SCORE = re.compile(
    r"(?:\b(?:at|by)\s+(?P<at>[\w-]+\s+(?:days?|weeks?|months?))(?!\s+(?:ago|before|pre))"
    r"|\b(?P<after>[\w-]+\s+(?:days?|weeks?|months?))\s+(?:post-?op(?:eratively)?\b|after\s+(?:the\s+|her\s+|"
    r"his\s+|my\s+)?(?:op|operation|surgery|procedure|\w*discectomy|\w*laminectomy|decompression|fusion)\b)"
    r"|(?P<op>\b(?:operation|surgery|op)\b[^.;]*?)\b(?P<later>[\w-]+\s+(?:days?|weeks?|months?))\s+later\b)"
    r"(?P<gap>[^.;]{0,60})$",
    re.I,
)
NOT_THEN = re.compile(r"\b(?:now|today|currently|at\s+present|since|ago)\b", re.I)
# a pain diary's line under a header giving the scale: "- 1 week after: 2", "4 weeks: 0, back at work"
LIST_SCORE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?P<when>[A-Za-z0-9][^:\n]{1,38}?)\s*[:=]\s*(?P<v>10|\d)(?![\d./])"
)
SCORE_SCALE = re.compile(r"\bout\s+of\s+(?:10|ten)\b|/\s*10\b|\b(?:pain\s+diary|nrs|vas)\b", re.I)
# "back" as the back, not as "came back", "crept back", "is back"
BACK_PAIN = re.compile(
    r"(?<!\bcame\s)(?<!\bcome\s)(?<!\bcrept\s)(?<!\bcoming\s)(?<!\bgone\s)(?<!\bwent\s)(?<!\bgot\s)"
    r"(?<!\bis\s)(?<!\bwas\s)(?<!\bbeen\s)\bback\b",
    re.I,
)
SCORE_NAMED = re.compile(r"\b(?:pain|nrs|vas|scored|rated|sciatica)\b", re.I)
ONSET_FIELD = re.compile(r"\bonset\s*:", re.I)
COURSE_FIELD = re.compile(r"\b(?:course|trend)\s*:", re.I)  # "Side: Right | Course: Worsening"
# "more than last week", "compared with yesterday", "same as last night": a time compared with, not an onset
COMPARED_WITH = re.compile(
    r"(?:\bthan|\bcompared\s+(?:to|with)|\bsame\s+as|\bas\s+(?:bad|good)\s+as)\s*$", re.I
)


def _around(text: str, m: re.Match[str]) -> str:
    """The words beside a score up to the next score or clause break: what it is dated by."""
    left = re.split(r"[;(]|\d\s*/\s*10", text[: m.start()])[-1][-30:]
    right = re.split(r"[;)]|\d\s*/\s*10", text[m.end() :])[0][:45]
    return left + " " + right


# the pain went and came back: its onset is that return, not the operation
RETURN_CUE = re.compile(
    r"\b(?:came\s+back|come\s+back|returned|return\s+of|recurr\w*|flared|back\s+again|started\s+again|new\s+\w*\s*pain)\b",
    re.I,
)
# "7/10 on day 1", "5/10 POD#4", "9/10 on post-op day 2": the score's own day
SCORE_POD = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:on\s+|at\s+|by\s+)?(?:pod\s*#?\s*|post-?op(?:erative)?\s+day\s+|day\s+)(?P<n>\d{1,3})\b"
    r"(?!\s*/)(?!\s*(?:of|and)\s+(?:the\s+)?(?:pain|symptoms|leg))"
)
# a score told in the past ("was 8/10", "at discharge 3/10", "carried forward from ...") is not today's
PAST_SCORE = re.compile(
    r"\b(?:was|were|had|used\s+to|previously|initially|at\s+discharge|on\s+discharge|carried\s+forward|prior|"
    r"last\s+(?:week|month|visit|review|time)|before)\b",
    re.I,
)
# "8/10 on the morning of surgery", "the eight out of ten she gave on the day of surgery": the operation's day
SCORE_SURGERY_DAY = re.compile(
    r"^\W*(?:(?:she|he|they|i|gave|given|reported|scored|rated|recorded|was|were)\s+){0,2}(?:on\s+|in\s+)?(?:the\s+)?"
    r"(?:evening|day|night|afternoon|morning)\s+of\s+(?:the\s+|her\s+|his\s+)?(?:surgery|operation|op)\b"
)
# words just before a date that make it the day something started ("since", "on", "around", "began")
ONSET_DATE_LEAD = re.compile(
    r"\b(?:since|on|around|about|from|began|begun|started|starting|came\s+back|returned|until)\b[^.;]{0,22}$",
    re.I,
)
# a spell free of pain after the operation, told by its length: "pain free for about three weeks"
WELL_FOR = re.compile(
    r"\b(?:pain[- ]free|symptom[- ]free|well|fine|great|brilliant|good|no\s+(?:leg\s+)?pain)\s+for"
    r"\s*(?:about|around|~)?\s*$"
)
WELL_BEFORE = re.compile(
    r"\b(?:was|were|had\s+been)\b[^.;]{0,40}\bfor\s+(?:about\s+|the\s+first\s+)?(?:\d+|a|an|one|two|three|four|five|six|"
    r"a\s+few|several)\s+(?:days?|weeks?|months?)\b",
    re.I,
)
# a symptom, then how long it has lasted: "buttock ache ~3/12", "thigh pain back ~5/7"
SYMPTOM_LASTED = re.compile(
    r"\b(?:pain|ache|aching|sciatica|symptoms|sx|numbness|tingling|paraesthesia)(?:\s+(?:back|again|returned|recurred))?"
    r"\s*[~≈]?\s*$",
    re.I,
)
# "from ~wk 8", "since week 6": a week of the recovery, counted from the operation
FROM_WEEK = re.compile(
    r"\b(?:from|since|at|in)\s+(?:about\s+|around\s+|~\s*)?(?:wk|week)\s*(?P<n>\d{1,2})\b", re.I
)
FROM_POSTOP = re.compile(r"(?:^|[\s(])(?:from|at)\s+(?:about|around|approx\.?|roughly|~)?\s*$", re.I)


@dataclass
class TimelineReading:
    days_since: int | None = None
    leg_pain: dict[str, Any] = field(default_factory=dict)
    pain_scores: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    note_date: dt.date | None = None
    surgery_date: dt.date | None = None


_words_re = words_re


@lru_cache(maxsize=512)
def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_ALTERNATIONS: dict[tuple[int, str, str], tuple[Any, re.Pattern[str]]] = {}


def _any_of(owner: Any, group: str, cls: str) -> re.Pattern[str]:
    """One compiled alternation of the regular expressions in owner.<cls> (relief, trend ...), built once."""
    key = (id(owner), group, cls)
    hit = _ALTERNATIONS.get(key)
    if hit is None or hit[0] is not owner:
        hit = (owner, _c("|".join(f"(?:{rx})" for rx in getattr(owner, cls))))
        _ALTERNATIONS[key] = hit
    return hit[1]


class TimeReader(DaysMixin):
    def __init__(self, nd: NoteDoc, op: OperationReading | None, note_date: dt.date | None) -> None:
        self.nd = nd
        self.lang = nd.lang
        self.op = op
        self.given_date = note_date
        tl = self.lang.timeline
        self.leg = _words_re(tl.leg_words)
        self.pain = _words_re(tl.pain_words)
        self.trend_words = _words_re(tl.trend_words)
        self.back = _words_re(tl.back_words)
        self.events = _words_re(tl.events)
        self.onset_verbs = _words_re(tl.onset_verbs)
        self.after = _c(r"^\s*(?:" + "|".join(tl.after_surgery) + r")")
        self.ago = _c(r"^\s*(?:" + "|".join(tl.ago) + r")\b")
        self.since_op = _c("|".join(tl.since_operation))
        self.no_leg_pain = _words_re(tl.no_leg_pain)
        self.cues = _words_re(tl.note_date_cues)
        labels = list(tl.surgery_date_labels)
        if not month_first_note(self.lang, nd.text):
            labels += tl.surgery_date_labels_day_first
        self.surgery_date_label = _c(r"\b(?:" + alternation(labels) + r")\s*[:=-]?\s*(?:\(\w+\)\s*)?$")
        self.out = TimelineReading()
        self.date_mentions: list[DateMention] = []
        self._legish: dict[str, bool] = {}
        self._complaints: list[Sentence] | None = None
        self.op_sentence = op.targets[0].sentence.index if op else -1
        self.exam_sentences = self._exam_sentences()
        wds = "|".join(sorted(tl.weekdays, key=len, reverse=True))
        self.weekday_rx = _c(
            rf"\b(?:since|on|last)\s+(?:last\s+)?({wds})\b|\b({wds})\s+(?:morning|afternoon|evening|night|am|pm)\b"
            rf"|\b(?:woke|waking|woken)\s+(?:up\s+)?(?:on\s+)?({wds})\b"  # "woke Sun AM with severe pain"
        )
        rel = self.lang.relief
        self._relief_any = _c(
            "|".join(f"(?:{_any_of(rel, 'relief', cls).pattern})" for cls in ("none", "partial", "complete"))
        )

    # ------------------------------------------------------------------ helpers
    def ev(self, fld: str, value: Any, start: int, end: int) -> None:
        self.out.evidence.append(Evidence(fld, value, start, end, self.nd.text[start:end]))

    def _exam_sentences(self) -> set[int]:
        nd = self.nd
        exam = set()
        for t in nd.targets:
            if t.info.kind == "grade" or (
                t.info.kind == "frame"
                and nd.lang.frames[int(t.info.key)].finding not in ("neurogenic_claudication",)
                and nd.lang.frames[int(t.info.key)].finding.endswith(
                    ("positive", "loss", "signs", "painful", "pulses", "tinel")
                )
            ):
                exam.add(t.sentence.index)
        for s in nd.sentences:
            if s.section in ("examination", "investigations"):
                exam.add(s.index)
        return exam

    def historical(self, s: Sentence) -> bool:
        text = re.sub(r"\([^()]*\)", " ", s.text) if "(" in s.text else s.text
        text = PREOP_ATTRIBUTIVE.sub(" ", text)
        return bool(PREOP.search(text)) and not PREOP_PSEUDO.search(text)

    def legish(self, text: str) -> bool:
        hit = self._legish.get(text)
        if hit is None:
            hit = (
                bool(self.leg.search(text))
                or (bool(self.pain.search(text)) and not self.back.search(text))
                or bool(ONSET_FIELD.search(text))  # a template's "Onset: 3 weeks ago | Course: Worsening"
            )
            self._legish[text] = hit
        return hit

    def complaint_sentences(self) -> list[Sentence]:
        if self._complaints is None:
            self._complaints = [
                s
                for s in self.nd.live_sentences()
                if s.index not in self.exam_sentences
                and (s.index != self.op_sentence or self._complaint_after_operation(s))
                and not self.historical(s)
            ]
        return self._complaints

    def complaint_start(self, s: Sentence) -> int:
        """Where the complaint begins: the complaint cue in the operation's sentence, else the sentence start
        (so "s/p TLIF 6 wks ago c/o ... x 4 days" dates the complaint by "x 4 days", not "6 wks ago")."""
        if s.index != self.op_sentence or self.op is None:
            return s.start
        op_end = max(t.end for t in self.op.targets if t.sentence.index == s.index) - s.start
        m = COMPLAINT_CUE.search(s.text, op_end)
        return s.start + m.start() if m else s.start

    def _complaint_after_operation(self, s: Sentence) -> bool:
        """'61 yo F s/p L4-5 TLIF 6 wks ago c/o worsening LLE pain x 4 days ...': one sentence holds both."""
        if self.op is None:
            return False
        op_end = max(t.end for t in self.op.targets if t.sentence.index == s.index) - s.start
        return bool(COMPLAINT_CUE.search(s.text, op_end))

    # ------------------------------------------------------------------ relief
    def read_relief(self) -> tuple[Sentence, int] | None:
        rel = self.lang.relief
        found: list[tuple[int, int, str, Sentence]] = []
        for sent in self.nd.live_sentences():
            if sent.index in self.exam_sentences or not (
                self.legish(sent.text) or "surg" in sent.text.lower() or SURGERY_WORD.search(sent.text)
            ):
                continue
            if not self._relief_any.search(sent.text):
                continue
            masked: list[tuple[int, int]] = []
            # the sentence names the operation, or follows the one that does ("We did a microdiscectomy on ...
            # Unfortunately the pain in the left leg was never relieved")
            surgery_named = bool(SURGERY_WORD.search(sent.text)) or (
                self.op_sentence >= 0 and sent.index in (self.op_sentence, self.op_sentence + 1)
            )
            for cls in ("none", "partial", "complete"):
                if cls == "none" and not surgery_named:
                    continue
                for m in _any_of(rel, "relief", cls).finditer(sent.text):
                    if True:
                        if any(a < m.end() and m.start() < b for a, b in masked):
                            continue
                        masked.append(m.span())
                        found.append((sent.start + m.start(), sent.start + m.end(), cls, sent))
        if not found:
            return None
        start, end, cls, sent = min(found, key=lambda f: f[0])
        self.out.leg_pain["relief_after_surgery"] = cls
        self.ev("leg_pain.relief_after_surgery", cls, start, end)
        brk = CLAUSE_BREAK.search(sent.text, end - sent.start)
        return sent, (sent.start + brk.start()) if brk else sent.end

    def read_relief_from_zero_score(self) -> None:
        """'At her six-week review she scored her leg pain 0/10': a dated leg-pain score of 0 in the first
        months after the operation (relief.zero_score_within_days) is complete relief."""
        window = self.lang.relief.zero_score_within_days
        for e in self.out.evidence:
            if e.field == "pain_scores" and e.value["nrs"] == 0 and 0 < e.value["day"] <= window:
                self.out.leg_pain["relief_after_surgery"] = "complete"
                self.ev("leg_pain.relief_after_surgery", "complete", e.start, e.end)
                return

    def read_relief_from_scores(self) -> None:
        """'R leg pain 1/10 this AM; was 9/10 at his pre-op visit': a leg-pain score before the operation and
        one after it, in a sentence and the next, give the relief (0 now: complete; at least 2 points lower:
        partial; no lower: none)."""
        live = self.nd.live_sentences()
        for i, sent in enumerate(live):
            if sent.index in self.exam_sentences or not self.legish(sent.text) or self.back.search(sent.text):
                continue
            text = sent.text
            if (
                len(SCORE_10.findall(text)) == 1
                and i + 1 < len(live)
                and not self.back.search(live[i + 1].text)
            ):
                text = self.nd.text[
                    sent.start : live[i + 1].end
                ]  # "...1/10 this AM; was 9/10 at his pre-op visit"
            scores = list(SCORE_10.finditer(text))
            if len(scores) < 2:
                continue
            before = [m for m in scores if PREOP_CUE.search(_around(text, m))]
            after = [m for m in scores if m not in before]
            if len(before) != 1 or not after:
                continue
            pre, post = float(before[0].group("v")), min(float(m.group("v")) for m in after)
            if post == 0:
                cls = "complete"
            elif post <= pre - self.lang.relief.score_drop:
                cls = "partial"
            elif post >= pre:
                cls = "none"
            else:
                continue
            self.out.leg_pain["relief_after_surgery"] = cls
            self.ev(
                "leg_pain.relief_after_surgery",
                cls,
                sent.start + before[0].start(),
                sent.start + before[0].end(),
            )
            return

    # ------------------------------------------------------------------ side
    def side_in(self, text: str, base: int) -> tuple[str, int, int] | None:
        sides = self.lang.sides
        table = {w.lower(): "left" for w in sides.left} | {w.lower(): "right" for w in sides.right}
        table |= {w.lower(): "both" for w in sides.both}
        not_after = _words_re(sides.not_side_after)
        chronic = _words_re(sides.not_side_in_chronic_clause)
        for m in re.finditer(r"(?<![\w/])([A-Za-z]+(?:-sided)?)(?![\w/])", text):
            word = m.group(1)
            side = table.get(word.lower())
            if side is None or (len(word) <= 2 and not word.isupper()):
                continue
            window = text[m.end() : m.end() + 40]
            if not_after.match(window.strip()):
                continue
            if chronic.search(_clause_around(text, m.start())):
                continue
            near = text[max(0, m.start() - 25) : m.end() + 45]
            if self.leg.search(near):
                return side, base + m.start(), base + m.end()
        return None

    def read_side(self, relief_clause: tuple[Sentence, int] | None) -> None:
        # "L leg pain (his pre-op complaint) has gone. New burning pain down the R shin": the new pain's side
        for sent in self.complaint_sentences():
            m = NEW_PAIN.search(sent.text)
            hit = self.side_in(sent.text[m.start() :], sent.start + m.start()) if m else None
            if hit:
                self._set_side(hit)
                return
        for sent in self.complaint_sentences():
            text, base = sent.text, sent.start
            if NEGATED_START.match(text):
                continue
            if relief_clause and relief_clause[0].index == sent.index:
                cut = relief_clause[1] - sent.start
                text, base = text[cut:], sent.start + cut
            hit = self.side_in(text, base)
            if hit:
                self._set_side(hit)
                return
        if relief_clause:
            sent, end = relief_clause
            hit = self.side_in(self.nd.text[sent.start : end], sent.start)
            if hit:
                self._set_side(hit)
                return
        if self.op is not None:
            sent = self.op.targets[0].sentence
            hit = self.side_in(sent.text, sent.start)
            if hit is None:
                m = re.search(r"\b(left|right)\b|(?<![\w/])([LR])(?![\w/])", sent.text)
                if m and m.start() < self.op.targets[0].start - sent.start:
                    word = m.group(0)
                    hit = (
                        "left" if word.lower() in ("left", "l") else "right",
                        sent.start + m.start(),
                        sent.start + m.end(),
                    )
            if hit:
                self._set_side(hit)

    def _set_side(self, hit: tuple[str, int, int]) -> None:
        self.out.leg_pain["side"] = hit[0]
        self.ev("leg_pain.side", hit[0], hit[1], hit[2])

    # ------------------------------------------------------------------ onset, speed
    def read_onset(self) -> Sentence | None:
        days = self.out.days_since
        relief = self.out.leg_pain.get("relief_after_surgery")
        cands = self.complaint_sentences()
        # A: "<duration> post-op / after the operation"
        for sent in cands:
            if not (
                self.pain.search(sent.text)
                or self.events.search(sent.text)
                or self.onset_verbs.search(sent.text)
            ):
                continue
            for d in durations(self.lang, sent.text, sent.start):
                rest = self.nd.text[d.end : sent.end]
                if d.start < self.complaint_start(sent):
                    continue
                if d.days is not None and self.after.match(rest) and self._set_onset(d.days, d.start, d.end):
                    return sent
                # "From about 6 weeks she noticed a gradual return": weeks counted from the operation
                lead = self.nd.text[max(sent.start, d.start - 24) : d.start]
                if (
                    d.days is not None
                    and FROM_POSTOP.search(lead)
                    and self.onset_verbs.search(rest)
                    and (days is None or d.days <= days)
                    and self._set_onset(d.days, d.start, d.end)
                ):
                    return sent
            m = FROM_WEEK.search(sent.text)
            if (
                m
                and self.onset_verbs.search(sent.text[m.end() :] + " " + sent.text[: m.start()])
                and self._set_onset(7 * int(m.group("n")), sent.start + m.start(), sent.start + m.end())
            ):
                return sent
        if days is None:
            return self._since_operation(cands)
        # C: yesterday, last night, this afternoon (unless the sentence dates the pain more closely)
        for sent in cands:
            if not (self.legish(sent.text) or self.events.search(sent.text)):
                continue
            dated = self._dated_onset(sent)
            if dated is not None and self._set_onset(*dated):
                return sent
            explicit = [
                d
                for d in durations(self.lang, sent.text, sent.start)
                if d.days is not None
                and self._dates_complaint(
                    d,
                    self.nd.text[max(sent.start, d.start - 22) : d.start].lower(),
                    self.nd.text[d.end : sent.end],
                )
            ]
            relative = self.lang.timeline.relative_days
            if not _any_of(self.lang.timeline, "timeline", "relative_days").search(sent.text):
                relative = {}
            for rx, back in relative.items():
                m = _c(rx).search(sent.text)
                if m is None or COMPARED_WITH.search(sent.text[: m.start()]):
                    continue  # "a bit stronger than last week": a comparison, not when the pain began
                pain = self.pain.search(sent.text)
                if (
                    explicit
                    and pain
                    and abs(explicit[0].start - (sent.start + pain.start())) < abs(m.start() - pain.start())
                ):
                    break
                if self._set_onset(days - back, sent.start + m.start(), sent.start + m.end(), sudden=True):
                    return sent
            m = self.weekday_rx.search(sent.text)
            if m and self.out.note_date is not None:
                wd = self.lang.timeline.weekdays[next(g for g in m.groups() if g).lower()]
                back = (self.out.note_date.weekday() - wd) % 7 or 7
                if self._set_onset(
                    days - back, sent.start + m.start(), sent.start + m.end(), sudden=back <= 2
                ):
                    return sent
        # B: "x 5/7", "for 3 months", "over the last 18 months", "ten days ago", "3/12 of ..."
        trend = self.lang.trend
        for sent in cands:
            if not (self.legish(sent.text) or self._leg_pain_since_then(sent)):
                continue
            if _any_of(trend, "trend", "stable").search(sent.text) and not self.onset_verbs.search(sent.text):
                continue  # "stable for 3 months" is how long it has been the same, unless it began then
            if (
                relief in ("partial", "none")
                and _any_of(trend, "trend", "worsening").search(sent.text)
                and not self.onset_verbs.search(sent.text)
            ):
                continue
            for d in durations(self.lang, sent.text, sent.start):
                if d.days is None or d.start < self.complaint_start(sent):
                    continue
                before = self.nd.text[max(sent.start, d.start - 22) : d.start].lower()
                rest = self.nd.text[d.end : sent.end]
                if WELL_FOR.search(before) and self._set_onset(d.days, d.start, d.end):
                    return sent  # "pain free for about three weeks": the pain came back when that ended
                if self._dates_complaint(d, before, rest) and self._set_onset(
                    days - d.days, d.start, d.end, sudden=d.days <= self.lang.speed.sudden_within_days
                ):
                    return sent
        return self._since_operation(cands)

    def _leg_pain_since_then(self, sent: Sentence) -> bool:
        """'Six weeks ago he twisted getting out of his ute and felt a twinge in his back; since then L) thigh
        pain ...': the event's sentence dates the leg pain the next one tells."""
        nxt = sent.index + 1
        if nxt >= len(self.nd.sentences):
            return False
        text = self.nd.sentences[nxt].text
        return bool(SINCE_THEN.match(text)) and self.legish(text)

    def _operation_day(self) -> dt.date | None:
        """The operation's date: as written, or the note's date less the days since surgery."""
        out = self.out
        if out.surgery_date is None and out.note_date is not None and out.days_since is not None:
            return out.note_date - dt.timedelta(days=out.days_since)
        return out.surgery_date

    def _dated_onset(self, sent: Sentence) -> tuple[int, int, int] | None:
        """'Since Sunday 17th January the pain has come back', 'began around Bonfire Night', 'On 25/05/2026
        she bent to lift ...': a date in a sentence telling the pain starting, counted from the operation."""
        surgery = self._operation_day()
        note, days = self.out.note_date, self.out.days_since
        if surgery is None or not (self.onset_verbs.search(sent.text) or RETURN_CUE.search(sent.text)):
            return None
        for d in self.date_mentions:
            if not sent.start <= d.start < sent.end or d.date == note:
                continue
            lead = self.nd.text[max(sent.start, d.start - 30) : d.start]
            if not ONSET_DATE_LEAD.search(lead) and d.start - sent.start > 3:
                continue
            value = (d.date - surgery).days
            if d.month_only and not self._month_precise_enough(d, value):
                continue  # "since January": the month's days are too many for so short a time
            if value > 0 and (days is None or value <= days):
                return value, d.start, d.end
        return None

    def _month_precise_enough(self, d: DateMention, value: int) -> bool:
        """A month-only onset (taken as its 15th) is used only when the month's spread is within the share
        the annotation rules allow (10 %) of the days counted ("from about mid-April", 154 days on)."""
        first = d.date.replace(day=1)
        last = d.date.replace(day=calendar.monthrange(d.date.year, d.date.month)[1])
        spread = max((d.date - first).days, (last - d.date).days)
        return value > 0 and spread <= self.lang.timeline.month_only_within * value

    def _dates_complaint(self, d: Duration, before: str, rest: str) -> bool:
        """'x 5/7', 'for 3 months', 'over the last 18 months', 'ten days ago', '3/12 of ...'."""
        if COMPARED_WITH.search(before):
            return False
        if SYMPTOM_LASTED.search(before):
            return True  # "R buttock pain ~8/12", "L thigh pain back ~5/7": how long it has been there
        return bool(
            re.search(
                r"(?:\bx|\bfor(?:\s+the\s+(?:last|past))?|\bover\s+the\s+(?:last|past)|\bin\s+the\s+(?:last|past)"
                r"|\bsince|\blast)\s*~?\s*(?:about\s+|around\s+)?$",
                before,
            )
            or self.ago.match(rest)
            or re.match(r"^\s*(?:(?:hx|history)\s+)?of\b", rest, re.I)
            or re.match(
                r"^\s*(?:\w+\s+){0,2}?(?:pain|ache|aching|sciatica|numbness|tingling|symptoms|swelling)\b",
                rest,
                re.I,
            )
            or d.text.lower().startswith(("the past", "the last", "past", "last"))
        )

    def _since_operation(self, cands: list[Sentence]) -> Sentence | None:
        relief = self.out.leg_pain.get("relief_after_surgery")
        for sent in cands:
            m = self.since_op.search(sent.text)
            if (
                m
                and (self.legish(sent.text) or "woke" in m.group(0).lower())
                and self._set_onset(0, sent.start + m.start(), sent.start + m.end(), sudden=relief != "none")
            ):
                return sent
        return None

    def _set_onset(self, value: int, start: int, end: int, sudden: bool = False) -> bool:
        days = self.out.days_since
        if value < 0 or (days is not None and value > days):
            return False
        self.out.leg_pain["onset_days"] = value
        self.ev("leg_pain.onset_days", value, start, end)
        if sudden:
            self.out.leg_pain["onset_speed"] = "sudden"
            self.ev("leg_pain.onset_speed", "sudden", start, end)
        return True

    def read_speed(self, onset_sentence: Sentence | None) -> None:
        if "onset_speed" in self.out.leg_pain:
            return
        if onset_sentence is None:
            # no day of onset, but how it came is told: "It came on gradually and it's getting worse"
            hits = self._speed_hits([s for s in self.complaint_sentences() if self.legish(s.text)])
        else:
            sents = [onset_sentence]
            nxt = onset_sentence.index + 1
            if nxt < len(self.nd.sentences) and self.nd.sentences[nxt].text:
                sents.append(self.nd.sentences[nxt])
            hits = self._speed_hits(sents)
            if not hits:  # "CC: thigh pain x 6 wks. ... she developed it; came on over a day or two"
                later = [s for s in self.complaint_sentences() if s.index > nxt]
                hits = self._speed_hits([s for s in later if self.onset_verbs.search(s.text)])
        if len(hits) == 1:
            cls, (s, e) = next(iter(hits.items()))
            self.out.leg_pain["onset_speed"] = cls
            self.ev("leg_pain.onset_speed", cls, s, e)

    def _speed_hits(self, sents: list[Sentence]) -> dict[str, tuple[int, int]]:
        hits: dict[str, tuple[int, int]] = {}
        for sent in sents:
            for cls in ("sudden", "gradual"):
                for rx in getattr(self.lang.speed, cls):
                    m = _c(rx).search(sent.text)
                    if m and cls not in hits:
                        hits[cls] = (sent.start + m.start(), sent.start + m.end())
        return hits

    # ------------------------------------------------------------------ trend
    def read_trend(self) -> None:
        found: dict[str, tuple[int, int]] = {}
        hedged = False
        exclude = _words_re(self.lang.timeline.trend_exclude_after)
        for sent in self.complaint_sentences():
            text = sent.text
            # a sentence about the complaint without naming it: "It ...", "Worse again over the last month",
            # "Steadily worse since", "slightly better this week", a template's "Course: worsening"
            starts_ok = TREND_OPENING.match(text) or COURSE_FIELD.search(text)
            if self.back.search(text) and not self.leg.search(text):
                continue
            if not (self.trend_words.search(text) or starts_ok):
                continue
            for cls in ("improving", "stable", "worsening"):
                for m in _any_of(self.lang.trend, "trend", cls).finditer(text):
                    if True:
                        if exclude.match(text[m.end() :].strip()):
                            continue
                        if PROVOKED_BY.search(text[max(0, m.start() - 40) : m.start()]):
                            continue  # "Cough/sneeze/Valsalva: no change": what coughing does, not the course
                        window = text[max(0, m.start() - 25) : m.end() + 6]
                        if HEDGE.search(window):
                            hedged = True
                            continue
                        found.setdefault(cls, (sent.start + m.start(), sent.start + m.end()))
        if len(found) == 1 and not hedged:
            cls, (s, e) = next(iter(found.items()))
            self.out.leg_pain["trend"] = cls
            self.ev("leg_pain.trend", cls, s, e)

    # ------------------------------------------------------------------ pain scores
    def read_scores(self) -> None:
        days = self.out.days_since
        nd = self.nd
        scores = [t for t in nd.targets if t.info.kind == "score" and nd.usable(t)]
        seen: set[tuple[int, float]] = set()
        for i, t in enumerate(scores):
            m = re.search(r"\d{1,3}(?:\.\d)?", t.text)
            if m is None:
                continue
            value = float(m.group()) / (10 if re.search(r"mm\s*$", t.text) else 1)
            if value > 10:
                continue
            sent = t.sentence
            prev_end = scores[i - 1].end if i and scores[i - 1].sentence.index == sent.index else sent.start
            lead = nd.text[prev_end : t.start].lower()
            if BACK_PAIN.search(lead) and not re.search(r"\bleg|sciatica|nrs\b", lead):
                continue  # a back pain score (not "the pain crept back ..., and it is 7/10 today")
            nxt = scores[i + 1].start if i + 1 < len(scores) else sent.end
            tail = nd.text[t.end : min(nxt, sent.end + 80)]
            day = self._score_day(tail, days)
            if day is None:
                day = self._score_date(t.end, min(nxt, sent.end, t.end + 40))
            undated = bool(PREOP.search(tail[:40]))
            if day is None and not undated:
                day = self._score_lead_date(max(prev_end, sent.start, t.start - 40), t.start)
            if day is None and not undated:
                day = self._score_check_day(nd.text[sent.start : t.start])
            if day is None and not undated:
                day = self._entry_day(t.start)
            if (
                day is None
                and not undated
                and re.search(
                    r"\b(?:today|now|currently|at\s+present)\b", nd.text[sent.start : t.start], re.I
                )
            ):
                day = days
            if (
                day is None
                and not undated
                and days is not None
                and (self.leg.search(lead) or self.leg.search(t.text))
                and not PAST_SCORE.search(nd.text[sent.start : t.start])
                and sent.index not in self.exam_sentences
            ):
                day = days  # "leg NRS 8/10.", "NPRS leg 6/10, back 7/10": a present score is today's
            if day is None or (days is not None and day > days):
                continue
            value = round(value, 1)
            key = (day, value)
            if key in seen:
                continue
            seen.add(key)
            self.out.pain_scores.append({"day": day, "nrs": int(value) if value.is_integer() else value})
            self.ev("pain_scores", {"day": day, "nrs": value}, t.start, t.end)
        self.out.pain_scores.sort(key=lambda sc: sc["day"])

    def read_score_list(self) -> None:
        """A pain diary as a list under a header giving the scale ("(right leg, out of 10):" then "- day
        before the op: 8", "- 1 week after: 2", "- 4 weeks: 0"): each line's time and score."""
        days, nd = self.out.days_since, self.nd
        seen = {(sc["day"], sc["nrs"]) for sc in self.out.pain_scores}
        scale_until = -1  # the last line a scale header above still covers
        added = False
        for i in range(len(nd.line_starts)):
            start, line = nd.line_text(i)
            m = LIST_SCORE.match(line)
            if m is None:
                if SCORE_SCALE.search(line):
                    scale_until = i + 1
                continue
            if i > scale_until:
                continue
            scale_until = i + 1  # the list goes on line by line
            day = self._list_day(m["when"], days)
            if day is None or (days is not None and day > days) or (day, int(m["v"])) in seen:
                continue
            seen.add((day, int(m["v"])))
            self.out.pain_scores.append({"day": day, "nrs": int(m["v"])})
            self.ev(
                "pain_scores", {"day": day, "nrs": float(m["v"])}, start + m.start("v"), start + m.end("v")
            )
            added = True
        if added:
            self.out.pain_scores.sort(key=lambda sc: sc["day"])

    def _list_day(self, when: str, days: int | None) -> int | None:
        """The day a diary line's time names: "day before the op", "1 week after", "4 weeks", "POD 3",
        "today"; None for one it does not place (an undated "pre-op")."""
        low = when.lower().strip()
        if re.search(r"\bday\s+before\s+(?:the\s+|my\s+)?(?:op|operation|surgery)\b", low):
            return -1
        if re.search(r"\b(?:today|now|currently|this\s+morning)\b", low):
            return days
        if PREOP.search(low):
            return None
        pod = SCORE_POD.match(low)
        if pod:
            return int(pod["n"])
        found = [d.days for d in durations(self.lang, when) if d.days is not None]
        if not found:
            return None
        if re.search(r"\bago\b", low):
            return None if days is None else days - found[0]
        return found[0]

    def _score_lead_date(self, start: int, end: int) -> int | None:
        """'He attended the ED on 28/01/2026 (leg pain 8/10)', 'at the review on 12/01/2026 she scored her leg
        pain 1/10': a date just before a score that names the pain (not a block's '(12/01/2026): 7 to 1')."""
        surgery = self._operation_day()
        if surgery is None:
            return None
        before = [d for d in self.date_mentions if start <= d.start and d.end <= end and not d.month_only]
        if not before or not SCORE_NAMED.search(self.nd.text[before[-1].end : end]):
            return None
        return (before[-1].date - surgery).days

    def _score_check_day(self, lead: str) -> int | None:
        """'At her six-week check she rated the leg 1/10': a review named by its time after surgery; or a time
        after the operation that leads the score in its sentence (AFTER_OP_BEFORE_SCORE), with nothing
        between them that moves it to now."""
        whens = []
        m = CHECK_BEFORE_SCORE.search(lead)
        if m is not None:
            whens.append(m.group("when"))
        after = AFTER_OP_BEFORE_SCORE.search(lead)
        if after is not None and not NOT_THEN.search(after.group("gap")):
            whens.append(after.group("at") or after.group("after") or after.group("later"))
        for when in whens:
            found = durations(self.lang, when)
            if found and found[0].days is not None:
                return found[0].days
        return None

    @cached_property
    def _entry_dates(self) -> list[tuple[int, dt.date]]:
        """(line start, date) of each entry header: a line opening with a full date, or with a label and
        one ("19/01/2026 (POD 7, outbound call):", "Session 1 - 26/05/2026 (2/52 post-op)")."""
        heads = [
            (self.nd.line_starts[self.nd.line_of(d.start)], d.date)
            for d in self.date_mentions
            if not d.month_only and not d.year_missing and self._heads_line(d)
        ]
        return heads if len(heads) >= 2 else []

    def _entry_day(self, at: int) -> int | None:
        """The day of the dated entry a score is written in, in a note of several dated entries."""
        surgery = self._operation_day()
        heads = [when for start, when in self._entry_dates if start <= at]
        if surgery is None or not heads:
            return None
        return (heads[-1] - surgery).days

    def _score_date(self, start: int, end: int) -> int | None:
        """'0 mm on 07/22/25', '8/10 at pre-op consult 06/23/26': a score dated by a date just after it."""
        surgery = self._operation_day()
        if surgery is None:
            return None
        for d in self.date_mentions:
            if start <= d.start < end and not d.month_only:
                return (d.date - surgery).days
        return None

    def _score_day(self, tail: str, days: int | None) -> int | None:
        low = tail.lower()
        pod = SCORE_POD.match(low)
        if pod:
            return int(pod.group("n"))
        if SCORE_SURGERY_DAY.match(low):
            return 0
        if re.match(
            r"^\W*(?:\w+\W+){0,3}?(?:today|now|currently|at\s+present|this\s+morning|at\s+rest\s+today"
            # "7/10 every day since", "8/10 since;": still so
            r"|every\s+day\s+since|ever\s+since|since(?=\s*(?:[;.,)]|$)))\b",
            re.split(r"[.;\n]", low, maxsplit=1)[0],  # its own clause: not "3/10. Burning now only when ..."
        ):
            return days
        if re.search(r"\bthe\s+day\s+before\s+(?:the\s+)?(?:surgery|operation|op)\b", low):
            return -1
        for d in durations(self.lang, tail):
            if d.days is None:
                continue
            rest = tail[d.end :].lower()
            if re.match(
                r"^\s*(?:before\s+(?:the\s+|his\s+|her\s+|my\s+)?(?:surgery|operation|op)|pre-?op)", rest
            ):
                return -d.days
            if re.match(
                r"^\s*(?:review|check|follow-?up|clinic|appointment|visit|wound\s+(?:check|review)|post)",
                rest,
            ) or re.match(r"^\s*-?\s*(?:week|month)?\s*(?:review|check)", rest):
                return d.days
            if re.match(
                r"^[^\w.;]*(?:at|by)\s+(?:the\s+|her\s+|his\s+|my\s+|their\s+)?(?:about\s+|around\s+)?$",
                low[: d.start],
            ) and not re.match(r"^\s*(?:ago|of\b)", rest):
                return d.days  # "3/10 at 6 weeks"
            if (
                days is not None
                and re.match(r"^\W*(?:about\s+|around\s+)?$", low[: d.start])
                and re.match(r"^\s*ago\b", rest)
            ):
                return days - d.days  # "8/10 two weeks ago"
            break
        return None

    # ------------------------------------------------------------------ all
    out: TimelineReading

    def read(self) -> TimelineReading:
        self.read_days()
        relief_clause = self.read_relief()
        # "no leg pain" now; not "was walking great for 3 weeks, no leg pain at all" before it came back
        no_pain = any(
            self.no_leg_pain.search(s.text) and not WELL_BEFORE.search(s.text)
            for s in self.nd.live_sentences()
            if s.index not in self.exam_sentences
        )
        self.read_scores()
        self.read_score_list()
        if "relief_after_surgery" not in self.out.leg_pain:
            self.read_relief_from_scores()
        if "relief_after_surgery" not in self.out.leg_pain:
            self.read_relief_from_zero_score()
        if not no_pain:
            self.read_side(relief_clause)
            onset_sentence = self.read_onset()
            self.read_speed(onset_sentence)
            self.read_trend()
            relief = self.out.leg_pain.get("relief_after_surgery")
            if "onset_days" not in self.out.leg_pain and relief == "none":
                ev = next(e for e in self.out.evidence if e.field == "leg_pain.relief_after_surgery")
                self._set_onset(0, ev.start, ev.end)
            returned = any(RETURN_CUE.search(s.text) for s in self.complaint_sentences())
            if (
                "onset_days" not in self.out.leg_pain
                and relief in ("partial", "none")
                and self.out.leg_pain.get("trend") != "worsening"
                and (any(s["day"] == self.out.days_since for s in self.out.pain_scores) or not returned)
            ):
                ev = next(e for e in self.out.evidence if e.field == "leg_pain.relief_after_surgery")
                self._set_onset(0, ev.start, ev.end)
        return self.out


def read_timeline(nd: NoteDoc, op: OperationReading | None, note_date: dt.date | None) -> TimelineReading:
    return TimeReader(nd, op, note_date).read()


_CLAUSE_BREAK = re.compile(r"\b(?:but|however|whereas|although|though)\b|;", re.IGNORECASE)


def _clause_around(text: str, at: int) -> str:
    """The clause of `text` holding offset `at`, between contrastive conjunctions or semicolons."""
    start, end = 0, len(text)
    for b in _CLAUSE_BREAK.finditer(text):
        if b.end() <= at:
            start = b.end()
        elif b.start() > at:
            end = b.start()
            break
    return text[start:end]
