"""Timing read from serial pain scores when the leg-pain fields are absent."""

from __future__ import annotations

import pytest

from rootcause import Engine
from rootcause.engine.case import PainScore
from rootcause.engine.timeline import read_scores


def scores(*pairs: tuple[int, float]) -> list[PainScore]:
    return [PainScore(day=d, nrs=n) for d, n in pairs]


@pytest.mark.parametrize(
    ("pairs", "relief", "onset", "speed", "trend", "course"),
    [
        # spec example: relief to 2, rising to 5 by day 42 and 6 by day 70 -> gradual return
        (
            [(-7, 8), (14, 2), (42, 5), (70, 6)],
            "complete",
            28,
            "gradual",
            "worsening",
            "relief_then_gradual_return",
        ),
        # relief then a jump of 5 points within 3 days -> sudden return starting the next day
        (
            [(-3, 8), (10, 1), (30, 1), (33, 7)],
            "complete",
            31,
            "sudden",
            "worsening",
            "relief_then_sudden_return",
        ),
        # never relieved, flat
        ([(-10, 7), (3, 7), (30, 7), (90, 6)], "none", 0, None, "improving", "improving"),
        ([(-10, 7), (3, 7), (30, 7), (90, 7)], "none", 0, None, "stable", "never_relieved"),
        # steady improvement from day 1
        ([(-5, 9), (1, 7), (7, 5), (14, 3)], "partial", 0, None, "improving", "improving"),
        # no pre-operative score: a low post-operative score then a rise is still a return
        (
            [(2, 1), (20, 1), (40, 7), (55, 8)],
            "complete",
            30,
            "gradual",
            "worsening",
            "relief_then_gradual_return",
        ),
        # partial relief then plateau
        ([(-5, 8), (14, 4), (42, 4), (70, 4)], "partial", None, None, "stable", "plateau"),
    ],
)
def test_read_scores(pairs, relief, onset, speed, trend, course) -> None:  # type: ignore[no-untyped-def]
    r = read_scores(scores(*pairs))
    assert (r.relief, r.onset_days, r.speed, r.trend, r.course) == (
        relief,
        onset,
        speed,
        trend,
        course,
    )


def test_no_postoperative_scores_give_nothing() -> None:
    r = read_scores(scores((-10, 8), (-2, 9)))
    assert (r.relief, r.onset_days, r.course) == (None, None, "unknown")


def test_stated_fields_win_over_scores(engine: Engine) -> None:
    a = engine.assess(
        {
            "surgery": {"procedure": "discectomy"},
            "days_since_surgery": 70,
            "leg_pain": {"onset_speed": "sudden"},
            "pain_scores": [
                {"day": -7, "nrs": 8},
                {"day": 14, "nrs": 2},
                {"day": 42, "nrs": 5},
                {"day": 70, "nrs": 6},
            ],
        }
    )
    assert a.timeline.speed == "sudden"
    assert a.timeline.relief == "complete"
    assert "onset_speed" not in a.timeline.derived_from_scores
    assert "relief_after_surgery" in a.timeline.derived_from_scores


def test_scores_move_the_differential_like_stated_timing(engine: Engine) -> None:
    base = {"surgery": {"procedure": "discectomy"}, "days_since_surgery": 70}
    from_scores = engine.assess(
        {
            **base,
            "pain_scores": [
                {"day": -7, "nrs": 8},
                {"day": 14, "nrs": 2},
                {"day": 42, "nrs": 5},
                {"day": 70, "nrs": 6},
            ],
        }
    )
    stated = engine.assess(
        {
            **base,
            "leg_pain": {
                "relief_after_surgery": "complete",
                "onset_days": 28,
                "onset_speed": "gradual",
                "trend": "worsening",
            },
        }
    )
    assert dict(from_scores.differential) == pytest.approx(dict(stated.differential))
