"""The case form started from a pasted note: the reader's case as form values, the note with the span
behind each value highlighted, and which form inputs came from the note.

    view = note_view(text, reading, engine)
    view.segments      # [(text, None), (text, ["Operation: laminectomy"]), ...] for <mark>s
    view.inputs        # form input id -> "from the note: …" tag text
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from rootcause.engine.assess import Engine
from rootcause.web.caseform import CHOICES, FormState

FIELD_LABELS = {
    "age": "Age",
    "sex": "Sex",
    "surgery.procedure": "Operation",
    "surgery.levels": "Level",
    "surgery.approach": "Approach",
    "surgery.route": "Route",
    "surgery.instrumented": "Implants",
    "days_since_surgery": "Days since surgery",
    "leg_pain.side": "Side",
    "leg_pain.relief_after_surgery": "Relief after surgery",
    "leg_pain.onset_days": "Current pain began (day)",
    "leg_pain.onset_speed": "Onset",
    "leg_pain.trend": "Trend",
    "pain_scores": "Pain score",
}


@dataclass
class Highlight:
    field: str
    label: str  # "Operation: laminectomy"
    start: int
    end: int
    text: str


@dataclass
class NoteView:
    text: str
    note_date: str
    highlights: list[Highlight] = field(default_factory=list)
    segments: list[tuple[str, list[str]]] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.inputs)


def _value_text(fld: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if fld == "pain_scores" and isinstance(value, dict):
        nrs = value.get("nrs")
        nrs_text = int(nrs) if isinstance(nrs, float) and nrs.is_integer() else nrs
        return f"{nrs_text}/10 on day {value.get('day')}"
    key = fld.split(".")[-1]
    names = dict(CHOICES.get(key, []))
    return str(names.get(value, value)).split(" (")[0].lower() if key in CHOICES else str(value)


def label_for(fld: str, value: Any, engine: Engine) -> str:
    if fld.startswith("findings."):
        fid = fld.split(".", 1)[1]
        finding = next((f for f in engine.kb.findings if f.id == fid), None)
        name = (
            fid.replace("_", " ")
            if finding is None
            else str(finding.clinician_text).split(":")[0].split(" (")[0]
        )
        return f"{name} ({fid}): {_value_text(fld, value)}"
    return f"{FIELD_LABELS.get(fld, fld)}: {_value_text(fld, value)}"


def segments(text: str, highlights: list[Highlight]) -> list[tuple[str, list[str]]]:
    """The note cut at every highlight boundary; each piece with the labels of the highlights over it."""
    cuts = sorted({0, len(text), *(h.start for h in highlights), *(h.end for h in highlights)})
    out: list[tuple[str, list[str]]] = []
    for a, b in itertools.pairwise(cuts):
        if a >= b:
            continue
        labels = [h.label for h in highlights if h.start <= a and b <= h.end]
        labels = list(dict.fromkeys(labels))
        if out and out[-1][1] == labels:
            out[-1] = (out[-1][0] + text[a:b], labels)
        else:
            out.append((text[a:b], labels))
    return out


def note_view(text: str, note_date: str, evidence: list[dict[str, Any]], engine: Engine) -> NoteView:
    view = NoteView(text=text, note_date=note_date)
    state = FormState()
    for ev in evidence:
        start, end = int(ev["start"]), int(ev["end"])
        if not 0 <= start < end <= len(text):
            continue
        fld = str(ev["field"])
        label = label_for(fld, ev["value"], engine)
        view.highlights.append(Highlight(fld, label, start, end, text[start:end]))
        view.inputs.setdefault(state.input_for(fld), f"“{text[start:end]}”")
    view.segments = segments(text, view.highlights)
    return view
