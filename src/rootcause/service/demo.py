"""Demo data for `rootcause seed-demo` / `rootcause serve --demo`: idempotent.

Creates the organisation ``demo``, the well-known demo API key (``keys.DEMO_API_KEY``) and
three patients with follow-up pain scores and one stored assessment each. Running it again
changes nothing. Refused when ROOTCAUSE_ENVIRONMENT=production (the key is public).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from rootcause.engine.assess import Engine
from rootcause.storage import Database, repository
from rootcause.storage.cases import patient_case
from rootcause.storage.keys import DEMO_API_KEY, DEMO_KEY_ID
from rootcause.storage.schemas import Actor, PainScoreCreate, PatientCreate

DEMO_ORGANISATION = "demo"

PATIENTS: list[dict[str, Any]] = [
    {
        "patient": {
            "external_id": "DEMO-001",
            "birth_year": 1974,
            "sex": "female",
            "surgery": {
                "procedure": "discectomy",
                "levels": ["L4-L5"],
                "approach": "open",
                "route": "posterior",
                "instrumented": False,
                "date": "2026-06-01",
            },
        },
        "scores": [("2026-05-25", 8), ("2026-06-15", 2), ("2026-07-13", 5), ("2026-08-10", 6)],
        "visit": {
            "assessed_on": "2026-08-10",
            "leg_pain": {"side": "left", "relief_after_surgery": "complete", "onset_speed": "gradual"},
            "findings": {"slr_positive": True, "fever": False, "saddle_anaesthesia": False},
        },
    },
    {
        "patient": {
            "external_id": "DEMO-002",
            "birth_year": 1968,
            "sex": "male",
            "surgery": {"procedure": "discectomy", "levels": ["L5-S1"], "date": "2026-03-02"},
        },
        "scores": [("2026-03-16", 1), ("2026-04-13", 1), ("2026-05-08", 7)],
        "visit": {
            "assessed_on": "2026-05-10",
            "leg_pain": {"side": "right", "relief_after_surgery": "complete", "onset_speed": "sudden"},
            "findings": {
                "event_before_onset": True,
                "pain_worse_with_cough_or_sneeze": True,
                "slr_positive": True,
            },
        },
    },
    {
        "patient": {
            "external_id": "DEMO-003",
            "birth_year": 1967,
            "sex": "male",
            "surgery": {
                "procedure": "fusion",
                "levels": ["L4-L5"],
                "instrumented": True,
                "date": "2026-07-01",
            },
        },
        "scores": [("2026-07-08", 6), ("2026-07-15", 7)],
        "visit": {
            "assessed_on": "2026-07-20",
            "leg_pain": {"side": "right", "relief_after_surgery": "partial", "trend": "worsening"},
            "findings": {
                "fever": True,
                "wound_problem": True,
                "crp_elevated": True,
                "severe_back_pain_at_rest": True,
            },
        },
    },
]


@dataclass(frozen=True)
class DemoSeed:
    api_key: str
    organisation_created: bool
    patients_created: int
    assessments_created: int


def seed_demo(database: Database, engine: Engine, software_version: str) -> DemoSeed:
    """Create whatever of the demo data is missing, in one transaction."""
    created_patients = created_assessments = 0
    with database.transaction() as session:
        org = repository.get_organisation_by_name(session=session, name=DEMO_ORGANISATION)
        org_created = org is None
        if org is None:
            org = repository.create_organisation(session=session, name=DEMO_ORGANISATION)
        if repository.get_api_key(session=session, key_id=DEMO_KEY_ID) is None:
            repository.create_api_key(
                session=session, organisation_id=org.id, role="admin", name="demo key", fixed_key=DEMO_API_KEY
            )
        actor = Actor(key_id="cli", organisation_id=org.id, role="admin")
        for spec in PATIENTS:
            data = PatientCreate.model_validate(spec["patient"])
            found, _ = repository.list_patients(session=session, actor=actor, external_id=data.external_id)
            if found:
                patient = found[0]
            else:
                patient = repository.create_patient(session=session, actor=actor, data=data)
                created_patients += 1
                for day, nrs in spec["scores"]:
                    repository.add_pain_score(
                        session=session,
                        actor=actor,
                        patient=patient,
                        data=PainScoreCreate(recorded_on=dt.date.fromisoformat(day), nrs=nrs),
                    )
            _, n = repository.list_assessments(session=session, actor=actor, patient=patient, limit=1)
            if n:
                continue
            scores = repository.list_pain_scores(session=session, actor=actor, patient=patient, audit=False)
            built = patient_case(
                patient=patient, pain_scores=scores, request=spec["visit"], today=dt.date.today()
            )
            case = engine.parse(built.case)
            result = orjson.loads(
                orjson.dumps(engine.assess(case).to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
            )
            repository.add_assessment(
                session=session,
                actor=actor,
                patient=patient,
                case=case.to_dict(),
                result=result,
                software_version=software_version,
                assessed_on=built.assessed_on,
            )
            created_assessments += 1
    return DemoSeed(DEMO_API_KEY, org_created, created_patients, created_assessments)
