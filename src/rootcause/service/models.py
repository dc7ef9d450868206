"""Request and response models that exist only for the HTTP API (pages, batch, documentation).

Patient-level inputs and outputs live in ``rootcause.storage.schemas`` (shared with other
interfaces); the case itself is the engine's msgspec contract, published in the OpenAPI
document by ``service.openapi``.
"""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from rootcause.service.problems import FieldError
from rootcause.storage.schemas import ApiKeyCreated, OrganisationPublic, Role

T = TypeVar("T")
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
PRINTABLE_TRIMMED = r"^[^\x00-\x20\x7f]([^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="how many match, across all pages")
    limit: int
    offset: int


class DifferentialEntry(BaseModel):
    condition: str
    probability: float


class TriageOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    level: str = Field(description="emergency, urgent, soon or routine")
    reasons: list[str]


class AssessmentResult(BaseModel):
    """The contract JSON of one assessment (spec/case-format.md §5), with explanations."""

    model_config = ConfigDict(extra="allow")
    case_id: str | None
    knowledge_base_version: str
    triage: TriageOut
    differential: list[DifferentialEntry]
    next_steps: list[dict[str, Any]]
    explanations: list[dict[str, Any]] = Field(default_factory=list)
    treatments: list[dict[str, Any]] = Field(default_factory=list)
    disclaimer: str = ""


class BatchItem(BaseModel):
    index: int = Field(description="position of the case in the request")
    ok: bool
    result: AssessmentResult | None = None
    errors: list[FieldError] = Field(default_factory=list, description="why this case was rejected")


class BatchResult(BaseModel):
    count: int
    failed: int
    results: list[BatchItem]


class KnowledgeIndex(BaseModel):
    knowledge_base_version: str
    title: str
    disclaimer: str
    counts: dict[str, int]


class ConditionSummary(BaseModel):
    id: str
    name: str
    group: str
    rare: bool
    urgency: str
    clinician_description: str
    patient_description: str


class TreatmentEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    condition: str
    condition_name: str
    name: str
    kind: str
    evidence: str


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=PRINTABLE_TRIMMED)


class OrganisationCreated(BaseModel):
    organisation: OrganisationPublic
    admin_key: ApiKeyCreated


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = "clinician"
    name: str | None = Field(
        default=None, max_length=200, pattern=PRINTABLE, description="a label, e.g. who holds the key"
    )


class Me(BaseModel):
    key_id: str
    role: Role
    organisation_id: uuid.UUID
    organisation_name: str
