"""Assessment → FHIR R4 RiskAssessment (validated with ``fhir.resources.R4B``).

One RiskAssessment holds the whole differential: one ``prediction`` per cause, most probable first,
``probabilityDecimal`` summing to 1. Each outcome is coded with the cause's first ICD-10-CM code from
the knowledge base (a trailing "-" placeholder is dropped, so ``G57.0-`` is sent as the category
``G57.0``) and with the rootcause condition code. ``qualitativeRisk`` is the HL7 risk-probability band
of the probability; the triage level (an urgency, not a likelihood) goes in an extension, in the
rationale of the causes that drive it and in ``mitigation``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.riskassessment import RiskAssessment

from rootcause.engine.assess import Assessment
from rootcause.fhir.mapping import ICD10CM, FhirMapping
from rootcause.fhir.values import decimal_of
from rootcause.knowledge.loader import KnowledgeBase
from rootcause.knowledge.schema import TRIAGE_LEVELS

RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
TRIAGE_EXTENSION = "https://rootcause.dev/fhir/StructureDefinition/triage-level"
BANDS: tuple[tuple[float, str, str], ...] = (
    (0.01, "negligible", "Negligible likelihood"),
    (0.10, "low", "Low likelihood"),
    (0.40, "moderate", "Moderate likelihood"),
    (0.90, "high", "High likelihood"),
    (1.01, "certain", "Certain"),
)


def probability_band(p: float) -> dict[str, str]:
    for upper, code, display in BANDS:
        if p < upper:
            return {"system": RISK_PROBABILITY, "code": code, "display": display}
    raise AssertionError("unreachable: probabilities are at most 1")


def icd10cm_code(code: str) -> str:
    return code.rstrip("-").rstrip(".")


def _mitigation(assessment: Assessment) -> str:
    parts = [f"Triage: {assessment.triage.level} — {assessment.triage.clinician_advice}"]
    if assessment.treatments:
        lead = assessment.treatments[0]
        if lead["options"]:
            option = lead["options"][0]
            parts.append(
                f"If {lead['name']} is confirmed, first option: {option['name']} — {option['description']}"
            )
    return " ".join(parts)


def risk_assessment(
    assessment: Assessment,
    kb: KnowledgeBase,
    mapping: FhirMapping,
    *,
    subject: str | None = None,
    basis: Sequence[str] = (),
    occurrence: dt.datetime | None = None,
    resource_id: str | None = None,
    engine_version: str | None = None,
) -> RiskAssessment:
    """Build and validate the RiskAssessment for ``assessment``.

    ``subject`` is a reference such as ``Patient/123`` (FHIR requires a subject; without one the case id
    is given as a display). ``basis`` lists references to the resources the case was read from.
    """
    systems = mapping.systems
    when = occurrence or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    rank = TRIAGE_LEVELS.index(assessment.triage.level)
    predictions: list[dict[str, Any]] = []
    for cid, p in assessment.differential:
        cond = kb.condition(cid)
        coding = [
            {"system": ICD10CM, "code": icd10cm_code(c.code), "display": c.display}
            for c in cond.codes.icd10cm[:1]
        ]
        coding.append({"system": systems.condition, "code": cid, "display": cond.name})
        prediction: dict[str, Any] = {
            "outcome": {"coding": coding, "text": cond.name},
            "probabilityDecimal": decimal_of(p),
            "qualitativeRisk": {"coding": [probability_band(p)]},
        }
        urgent = TRIAGE_LEVELS.index(cond.urgency.level)
        if urgent > 0 and urgent >= rank and p >= 0.02:
            prediction["rationale"] = f"If this is the cause it needs {cond.urgency.level} care."
        predictions.append(prediction)
    version = f"rootcause {engine_version}, " if engine_version else "rootcause, "
    body: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "status": "final",
        "extension": [{"url": TRIAGE_EXTENSION, "valueCode": assessment.triage.level}],
        "code": {"text": "Causes of leg pain after lumbar spine surgery (differential)"},
        "subject": {"reference": subject}
        if subject
        else {"display": assessment.case_id or "unidentified patient"},
        "occurrenceDateTime": when.isoformat(),
        "method": {
            "coding": [
                {
                    "system": systems.method,
                    "code": "naive-bayes",
                    "display": "rootcause naive-Bayes differential",
                }
            ],
            "text": f"{version}knowledge base {assessment.knowledge_base_version}",
        },
        "prediction": predictions,
        "mitigation": _mitigation(assessment),
        "note": [{"text": assessment.disclaimer or kb.manifest.disclaimer}],
    }
    if resource_id:
        body["id"] = resource_id
    if basis:
        body["basis"] = [{"reference": ref} for ref in dict.fromkeys(basis)]
    return RiskAssessment.model_validate(body)


def risk_assessment_json(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """``risk_assessment(...)`` as FHIR JSON (a dict without empty elements)."""
    resource = risk_assessment(*args, **kwargs)
    out: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return out
