"""Small readers for FHIR element values: dates, codings, text, levels, yes/no answers and lab rules.

Each function takes validated ``fhir.resources.R4B`` objects and returns plain Python values; a
``None`` result always means "unknown", and the functions that can decline say why in a short reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.quantity import Quantity

from rootcause.fhir.mapping import FhirMapping, Measurement

LEVEL = re.compile(r"\b([LT])(\d{1,2})\s*[-/–]\s*([LST]?)(\d{1,2})\b", re.IGNORECASE)
VALID_LEVEL = re.compile(r"^(T1[0-2]|L[1-5])-(L[1-5]|S1)$")
VERTEBRAE = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]


def as_date(value: Any) -> dt.date | None:
    """A FHIR date/dateTime (date, datetime or partial 'YYYY' / 'YYYY-MM' string) as a calendar date.

    Partial dates take the middle of the period (1 July, the 15th) so that ages and day counts are off
    by at most half the period.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    try:
        if re.fullmatch(r"\d{4}", text):
            return dt.date(int(text), 7, 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return dt.date(int(text[:4]), int(text[5:7]), 15)
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def is_partial(value: Any) -> bool:
    return isinstance(value, str) and len(value) < 10


def codings(concept: CodeableConcept | None) -> list[tuple[str, str, str]]:
    """(system, code, display) for each coding with a code."""
    if concept is None or not concept.coding:
        return []
    return [(c.system or "", c.code, c.display or "") for c in concept.coding if c.code]


def concept_text(concept: CodeableConcept | None) -> list[str]:
    if concept is None:
        return []
    out = [concept.text] if concept.text else []
    out += [c.display for c in concept.coding or [] if c.display]
    return out


def describe(concept: CodeableConcept | None) -> str:
    """A short label for notes: first coding as system|code plus any text."""
    cs = codings(concept)
    label = f"{cs[0][0]}|{cs[0][1]}" if cs else ""
    text = concept.text if concept is not None and concept.text else (cs[0][2] if cs else "")
    return f"{label} {text!r}".strip() if text else (label or "uncoded")


def parse_levels(texts: Iterable[str]) -> list[str]:
    """Operated levels written as 'L4-5', 'L4/L5', 'L5-S1' or spans like 'L3-5' (two levels)."""
    out: list[str] = []
    for text in texts:
        for m in LEVEL.finditer(text):
            first = f"{m.group(1).upper()}{int(m.group(2))}"
            second_letter = (m.group(3) or m.group(1)).upper()
            second = f"{second_letter}{int(m.group(4))}"
            if first not in VERTEBRAE or second not in VERTEBRAE:
                continue
            i, j = VERTEBRAE.index(first), VERTEBRAE.index(second)
            for k in range(i, j):
                level = f"{VERTEBRAE[k]}-{VERTEBRAE[k + 1]}"
                if VALID_LEVEL.match(level) and level not in out:
                    out.append(level)
    return out


def observation_date(obs: Observation) -> Any:
    if obs.effectiveDateTime is not None:
        return obs.effectiveDateTime
    if obs.effectivePeriod is not None:
        return obs.effectivePeriod.end or obs.effectivePeriod.start
    if obs.effectiveInstant is not None:
        return obs.effectiveInstant
    return obs.issued


def numeric_value(obs: Observation) -> tuple[float | None, Quantity | None]:
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        return float(obs.valueQuantity.value), obs.valueQuantity
    if obs.valueInteger is not None:
        return float(obs.valueInteger), None
    return None, None


def interpretation_codes(obs: Observation) -> list[str]:
    return [code.upper() for concept in obs.interpretation or [] for _, code, _ in codings(concept)]


def yes_no(obs: Observation, mapping: FhirMapping) -> tuple[bool | None, str]:
    """Present / absent for an Observation whose code names the finding itself."""
    if obs.dataAbsentReason is not None:
        return None, f"data absent ({describe(obs.dataAbsentReason)})"
    if obs.valueBoolean is not None:
        return bool(obs.valueBoolean), ""
    if obs.valueCodeableConcept is not None:
        for system, code, _ in codings(obs.valueCodeableConcept):
            answer = mapping.answer(system, code)
            if answer is not None:
                return answer, ""
        for text in concept_text(obs.valueCodeableConcept):
            answer = mapping.answer_text(text)
            if answer is not None:
                return answer, ""
        return None, f"answer {describe(obs.valueCodeableConcept)} is not a present/absent answer"
    if obs.valueString is not None:
        answer = mapping.answer_text(obs.valueString)
        if answer is not None:
            return answer, ""
        return None, f"answer {obs.valueString!r} is not a present/absent answer"
    answers = mapping.table.answers
    for code in interpretation_codes(obs):
        if code in answers.present_interpretation:
            return True, ""
        if code in answers.absent_interpretation:
            return False, ""
    if obs.valueQuantity is not None or obs.valueInteger is not None:
        return None, "a number is not a present/absent answer"
    return None, "no value, interpretation or dataAbsentReason"


def _in_unit(value: float, quantity: Quantity | None, m: Measurement) -> tuple[float | None, str]:
    if m.unit is None or quantity is None:
        return value, ""
    unit = quantity.code or quantity.unit
    if unit is None or unit == m.unit:
        return value, ""
    conv = m.unit_conversions.get(unit)
    if conv is None:
        return None, f"unit {unit!r} is not {m.unit!r}"
    return (value + conv.offset) * conv.scale, ""


def _reference_high(obs: Observation) -> float | None:
    for rr in obs.referenceRange or []:
        if rr.high is not None and rr.high.value is not None:
            return float(rr.high.value)
    return None


def measurement_value(obs: Observation, m: Measurement) -> tuple[bool | None, str]:
    """Present / absent from a measured value by the measurement's rule; None with a reason otherwise."""
    if obs.dataAbsentReason is not None:
        return None, f"data absent ({describe(obs.dataAbsentReason)})"
    if m.rule == "recognised":
        value, _ = numeric_value(obs)
        shown = f"value {value:g}" if value is not None else "no numeric value"
        return None, f"{shown}; {m.note or 'not converted'}"
    if m.rule == "answer":
        for system, code, _ in codings(obs.valueCodeableConcept):
            if any(c.matches(system, code) for c in m.present_answers):
                return True, ""
            if any(c.matches(system, code) for c in m.absent_answers):
                return False, ""
        return None, f"answer {describe(obs.valueCodeableConcept)} is not mapped"
    if m.rule == "interpretation":
        codes = interpretation_codes(obs)
        if any(c in m.present_interpretation for c in codes):
            return True, ""
        if any(c in m.absent_interpretation for c in codes):
            return False, ""
        value, _ = numeric_value(obs)
        high = _reference_high(obs)
        if value is None or high is None:
            return None, "no interpretation flag and no value with a reference range"
        return value > high, ""
    raw, quantity = numeric_value(obs)
    if raw is None:
        return None, "no numeric value"
    value, why = _in_unit(raw, quantity, m)
    if value is None:
        return None, why
    if m.present_at_or_above is not None and value >= m.present_at_or_above:
        return True, ""
    if m.present_below is not None and value < m.present_below:
        return True, ""
    if m.absent_below is not None and value < m.absent_below:
        return False, ""
    if m.absent_at_or_above is not None and value >= m.absent_at_or_above:
        return False, ""
    return None, f"value {value:g} decides nothing on its own"


def search_any(pattern: re.Pattern[str], texts: Sequence[str]) -> bool:
    return any(pattern.search(t) for t in texts)


def decimal_of(p: float) -> Decimal:
    return Decimal(repr(float(p)))
