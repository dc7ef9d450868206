"""The clinician case form: its fields, the case it builds, and the form refilled from a case.

Form field names are flat (``procedure``, ``onset_days``, ``f.<finding id>`` = unknown / yes /
no, repeated ``ps_day`` / ``ps_nrs`` rows); ``build_case`` turns them into the case JSON of
spec/case-format.md §1, leaving out whatever is blank or unknown. Problems name the case field
(``leg_pain.onset_days``) so the page can point at the input they concern.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rootcause.engine.assess import Engine
from rootcause.errors import FieldProblem

LEVELS = ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]
GROUPS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "history",
        "History",
        [
            ("symptom", "Symptoms"),
            ("history", "Course and events"),
            ("risk_factor", "Risk factors and past history"),
        ],
    ),
    ("examination", "Examination", [("examination", "Examination")]),
    ("laboratory", "Laboratory", [("laboratory", "Laboratory")]),
    (
        "imaging",
        "Imaging and procedures",
        [("imaging", "Imaging"), ("procedure", "Diagnostic procedures")],
    ),
]
"""The form's finding groups (history, examination, laboratory, imaging) over kb categories."""

CHOICES: dict[str, list[tuple[str, str]]] = {
    "procedure": [
        ("discectomy", "Discectomy / microdiscectomy / endoscopic"),
        ("laminectomy", "Decompression without fusion (laminectomy, laminotomy, foraminotomy)"),
        ("fusion", "Fusion (PLIF, TLIF, ALIF, XLIF, posterolateral)"),
        ("interspinous_spacer", "Interspinous spacer"),
        ("other", "Other lumbar operation"),
    ],
    "approach": [("open", "Open"), ("minimally_invasive", "Minimally invasive")],
    "route": [
        ("posterior", "Posterior"),
        ("anterior", "Anterior (e.g. ALIF)"),
        ("lateral", "Lateral (e.g. XLIF, OLIF)"),
        ("combined", "Combined"),
    ],
    "instrumented": [("yes", "Yes (screws, rods, cage or spacer)"), ("no", "No")],
    "sex": [("female", "Female"), ("male", "Male"), ("other", "Other")],
    "side": [("left", "Left"), ("right", "Right"), ("both", "Both")],
    "relief_after_surgery": [("complete", "Complete"), ("partial", "Partial"), ("none", "None")],
    "onset_speed": [("sudden", "Sudden (hours to 1-2 days)"), ("gradual", "Gradual (weeks)")],
    "trend": [("improving", "Improving"), ("stable", "Stable"), ("worsening", "Worsening")],
}

FIELD_INPUT = {
    "surgery.procedure": "procedure",
    "surgery.levels": "levels",
    "surgery.approach": "approach",
    "surgery.route": "route",
    "surgery.instrumented": "instrumented",
    "surgery.date": "surgery_date",
    "leg_pain.side": "side",
    "leg_pain.relief_after_surgery": "relief_after_surgery",
    "leg_pain.onset_days": "onset_days",
    "leg_pain.onset_speed": "onset_speed",
    "leg_pain.trend": "trend",
    "id": "case_id",
}
"""Case field → form input id, for error messages that link to their input."""


