"""Which FHIR Procedure is the operation being assessed, and what it says about the surgery.

A Procedure is a lumbar operation when one of its codes is in the mapping (and no site word says
cervical or thoracic), or when its text names one (and also mentions the spine). Of those performed on
or before the assessment date, the most recent day is taken; several on that day are merged (a fusion
with a decompression is a fusion). Earlier lumbar operations mean ``previous_spine_surgery``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.procedure import Procedure as FhirProcedure

from rootcause.fhir.mapping import PROCEDURE_PRECEDENCE, FhirMapping
from rootcause.fhir.values import as_date, codings, concept_text, parse_levels, search_any
from rootcause.knowledge.schema import Procedure

COMBINED_FROM = {"anterior", "lateral"}


@dataclass
class LumbarProcedure:
    reference: str
    procedure: Procedure
    date: dt.date | None
    levels: list[str]
    code_hints: dict[str, list[Any]]
    text_hints: dict[str, list[Any]]
    how: str  # "code system|code" or "text"


@dataclass
class SurgeryChoice:
    surgery: dict[str, Any] | None
    used: list[str] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _hints(mapping: FhirMapping, proc: FhirProcedure, texts: list[str]) -> tuple[dict[str, list[Any]], ...]:
    by_code: dict[str, list[Any]] = {}
    by_text: dict[str, list[Any]] = {}
    cs = [(mapping.normalise_system(s), c) for s, c, _ in codings(proc.code)]
    for hint in mapping.table.hints:
        coding = hint.coding()
        if coding is not None:
            hit = any(coding.matches(s, c) for s, c in cs)
            target = by_code
        else:
            assert hint.text is not None
            hit = search_any(_compiled(hint.text), texts)
            target = by_text
        if hit:
            for key, value in hint.set.model_dump(exclude_none=True).items():
                target.setdefault(key, []).append(value)
    return by_code, by_text


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = re.compile(pattern, re.IGNORECASE)
    return _PATTERNS[pattern]


def classify(mapping: FhirMapping, proc: FhirProcedure, reference: str) -> LumbarProcedure | str:
    """The lumbar procedure this resource records, or a reason it is not one."""
    site_texts = concept_text(proc.code) + [t for bs in proc.bodySite or [] for t in concept_text(bs)]
    note_texts = [n.text for n in proc.note or [] if n.text]
    if search_any(mapping.non_lumbar, site_texts) and not search_any(mapping.lumbar, site_texts):
        return "not a lumbar operation (site words say cervical, thoracic or sacroiliac)"
    found: list[tuple[Procedure, str]] = []
    for system, code, _ in codings(proc.code):
        coded = mapping.procedure_for_code(system, code)
        if coded is not None:
            found.append((coded, f"{system}|{code}"))
    if not found:
        if not search_any(mapping.spine, site_texts):
            return "code not in the mapping and its text names no spine operation"
        for candidate in PROCEDURE_PRECEDENCE:
            if search_any(mapping.procedure_text[candidate], site_texts):
                found.append((candidate, "text"))
                break
    if not found:
        return "code not in the mapping and its text names no lumbar operation"
    pid, how = min(found, key=lambda f: PROCEDURE_PRECEDENCE.index(f[0]))
    by_code, by_text = _hints(mapping, proc, site_texts + note_texts)
    date = as_date(proc.performedDateTime) or (
        as_date(proc.performedPeriod.start or proc.performedPeriod.end) if proc.performedPeriod else None
    )
    return LumbarProcedure(
        reference=reference,
        procedure=pid,
        date=date,
        levels=parse_levels(site_texts + note_texts),
        code_hints=by_code,
        text_hints=by_text,
        how=how,
    )


def _route(values: list[str]) -> str | None:
    if not values:
        return None
    kinds = set(values)
    if "combined" in kinds or (kinds & COMBINED_FROM and "posterior" in kinds):
        return "combined"
    return values[0]


def merge(chosen: list[LumbarProcedure]) -> dict[str, Any]:
    """One surgery from the procedures of one day: precedence for the id, text hints over code hints."""
    pid = min((p.procedure for p in chosen), key=PROCEDURE_PRECEDENCE.index)
    surgery: dict[str, Any] = {"procedure": pid}
    levels: list[str] = []
    for p in chosen:
        levels += [lv for lv in p.levels if lv not in levels]
    if levels:
        surgery["levels"] = levels
    for key in ("route", "approach", "instrumented"):
        # per procedure, text beats code (CPT 22558 is billed for XLIF too); then across procedures
        values = [v for p in chosen for v in (p.text_hints.get(key) or p.code_hints.get(key) or [])]
        if key == "route":
            route = _route(values)
            if route is not None:
                surgery["route"] = route
        elif values:
            surgery[key] = values[0]
    date = chosen[0].date
    if date is not None:
        surgery["date"] = date.isoformat()
    return surgery


def choose_surgery(candidates: list[LumbarProcedure], assessed_on: dt.date) -> SurgeryChoice:
    notes: list[str] = []
    usable: list[LumbarProcedure] = []
    for p in candidates:
        if p.date is not None and p.date > assessed_on:
            notes.append(f"{p.reference}: performed after the assessment date ({p.date}); ignored")
        else:
            usable.append(p)
    if not usable:
        return SurgeryChoice(None, notes=notes)
    dated = [p for p in usable if p.date is not None]
    if dated:
        last = max(p.date for p in dated if p.date is not None)
        chosen = [p for p in dated if p.date == last]
        earlier = [p.reference for p in dated if p.date is not None and p.date < last]
        notes += [
            f"{p.reference}: undated lumbar procedure; the dated one was used"
            for p in usable
            if p.date is None
        ]
    else:
        chosen = [min(usable, key=lambda p: PROCEDURE_PRECEDENCE.index(p.procedure))]
        earlier = []
        notes.append(f"{chosen[0].reference}: no performed date, so days since surgery are unknown")
    if len(chosen) > 1:
        notes.append(
            "merged procedures of the same day: "
            + ", ".join(f"{p.reference} ({p.procedure})" for p in chosen)
        )
    return SurgeryChoice(merge(chosen), used=[p.reference for p in chosen], earlier=earlier, notes=notes)
