"""CDS Hooks core for the patient-view service: framework-free, pure where possible.

- ``models``   pydantic models of discovery, request, cards and feedback
- ``prefetch`` prefetch templates and partial-prefetch handling with an injectable FHIR fetcher
- ``cards``    cards from an Assessment; the "insufficient data" card
- ``notes``    DocumentReference notes read with the note reader, for findings the record lacks
- ``auth``     the EHR's bearer JWT: allow-listed issuers, JWKS by kid, aud, exp, jti replay
- ``service``  discovery, request/feedback parsing and ``PatientViewService.handle``

docs/cds-hooks.md describes the wiring for the web app.
"""

from rootcause.cdshooks.auth import (
    AuthError,
    CachingJwksFetcher,
    InMemoryReplayStore,
    JwksFetcher,
    JwtVerifier,
    ReplayStore,
    TrustedIssuer,
    VerifiedToken,
)
from rootcause.cdshooks.cards import CardSettings, assessment_card, insufficient_data_card, stable_uuid
from rootcause.cdshooks.models import (
    Card,
    CdsResponse,
    DiscoveryResponse,
    FeedbackItem,
    FeedbackRequest,
    HookRequest,
)
from rootcause.cdshooks.notes import NoteFinding, NotesReader, NotesResult
from rootcause.cdshooks.prefetch import PREFETCH, FetchError, FhirFetcher, Gathered, HttpxFhirFetcher, gather
from rootcause.cdshooks.service import (
    SERVICE_ID,
    CdsSettings,
    HookRequestError,
    PatientViewResult,
    PatientViewService,
    discovery,
    operation_outcome,
    parse_feedback,
    parse_hook_request,
)

__all__ = [
    "PREFETCH",
    "SERVICE_ID",
    "AuthError",
    "CachingJwksFetcher",
    "Card",
    "CardSettings",
    "CdsResponse",
    "CdsSettings",
    "DiscoveryResponse",
    "FeedbackItem",
    "FeedbackRequest",
    "FetchError",
    "FhirFetcher",
    "Gathered",
    "HookRequest",
    "HookRequestError",
    "HttpxFhirFetcher",
    "InMemoryReplayStore",
    "JwksFetcher",
    "JwtVerifier",
    "NoteFinding",
    "NotesReader",
    "NotesResult",
    "PatientViewResult",
    "PatientViewService",
    "ReplayStore",
    "TrustedIssuer",
    "VerifiedToken",
    "assessment_card",
    "discovery",
    "gather",
    "insufficient_data_card",
    "operation_outcome",
    "parse_feedback",
    "parse_hook_request",
    "stable_uuid",
]