@dataclass
class FormState:
    """What the form shows: values by input name, finding states, score rows, problems."""

    values: dict[str, str] = field(default_factory=dict)
    levels: list[str] = field(default_factory=list)
    findings: dict[str, str] = field(default_factory=dict)
    scores: list[tuple[str, str]] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)

    def input_for(self, case_field: str) -> str:
        if case_field in FIELD_INPUT:
            return FIELD_INPUT[case_field]
        if case_field.startswith("findings."):
            return "f-" + case_field.split(".", 1)[1]
        if case_field.startswith("pain_scores"):
            return "pain-scores"
        return case_field.split(".")[-1]

    def errors_by_input(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in self.problems:
            out.setdefault(self.input_for(p.field), p.message)
        return out


def finding_groups(engine: Engine) -> list[dict[str, Any]]:
    """The findings of each form group, by knowledge-base category, in knowledge-base order."""
    by_category: dict[str, list[Any]] = {}
    for f in engine.kb.findings:
        by_category.setdefault(f.category, []).append(f)
    return [
        {
            "id": gid,
            "title": title,
            "sections": [
                {"category": cat, "title": sub, "findings": by_category.get(cat, [])}
                for cat, sub in sections
                if by_category.get(cat)
            ],
        }
        for gid, title, sections in GROUPS
    ]


def _int(raw: str, name: str, problems: list[FieldProblem], lo: int, hi: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        problems.append(FieldProblem(name, f"expected a whole number from {lo} to {hi}"))
        return None
    if not lo <= value <= hi:
        problems.append(FieldProblem(name, f"expected a whole number from {lo} to {hi}"))
        return None
    return value


def _number(raw: str, name: str, problems: list[FieldProblem]) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        problems.append(FieldProblem(name, "expected a number from 0 to 10"))
        return None
    return int(value) if value.is_integer() else value


def _date(raw: str, name: str, problems: list[FieldProblem]) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        problems.append(FieldProblem(name, "expected a date (YYYY-MM-DD)"))
        return None


def read_form(form: Mapping[str, str], lists: Mapping[str, Sequence[str]], engine: Engine) -> FormState:
    """The submitted form as a ``FormState`` (values kept as typed, for redisplay)."""
    state = FormState()
    for name in (
        "case_id", "age", "sex", "procedure", "approach", "route", "instrumented", "surgery_date",
        "assessed_on", "days_since_surgery", "side", "relief_after_surgery", "onset_days",
        "onset_speed", "trend",
    ):  # fmt: skip
        state.values[name] = str(form.get(name, "")).strip()
    state.levels = [lv for lv in lists.get("levels", []) if lv in LEVELS]
    for f in engine.kb.findings:
        raw = str(form.get(f"f.{f.id}", "unknown"))
        state.findings[f.id] = raw if raw in ("yes", "no") else "unknown"
    days, scores = lists.get("ps_day", []), lists.get("ps_nrs", [])
    for i in range(max(len(days), len(scores))):
        d = days[i].strip() if i < len(days) else ""
        s = scores[i].strip() if i < len(scores) else ""
        if d or s:
            state.scores.append((d, s))
    return state


def build_case(state: FormState, *, with_record: bool = True) -> dict[str, Any]:
    """The case the form describes; problems with the typed values go to ``state.problems``.

    ``with_record=False`` leaves out what a stored patient's record supplies (surgery, age,
    sex) for the patient assessment form.
    """
    v, problems = state.values, state.problems
    case: dict[str, Any] = {}
    if v.get("case_id"):
        case["id"] = v["case_id"]
    if with_record:
        age = _int(v.get("age", ""), "age", problems, 0, 120)
        if age is not None:
            case["age"] = age
        if v.get("sex"):
            case["sex"] = v["sex"]
        surgery: dict[str, Any] = {}
        if v.get("procedure"):
            surgery["procedure"] = v["procedure"]
        else:
            problems.append(FieldProblem("surgery.procedure", "choose the operation"))
        if state.levels:
            surgery["levels"] = list(state.levels)
        for name in ("approach", "route"):
            if v.get(name):
                surgery[name] = v[name]
        if v.get("instrumented") in ("yes", "no"):
            surgery["instrumented"] = v["instrumented"] == "yes"
        date = _date(v.get("surgery_date", ""), "surgery.date", problems)
        if date:
            surgery["date"] = date
        case["surgery"] = surgery
    assessed = _date(v.get("assessed_on", ""), "assessed_on", problems)
    if assessed:
        case["assessed_on"] = assessed
    days = _int(v.get("days_since_surgery", ""), "days_since_surgery", problems, 0, 36500)
    if days is not None:
        case["days_since_surgery"] = days
    leg: dict[str, Any] = {}
    for name in ("side", "relief_after_surgery", "onset_speed", "trend"):
        if v.get(name):
            leg[name] = v[name]
    onset = _int(v.get("onset_days", ""), "leg_pain.onset_days", problems, 0, 36500)
    if onset is not None:
        leg["onset_days"] = onset
    if leg:
        case["leg_pain"] = leg
    scores = []
    for i, (d, s) in enumerate(state.scores):
        if not d or not s:
            problems.append(FieldProblem(f"pain_scores[{i}]", "give both the day and the score (0-10)"))
            continue
        day = _int(d, f"pain_scores[{i}].day", problems, -3650, 36500)
        nrs = _number(s, f"pain_scores[{i}].nrs", problems)
        if day is not None and nrs is not None:
            scores.append({"day": day, "nrs": nrs})
    if scores:
        case["pain_scores"] = scores
    findings = {fid: s == "yes" for fid, s in state.findings.items() if s in ("yes", "no")}
    if findings:
        case["findings"] = findings
    return case


def state_from_case(case: Mapping[str, Any]) -> FormState:
    """The form refilled from a case (to edit a case after seeing its result)."""
    state = FormState()
    v = state.values
    surgery = case.get("surgery") or {}
    leg = case.get("leg_pain") or {}

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    v["case_id"] = text(case.get("id"))
    v["age"] = text(case.get("age"))
    v["sex"] = text(case.get("sex"))
    v["procedure"] = text(surgery.get("procedure"))
    v["approach"] = text(surgery.get("approach"))
    v["route"] = text(surgery.get("route"))
    instrumented = surgery.get("instrumented")
    v["instrumented"] = "" if instrumented is None else ("yes" if instrumented else "no")
    v["surgery_date"] = text(surgery.get("date"))
    v["assessed_on"] = text(case.get("assessed_on"))
    v["days_since_surgery"] = text(case.get("days_since_surgery"))
    for name in ("side", "relief_after_surgery", "onset_days", "onset_speed", "trend"):
        v[name] = text(leg.get(name))
    state.levels = [lv for lv in surgery.get("levels") or [] if lv in LEVELS]
    for fid, present in (case.get("findings") or {}).items():
        state.findings[str(fid)] = "yes" if present else "no"
    state.scores = [(text(s.get("day")), text(s.get("nrs"))) for s in case.get("pain_scores") or []]
    return state
