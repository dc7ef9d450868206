"""CDS Hooks over HTTP (SQLite and PostgreSQL): feedback, notes in DocumentReference, and tenancy."""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from rootcause import Engine
from rootcause.cdshooks import CdsResponse
from rootcause.cdshooks.notes import _DefaultReader
from rootcause.service.cds_runtime import configure_cds
from rootcause.storage.models import CdsCall, CdsFeedback

from .cds_support import (
    EHR_A,
    EHR_B,
    FHIR,
    PATIENT_ID,
    CdsWorld,
    StaticJwks,
    fever_prefetch,
    full_prefetch,
    hook_body,
    note,
    searchset,
    world,
)
from .test_service_error_shape import assert_problem

SERVICE = "/cds-services/patient-view"
FEEDBACK = "/cds-services/patient-view/feedback"


@pytest.fixture()
def cds(database_url: str, engine: Engine) -> Iterator[CdsWorld]:
    with world(database_url, engine) as w:
        yield w


def card_of(w: CdsWorld, prefetch: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = w.client.post(SERVICE, json=hook_body(prefetch), headers=headers or EHR_A.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    CdsResponse.model_validate(body)
    card: dict[str, Any] = body["cards"][0]
    return card


def feedback_rows(w: CdsWorld) -> list[CdsFeedback]:
    with w.app.state.rootcause.database.transaction() as session:
        return list(session.scalars(select(CdsFeedback).order_by(CdsFeedback.created_at)).all())


# ---------------------------------------------------------------------------- feedback


def test_feedback_is_stored_once_and_linked_to_its_card(cds: CdsWorld) -> None:
    card = card_of(cds, fever_prefetch())
    assert card["indicator"] == "critical" and card["selectionBehavior"] == "any"
    suggestion = card["suggestions"][0]["uuid"]
    items = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}],
                "outcomeTimestamp": "2026-08-10T10:05:31Z",
            },
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "system": "https://rootcause.dev/fhir/CodeSystem/override-reason",
                        "code": "already-managed",
                        "display": "Already being managed",
                    },
                    "userComment": "seen by the spinal team yesterday",
                },
                "outcomeTimestamp": "2026-08-10T11:00:00+01:00",
            },
        ]
    }
    r = cds.client.post(FEEDBACK, json=items, headers=EHR_A.headers(FEEDBACK))
    assert r.status_code == 200 and r.json() == {"stored": 2, "duplicates": 0, "unknown_cards": 0}
    r = cds.client.post(FEEDBACK, json=items, headers=EHR_A.headers(FEEDBACK))  # the client resends
    assert r.status_code == 200 and r.json() == {"stored": 0, "duplicates": 2, "unknown_cards": 0}
    accepted, overridden = feedback_rows(cds)
    with cds.app.state.rootcause.database.transaction() as session:
        call = session.scalars(select(CdsCall)).one()
    assert (accepted.card_uuid, accepted.outcome, accepted.accepted_suggestions) == (
        card["uuid"],
        "accepted",
        [suggestion],
    )
    assert accepted.known_card and accepted.call_id == call.id and accepted.organisation_id == cds.org_a.id
    assert (overridden.override_code, overridden.override_display) == (
        "already-managed",
        "Already being managed",
    )
    assert overridden.user_comment == "seen by the spinal team yesterday"
    assert overridden.outcome_timestamp.isoformat() == "2026-08-10T10:00:00+00:00"
    assert accepted.issuer == EHR_A.iss and accepted.jti


def test_feedback_on_an_unknown_card_is_kept_but_flagged(cds: CdsWorld) -> None:
    item = {"card": "not-a-card-we-sent", "outcome": "overridden", "outcomeTimestamp": "2026-08-10T10:00:00Z"}
    r = cds.client.post(FEEDBACK, json={"feedback": [item]}, headers=EHR_A.headers(FEEDBACK))
    assert r.status_code == 200 and r.json() == {"stored": 1, "duplicates": 0, "unknown_cards": 1}
    (row,) = feedback_rows(cds)
    assert not row.known_card and row.call_id is None


