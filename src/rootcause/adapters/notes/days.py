"""Days since surgery: dates (the operation's and the note's), durations attached to the operation
("14/12 ago", "6/52 post", "day 10 after"), "POD n", and headers ("5/52 post-op")."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rootcause.adapters.notes.language import NoteLanguage
from rootcause.adapters.notes.notedoc import LINE_MARKER, NoteDoc, Sentence
from rootcause.adapters.notes.surgery import OperationReading
from rootcause.adapters.notes.timewords import DateMention, dates, durations, month_only_days, words_re

# what may come before a date heading an entry: nothing, a bullet, or a short label ("Call 3 - ", "Visit 2:",
# "Call 1, ", "6-week review "); read by the note's date and by the day of each entry's pain scores
# what may open a line before its entry's date: a bullet or a chronology's number ("1.3 22/08/2022:"), then a
# short label ("Call 3 - ", "Spinal Outpatients, ")
ENTRY_PREFIX = re.compile(rf"^[ \t]*{LINE_MARKER}?(?:[A-Za-z][\w.#/ -]{{0,23}}?\s*[-–:,]?\s*)?$")
# a heading line that ends with its date: "2. Present complaints (15/01/2025)", "Clinic review - 03/06/2025:"
HEADING_BEFORE = re.compile(rf"^[ \t]*{LINE_MARKER}?[A-Za-z][\w#/&, -]{{0,40}}?[\s(:,–-]*$")
HEADING_AFTER = re.compile(r"^[\s)\]]*[:–-]?\s*$")
HEADING_CHARS = 200  # a note's heading: its first lines
# "POD 3", "post-op day 3", "day 3 post-op", "D1 post open laminectomy", "D+9"
POD = re.compile(
    r"\b(?:POD|post-?op(?:erative)?\s+day|day|D(?=\+?\d))\s*(?::\s*)?\+?#?\s*(?P<n>\d{1,3})\b(?!\s*/)",
    re.IGNORECASE,
)
# "L4/5 TLIF yesterday", "discectomy this morning": the operation's own day
OP_DAY = re.compile(
    r"^[^.;,]{0,25}?\b(?P<word>yesterday|today|this\s+morning|this\s+afternoon)\b", re.IGNORECASE
)
DAY_AFTER = re.compile(r"\bday\s+(?P<n>\d{1,3}|\w+)\s+(?:after|post|following)\b", re.IGNORECASE)


class DaysMixin:
    """read_days for TimeReader (timeline.py), which provides these attributes."""

    nd: NoteDoc
    lang: NoteLanguage
    op: OperationReading | None
    given_date: dt.date | None
    out: Any
    after: re.Pattern[str]
    ago: re.Pattern[str]
    pain: re.Pattern[str]
    events: re.Pattern[str]
    cues: re.Pattern[str]
    surgery_date_label: re.Pattern[str]
    date_mentions: list[DateMention]

    def ev(self, fld: str, value: Any, start: int, end: int) -> None:
        raise NotImplementedError

    def read_days(self) -> None:
        nd, lang = self.nd, self.lang
        first = dates(lang, nd.text, self.given_date)
        if self.given_date is None:
            full = [d for d in first if not d.month_only and not d.year_missing]
            reference = max(d.date for d in full) if full else None
            # dates without a year ("on the 14th", "last March") are placed by the note's latest full date
            mentions = dates(lang, nd.text, reference) if reference is not None else first
        else:
            mentions = first
        self.date_mentions = mentions
        # the operation's own sentence dated by how long ago it was ("PLIF ... 6 years ago (2020)") is not
        # dated again by a later mention ("MRI (28/04/2026): stenosis above the fusion")
        op_sentence = self.op.targets[0].sentence if self.op is not None else None
        own_date = op_sentence is not None and any(
            op_sentence.start <= d.start < op_sentence.end for d in mentions
        )
        relative = op_sentence is not None and not own_date and self._relative(op_sentence, attached=True)
        surgery = None if relative else self._surgery_date(mentions)
        note = self.given_date
        if note is None:
            note_mention = self._note_date(mentions, surgery)
            if note_mention is not None:
                note = note_mention.date
        self.out.note_date = note
        if surgery is not None and note is not None:
            days = month_only_days(lang, surgery, note) if surgery.month_only else (note - surgery.date).days
            if days is not None and days >= 0:
                self.out.days_since = days
                self.out.surgery_date = surgery.date
                self.ev("days_since_surgery", days, surgery.start, surgery.end)
                return
        if self.op is not None:
            got = self._relative(self.op.targets[0].sentence, attached=True)
            if got is not None:
                self.out.days_since, s, e = got
                self.ev("days_since_surgery", got[0], s, e)
                return
        best: tuple[int, int, int] | None = None
        for sent in nd.live_sentences():
            for m in POD.finditer(sent.text):
                lead = m.group(0).lower()
                if (
                    lead.startswith("d")
                    and not lead.startswith("d+")
                    and not re.search(r"post|after", sent.text[m.end() : m.end() + 12], re.I)
                ):
                    continue
                n = int(m.group("n"))
                if best is None or n > best[0]:
                    best = (n, sent.start + m.start(), sent.start + m.end())
        if best is not None:
            self.out.days_since = best[0]
            self.ev("days_since_surgery", best[0], best[1], best[2])
            return
        for sent in nd.live_sentences():
            if self.pain.search(sent.text) or self.events.search(sent.text):
                continue
            got = self._relative(sent, attached=False)
            if got is not None:
                self.out.days_since = got[0]
                self.ev("days_since_surgery", got[0], got[1], got[2])
                return

    def _relative(self, sent: Sentence, attached: bool) -> tuple[int, int, int] | None:
        text = sent.text
        found = durations(self.lang, text, sent.start)
        for d in found:
            if d.days is None:
                continue
            rest = self.nd.text[d.end : sent.end]
            if (
                self.ago.match(rest)
                or self.after.match(rest)
                or (attached and re.match(r"^\s*(?:post|since)\b", rest, re.I))
            ):
                return d.days, d.start, d.end
        if attached and self.op is not None:
            # "post L4/5 discectomy 6/52", "(post L4/5 discectomy 6/52)"
            op_start = self.op.targets[0].start - sent.start
            if re.search(r"\b(?:post|s/p|after|following)\b[^.;]{0,30}$", text[:op_start], re.I):
                for d in found:
                    # "3 days of back pain" is how long a symptom has lasted, not the time since surgery
                    symptom = re.match(r"^\s*(?:of|hx|history|h/o)\b", self.nd.text[d.end : sent.end], re.I)
                    if d.days is not None and d.start - sent.start > op_start and not symptom:
                        return d.days, d.start, d.end
        if attached and self.op is not None:
            op_end = max(t.end for t in self.op.targets if t.sentence.index == sent.index) - sent.start
            day = OP_DAY.match(text[op_end:])
            if day:
                back = 1 if day.group("word").lower() == "yesterday" else 0
                return back, sent.start + op_end + day.start("word"), sent.start + op_end + day.end("word")
        m = DAY_AFTER.search(text)
        if m:
            n = self.lang.timeline.number_words.get(m.group("n").lower())
            val = int(m.group("n")) if m.group("n").isdigit() else (int(n) if n else None)
            if val is not None:
                return val, sent.start + m.start(), sent.start + m.end()
        for m in POD.finditer(text):
            before = text[max(0, m.start() - 16) : m.start()].lower()  # "discharged POD 1" is not today
            if attached and m.group(0).lower().startswith("pod") and not re.search(r"d/c|disch", before):
                return int(m.group("n")), sent.start + m.start(), sent.start + m.end()
        return None

    def _surgery_date(self, mentions: list[DateMention]) -> DateMention | None:
        # a form's labelled field ("Date of surgery: 07/17/2026", "DOS 10/06/2026") names it outright
        label = self.surgery_date_label
        for d in mentions:
            if label.search(self.nd.text[max(0, d.start - 40) : d.start]) and not d.month_only:
                return d
        if self.op is not None:
            sent = self.op.targets[0].sentence
            near = [d for d in mentions if sent.start <= d.start < sent.end]
            other = words_re(self.lang.timeline.other_event_dates)
            dated_here = [
                d for d in near if not other.search(self.nd.text[max(sent.start, d.start - 20) : d.start])
            ]
            near = dated_here or near
            if near:
                anchor = self.op.targets[0].start
                return min(near, key=lambda d: abs(d.start - anchor))
            # "Re: fusion 2019 ... had a PLIF under your care on 11/04/2019": a later mention of the same
            # operation may carry its date
            chosen = self.op.entries[0].procedure
            for t in self.nd.targets:
                if t.info.kind != "proc" or not self.nd.usable(t) or t.sentence.index == sent.index:
                    continue
                if self.lang.procedures.operations[int(t.info.key)].procedure != chosen:
                    continue
                span = t.sentence
                near = [d for d in mentions if span.start <= d.start < span.end and not d.month_only]
                if near:
                    return min(near, key=lambda d: abs(d.start - t.start))
        cue = words_re(self.lang.timeline.surgery_refs)
        for d in mentions:
            before = self.nd.text[max(0, d.start - 30) : d.start]
            if cue.search(before) and not self.cues.search(before):
                return d
        return None

    def _note_date(self, mentions: list[DateMention], surgery: DateMention | None) -> DateMention | None:
        full = [
            d for d in mentions if not d.month_only and (d.entry or not d.year_missing) and d is not surgery
        ]
        if surgery is not None:
            full = [d for d in full if d.date >= surgery.date]
        # a date on the note's first line is its date ("ADMISSION H&P - 04/22/2026 19:30"), before any date in
        # a sentence with a cue ("at 2-wk post-op visit 04/13/26")
        first_line = self.nd.text.lstrip().split("\n", 1)[0]
        offset = len(self.nd.text) - len(self.nd.text.lstrip())
        header = [d for d in full if d.start < offset + len(first_line)]
        if header:
            return header[0]
        entries = [d for d in full if d.entry or self._heads_line(d)]
        cued = [d for d in full if self.cues.search(self._sentence_of(d).text)]
        if len(entries) >= 2:  # a note of dated entries is as of its latest entry ...
            latest = max(entries, key=lambda d: d.date)
            # ... unless its heading dates it later ("Clinic date: 2 December 2026" over a timeline's entries)
            heading = [d for d in cued if d.start < HEADING_CHARS and d.date > latest.date]
            return heading[0] if heading else latest
        if cued:
            return cued[0]
        return max(full, key=lambda d: d.date) if full else None

    def _sentence_of(self, d: DateMention) -> Any:
        return self.nd.sentences[self.nd.token_sentence[self._token_at(d.start)]]

    def _heads_line(self, d: DateMention) -> bool:
        """'12/11/2025: wound healed', 'Call 3 - 13/04/2026 (8/52): ...': a date opening a line's entry; or
        a heading line that ends with its date ('2. Present complaints (15/01/2025)')."""
        line_start = self.nd.text.rfind("\n", 0, d.start) + 1
        if ENTRY_PREFIX.match(self.nd.text[line_start : d.start]) is not None:
            return True
        line_end = self.nd.text.find("\n", d.end)
        after = self.nd.text[d.end : line_end if line_end >= 0 else len(self.nd.text)]
        return bool(HEADING_AFTER.match(after) and HEADING_BEFORE.match(self.nd.text[line_start : d.start]))

    def _token_at(self, char: int) -> int:
        span = self.nd.doc.char_span(char, char + 1, alignment_mode="expand")
        return int(span.start) if span is not None else len(self.nd.doc) - 1
