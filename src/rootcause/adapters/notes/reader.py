"""read_note: free text in, a case (spec/case-format.md §1) with evidence spans and a list of gaps out."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from rootcause.adapters.notes.dictation import undictate
from rootcause.adapters.notes.findings import FindingReader, report_modality
from rootcause.adapters.notes.notedoc import NoteDoc
from rootcause.adapters.notes.pipeline import Pipeline, get_pipeline, normalise
from rootcause.adapters.notes.surgery import Evidence, earlier_operation, read_demographics, read_operation
from rootcause.adapters.notes.timeline import read_timeline
from rootcause.errors import CaseError, FieldProblem


@dataclass(frozen=True)
class NoteReading:
    """What a note says: ``case`` (valid for ``engine.parse`` whenever it has ``surgery``), the
    ``evidence`` span behind every value, and what an assessment still ``missing``."""

    case: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "evidence": self.evidence, "missing": self.missing}


def parse_note_date(value: dt.date | str | None) -> dt.date | None:
    """An ISO date (YYYY-MM-DD) or None; anything else is a CaseError naming note_date."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError) as exc:
        raise CaseError(
            [FieldProblem("note_date", f"expected an ISO date YYYY-MM-DD, got {value!r}")]
        ) from exc


def _validate(case: dict[str, Any]) -> dict[str, Any]:
    """Drop whatever the case contract would reject (a reader must never hand on an invalid case)."""
    from rootcause.adapters.notes.language import knowledge_findings
    from rootcause.engine.case import check_case, parse_case

    if "surgery" not in case:
        return case
    ids = frozenset(f.id for f in knowledge_findings())
    for _ in range(4):
        try:
            parsed = parse_case(case, ids)
        except CaseError as exc:
            problems = exc.problems
        else:
            problems = check_case(parsed, ids)
        if not problems:
            return case
        for p in problems:
            head = p.field.split(".")[0].split("[")[0]
            if head in ("leg_pain", "pain_scores", "days_since_surgery") and head in case:
                if p.field.startswith("leg_pain."):
                    case["leg_pain"].pop(p.field.split(".")[1], None)
                    if not case["leg_pain"]:
                        del case["leg_pain"]
                else:
                    del case[head]
            elif p.field.startswith("findings.") and "findings" in case:
                case["findings"].pop(p.field.split(".", 1)[1], None)
            else:
                case.pop(head, None)
    return case


_LOCK = threading.Lock()


def read_note(
    text: str, note_date: dt.date | str | None = None, pipeline: Pipeline | None = None
) -> NoteReading:
    """Read one note. Pure: the same text and date always give the same reading. Thread-safe: notes are read
    one at a time (the spaCy pipeline and the reader's caches are shared; the work is CPU-bound)."""
    when = parse_note_date(note_date)
    pl = pipeline or get_pipeline()
    with _LOCK:
        return _read(text, when, pl)


def _read(text: str, when: dt.date | None, pl: Pipeline) -> NoteReading:
    typed, spoken = undictate(normalise(text, pl.lang), pl.lang.dictation, pl.lang.sentences.run_on)
    normalised, corrected = pl.correct(typed)
    offsets = [m for m in (corrected, spoken) if m is not None]  # back to the typed text, then to the note
    doc = pl.run(normalised)
    nd = NoteDoc.build(normalised, doc, pl.lang)
    if report_modality(nd) is not None:  # an imaging report's "Impression:" sums up what the images show
        nd.relabel("assessment", "investigations")
    evidence: list[Evidence] = []
    case: dict[str, Any] = {}

    demo, ev = read_demographics(nd)
    case.update(demo)
    evidence += ev
    op = read_operation(nd)
    if op is not None:
        case["surgery"] = op.surgery
        evidence += op.evidence
    tl = read_timeline(nd, op, when)
    if tl.days_since is not None:
        case["days_since_surgery"] = tl.days_since
    if tl.leg_pain:
        case["leg_pain"] = tl.leg_pain
    if tl.pain_scores:
        case["pain_scores"] = tl.pain_scores
    evidence += tl.evidence
    context = {
        "days_since": tl.days_since,
        "onset_days": tl.leg_pain.get("onset_days"),
        "age": demo.get("age"),
        "sex": demo.get("sex"),
        "levels": op.surgery.get("levels", []) if op is not None else [],
    }
    values, fev = FindingReader(nd, pl.finding_category, context).read()
    if op is not None:
        earlier = earlier_operation(nd, op)
        if earlier is not None and "previous_spine_surgery" not in values:
            values["previous_spine_surgery"] = True
            fev.append(
                Evidence("findings.previous_spine_surgery", True, earlier.start, earlier.end, earlier.text)
            )
    evidence += fev
    if values:
        case["findings"] = dict(sorted(values.items()))
    case = _validate(case)

    kept = []
    for e in evidence:
        head = e.field.split(".")[0].split("[")[0]
        if head not in case:
            continue
        if e.field.startswith("findings.") and e.field.split(".", 1)[1] not in case["findings"]:
            continue
        item = e.to_dict()
        for back in offsets:
            item["start"], item["end"] = back.start(item["start"]), back.end(item["end"])
        item["text"] = text[item["start"] : item["end"]]
        kept.append(item)
    kept.sort(key=lambda d: (d["start"], d["field"]))

    missing = []
    lang = pl.lang
    for fld in lang.missing.always:
        head, _, sub = fld.partition(".")
        present = head in case and (not sub or sub in case[head])
        if not present:
            missing.append(fld)
    findings = case.get("findings", {})
    missing += [f"findings.{rf}" for rf in lang.missing.red_flags if rf not in findings]
    return NoteReading(case=case, evidence=kept, missing=missing)
