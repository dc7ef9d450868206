"""FHIR Bundle → case: the example bundles, and one rule at a time on small hand-built bundles."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from rootcause import Engine
from rootcause.fhir import FhirInputError, FhirReader, bundle_to_case

FHIR = Path(__file__).parent / "data" / "fhir"
RC = "https://rootcause.dev/fhir/CodeSystem/finding"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DAY = dt.date(2026, 8, 10)


@pytest.fixture(scope="module")
def reader(engine: Engine) -> FhirReader:
    return FhirReader.from_kb(engine.kb)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FHIR / name).read_text())
    return data


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def procedure(
    rid: str, system: str, code: str, date: str | None = "2026-06-01", **extra: Any
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": rid,
        "status": "completed",
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if date:
        p["performedDateTime"] = date
    p.update(extra)
    return p


def obs(rid: str, system: str, code: str, date: str = "2026-08-01", **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": date,
        **value,
    }


def condition(
    rid: str, system: str, code: str, verification: str = "confirmed", clinical: str = "active"
) -> dict:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": system, "code": code}]},
        "verificationStatus": {"coding": [{"code": verification}]},
        "clinicalStatus": {"coding": [{"code": clinical}]},
    }


DISC = procedure("op", SCT, "42515009")

# ---------------------------------------------------------------- the example bundles


def test_snomed_discectomy_bundle_maps_to_the_expected_case(reader: FhirReader, engine: Engine) -> None:
    fc = reader.read_bundle(load("bundle-discectomy-snomed.json"))
    # Expected by hand from tests/data/fhir/bundle-discectomy-snomed.json (the spec's demo-07 case).
    assert fc.case == {
        "id": "demo-07",
        "age": 52,  # born 1974-03-02, assessed 2026-08-10 (Bundle.timestamp)
        "sex": "female",
        "surgery": {"procedure": "discectomy", "levels": ["L4-L5"], "approach": "open", "date": "2026-06-01"},
        "assessed_on": "2026-08-10",
        "pain_scores": [
            {"day": -7, "nrs": 8.0},
            {"day": 14, "nrs": 2.0},
            {"day": 42, "nrs": 5.0},
            {"day": 70, "nrs": 6.0},
        ],
        "findings": {
            "slr_positive": True,
            "fever": False,
            "saddle_anaesthesia": False,
            "crp_elevated": False,
            "diabetes": True,
            "rheumatoid_arthritis": False,
        },
    }
    assert fc.patient == "Patient/demo-07"
    assert "Observation/bladder" not in fc.basis  # dataAbsentReason: unknown, not used
    assert any("bladder_dysfunction left unknown" in n for n in fc.notes)
    assert any("back-pain-1" in n and "another site" in n for n in fc.notes)
    unmapped = " ".join(fc.unmapped)
    assert "DocumentReference/note-1" in unmapped and "Observation/bp-1" in unmapped and "I10" in unmapped
    result = engine.assess(fc.require_case())
    assert result.timeline.days_since_surgery == 70
    assert result.triage.level == "routine"
    assert result.leading == "epidural_fibrosis"


def test_cpt_fusion_bundle_merges_procedures_and_reads_measurements(
    reader: FhirReader, engine: Engine
) -> None:
    fc = reader.read_bundle(load("bundle-fusion-cpt.json"))
    assert fc.case is not None
    assert fc.case["surgery"] == {
        "procedure": "fusion",
        "levels": ["L3-L4", "L4-L5"],  # "L3-L5" is two levels
        "route": "combined",  # XLIF (text beats CPT 22558's "anterior") + posterior 22612, same day
        "instrumented": True,
        "date": "2026-06-30",
    }
    assert fc.case["age"] == 59  # partial birthDate 1967 → mid-year
    assert fc.case["findings"] == {
        "previous_spine_surgery": True,  # CPT 63030 in 2019
        "fever": True,  # 101.5 °F on day 10; a later normal temperature does not undo "since surgery"
        "wound_problem": True,
        "crp_elevated": True,  # day 19, value above referenceRange.high; the day-3 "H" is not used
        "smoker": True,
        "obesity": True,  # BMI 32.4
    }
    assert "Procedure/op-old" in fc.basis and "Observation/crp-early" not in fc.basis
    assert any("op-acdf" in u and "not a lumbar" in u for u in fc.unmapped)
    assert any("someone-else" in n for n in fc.notes)
    assert any("ultrasound_dvt dated 2010-05-01, before surgery" in n for n in fc.notes)
    result = engine.assess(fc.require_case())
    assert result.triage.level == "urgent"
    assert result.leading == "surgical_site_infection"


def test_bundle_to_case_convenience_loads_the_packaged_knowledge_base() -> None:
    fc = bundle_to_case(load("bundle-discectomy-snomed.json"), assessed_on=DAY)
    assert fc.case is not None and fc.case["surgery"]["procedure"] == "discectomy"


# ---------------------------------------------------------------- procedures


@pytest.mark.parametrize(
    ("system", "code", "text", "expected"),
    [
        (CPT, "63030", None, {"procedure": "discectomy"}),
        (CPT, "62380", None, {"procedure": "discectomy", "approach": "minimally_invasive"}),
        (CPT, "63047", None, {"procedure": "laminectomy"}),
        (CPT, "22630", None, {"procedure": "fusion", "route": "posterior"}),
        (CPT, "22558", "ALIF L5-S1", {"procedure": "fusion", "route": "anterior", "levels": ["L5-S1"]}),
        (CPT, "22558", "XLIF L4-5", {"procedure": "fusion", "route": "lateral", "levels": ["L4-L5"]}),
        (CPT, "22869", "X-Stop L3/4", {"procedure": "interspinous_spacer", "levels": ["L3-L4"]}),
        (CPT, "22857", None, {"procedure": "other"}),
        (
            PCS,
            "0SG00AJ",
            None,
            {"procedure": "fusion", "approach": "open", "route": "posterior", "instrumented": True},
        ),
        (
            PCS,
            "0SG1470",
            None,
            {"procedure": "fusion", "approach": "minimally_invasive", "route": "anterior"},
        ),
        (PCS, "0SH00BZ", None, {"procedure": "interspinous_spacer"}),
        (PCS, "0SB20ZZ", None, {"procedure": "discectomy"}),
        ("urn:oid:2.16.840.1.113883.6.12", "63030", None, {"procedure": "discectomy"}),  # CPT by OID
        (
            "https://rootcause.dev/fhir/CodeSystem/procedure",
            "laminectomy",
            None,
            {"procedure": "laminectomy"},
        ),
        ("http://example.org/local", "X1", "Minimally invasive TLIF L4-5", None),  # text only, see below
    ],
)
def test_procedure_codes(
    reader: FhirReader, system: str, code: str, text: str | None, expected: dict[str, Any] | None
) -> None:
    p = procedure("op", system, code)
    if text:
        p["code"]["text"] = text
    fc = reader.read_bundle(bundle(p), assessed_on=DAY)
    assert fc.case is not None
    surgery = dict(fc.case["surgery"])
    assert surgery.pop("date") == "2026-06-01"
    if expected is None:
        expected = {
            "procedure": "fusion",
            "route": "posterior",
            "approach": "minimally_invasive",
            "levels": ["L4-L5"],
        }
    assert surgery == expected


@pytest.mark.parametrize(
    "text",
    [
        "Red cell transfusion",
        "Carpal tunnel decompression",
        "Hip arthrodesis",
        "ACDF C5-6",
        "Lumbar puncture",
    ],
)
def test_text_that_is_not_a_lumbar_operation_is_not_taken(reader: FhirReader, text: str) -> None:
    p = procedure("op", "http://example.org/local", "X")
    p["code"]["text"] = text
    fc = reader.read_bundle(bundle(p), assessed_on=DAY)
    assert fc.case is None
    assert fc.missing and "lumbar spine Procedure" in fc.missing[0]
    assert fc.unmapped and "Procedure/op" in fc.unmapped[0]
    with pytest.raises(FhirInputError, match="Procedure"):
        fc.require_case()


def test_cervical_site_excludes_a_site_neutral_snomed_fusion(reader: FhirReader) -> None:
    p = procedure("op", SCT, "55705006", bodySite=[{"text": "Cervical spine C5-C6"}])
    assert reader.read_bundle(bundle(p), assessed_on=DAY).case is None


def test_most_recent_lumbar_procedure_before_the_assessment_date_is_used(reader: FhirReader) -> None:
    fc = reader.read_bundle(
        bundle(
            procedure("old", CPT, "63030", "2020-01-10"),
            procedure("recent", CPT, "63047", "2026-06-01"),
            procedure("future", CPT, "22630", "2026-09-01"),
            procedure("planned", CPT, "22630", "2026-07-01", status="preparation"),
        ),
        assessed_on=DAY,
    )
    assert fc.case is not None
    assert fc.case["surgery"] == {"procedure": "laminectomy", "date": "2026-06-01"}
    assert fc.case["findings"] == {"previous_spine_surgery": True}
    assert any("future" in n and "after the assessment date" in n for n in fc.notes)
    assert any("planned" in n and "not completed" in n for n in fc.notes)


def test_performed_period_start_is_the_surgery_date(reader: FhirReader) -> None:
    p = procedure("op", CPT, "63030", None, performedPeriod={"start": "2026-05-30T23:00:00Z"})
    fc = reader.read_bundle(bundle(p), assessed_on=DAY)
    assert fc.case is not None and fc.case["surgery"]["date"] == "2026-05-30"


# ---------------------------------------------------------------- observations and conditions


def read(reader: FhirReader, *resources: dict[str, Any]) -> dict[str, Any]:
    fc = reader.read_bundle(bundle(DISC, {"resourceType": "Patient", "id": "p"}, *resources), assessed_on=DAY)
    assert fc.case is not None
    findings: dict[str, Any] = fc.case.get("findings", {})
    return findings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueBoolean": True}, True),
        ({"valueBoolean": False}, False),
        ({"valueCodeableConcept": {"coding": [{"system": SCT, "code": "52101004"}]}}, True),
        ({"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA32-8"}]}}, False),
        ({"valueCodeableConcept": {"text": "Negative"}}, False),
        ({"valueString": "positive"}, True),
        ({"interpretation": [{"coding": [{"code": "POS"}]}]}, True),
        ({"dataAbsentReason": {"coding": [{"code": "unknown"}]}}, None),
        ({"valueString": "maybe"}, None),
        ({}, None),
    ],
)
def test_finding_coded_observation_values(
    reader: FhirReader, value: dict[str, Any], expected: bool | None
) -> None:
    assert read(reader, obs("o", RC, "slr_positive", **value)).get("slr_positive") == expected


@pytest.mark.parametrize(
    ("day", "flag", "expected"),
    [
        ("2026-06-05", "H", None),
        ("2026-06-20", "H", True),
        ("2026-06-05", "N", False),
        ("2026-06-20", "L", False),
    ],
)
def test_crp_flag_respects_the_postoperative_rise(
    reader: FhirReader, day: str, flag: str, expected: bool
) -> None:
    crp = obs("crp", LOINC, "1988-5", day, interpretation=[{"coding": [{"code": flag}]}])
    assert read(reader, crp).get("crp_elevated") == expected


def test_thresholds_and_units(reader: FhirReader) -> None:
    found = read(
        reader,
        obs("bmi", LOINC, "39156-5", valueQuantity={"value": 27.0, "code": "kg/m2"}),
        obs("t", LOINC, "8310-5", valueQuantity={"value": 99.0, "code": "K"}),  # unknown unit: not converted
    )
    assert found == {"obesity": False}


def test_conditions_refuted_uncertain_inactive(reader: FhirReader) -> None:
    found = read(
        reader,
        condition("dm", ICD, "E11.42"),
        condition("ra", SCT, "69896004", verification="refuted"),
        condition("op", ICD, "M81.0", verification="provisional"),
        condition("smoke", SCT, "77176002", clinical="resolved"),
        condition("pad", ICD, "I70.213", clinical="inactive"),
        condition("x", ICD, "I10"),
    )
    assert found == {
        "diabetes": True,  # ICD-10-CM prefix E11
        "rheumatoid_arthritis": False,  # refuted
        "smoker": False,  # resolved, and smoker means "smokes now"
        "peripheral_arterial_disease_history": True,  # history counts for a risk factor
    }


def test_latest_record_wins_and_conflict_is_noted(reader: FhirReader) -> None:
    fc = reader.read_bundle(
        bundle(
            DISC,
            obs("a", RC, "leg_weakness", "2026-07-01", valueBoolean=True),
            obs("b", RC, "leg_weakness", "2026-08-01", valueBoolean=False),
        ),
        assessed_on=DAY,
    )
    assert fc.case is not None and fc.case["findings"] == {"leg_weakness": False}
    assert any("conflicting" in n for n in fc.notes)


def test_pain_scores_out_of_range_and_later_than_assessment(reader: FhirReader) -> None:
    fc = reader.read_bundle(
        bundle(
            DISC,
            obs("p1", LOINC, "72514-3", "2026-07-01", valueInteger=4),
            obs("p2", LOINC, "72514-3", "2026-07-02", valueInteger=14),
            obs("p3", LOINC, "72514-3", "2026-09-01", valueInteger=5),
        ),
        assessed_on=DAY,
        strict=True,
    )
    assert fc.case is not None and fc.case["pain_scores"] == [{"day": 30, "nrs": 4.0}]
    assert [str(p) for p in fc.problems] == ["Observation/p2.value: pain score must be 0-10, got 14"]


# ---------------------------------------------------------------- errors


def test_invalid_resource_names_resource_and_field(reader: FhirReader) -> None:
    bad = obs("crp-1", LOINC, "1988-5", valueQuantity={"value": "high"})
    with pytest.raises(FhirInputError) as info:
        reader.read_bundle(bundle(DISC, bad), assessed_on=DAY)
    assert info.value.problems[0].field == "Observation/crp-1.valueQuantity.value"
    missing_status = copy.deepcopy(DISC)
    del missing_status["status"]
    with pytest.raises(FhirInputError, match=r"Procedure/op\.status"):
        reader.read_bundle(bundle(missing_status), assessed_on=DAY)


def test_lenient_mode_skips_invalid_resources_and_reports_them(reader: FhirReader) -> None:
    bad = obs("crp-1", LOINC, "1988-5", valueQuantity={"value": "high"})
    fc = reader.read_resources([DISC, bad, {"resourceType": "Flag", "id": "f"}, 7], assessed_on=DAY)
    assert fc.case is not None
    assert [p.field for p in fc.problems] == ["Observation/crp-1.valueQuantity.value", "entry[3].resource"]
    assert fc.unmapped == ["Flag/f: resource type not read"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ([], "resourceType"),
        ({"resourceType": "Bundle", "entry": 3}, "Bundle.entry"),
    ],
)
def test_not_a_bundle(reader: FhirReader, body: Any, field: str) -> None:
    with pytest.raises(FhirInputError) as info:
        reader.read_bundle(body)
    assert info.value.problems[0].field == field
