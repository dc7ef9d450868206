"""Assessment → FHIR RiskAssessment: valid R4(B), one prediction per cause, probabilities sum to 1."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from rootcause import Engine
from rootcause.fhir import FhirReader, risk_assessment, risk_assessment_json
from rootcause.fhir.risk import probability_band

FHIR = Path(__file__).parent / "data" / "fhir"
WHEN = dt.datetime(2026, 7, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def reader(engine: Engine) -> FhirReader:
    return FhirReader.from_kb(engine.kb)


def test_risk_assessment_round_trips_through_fhir_resources(engine: Engine, reader: FhirReader) -> None:
    fc = reader.read_bundle(json.loads((FHIR / "bundle-fusion-cpt.json").read_text()))
    result = engine.assess(fc.require_case())
    body = risk_assessment_json(
        result,
        engine.kb,
        reader.mapping,
        subject=fc.patient,
        basis=fc.basis,
        occurrence=WHEN,
        resource_id="ra-1",
    )
    again = RiskAssessment.model_validate(json.loads(json.dumps(body)))  # through JSON text and back
    assert again.model_dump(mode="json", exclude_none=True) == body
    assert body["status"] == "final"
    assert body["subject"] == {"reference": "Patient/fus-1"}
    assert body["occurrenceDateTime"] == "2026-07-20T09:00:00Z"
    assert {"reference": "Procedure/op-xlif"} in body["basis"]
    assert "knowledge base 2026.11.0" in body["method"]["text"]
    assert body["note"][0]["text"] == engine.kb.manifest.disclaimer
    assert body["extension"][0]["valueCode"] == "urgent"

    predictions = body["prediction"]
    assert len(predictions) == len(engine.kb.conditions)
    codes = [p["outcome"]["coding"][-1]["code"] for p in predictions]
    assert sorted(codes) == sorted(engine.kb.condition_ids)
    assert abs(sum(p["probabilityDecimal"] for p in predictions) - 1) < 1e-9
    probabilities = [p["probabilityDecimal"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    lead = predictions[0]
    assert lead["outcome"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10-cm",
        "code": "T81.42XA",
        "display": "Infection following a procedure, deep incisional surgical site, initial encounter",
    }
    assert lead["qualitativeRisk"]["coding"][0]["code"] == "certain"
    assert "urgent" in lead["rationale"]
    assert "Cultures then prolonged antibiotics" in body["mitigation"]


def test_placeholder_icd_codes_drop_the_dash_and_a_case_without_patient_still_validates(
    engine: Engine,
) -> None:
    result = engine.assess(
        {
            "id": "c1",
            "surgery": {"procedure": "discectomy"},
            "findings": {"calf_swelling_or_tenderness": True},
        }
    )
    reader = FhirReader.from_kb(engine.kb)
    resource = risk_assessment(result, engine.kb, reader.mapping, occurrence=WHEN)
    assert resource.subject.display == "c1"
    outcome = {p.outcome.coding[-1].code: p.outcome.coding[0].code for p in resource.prediction}
    assert outcome["deep_vein_thrombosis"] == "I82.40"  # knowledge base: "I82.40-"
    assert outcome["meralgia_paresthetica"] == "G57.1"


@pytest.mark.parametrize(
    ("p", "band"),
    [
        (0.0, "negligible"),
        (0.05, "low"),
        (0.2, "moderate"),
        (0.5, "high"),
        (0.95, "certain"),
        (1.0, "certain"),
    ],
)
def test_probability_bands(p: float, band: str) -> None:
    assert probability_band(p)["code"] == band
