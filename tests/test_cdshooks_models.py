"""CDS Hooks wire models against the specification's own examples, and the constraints we enforce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rootcause.cdshooks import (
    PREFETCH,
    CdsResponse,
    DiscoveryResponse,
    HookRequestError,
    discovery,
    parse_feedback,
    parse_hook_request,
)
from rootcause.cdshooks.models import Card, Link

SPEC = Path(__file__).parent / "data" / "cdshooks" / "spec"


def spec(name: str) -> Any:
    return json.loads((SPEC / name).read_text())


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("discovery.json", DiscoveryResponse),
        ("response.json", CdsResponse),
        ("response-system-action.json", CdsResponse),
    ],
)
def test_spec_examples_validate_and_round_trip(
    name: str, model: type[DiscoveryResponse] | type[CdsResponse]
) -> None:
    raw = spec(name)
    parsed = model.model_validate(raw)
    dumped = parsed.model_dump(mode="json", exclude_none=True)
    assert model.model_validate(dumped) == parsed
    assert json.dumps(dumped, sort_keys=True).count('"') > 10  # something real was dumped


def test_spec_request_example_parses() -> None:
    request = parse_hook_request(spec("request-patient-view.json"))
    assert request.hookInstance == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert request.patient_view_context().patientId == "1288992"
    assert request.fhirAuthorization is not None
    assert "some-opaque" not in repr(request.fhirAuthorization)  # the token is never printed


@pytest.mark.parametrize(
    "name", ["feedback-accepted.json", "feedback-overridden.json", "feedback-overridden-reason.json"]
)
def test_spec_feedback_examples_parse_with_stable_keys(name: str) -> None:
    fb = parse_feedback(spec(name))
    assert len(fb.feedback) == 1
    item = fb.feedback[0]
    assert item.idempotency_key() == parse_feedback(spec(name)).feedback[0].idempotency_key()
    assert item.idempotency_key().startswith(item.card + "|" + item.outcome)


def test_our_discovery_response() -> None:
    body = discovery().model_dump(mode="json", exclude_none=True)
    (service,) = body["services"]
    assert service["hook"] == "patient-view" and service["id"] == "patient-view"
    assert service["description"] and service["title"]
    assert service["prefetch"] == {
        "patient": "Patient/{{context.patientId}}",
        "procedures": "Procedure?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "documents": "DocumentReference?patient={{context.patientId}}",
    }
    assert [t.key for t in PREFETCH] == list(service["prefetch"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hook": "order-sign"}, "hook"),
        ({"hookInstance": None}, "hookInstance"),
        ({"context": {"userId": "Practitioner/1"}}, "context.patientId"),
        ({"fhirServer": None}, "fhirServer"),  # fhirAuthorization without fhirServer
        ({"fhirServer": "not a url"}, "fhirServer"),
    ],
)
def test_bad_requests_name_the_field(change: dict[str, Any], field: str) -> None:
    body = spec("request-patient-view.json")
    body.update(change)
    with pytest.raises(HookRequestError) as info:
        parse_hook_request(body)
    assert any(p.field.startswith(field) or field in str(p) for p in info.value.problems), info.value.problems


def test_bad_feedback_is_rejected() -> None:
    body = spec("feedback-accepted.json")
    body["feedback"][0].pop("acceptedSuggestions")
    with pytest.raises(HookRequestError, match="acceptedSuggestions"):
        parse_feedback(body)
    body = spec("feedback-overridden.json")
    body["feedback"][0]["outcome"] = "ignored"
    with pytest.raises(HookRequestError, match="outcome"):
        parse_feedback(body)
    body = spec("feedback-overridden.json")
    body["feedback"][0]["outcomeTimestamp"] = "2020-12-11T00:00:00"
    with pytest.raises(HookRequestError, match="time zone"):
        parse_feedback(body)


def test_card_constraints() -> None:
    good = {"summary": "x" * 139, "indicator": "info", "source": {"label": "rootcause"}}
    Card.model_validate(good)
    for bad in (
        {**good, "summary": "x" * 140},  # the spec: "<140-character summary"
        {**good, "indicator": "success"},  # pre-1.0 indicator
        {**good, "source": {}},
        {**good, "suggestions": [{"label": "do it"}]},  # suggestions need selectionBehavior
        {**good, "unknown": 1},
    ):
        with pytest.raises(ValidationError):
            Card.model_validate(bad)
    with pytest.raises(ValidationError, match="appContext"):
        Link(label="x", url="https://example.com", type="absolute", appContext="{}")  # type: ignore[arg-type]


def test_docs_list_every_setting_and_auth_reason() -> None:
    import dataclasses
    import re

    from rootcause.cdshooks import CardSettings, CdsSettings, auth

    doc = (Path(__file__).parent.parent / "docs" / "cds-hooks.md").read_text()
    for cls in (CdsSettings, CardSettings):
        for f in dataclasses.fields(cls):
            if f.name != "cards":
                assert f"`{f.name}`" in doc, f.name
    reasons = set(re.findall(r'AuthError\(\s*(?:f?"([a-z_]+)")', Path(auth.__file__).read_text()))
    reasons |= {"missing_exp", "missing_iat"}  # built from the claim name
    for r in reasons:
        assert f"`{r}`" in doc, r
