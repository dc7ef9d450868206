"""The engine against independent oracles: naive Bayes from the exported tables, by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from rootcause import Engine
from rootcause.engine.model import export_tables
from rootcause.engine.scoring import encode, log_prior


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
    """Each reported weight is log P(x | c) / P(x | not c), recomputed here from the model."""
    raw = {"surgery": {"procedure": "discectomy"}, "findings": {"fever": True, "slr_positive": False}}
    result = engine.assess(raw)
    model = engine.model
    prior = np.exp(log_prior(model, encode(model, [engine.parse(raw)]))[0])
    prior /= prior.sum()
    checked = 0
    for exp in result.explanations:
        c = model.condition_index[exp.condition]
        others = np.arange(model.n_conditions) != c
        for item in exp.evidence:
            if item.item not in ("fever", "slr_positive"):
                continue
            p = model.p_present[model.finding_index[item.item]]
            p = p if item.value is True else 1.0 - p
            p_others = float(prior[others] @ p[others] / prior[others].sum())
            assert item.p_given_condition == pytest.approx(p[c], abs=5e-5)
            assert item.p_given_others == pytest.approx(p_others, abs=5e-5)
            assert item.weight == pytest.approx(math.log(p[c] / p_others), abs=5e-5)
            assert item.likelihood_ratio == pytest.approx(p[c] / p_others, abs=5e-5)
            assert item.direction == ("for" if p[c] > p_others else "against")
            checked += 1
    assert checked == 2 * len(result.explanations)


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
