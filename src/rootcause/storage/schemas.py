"""What goes in and out of the store: ``*Create`` / ``*Update`` inputs, ``*Public`` outputs.

Shared by the REST API, the CDS Hooks/FHIR layer and the CLI, so every caller validates a
patient the same way. Enumerations mirror the case contract (spec/case-format.md §1); a test
checks they match the engine's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["clinician", "admin"]
Sex = Literal["female", "male", "other"]
Procedure = Literal["discectomy", "laminectomy", "fusion", "interspinous_spacer", "other"]
Approach = Literal["open", "minimally_invasive"]
Route = Literal["posterior", "anterior", "lateral", "combined"]
SpinalLevel = Annotated[str, Field(pattern=r"^(T1[0-2]|L[1-5])-(L[1-5]|S1)$", examples=["L4-L5"])]
ExternalId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/#-]*$",
        description="the organisation's own patient identifier (MRN or similar); unique per organisation",
        examples=["MRN-000123"],
    ),
]


@dataclass(frozen=True)
class Actor:
    """Who is acting: an API key (or ``cli``) within one organisation."""

    key_id: str
    organisation_id: uuid.UUID
    role: Role
    request_id: str | None = None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatientSurgery(Strict):
    """The operation the leg pain follows (the case's ``surgery`` object)."""

    procedure: Procedure
    levels: list[SpinalLevel] | None = Field(default=None, max_length=12)
    approach: Approach | None = None
    route: Route | None = None
    instrumented: bool | None = None
    date: dt.date | None = Field(default=None, description="date of the operation (ISO 8601)")


class PatientCreate(Strict):
    external_id: ExternalId
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    age: int | None = Field(
        default=None, ge=0, le=120, description="age today; stored as an approximate birth year"
    )
    sex: Sex | None = None
    surgery: PatientSurgery

    @model_validator(mode="after")
    def _one_age(self) -> PatientCreate:
        if self.birth_year is not None and self.age is not None:
            raise ValueError("give birth_year or age, not both")
        if self.birth_year is not None and self.birth_year > dt.date.today().year:
            raise ValueError("birth_year is in the future")
        return self

    def resolved_birth_year(self, today: dt.date | None = None) -> int | None:
        if self.age is not None:
            return (today or dt.date.today()).year - self.age
        return self.birth_year


class PatientUpdate(Strict):
    """Fields given replace the stored ones; ``surgery`` is replaced as a whole."""

    external_id: ExternalId | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    sex: Sex | None = None
    surgery: PatientSurgery | None = None


class PatientPublic(BaseModel):
    id: uuid.UUID
    external_id: str
    birth_year: int | None
    sex: Sex | None
    surgery: PatientSurgery
    created_at: dt.datetime
    updated_at: dt.datetime


class PainScoreCreate(Strict):
    recorded_on: dt.date = Field(description="the date the score was taken")
    nrs: float = Field(ge=0, le=10, description="numeric rating scale of leg pain, 0–10")


class PainScorePublic(BaseModel):
    id: uuid.UUID
    recorded_on: dt.date
    nrs: float
    day: int | None = Field(description="days after surgery (negative = before); null without a surgery date")
    created_at: dt.datetime


class AssessmentSummary(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    created_at: dt.datetime
    assessed_on: dt.date | None
    knowledge_base_version: str
    software_version: str
    triage_level: str
    leading_condition: str
    leading_probability: float


class AssessmentPublic(AssessmentSummary):
    case: dict[str, Any] = Field(description="the exact case the engine assessed")
    result: dict[str, Any] = Field(description="the contract JSON of the assessment (spec §5)")


class OrganisationPublic(BaseModel):
    id: uuid.UUID
    name: str
    created_at: dt.datetime


class ApiKeyPublic(BaseModel):
    id: str
    organisation_id: uuid.UUID
    role: Role
    name: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the secret key; shown once, store it now")


class AuditEventPublic(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str | None
