"""The seed article's time rules (S13-S21) and modifiers, on timing-only cases.

Each test builds cases that differ only in what the rule is about and checks that the
posterior moves the way the rule (as corrected by the literature) says.
"""

from __future__ import annotations

from rootcause import Assessment, Engine


def assess(
    engine: Engine,
    procedure: str = "discectomy",
    findings: dict | None = None,
    surgery: dict | None = None,
    **timing: object,
) -> Assessment:
    days = timing.pop("days", None)
    case: dict = {
        "surgery": {"procedure": procedure, **(surgery or {})},
        "findings": findings or {},
    }
    if days is not None:
        case["days_since_surgery"] = days
    if timing:
        case["leg_pain"] = timing
    return engine.assess(case)


def top(a: Assessment, k: int = 1) -> list[str]:
    return [c for c, _ in a.differential[:k]]


def test_s13_speed_separates_fibrosis_from_recurrence(engine: Engine) -> None:
    common = {
        "days": 75,
        "relief_after_surgery": "complete",
        "onset_days": 50,
        "trend": "worsening",
    }
    gradual = assess(engine, onset_speed="gradual", **common)
    sudden = assess(engine, onset_speed="sudden", **common)
    fib, rec = "epidural_fibrosis", "recurrent_disc_herniation"
    assert gradual.probability(fib) > gradual.probability(rec)
    assert sudden.probability(rec) > sudden.probability(fib)


def test_s14_s15_relief_then_gradual_return_is_fibrosis(engine: Engine) -> None:
    a = assess(
        engine,
        days=80,
        relief_after_surgery="complete",
        onset_days=56,
        onset_speed="gradual",
        trend="worsening",
    )
    assert top(a) == ["epidural_fibrosis"]


def test_s16_early_improving_pain_is_nerve_healing(engine: Engine) -> None:
    a = assess(engine, days=10, relief_after_surgery="partial", onset_days=0, trend="improving")
    assert top(a) == ["nerve_healing"]
    assert a.triage.level == "routine"


def test_s17_no_improvement_by_three_months_is_not_nerve_healing(engine: Engine) -> None:
    early = assess(engine, days=10, relief_after_surgery="none", onset_days=0, trend="stable")
    late = assess(engine, days=120, relief_after_surgery="none", onset_days=0, trend="stable")
    assert late.probability("nerve_healing") < early.probability("nerve_healing") / 3
    failed = sum(
        late.probability(c)
        for c in (
            "residual_compression",
            "wrong_level_or_missed_generator",
            "preexisting_nerve_damage",
            "nerve_root_injury",
        )
    )
    assert failed > 2 * late.probability("nerve_healing")
    assert "nerve_healing" not in top(late, 2)


def test_s18_relief_then_sudden_return_is_recurrence(engine: Engine) -> None:
    a = assess(
        engine,
        days=65,
        relief_after_surgery="complete",
        onset_days=60,
        onset_speed="sudden",
        trend="stable",
    )
    assert top(a) == ["recurrent_disc_herniation"]


def test_s19_unrelieved_from_waking_points_to_surgical_causes(engine: Engine) -> None:
    unrelieved = assess(engine, days=21, relief_after_surgery="none", onset_days=0, trend="stable")
    relieved = assess(engine, days=21, relief_after_surgery="complete", onset_days=0, trend="stable")
    surgical = ("residual_compression", "nerve_root_injury", "wrong_level_or_missed_generator")
    assert sum(unrelieved.probability(c) for c in surgical) > 1.5 * sum(
        relieved.probability(c) for c in surgical
    )
    assert set(top(unrelieved, 3)) & set(surgical)


def test_s08_minimally_invasive_raises_residual_compression(engine: Engine) -> None:
    timing = {"days": 21, "relief_after_surgery": "none", "onset_days": 0, "trend": "stable"}
    mis = assess(engine, surgery={"approach": "minimally_invasive"}, **timing)
    open_ = assess(engine, surgery={"approach": "open"}, **timing)
    assert mis.probability("residual_compression") > open_.probability("residual_compression")


