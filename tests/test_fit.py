"""The poor-fit warning: typical presentations fit, incoherent ones are flagged with rarer causes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rootcause import Engine

VIGNETTES = sorted((Path(__file__).parent / "data" / "vignettes").glob("*.json"))


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_typical_vignettes_fit(engine: Engine, path: Path) -> None:
    result = engine.assess(json.loads(path.read_text())["case"])
    assert result.fit["poor_fit"] is False
    assert result.fit["consider"] == []


def test_findings_of_many_unrelated_mimics_are_a_poor_fit(engine: Engine) -> None:
    # Signs of five different non-spinal mimics at once: no single cause explains them.
    case = {
        "surgery": {"procedure": "discectomy"},
        "days_since_surgery": 60,
        "findings": {
            "stocking_numbness_both_feet": True,
            "groin_pain": True,
            "lateral_thigh_numbness": True,
            "piriformis_signs": True,
            "morning_stiffness_small_joints": True,
            "fibular_head_tinel": True,
            "mri_sciatic_nerve_lesion": True,
        },
    }
    result = engine.assess(case)
    assert result.fit["poor_fit"] is True
    assert result.fit["z"] < engine.kb.triage.fit.z_threshold
    rare = {c.id for c in engine.kb.conditions if c.rare}
    assert result.fit["consider"] and set(result.fit["consider"]) <= rare


def test_too_few_items_never_flag(engine: Engine) -> None:
    result = engine.assess(
        {"surgery": {"procedure": "fusion"}, "findings": {"mri_sciatic_nerve_lesion": True}}
    )
    assert result.fit["items"] < engine.kb.triage.fit.min_findings
    assert result.fit["poor_fit"] is False
