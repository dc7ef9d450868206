"""Cards from assessments: the spec's response shape, indicator per triage level, summary length, uuids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rootcause import Engine
from rootcause.cdshooks import CardSettings, CdsResponse, assessment_card, insufficient_data_card, stable_uuid
from rootcause.cdshooks.cards import fit_summary

VIGNETTES = sorted((Path(__file__).parent / "data" / "vignettes").glob("*.json"))
HI = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
INDICATOR = {"emergency": "critical", "urgent": "critical", "soon": "warning", "routine": "info"}


def case(path: Path) -> dict:
    return json.loads(path.read_text())["case"]


@pytest.mark.parametrize("path", VIGNETTES, ids=[p.stem for p in VIGNETTES])
def test_card_for_every_vignette_has_the_spec_shape(engine: Engine, path: Path) -> None:
    result = engine.assess(case(path))
    card = assessment_card(result, engine.kb, hook_instance=HI, assessment_id="a-1", patient="Patient/1")
    body = CdsResponse(cards=[card]).model_dump(mode="json", exclude_none=True)
    again = CdsResponse.model_validate(body)  # what we send validates against the models
    assert again.cards[0] == card
    c = body["cards"][0]
    assert set(c) <= {
        "uuid",
        "summary",
        "detail",
        "indicator",
        "source",
        "suggestions",
        "selectionBehavior",
        "overrideReasons",
        "links",
    }
    assert 0 < len(c["summary"]) < 140
    assert c["indicator"] == INDICATOR[result.triage.level]
    assert c["source"]["label"] == "rootcause" and c["source"]["url"].startswith("https://")
    assert all(r["display"] for r in c["overrideReasons"])
    if "suggestions" in c:
        assert c["selectionBehavior"] == "any"
        for s in c["suggestions"]:
            assert s["uuid"] and s["actions"][0]["resource"]["intent"] == "proposal"
    smart = [link for link in c["links"] if link["type"] == "smart"]
    assert smart and json.loads(smart[0]["appContext"]) == {"hookInstance": HI, "assessment": "a-1"}


def test_each_triage_level_gets_its_indicator(engine: Engine) -> None:
    seen = {}
    for path in VIGNETTES:
        result = engine.assess(case(path))
        seen[result.triage.level] = assessment_card(result, engine.kb, hook_instance=HI).indicator
    assert seen == INDICATOR  # all four levels occur in the vignettes


def test_detail_names_causes_next_step_options_and_disclaimer(engine: Engine) -> None:
    result = engine.assess(case(VIGNETTES[4]))  # 05: fever and wound in week three
    card = assessment_card(result, engine.kb, hook_instance=HI, data_lines=["Surgery: fusion"])
    detail = card.detail or ""
    lead, p = result.differential[0]
    assert f"| {engine.kb.condition(lead).name} | {p:.0%} |" in detail
    assert "| <1% |" in detail  # tiny probabilities are not shown as 0%
    assert "**Triage: URGENT**" in detail
    assert result.next_steps[0]["question"] in detail
    assert result.treatments[0]["options"][0]["name"] in detail
    assert "Surgery: fusion" in detail
    assert engine.kb.manifest.disclaimer in detail
    assert "Surgical-site infection" in card.summary and "URGENT" in card.summary


def test_uuids_are_stable_per_hook_instance_and_kind(engine: Engine) -> None:
    result = engine.assess(case(VIGNETTES[0]))
    a = assessment_card(result, engine.kb, hook_instance=HI)
    b = assessment_card(result, engine.kb, hook_instance=HI)
    c = assessment_card(result, engine.kb, hook_instance="another-instance")
    assert a.uuid == b.uuid == stable_uuid(HI, "assessment") != c.uuid
    assert insufficient_data_card(["x"], hook_instance=HI).uuid not in (a.uuid, None)


def test_settings_change_the_links(engine: Engine) -> None:
    settings = CardSettings(
        app_launch_url="https://app.example.org/launch",
        result_url="https://app.example.org/results/{assessment_id}",
        sources_url="https://docs.example.org/sources",
    )
    card = assessment_card(
        engine.assess(case(VIGNETTES[0])), engine.kb, hook_instance=HI, settings=settings, assessment_id="r-9"
    )
    urls = [str(link.url) for link in card.links or []]
    assert urls == ["https://app.example.org/launch", "https://app.example.org/results/r-9"]
    assert str(card.source.url) == "https://docs.example.org/sources"


def test_insufficient_data_card_names_what_is_missing() -> None:
    card = insufficient_data_card(["no completed lumbar spine Procedure"], hook_instance=HI, notes=["n1"])
    assert card.indicator == "info" and len(card.summary) < 140
    assert "no completed lumbar spine Procedure" in (card.detail or "") and "n1" in (card.detail or "")
    assert (
        card.links and card.links[0].type == "smart" and "assessment" not in (card.links[0].appContext or "")
    )


def test_fit_summary_cuts_long_text() -> None:
    cut = fit_summary("a " * 200)
    assert cut.endswith("a…") and len(cut) <= 139
    assert fit_summary("short  text") == "short text"
