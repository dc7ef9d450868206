"""Build the case to assess for a stored patient: the patient record plus what is new today.

The record supplies ``surgery``, ``sex`` and ``age`` (from the birth year, at the assessment
date); the stored follow-up pain scores become ``pain_scores`` days relative to surgery. The
request body supplies the rest of the case (``leg_pain``, ``findings``, ``assessed_on`` or
``days_since_surgery``, extra ``pain_scores``). Without a date, the assessment is dated today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rootcause.errors import CaseError, FieldProblem
from rootcause.storage.models import PainScore, Patient

FROM_RECORD = ("surgery", "sex", "age")
MIN_DAY = -3650


@dataclass(frozen=True)
class PatientCase:
    case: dict[str, Any]
    assessed_on: dt.date | None
    pain_scores_used: int


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _nul_path(obj: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding a NUL character, else ``None``."""
    if isinstance(obj, str):
        return path if "\x00" in obj else None
    if isinstance(obj, dict):
        for key, value in obj.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = _nul_path(value, where)
            if found is not None:
                return found
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            found = _nul_path(value, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def surgery_dict(patient: Patient) -> dict[str, Any]:
    surgery: dict[str, Any] = {"procedure": patient.procedure}
    for name, value in (
        ("levels", patient.levels),
        ("approach", patient.approach),
        ("route", patient.route),
        ("instrumented", patient.instrumented),
        ("date", patient.surgery_date.isoformat() if patient.surgery_date else None),
    ):
        if value is not None:
            surgery[name] = value
    return surgery


def patient_case(
    *, patient: Patient, pain_scores: Sequence[PainScore], request: Any, today: dt.date
) -> PatientCase:
    """Merge the record and the request; raise ``CaseError`` if the request restates the record."""
    if not isinstance(request, dict):
        raise CaseError([FieldProblem("(case)", "expected a JSON object")])
    nul = _nul_path(request, "")
    if nul is not None:
        raise CaseError(
            [FieldProblem(nul or "(case)", "text must not contain NUL characters (it cannot be stored)")]
        )
    restated = [name for name in FROM_RECORD if name in request]
    if restated:
        raise CaseError(
            [
                FieldProblem(
                    name,
                    "comes from the patient record; change the patient with PATCH /v1/patients/{patient_id}",
                )
                for name in restated
            ]
        )
    case: dict[str, Any] = dict(request)
    case["surgery"] = surgery_dict(patient)
    if "assessed_on" not in case and "days_since_surgery" not in case:
        case["assessed_on"] = today.isoformat()
    assessed = _as_date(case.get("assessed_on"))
    days = case.get("days_since_surgery")
    if assessed is None and patient.surgery_date is not None and isinstance(days, int):
        assessed = patient.surgery_date + dt.timedelta(days=days)
    if patient.sex is not None:
        case["sex"] = patient.sex
    if patient.birth_year is not None:
        age = (assessed or today).year - patient.birth_year
        if 0 <= age <= 120:
            case["age"] = age
    used = 0
    if patient.surgery_date is not None and pain_scores:
        limit = (assessed - patient.surgery_date).days if assessed else None
        stored = []
        for score in pain_scores:
            day = (score.recorded_on - patient.surgery_date).days
            if day >= MIN_DAY and (limit is None or day <= limit):
                stored.append({"day": day, "nrs": score.nrs})
        used = len(stored)
        extra = request.get("pain_scores")
        if extra is None:
            case["pain_scores"] = stored
        elif isinstance(extra, list):
            case["pain_scores"] = stored + extra
        if not case.get("pain_scores"):
            case.pop("pain_scores", None)
    return PatientCase(case=case, assessed_on=assessed, pain_scores_used=used)
