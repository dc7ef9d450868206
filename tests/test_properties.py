"""Properties over random valid cases (Hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rootcause import Engine, load_engine
from rootcause.knowledge.schema import TRIAGE_LEVELS

CONTRACT = json.loads((Path(__file__).parent / "data" / "contract_ids.json").read_text())
ENGINE = load_engine()
RED_FLAGS = [f.id for f in ENGINE.kb.findings if f.red_flag]


@st.composite
def cases(draw: st.DrawFn) -> dict:
    days = draw(st.none() | st.integers(0, 4000))
    case: dict = {
        "surgery": {
            "procedure": draw(st.sampled_from(CONTRACT["procedures"])),
            **draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "approach": st.sampled_from(["open", "minimally_invasive"]),
                        "route": st.sampled_from(["posterior", "anterior", "lateral", "combined"]),
                        "instrumented": st.booleans(),
                    },
                )
            ),
        },
        "findings": draw(st.dictionaries(st.sampled_from(CONTRACT["findings"]), st.booleans(), max_size=20)),
    }
    if draw(st.booleans()):
        case["age"] = draw(st.integers(0, 120))
    if draw(st.booleans()):
        case["sex"] = draw(st.sampled_from(["female", "male", "other"]))
    if days is not None:
        case["days_since_surgery"] = days
    leg = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "side": st.sampled_from(["left", "right", "both"]),
                "relief_after_surgery": st.sampled_from(["none", "partial", "complete"]),
                "onset_days": st.integers(0, days if days is not None else 4000),
                "onset_speed": st.sampled_from(["sudden", "gradual"]),
                "trend": st.sampled_from(["improving", "stable", "worsening"]),
            },
        )
    )
    if leg:
        case["leg_pain"] = leg
    if draw(st.booleans()):
        top = days if days is not None else 4000
        case["pain_scores"] = draw(
            st.lists(
                st.fixed_dictionaries({"day": st.integers(-60, top), "nrs": st.integers(0, 10)}),
                max_size=8,
            )
        )
    return case


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(cases())
def test_random_valid_cases_never_crash_and_sum_to_one(case: dict) -> None:
    result = ENGINE.assess(case)
    total = sum(p for _, p in result.differential)
    assert abs(total - 1.0) < 1e-9
    assert all(0.0 <= p <= 1.0 for _, p in result.differential)
    assert result.triage.level in TRIAGE_LEVELS
    json.dumps(result.to_dict())


@FAST
@given(cases(), st.sampled_from(RED_FLAGS))
def test_adding_a_red_flag_never_lowers_triage(case: dict, flag: str) -> None:
    before = ENGINE.assess(case).triage.level
    flagged = {**case, "findings": {**case["findings"], flag: True}}
    after = ENGINE.assess(flagged).triage.level
    assert TRIAGE_LEVELS.index(after) >= TRIAGE_LEVELS.index(before)  # type: ignore[arg-type]


@FAST
@given(cases())
def test_next_steps_never_repeat_known_findings(case: dict) -> None:
    result = ENGINE.assess(case)
    known = set(case["findings"])
    assert not known & {s["finding"] for s in result.next_steps}


def test_engine_fixture_is_the_same_knowledge(engine: Engine) -> None:
    assert engine.version == ENGINE.version
