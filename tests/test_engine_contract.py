"""The engine against independent oracles: naive Bayes from the exported tables, by hand."""

from __future__ import annotations

import math
import random

import pytest

from rootcause import Engine
from rootcause.engine.model import export_tables


def naive_bayes(tables: dict, procedure: str, findings: dict[str, bool]) -> dict[str, float]:
    """Spec §6 computed in plain Python from the exported tables, in log space."""
    logs = {}
    for c in tables["conditions"]:
        total = math.log(tables["prior"][procedure][c])
        for f, present in findings.items():
            p = tables["p_present"][f][c]
            total += math.log(p if present else 1.0 - p)
        logs[c] = total
    top = max(logs.values())
    weights = {c: math.exp(v - top) for c, v in logs.items()}
    z = sum(weights.values())
    return {c: w / z for c, w in weights.items()}


def test_export_tables_shape(engine: Engine) -> None:
    tables = export_tables(engine.model)
    assert tables["knowledge_base_version"] == engine.version
    for proc, prior in tables["prior"].items():
        assert set(prior) == set(tables["conditions"]), proc
        assert abs(sum(prior.values()) - 1.0) < 1e-12
    for f in tables["findings"]:
        assert all(0 < p < 1 for p in tables["p_present"][f].values())


@pytest.mark.parametrize("seed", range(25))
def test_no_timing_posterior_equals_independent_naive_bayes(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    tables = export_tables(engine.model)
    procedure = rng.choice(list(tables["prior"]))
    chosen = rng.sample(tables["findings"], rng.randint(0, 12))
    findings = {f: rng.random() < 0.5 for f in chosen}
    result = engine.assess({"surgery": {"procedure": procedure}, "findings": findings})
    expected = naive_bayes(tables, procedure, findings)
    got = dict(result.differential)
    assert set(got) == set(expected)
    for c, p in expected.items():
        assert got[c] == pytest.approx(p, abs=1e-9), c


def test_differential_lists_every_condition_sorted_and_sums_to_one(engine: Engine) -> None:
    result = engine.assess({"surgery": {"procedure": "fusion"}, "findings": {"fever": True}})
    probs = [p for _, p in result.differential]
    assert len(probs) == len(engine.model.conditions)
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) == pytest.approx(1.0, abs=1e-12)


def test_hand_computed_two_finding_update(engine: Engine) -> None:
    # Oracle: Bayes' rule by hand for one pair of conditions. The posterior odds of two causes
    # equal the prior odds times the product of their likelihood ratios.
    model = engine.model
    a, b = "recurrent_disc_herniation", "epidural_fibrosis"
    ia, ib = model.condition_index[a], model.condition_index[b]
    fi = model.finding_index["pain_worse_with_cough_or_sneeze"]
    pi = model.procedure_index["discectomy"]
    prior_odds = model.prior[pi, ia] / model.prior[pi, ib]
    lr = model.p_present[fi, ia] / model.p_present[fi, ib]
    result = engine.assess(
        {
            "surgery": {"procedure": "discectomy"},
            "findings": {"pain_worse_with_cough_or_sneeze": True},
        }
    )
    assert result.probability(a) / result.probability(b) == pytest.approx(prior_odds * lr, rel=1e-9)


def test_timing_changes_the_posterior_but_keeps_it_normalised(engine: Engine) -> None:
    base = {"surgery": {"procedure": "discectomy"}, "findings": {"slr_positive": True}}
    timed = {
        **base,
        "days_since_surgery": 60,
        "leg_pain": {
            "relief_after_surgery": "complete",
            "onset_days": 40,
            "onset_speed": "gradual",
            "trend": "worsening",
        },
    }
    a, b = engine.assess(base), engine.assess(timed)
    assert dict(a.differential) != pytest.approx(dict(b.differential))
    assert sum(dict(b.differential).values()) == pytest.approx(1.0)


def test_explanation_weights_match_likelihood_ratios(engine: Engine) -> None:
    result = engine.assess(
        {"surgery": {"procedure": "discectomy"}, "findings": {"fever": True, "slr_positive": False}}
    )
    exp = result.explanations[0]
    model = engine.model
    c = model.condition_index[exp.condition]
    for item in exp.evidence:
        if item.item == "fever":
            assert item.p_given_condition == pytest.approx(model.p_present[model.finding_index["fever"], c])
            assert math.exp(item.weight) == pytest.approx(item.p_given_condition / item.p_given_others)


def test_batch_equals_single(engine: Engine) -> None:
    cases = [
        engine.parse(
            {
                "id": "a",
                "surgery": {"procedure": "fusion"},
                "days_since_surgery": 9,
                "findings": {"calf_swelling_or_tenderness": True},
            }
        ),
        engine.parse(
            {
                "id": "b",
                "surgery": {"procedure": "discectomy", "route": "posterior"},
                "age": 70,
                "sex": "male",
                "findings": {"groin_pain": True},
            }
        ),
    ]
    many = engine.assess_many(cases)
    for case, batch_result in zip(cases, many, strict=True):
        single = engine.assess(case)
        assert dict(single.differential) == pytest.approx(
            dict(batch_result.differential), rel=1e-9, abs=1e-15
        )
        assert single.triage.level == batch_result.triage.level