def test_s20_new_pain_after_six_months_is_not_fibrosis(engine: Engine) -> None:
    weeks = assess(
        engine,
        days=80,
        relief_after_surgery="complete",
        onset_days=56,
        onset_speed="gradual",
        trend="worsening",
    )
    late = assess(
        engine,
        days=420,
        relief_after_surgery="complete",
        onset_days=400,
        onset_speed="gradual",
        trend="worsening",
    )
    assert late.probability("epidural_fibrosis") < weeks.probability("epidural_fibrosis") / 3
    assert "epidural_fibrosis" not in top(late, 3)
    # Literature correction: late pain is still often surgery-related (recurrence, other level).
    late_causes = (
        "other_level_pathology",
        "recurrent_disc_herniation",
        "iatrogenic_instability",
        "sacroiliac_joint_pain",
        "adjacent_segment_disease",
    )
    assert sum(late.probability(c) for c in late_causes) > 0.3
    acute = ("postoperative_hematoma", "surgical_site_infection", "dural_tear_csf_leak")
    assert sum(late.probability(c) for c in acute) < 0.05


def test_s21_laminectomy_heals_more_slowly_than_spacer(engine: Engine) -> None:
    def healing_ratio(procedure: str) -> float:
        timing = {"relief_after_surgery": "partial", "onset_days": 0, "trend": "improving"}
        later = assess(engine, procedure, days=60, **timing).probability("nerve_healing")
        early = assess(engine, procedure, days=7, **timing).probability("nerve_healing")
        return later / early

    assert healing_ratio("laminectomy") > healing_ratio("interspinous_spacer")


def test_s22_risk_factors_raise_fibrosis_weakly(engine: Engine) -> None:
    timing = {"days": 80, "relief_after_surgery": "complete", "onset_days": 50}
    plain = assess(engine, **timing)
    risky = assess(
        engine,
        findings={"smoker": True, "obesity": True, "early_vigorous_activity": True},
        **timing,
    )
    ratio = risky.probability("epidural_fibrosis") / plain.probability("epidural_fibrosis")
    assert 1.0 < ratio < 4.0


def test_s23_preoperative_damage_favours_persisting_nerve_damage(engine: Engine) -> None:
    timing = {"days": 150, "relief_after_surgery": "partial", "onset_days": 0, "trend": "stable"}
    plain = assess(engine, **timing)
    damaged = assess(engine, findings={"preop_motor_deficit": True, "long_preop_symptoms": True}, **timing)
    assert damaged.probability("preexisting_nerve_damage") > 1.5 * plain.probability(
        "preexisting_nerve_damage"
    )


def test_s24_slr_does_not_single_out_scar(engine: Engine) -> None:
    model = engine.model
    slr = model.finding_index["slr_positive"]
    fib = model.condition_index["epidural_fibrosis"]
    rec = model.condition_index["recurrent_disc_herniation"]
    assert model.p_present[slr, fib] <= model.p_present[slr, rec]
    timing = {"days": 80, "relief_after_surgery": "complete", "onset_days": 50}
    without = assess(engine, **timing)
    with_slr = assess(engine, findings={"slr_positive": True}, **timing)
    odds = lambda a: a.probability("epidural_fibrosis") / a.probability("recurrent_disc_herniation")  # noqa: E731
    assert odds(with_slr) <= odds(without) * 1.05


def test_s26_root_block_at_other_level_points_to_missed_generator(engine: Engine) -> None:
    timing = {"days": 90, "relief_after_surgery": "none", "onset_days": 0, "trend": "stable"}
    plain = assess(engine, **timing)
    blocked = assess(
        engine,
        findings={"root_block_relief_other_level": True, "root_block_relief_operated_level": False},
        **timing,
    )
    targets = ("wrong_level_or_missed_generator", "other_level_pathology")
    assert sum(blocked.probability(c) for c in targets) > 2 * sum(plain.probability(c) for c in targets)
    assert set(top(blocked, 2)) & set(targets)
