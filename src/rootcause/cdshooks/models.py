"""Pydantic models of the CDS Hooks 2.0 / 3.0 wire format (discovery, request, response, feedback).

Written from the HL7 CDS Hooks specification (github.com/HL7/cds-hooks, input/pagecontent/index.md)
and its logical models (CDSHooksServices, CDSHooksRequest, CDSHooksResponse, CDSHooksFeedback).
What we *receive* (request, feedback) ignores unknown fields, so newer clients still work; what we
*send* (discovery, cards) forbids them, so a typo cannot reach an EHR. Dump with
``model.model_dump(mode="json", exclude_none=True)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, model_validator

SUMMARY_MAX = 139  # the spec: "<140-character summary"


class Outgoing(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Incoming(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------- shared


class Coding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    system: str | None = None
    code: str
    display: str | None = None


# ---------------------------------------------------------------- discovery


class CdsService(Outgoing):
    hook: str
    title: str | None = None
    description: str
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._~-]+$")]
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class DiscoveryResponse(Outgoing):
    services: list[CdsService]


# ---------------------------------------------------------------- request


class FhirAuthorization(Incoming):
    """The spec marks every field but ``patient`` required; only the token is needed to fetch, so the
    rest are accepted when missing rather than failing the whole call."""

    access_token: Annotated[str, Field(min_length=1)]
    token_type: Literal["Bearer", "bearer"] = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"FhirAuthorization(subject={self.subject!r}, scope={self.scope!r})"

    __str__ = __repr__


class PatientViewContext(Incoming):
    userId: str | None = None
    patientId: Annotated[str, Field(min_length=1)]
    encounterId: str | None = None


class HookRequest(Incoming):
    hook: str
    hookInstance: Annotated[str, Field(min_length=1)]
    fhirServer: AnyUrl | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self

    def patient_view_context(self) -> PatientViewContext:
        return PatientViewContext.model_validate(self.context)


# ---------------------------------------------------------------- response


class Source(Outgoing):
    label: Annotated[str, Field(min_length=1)]
    url: AnyUrl | None = None
    icon: AnyUrl | None = None
    topic: Coding | None = None


class SystemAction(Outgoing):
    """An action; as a ``systemAction`` its description is optional."""

    type: Literal["create", "update", "delete"]
    description: str | None = None
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _payload(self) -> SystemAction:
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action needs a resource")
        if self.type == "delete" and self.resourceId is None:
            raise ValueError("a delete action needs resourceId")
        return self


class Action(SystemAction):
    """An action inside a card's suggestion: the description is required."""

    description: Annotated[str, Field(min_length=1)]


class Suggestion(Outgoing):
    label: Annotated[str, Field(min_length=1)]
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(Outgoing):
    label: Annotated[str, Field(min_length=1)]
    url: AnyUrl
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only valid on smart links")
        return self


class OverrideReasonCoding(Outgoing):
    system: str | None = None
    code: str
    display: Annotated[str, Field(min_length=1)]


class Card(Outgoing):
    uuid: str | None = None
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX)]
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReasonCoding] | None = None
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _selection_with_suggestions(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when suggestions are given")
        return self


class CdsResponse(Outgoing):
    cards: list[Card]
    systemActions: list[SystemAction] | None = None


# ---------------------------------------------------------------- feedback


class AcceptedSuggestion(Incoming):
    id: Annotated[str, Field(min_length=1)]


class OverrideReason(Incoming):
    reason: Coding | None = None
    userComment: str | None = None


class FeedbackItem(Incoming):
    card: Annotated[str, Field(min_length=1)]
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: dt.datetime

    @model_validator(mode="after")
    def _rules(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        if self.outcomeTimestamp.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry a time zone (RFC 3339, UTC)")
        return self

    def idempotency_key(self) -> str:
        """Same card, outcome, time and suggestions → same key; clients may resend feedback."""
        accepted = ",".join(sorted(s.id for s in self.acceptedSuggestions or []))
        stamp = self.outcomeTimestamp.astimezone(dt.UTC).isoformat()
        return f"{self.card}|{self.outcome}|{stamp}|{accepted}"


class FeedbackRequest(Incoming):
    feedback: list[FeedbackItem]