def test_bad_feedback_is_a_400_problem_naming_the_field(cds: CdsWorld) -> None:
    headers = EHR_A.headers(FEEDBACK)
    accepted_without_ids = {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-08-10T10:00:00Z"}
    r = cds.client.post(FEEDBACK, json={"feedback": [accepted_without_ids]}, headers=headers)
    assert_problem(r, 400, "accepted without suggestions")
    assert r.json()["errors"][0]["field"] == "feedback.0"
    no_zone = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-08-10T10:00:00"}
    assert_problem(
        cds.client.post(FEEDBACK, json={"feedback": [no_zone]}, headers=EHR_A.headers(FEEDBACK)),
        400,
        "no zone",
    )
    long_card = {"card": "c" * 500, "outcome": "overridden", "outcomeTimestamp": "2026-08-10T10:00:00Z"}
    r = cds.client.post(FEEDBACK, json={"feedback": [long_card]}, headers=EHR_A.headers(FEEDBACK))
    assert_problem(r, 400, "long card")
    assert r.json()["errors"][0]["field"] == "feedback.0.card"
    # the audience is the feedback URL, not the service URL
    r = cds.client.post(FEEDBACK, json={"feedback": []}, headers=EHR_A.headers(SERVICE))
    assert_problem(r, 401, "service audience on feedback")
    assert feedback_rows(cds) == []


# ---------------------------------------------------------------------------- notes


def test_notes_add_findings_the_record_does_not_state_marked_as_from_a_note(cds: CdsWorld) -> None:
    prefetch = full_prefetch()
    prefetch["documents"] = searchset(
        [
            note(
                "n1", "Seen in clinic. Reports numbness in the left foot. Weakness of the left leg. No fever."
            ),
            note("pre-op", "Numbness in both feet for years. Smoker, 20 a day.", date="2026-05-20"),
            note("n2", "Reports saddle anaesthesia.", date="2026-08-06"),
            note("other", "Femoral stretch test positive.", subject={"reference": "Patient/someone-else"}),
            note("gone", "Femoral stretch test positive.", status="entered-in-error"),
            {
                "resourceType": "DocumentReference",
                "id": "by-url",
                "status": "current",
                "date": "2026-08-07",
                "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "url": "Binary/b1"}}],
            },
        ]
    )
    text = base64.b64encode(b"Clear fluid leaking from the wound.").decode()
    cds.fhir.pages[f"{FHIR}/Binary/b1"] = {
        "resourceType": "Binary",
        "contentType": "text/plain",
        "data": text,
    }
    card = card_of(cds, prefetch)
    detail = card["detail"]
    assert "- 6 findings and 4 leg-pain scores read from the record\n" in detail  # before the notes
    assert (
        "- Numbness in the leg or foot: yes — from a note (DocumentReference/n1, 2026-08-05): “numbness”\n"
        in detail
    )
    assert "from a note (DocumentReference/by-url, 2026-08-07)" in detail
    assert "from a note (DocumentReference/pre-op, 2026-05-20): “Smoker”" in detail  # a risk factor
    assert "(DocumentReference/n2) says yes; the structured record's value was used" in detail
    assert "DocumentReference/other" not in detail and "DocumentReference/gone" not in detail
    assert cds.fhir.calls == [(f"{FHIR}/Binary/b1", "fhir-access-token-secret")]

    path = json.loads(card["links"][0]["appContext"])["path"]
    stored = cds.client.get(f"/v1{path}", headers=cds.org_a.clinician).json()
    findings = stored["case"]["findings"]
    assert findings["numbness"] is True and findings["leg_weakness"] is True and findings["smoker"] is True
    assert findings["clear_fluid_from_wound"] is True
    assert findings["saddle_anaesthesia"] is False and findings["fever"] is False  # the record wins
    from_notes = {f["finding"]: f for f in stored["result"]["from_notes"]}
    assert set(from_notes) == {
        "numbness",
        "leg_weakness",
        "smoker",
        "clear_fluid_from_wound",
        "wound_problem",
    }
    assert from_notes["numbness"] == {
        "finding": "numbness",
        "value": True,
        "source": "note",
        "reference": "DocumentReference/n1",
        "date": "2026-08-05",
        "text": "numbness",
    }
    with cds.app.state.rootcause.database.transaction() as session:
        call = session.scalars(select(CdsCall)).one()
    assert "DocumentReference/n1" in call.record["fhir"]["basis"]
    assert "DocumentReference/n1" in [b["reference"] for b in call.record["risk_assessment"]["basis"]]
    problems = " | ".join(call.record["notes"]["notes_problems"])
    assert "DocumentReference/other: about another patient" in problems
    assert "pre-op: stocking_numbness_both_feet dated 2026-05-20, before surgery; not used" in problems


def test_the_hook_works_without_notes_when_the_reader_cannot_be_imported(
    cds: CdsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(text: str, note_date: Any = None) -> Any:
        raise ImportError("No module named 'medspacy'")

    configure_cds(cds.app, jwks=StaticJwks(EHR_A, EHR_B), fhir=cds.fhir, note_reader=broken)
    prefetch = full_prefetch() | {"documents": searchset([note("n1", "Reports numbness in the left foot.")])}
    with caplog.at_level(logging.WARNING, logger="rootcause.cdshooks"):
        for _ in range(2):
            card = card_of(cds, prefetch)
            assert "Epidural fibrosis" in card["summary"] and "from a note" not in card["detail"]
    warnings = [r for r in caplog.records if "note reader cannot be imported" in r.getMessage()]
    assert len(warnings) == 1  # logged once


def test_the_default_reader_logs_once_and_gives_none_when_its_import_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "rootcause.adapters.notes", None)  # importing it now fails
    reader = _DefaultReader()
    with caplog.at_level(logging.WARNING, logger="rootcause.cdshooks"):
        assert reader.get() is None and reader.get() is None
    assert [r.getMessage() for r in caplog.records].count(
        "the note reader cannot be imported (ModuleNotFoundError); CDS Hooks calls go on without notes"
    ) == 1


def test_notes_can_be_switched_off(database_url: str, engine: Engine) -> None:
    with world(database_url, engine, cds_read_notes=False) as w:
        prefetch = full_prefetch()
        del prefetch["documents"]
        card = card_of(
            w, prefetch | {"documents": searchset([note("n1", "Reports numbness in the left foot.")])}
        )
        assert "from a note" not in card["detail"]
        card_of(w, prefetch)
        assert w.fhir.calls == []  # without notes, DocumentReference is not fetched


# ---------------------------------------------------------------------------- tenancy


def test_each_issuer_sees_only_its_own_organisations_cds_data(cds: CdsWorld) -> None:
    card = card_of(cds, full_prefetch(), EHR_A.headers())
    path = json.loads(card["links"][0]["appContext"])["path"]
    patient_path = path.split("/assessments/")[0]
    assert cds.client.get(f"/v1{path}", headers=cds.org_a.clinician).status_code == 200
    for url in (f"/v1{path}", f"/v1{patient_path}", f"/v1{patient_path}/assessments"):
        assert_problem(cds.client.get(url, headers=cds.org_b.clinician), 404, url)
    listing = cds.client.get("/v1/patients", headers=cds.org_b.clinician).json()
    assert listing["total"] == 0
    # the web page is scoped the same way
    r = cds.client.post(
        "/login", data={"api_key": cds.org_b.clinician_key, "next": "/"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert cds.client.get(path).status_code == 404
    cds.client.cookies.clear()

    # issuer B sending feedback about A's card: stored for B, flagged unknown, A's data untouched
    item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-08-10T10:00:00Z"}
    r = cds.client.post(FEEDBACK, json={"feedback": [item]}, headers=EHR_B.headers(FEEDBACK))
    assert r.json() == {"stored": 1, "duplicates": 0, "unknown_cards": 1}
    r = cds.client.post(FEEDBACK, json={"feedback": [item]}, headers=EHR_A.headers(FEEDBACK))
    assert r.json() == {"stored": 1, "duplicates": 0, "unknown_cards": 0}  # same key, other organisation
    rows = {row.organisation_id: row for row in feedback_rows(cds)}
    assert not rows[cds.org_b.id].known_card and rows[cds.org_a.id].known_card

    # the same FHIR patient id from issuer B is B's own patient record
    card_b = card_of(cds, full_prefetch(), EHR_B.headers())
    path_b = json.loads(card_b["links"][0]["appContext"])["path"]
    assert path_b.split("/assessments/")[0] != patient_path
    patient_b = cds.client.get(f"/v1{path_b.split('/assessments/')[0]}", headers=cds.org_b.clinician).json()
    assert patient_b["external_id"] == f"fhir:{PATIENT_ID}"
    assert_problem(cds.client.get(f"/v1{path_b}", headers=cds.org_a.clinician), 404, "B's from A")
