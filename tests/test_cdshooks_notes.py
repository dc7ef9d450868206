"""Notes in DocumentReference for the patient-view service, with a fake note reader (no NLP)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootcause import Engine
from rootcause.cdshooks import FetchError, PatientViewService, parse_hook_request
from rootcause.cdshooks.notes import NotesReader
from rootcause.fhir import FhirReader

BASE = "https://ehr.example.org/fhir"
BUNDLE = json.loads((Path(__file__).parent / "data" / "fhir" / "bundle-discectomy-snomed.json").read_text())
RESOURCES = [e["resource"] for e in BUNDLE["entry"] if e["resource"]["resourceType"] != "DocumentReference"]


@dataclass
class Reading:
    case: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)


class FakeReader:
    """'numbness' in the text → numbness true; records what it was asked to read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dt.date | None]] = []

    def __call__(self, text: str, note_date: dt.date | None) -> Reading:
        self.calls.append((text, note_date))
        found = "numbness" in text.lower()
        evidence = [{"field": "findings.numbness", "text": "numbness"}] if found else []
        return Reading({"findings": {"numbness": True}} if found else {}, evidence)


class Pages:
    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.calls: list[str] = []

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any:
        self.calls.append(url)
        if url not in self.pages:
            raise FetchError("HTTP 404")
        return copy.deepcopy(self.pages[url])


def doc(doc_id: str, attachment: dict[str, Any], date: str = "2026-08-05") -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": doc_id,
        "status": "current",
        "date": date,
        "content": [{"attachment": attachment}],
    }


def text(value: str) -> dict[str, Any]:
    return {"contentType": "text/plain", "data": base64.b64encode(value.encode()).decode()}


def run(engine: Engine, docs: list[dict[str, Any]], pages: Pages | None = None, **notes: Any) -> Any:
    reader = FhirReader.from_kb(engine.kb)
    fake = FakeReader()
    service = PatientViewService(
        engine,
        fetcher=pages or Pages({}),
        reader=reader,
        notes=NotesReader(engine.kb, reader.mapping, read_note=fake, **notes),
        today=lambda: dt.date(2026, 8, 10),
    )
    body = {
        "hook": "patient-view",
        "hookInstance": "h-1",
        "fhirServer": BASE,
        "fhirAuthorization": {"access_token": "t"},
        "context": {"patientId": "demo-07"},
        "prefetch": {
            "patient": RESOURCES[0],
            "procedures": {"resourceType": "Bundle", "entry": [{"resource": r} for r in RESOURCES[1:2]]},
            "observations": None,
            "conditions": None,
            "documents": {"resourceType": "Bundle", "entry": [{"resource": d} for d in docs]},
        },
    }
    return service.handle(parse_hook_request(body)), fake


def test_unreadable_notes_are_listed_and_never_raise(engine: Engine) -> None:
    pages = Pages(
        {f"{BASE}/Binary/ok": {"resourceType": "Binary", "contentType": "text/plain", "data": "bm8="}}
    )
    docs = [
        doc("pdf", {"contentType": "application/pdf", "data": "JVBERi0="}),
        doc("bad64", {"contentType": "text/plain", "data": "***"}),
        doc("elsewhere", {"contentType": "text/plain", "url": "https://other.example/Binary/1"}),
        doc("missing", {"contentType": "text/plain", "url": "Binary/missing"}),
        doc("ok", {"contentType": "text/plain", "url": "Binary/ok"}),
        doc("future", text("numbness"), date="2026-09-01"),
    ]
    result, fake = run(engine, docs, pages)
    problems = " | ".join(result.notes.problems)
    assert "DocumentReference/pdf: not read: no text/plain attachment" in problems
    assert "DocumentReference/bad64: not read: attachment data is not base64" in problems
    assert (
        "DocumentReference/elsewhere: not read: its text could not be fetched (the page is not on" in problems
    )
    assert "DocumentReference/missing: not read: its text could not be fetched (HTTP 404)" in problems
    assert "DocumentReference/future: dated after the assessment date" in problems
    assert pages.calls == [f"{BASE}/Binary/missing", f"{BASE}/Binary/ok"]  # never another server
    assert fake.calls == [("no", dt.date(2026, 8, 5))]
    assert result.assessment is not None and result.notes.findings == []


def test_newest_notes_first_within_the_limits(engine: Engine) -> None:
    docs = [doc(f"n{i}", text(f"note {i}: numbness"), date=f"2026-08-0{i}") for i in range(1, 8)]
    docs[-1]["subject"] = {"reference": f"{BASE}/Patient/demo-07/_history/3"}  # the same patient
    result, fake = run(engine, docs, max_notes=3)
    assert [d for _, d in fake.calls] == [dt.date(2026, 8, 7), dt.date(2026, 8, 6), dt.date(2026, 8, 5)]
    assert "only the 3 most recent of 7 notes were read" in result.notes.problems
    (found,) = result.notes.findings
    assert (found.finding, found.reference, found.date) == ("numbness", "DocumentReference/n7", "2026-08-07")
    assert result.fhir_case.case["findings"]["numbness"] is True
    assert "DocumentReference/n7" in result.fhir_case.basis
    assert "from a note (DocumentReference/n7, 2026-08-07): “numbness”" in result.response.cards[0].detail


def test_the_note_budget_stops_reading(engine: Engine) -> None:
    ticks = iter([0.0, 0.5, 2.0, 2.0, 2.0])
    docs = [doc(f"n{i}", text("numbness"), date=f"2026-08-0{i}") for i in range(1, 4)]
    result, fake = run(engine, docs, budget_s=1.0, clock=lambda: next(ticks))
    assert len(fake.calls) == 1
    assert sum("time budget for notes exhausted" in p for p in result.notes.problems) == 2


def test_without_a_case_notes_are_not_read(engine: Engine) -> None:
    reader = FhirReader.from_kb(engine.kb)
    fake = FakeReader()
    service = PatientViewService(
        engine, reader=reader, notes=NotesReader(engine.kb, reader.mapping, read_note=fake)
    )
    body = {
        "hook": "patient-view",
        "hookInstance": "h-2",
        "context": {"patientId": "demo-07"},
        "prefetch": {
            "procedures": {"resourceType": "Bundle"},
            "documents": {"resourceType": "Bundle", "entry": [{"resource": doc("n1", text("numbness"))}]},
        },
    }
    result = service.handle(parse_hook_request(body))
    assert result.assessment is None and fake.calls == [] and result.notes is None
