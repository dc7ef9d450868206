"""The patient-view CDS service, framework-free: discovery, request parsing, the call, feedback parsing.

A web router does only this (JWT checking lives in ``auth``)::

    verifier.verify(request.headers.get("Authorization"), audience=f"{base}/cds-services/patient-view")
    hook = parse_hook_request(await request.json())       # HookRequestError -> 400
    result = service.handle(hook)                          # never raises for missing or bad data
    return result.response_json()                          # 200 (or 412 if result.precondition_failed
                                                           #      and the deployment prefers the spec's 412)
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rootcause.cdshooks.cards import CardSettings, assessment_card, insufficient_data_card, stable_uuid
from rootcause.cdshooks.models import CdsResponse, CdsService, DiscoveryResponse, FeedbackRequest, HookRequest
from rootcause.cdshooks.notes import NotesReader, NotesResult
from rootcause.cdshooks.prefetch import (
    PREFETCH,
    FetchDeferred,
    FhirFetcher,
    Gathered,
    gather,
    url_fetcher,
    with_notes,
)
from rootcause.engine.assess import Assessment, Engine
from rootcause.engine.case import Case
from rootcause.errors import CaseError, FieldProblem, RootcauseError
from rootcause.fhir.reader import FhirCase, FhirReader
from rootcause.fhir.risk import risk_assessment_json

SERVICE_ID = "patient-view"
HOOK = "patient-view"


class HookRequestError(RootcauseError):
    """A CDS Hooks request or feedback body is malformed (HTTP 400); problems name the field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def discovery() -> DiscoveryResponse:
    """``GET /cds-services``."""
    return DiscoveryResponse(
        services=[
            CdsService(
                hook=HOOK,
                id=SERVICE_ID,
                title="rootcause: leg pain after lumbar spine surgery",
                description=(
                    "Ranked, explained causes of leg pain after lumbar spine surgery with a triage level, "
                    "the most useful next test and treatment options for the leading cause. Supports "
                    "clinical decisions; does not make them."
                ),
                prefetch={t.key: t.query for t in PREFETCH},
                usageRequirements=(
                    "For patients after lumbar spine surgery (discectomy, decompression, fusion, "
                    "interspinous spacer). Needs the patient's Procedures; works better with pain scores "
                    "(LOINC 72514-3), coded findings and Conditions. Register it for spine and pain "
                    "clinics: on other patients it answers with an 'insufficient data' card."
                ),
            )
        ]
    )


