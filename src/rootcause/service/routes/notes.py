"""Read a clinical note: free text in, the case it states (with the text behind every value) out.

``POST /v1/parse`` runs the note reader (rootcause.adapters.notes, docs/notes.md) and, with
``?assess=true``, also assesses the case when the note names the operation. Nothing is stored and
the note's text is never logged. A key is required (any role), as for /v1/assess.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.service.deps import ActorDep, EngineDep, JsonBody
from rootcause.service.openapi import errors
from rootcause.service.problems import FieldError, invalid_request
from rootcause.service.routes.assess import Explain, json_response

router = APIRouter(prefix="/v1", tags=["assess"])
MAX_NOTE_CHARS = 20_000


class NoteIn(BaseModel):
    """A note and, for relative times such as "since Sunday", the date it was written."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        min_length=1,
        max_length=MAX_NOTE_CHARS,
        description="the note's text (clinic letter, triage note, patient message …), at most "
        f"{MAX_NOTE_CHARS} characters",
        examples=["6/52 post L4/5 microdiscectomy. Denies saddle anaesthesia. Afebrile."],
    )
    note_date: dt.date | None = Field(
        default=None, description="the date the note was written (YYYY-MM-DD)", examples=["2026-08-10"]
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the note is empty")
        return value


class EvidenceOut(BaseModel):
    field: str = Field(description="the case field, e.g. `findings.fever` or `surgery.levels`")
    value: Any
    start: int = Field(description="character offset in `text` where the span begins")
    end: int = Field(description="character offset where it ends")
    text: str = Field(description="the span of the note that gave the value")


class NoteReadingOut(BaseModel):
    case: dict[str, Any] = Field(description="the case the note states (spec/case-format.md §1)")
    evidence: list[EvidenceOut]
    missing: list[str] = Field(description="what an assessment still needs: fields and unchecked red flags")
    assessment: dict[str, Any] | None = Field(
        default=None,
        description="with ?assess=true: the assessment of `case` (as POST /v1/assess), or null when the note "
        "names no operation",
    )


def _note(body: Any) -> NoteIn:
    """The request body as a NoteIn, or 422 naming each bad field (the body is read as JSON whatever its
    content type, as for /v1/assess: malformed JSON is 400)."""
    if not isinstance(body, dict):
        raise invalid_request(
            'expected {"text": "…", "note_date": "YYYY-MM-DD"}',
            [FieldError(field="(body)", message="expected a JSON object with a text field")],
        )
    try:
        return NoteIn.model_validate(body)
    except ValidationError as exc:
        problems = [
            FieldError(field=".".join(str(p) for p in e["loc"]) or "(body)", message=e["msg"])
            for e in exc.errors()
        ]
        raise invalid_request(
            f"{len(problems)} problem(s) in the request",
            problems,
        ) from None


def _read(engine: Engine, note: NoteIn, assess: bool, explain: bool) -> dict[str, Any]:
    from rootcause.adapters.notes import read_note

    reading = read_note(note.text, note.note_date)
    out = reading.to_dict()
    if assess:
        case = reading.case
        out["assessment"] = engine.assess(case, explain=explain).to_dict() if "surgery" in case else None
    return out


@router.post(
    "/parse",
    summary="Read a clinical note",
    response_class=Response,
    responses={
        200: {"model": NoteReadingOut, "description": "The case, its evidence and gaps"},
        **errors(400, 401, 413, 422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NoteIn.model_json_schema()}},
        }
    },
)
async def parse_note(
    body: JsonBody,
    actor: ActorDep,
    engine: EngineDep,
    assess: Annotated[
        bool, Query(description="also assess the case (when the note names the operation)")
    ] = False,
    explain: Explain = True,
) -> Response:
    """The case a note states, the span of text behind every value (`evidence`, character offsets
    into `text`) and what an assessment still needs (`missing`).

    Only what the note states explicitly is read: negated findings are `false`, uncertain,
    hypothetical and family mentions give nothing (docs/notes.md). With `?assess=true` the answer
    also has `assessment`. Bad input (no `text`, an over-long note, `note_date` not a date) is 422
    with `errors` naming the field. Nothing is stored.
    """
    note = _note(body)
    out = await run_in_threadpool(_read, engine, note, assess, explain)
    return json_response(out)