def _problems(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    return [
        FieldProblem(prefix + ".".join(str(x) for x in e["loc"]) or "body", e["msg"]) for e in exc.errors()
    ]


def parse_hook_request(body: Any) -> HookRequest:
    """Validate a ``POST /cds-services/patient-view`` body; raises ``HookRequestError`` naming fields."""
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise HookRequestError(_problems(exc)) from None
    if request.hook != HOOK:
        raise HookRequestError([FieldProblem("hook", f"this service answers {HOOK!r}, got {request.hook!r}")])
    try:
        request.patient_view_context()
    except ValidationError as exc:
        raise HookRequestError(_problems(exc, "context.")) from None
    return request


def parse_feedback(body: Any) -> FeedbackRequest:
    """Validate a ``POST /cds-services/patient-view/feedback`` body; raises ``HookRequestError``.

    Store each item under ``item.idempotency_key()`` so repeated feedback is stored once.
    """
    try:
        return FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        raise HookRequestError(_problems(exc)) from None


def operation_outcome(message: str, *, code: str = "processing", severity: str = "error") -> dict[str, Any]:
    """A minimal FHIR OperationOutcome for error bodies (CDS Hooks 3.0 recommends one on 4xx/5xx)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": message}}],
    }


@dataclass(frozen=True)
class CdsSettings:
    cards: CardSettings = field(default_factory=CardSettings)
    fetch_budget_s: float = 2.0
    request_timeout_s: float = 1.5
    max_pages: int = 5
    require_https: bool = True
    refetch_null_prefetch: bool = False
    risk_assessment: bool = True
    """Build the FHIR RiskAssessment (about half the CPU time of a call; only stored, never sent)."""


@dataclass
class PatientViewResult:
    """Everything the router may want to store for audit: ids, inputs as read, outputs."""

    response: CdsResponse
    assessment_id: str
    gathered: Gathered
    fhir_case: FhirCase | None = None
    assessment: Assessment | None = None
    risk_assessment: dict[str, Any] | None = None
    precondition_failed: bool = False
    notes: NotesResult | None = None
    """What the notes added (``notes.findings``, each marked as from a note), when notes were read."""

    def response_json(self) -> dict[str, Any]:
        out: dict[str, Any] = self.response.model_dump(mode="json", exclude_none=True)
        return out

    @property
    def card_uuids(self) -> list[str]:
        return [c.uuid for c in self.response.cards if c.uuid]


def _data_lines(fc: FhirCase, gathered: Gathered) -> list[str]:
    case = fc.case or {}
    surgery = case.get("surgery", {})
    lines = []
    if surgery:
        when = f" on {surgery['date']}" if surgery.get("date") else " (date unknown)"
        levels = f" {', '.join(surgery['levels'])}" if surgery.get("levels") else ""
        lines.append(f"Surgery: {surgery['procedure']}{levels}{when}")
    n_findings = len(case.get("findings", {}))
    n_pain = len(case.get("pain_scores", []))
    lines.append(f"{n_findings} findings and {n_pain} leg-pain scores read from the record")
    lines += gathered.problems()
    if fc.unmapped:
        lines.append(f"resources not used (not in the mapping): {len(fc.unmapped)}")
    if fc.problems:
        lines.append(f"invalid resources skipped: {len(fc.problems)}")
    return lines


class PatientViewService:
    """Built once at start-up; ``handle`` is safe to call from many threads (no shared mutable state)."""

    def __init__(
        self,
        engine: Engine,
        *,
        fetcher: FhirFetcher | None = None,
        settings: CdsSettings | None = None,
        reader: FhirReader | None = None,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        engine_version: str | None = None,
        notes: NotesReader | None = None,
    ) -> None:
        """``notes``: read DocumentReference notes with it (and fetch them when not prefetched);
        ``None`` leaves notes out."""
        self.engine = engine
        self.fetcher = fetcher
        self.settings = settings or CdsSettings()
        self.reader = reader or FhirReader.from_kb(engine.kb)
        self.today = today
        self.now = now
        self.engine_version = engine_version
        self.notes = notes
        self.templates = with_notes(PREFETCH) if notes is not None else PREFETCH

    def handle(self, request: HookRequest) -> PatientViewResult:
        prepared = self._prepare(request)
        if isinstance(prepared, PatientViewResult):
            return prepared
        try:
            assessment = self.engine.assess(prepared.case)
        except CaseError as exc:
            return self._unusable(prepared, exc)
        return self._finish(prepared, assessment)

    def handle_many(self, requests: Sequence[HookRequest]) -> list[PatientViewResult | FetchDeferred]:
        """``handle`` for calls that arrived together, their cases assessed in one engine call.

        A call whose data must be fetched from the EHR (its prefetch is partial) is not answered here:
        its place holds the ``FetchDeferred`` that the fetcher raised, so a fetcher that defers every
        fetch keeps this method from waiting on the network. Each result equals ``handle``'s."""
        out: list[PatientViewResult | FetchDeferred | _Prepared] = []
        for request in requests:
            try:
                out.append(self._prepare(request))
            except FetchDeferred as exc:
                out.append(exc)
        ready: list[tuple[int, _Prepared, Case]] = []
        for i, item in enumerate(out):
            if isinstance(item, _Prepared):
                try:
                    ready.append((i, item, self.engine.parse(item.case)))
                except CaseError as exc:
                    out[i] = self._unusable(item, exc)
        if ready:
            assessments = self.engine.assess_many([c for _, _, c in ready], explain=True, validated=True)
            for (i, item, _), assessment in zip(ready, assessments, strict=True):
                out[i] = self._finish(item, assessment)
        return [r for r in out if not isinstance(r, _Prepared)]

    def _prepare(self, request: HookRequest) -> _Prepared | PatientViewResult:
        """Gather and read the call's data: a case to assess, or the "insufficient data" answer."""
        s = self.settings
        hi = request.hookInstance
        assessment_id = stable_uuid(hi, "assessment-record")
        ctx = request.patient_view_context()
        started = time.monotonic()
        gathered = gather(
            request,
            fetcher=self.fetcher,
            templates=self.templates,
            budget_s=s.fetch_budget_s,
            request_timeout_s=s.request_timeout_s,
            max_pages=s.max_pages,
            require_https=s.require_https,
            refetch_null=s.refetch_null_prefetch,
        )
        documents = [r for r in gathered.resources if r.get("resourceType") == "DocumentReference"]
        structured = [r for r in gathered.resources if r.get("resourceType") != "DocumentReference"]
        fc = self.reader.read_resources(
            structured, assessed_on=self.today(), patient_id=ctx.patientId, strict=False
        )
        data_lines = _data_lines(fc, gathered) if fc.case is not None else []  # before notes add to it
        notes: NotesResult | None = None
        if self.notes is not None and fc.case is not None and documents:
            fetch = url_fetcher(
                request,
                fetcher=self.fetcher,
                deadline=started + s.fetch_budget_s,
                request_timeout_s=s.request_timeout_s,
                require_https=s.require_https,
            )
            refs = {fc.patient} if fc.patient else set()
            notes = self.notes.merge(fc, documents, patient_refs=refs, fetch=fetch)
        required_unavailable = [t.key for t in PREFETCH if t.required and gathered.unavailable(t.key)]
        prepared = _Prepared(
            request, assessment_id, gathered, fc, data_lines, notes, bool(required_unavailable)
        )
        if fc.case is None:
            return self._insufficient(
                prepared, gathered.problems() + fc.missing if required_unavailable else fc.missing
            )
        return prepared

    def _insufficient(self, prepared: _Prepared, missing: list[str]) -> PatientViewResult:
        card = insufficient_data_card(
            missing,
            hook_instance=prepared.request.hookInstance,
            settings=self.settings.cards,
            notes=[str(p) for p in prepared.fhir_case.problems][:5],
            disclaimer=self.engine.kb.manifest.disclaimer,
        )
        return PatientViewResult(
            CdsResponse(cards=[card]),
            prepared.assessment_id,
            prepared.gathered,
            fhir_case=prepared.fhir_case,
            precondition_failed=prepared.precondition_failed,
        )

    def _unusable(self, prepared: _Prepared, exc: CaseError) -> PatientViewResult:
        missing = [f"the record's data could not be used: {p}" for p in exc.problems]
        return self._insufficient(prepared, missing)

    def _finish(self, prepared: _Prepared, assessment: Assessment) -> PatientViewResult:
        s = self.settings
        fc, notes = prepared.fhir_case, prepared.notes
        card = assessment_card(
            assessment,
            self.engine.kb,
            hook_instance=prepared.request.hookInstance,
            settings=s.cards,
            assessment_id=prepared.assessment_id,
            patient=fc.patient,
            data_lines=prepared.data_lines + (notes.lines if notes else []),
        )
        risk = (
            risk_assessment_json(
                assessment,
                self.engine.kb,
                self.reader.mapping,
                subject=fc.patient,
                basis=fc.basis,
                occurrence=self.now(),
                resource_id=prepared.assessment_id,
                engine_version=self.engine_version,
            )
            if s.risk_assessment
            else None
        )
        return PatientViewResult(
            CdsResponse(cards=[card]),
            prepared.assessment_id,
            prepared.gathered,
            fhir_case=fc,
            assessment=assessment,
            risk_assessment=risk,
            notes=notes,
        )


@dataclass(frozen=True)
class _Prepared:
    """A call's data as read, before its case is assessed."""

    request: HookRequest
    assessment_id: str
    gathered: Gathered
    fhir_case: FhirCase
    data_lines: list[str]
    notes: NotesResult | None
    precondition_failed: bool

    @property
    def case(self) -> dict[str, Any]:
        assert self.fhir_case.case is not None  # prepared only when the record gave a case
        return self.fhir_case.case
