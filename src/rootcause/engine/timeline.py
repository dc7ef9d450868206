"""The timeline of a case: stated leg-pain fields, or what serial pain scores imply.

The timing model needs relief, onset day, onset speed and trend. Patients and notes often give
pain scores instead, so when the ``leg_pain`` fields are absent they are derived here from the
scores, and the course is named (improving, plateau, relief then gradual/sudden return, never
relieved) for the trajectory plot and report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import msgspec

from rootcause.engine.case import Case, PainScore, effective_days

Relief = Literal["none", "partial", "complete"]
Speed = Literal["sudden", "gradual"]
Trend = Literal["improving", "stable", "worsening"]
Course = Literal[
    "improving",
    "plateau",
    "relief_then_gradual_return",
    "relief_then_sudden_return",
    "never_relieved",
    "unknown",
]

# Thresholds for reading NRS series; a 2-point change is the usual minimal clinically
# important difference for NRS pain (documented in docs/timeline.md).
MEANINGFUL_CHANGE = 2.0
COMPLETE_RELIEF_MAX = 2.0
COMPLETE_RELIEF_DROP = 0.7
PARTIAL_RELIEF_DROP = 0.3
SUDDEN_WITHIN_DAYS = 7
SUDDEN_MIN_RISE = 3.0


class Timeline(msgspec.Struct, frozen=True):
    """A msgspec Struct rather than a dataclass: batches build one per case, ~10x cheaper."""

    days_since_surgery: int | None
    relief: Relief | None
    onset_days: int | None
    speed: Speed | None
    trend: Trend | None
    course: Course
    derived_from_scores: tuple[str, ...] = ()

    @property
    def has_timing(self) -> bool:
        return any(
            v is not None
            for v in (self.days_since_surgery, self.relief, self.onset_days, self.speed, self.trend)
        )


@dataclass(frozen=True)
class ScoreReading:
    relief: Relief | None
    onset_days: int | None
    speed: Speed | None
    trend: Trend | None
    course: Course


def read_scores(scores: list[PainScore]) -> ScoreReading:
    """Derive relief, onset, speed, trend and course from NRS scores (days relative to surgery)."""
    ordered = sorted(scores, key=lambda s: s.day)
    pre = [s for s in ordered if s.day < 0]
    post = [s for s in ordered if s.day >= 0]
    if not post:
        return ScoreReading(None, None, None, None, "unknown")

    baseline = max(s.nrs for s in pre) if pre else None
    nadir_i = min(range(len(post)), key=lambda i: (post[i].nrs, post[i].day))
    nadir = post[nadir_i].nrs

    relief: Relief | None = None
    if baseline is None and nadir <= COMPLETE_RELIEF_MAX:
        relief = "complete"  # no pre-operative score, but a post-operative 0-2 means relief
    elif baseline is not None and baseline > 0:
        drop = (baseline - nadir) / baseline
        if drop >= COMPLETE_RELIEF_DROP and nadir <= COMPLETE_RELIEF_MAX:
            relief = "complete"
        elif drop >= PARTIAL_RELIEF_DROP:
            relief = "partial"
        else:
            relief = "none"

    trend: Trend | None = None
    if len(post) >= 2:
        delta = post[-1].nrs - post[-2].nrs
        if delta >= 1:
            trend = "worsening"
        elif delta <= -1:
            trend = "improving"
        else:
            trend = "stable"

    onset: int | None = None
    speed: Speed | None = None
    after = post[nadir_i + 1 :]
    rise_i = next((i for i, s in enumerate(after) if s.nrs >= nadir + MEANINGFUL_CHANGE), None)
    if relief in ("partial", "complete") and rise_i is not None:
        before = post[nadir_i + rise_i] if rise_i > 0 else post[nadir_i]
        first_high = after[rise_i]
        gap = first_high.day - before.day
        rise = first_high.nrs - before.nrs
        if gap <= SUDDEN_WITHIN_DAYS and rise >= SUDDEN_MIN_RISE:
            speed = "sudden"
            onset = before.day + 1
        else:
            onset = before.day + gap // 2
            steps = [s for s in after[: rise_i + 1] if s.nrs > nadir]
            if len(steps) >= 2 or gap > 2 * SUDDEN_WITHIN_DAYS:
                speed = "gradual"
        course: Course = "relief_then_sudden_return" if speed == "sudden" else "relief_then_gradual_return"
    elif relief == "none":
        onset = 0
        course = "improving" if trend == "improving" else "never_relieved"
    elif trend == "improving" or (relief is not None and post[-1].nrs <= nadir + 1):
        onset = 0 if post[0].day <= 3 and post[0].nrs > COMPLETE_RELIEF_MAX else None
        course = "improving" if trend == "improving" else "plateau"
    else:
        course = "plateau" if len(post) >= 2 else "unknown"
    return ScoreReading(relief, onset, speed, trend, course)


def build_timeline(case: Case) -> Timeline:
    """Combine stated leg-pain fields with what the scores imply (stated values win)."""
    days = effective_days(case)
    stated = case.leg_pain
    relief = stated.relief_after_surgery if stated else None
    onset = stated.onset_days if stated else None
    speed = stated.onset_speed if stated else None
    trend = stated.trend if stated else None
    derived: list[str] = []
    course: Course = "unknown"
    if case.pain_scores:
        reading = read_scores(case.pain_scores)
        course = reading.course
        if relief is None and reading.relief is not None:
            relief = reading.relief
            derived.append("relief_after_surgery")
        if onset is None and reading.onset_days is not None:
            onset = reading.onset_days
            derived.append("onset_days")
        if speed is None and reading.speed is not None:
            speed = reading.speed
            derived.append("onset_speed")
        if trend is None and reading.trend is not None:
            trend = reading.trend
            derived.append("trend")
    if course == "unknown":
        course = _course_from_fields(relief, speed, trend, onset)
    if onset is not None and days is not None:
        onset = min(onset, days)
    return Timeline(days, relief, onset, speed, trend, course, tuple(derived))


class TimingColumns(NamedTuple):
    """The five timing inputs of a batch, one list per field (None: unknown)."""

    days: list[int | None]
    onset_days: list[int | None]
    relief: list[Relief | None]
    speed: list[Speed | None]
    trend: list[Trend | None]


def timing_columns(cases: Sequence[Case], timelines: Sequence[Timeline] | None = None) -> TimingColumns:
    """The timing inputs the scorer needs, field by field for a whole batch.

    From `timelines` when the caller has built them; otherwise straight from the stated
    fields, and through `build_timeline` only for the cases with pain scores or dates (the
    same values either way: a case without those has nothing to derive).
    """
    if timelines is not None:
        return TimingColumns(
            [t.days_since_surgery for t in timelines],
            [t.onset_days for t in timelines],
            [t.relief for t in timelines],
            [t.speed for t in timelines],
            [t.trend for t in timelines],
        )
    pains = [c.leg_pain for c in cases]
    days = [c.days_since_surgery for c in cases]
    onset = [
        None if p is None or p.onset_days is None else p.onset_days if d is None else min(p.onset_days, d)
        for p, d in zip(pains, days, strict=True)
    ]
    columns = TimingColumns(
        days,
        onset,
        [None if p is None else p.relief_after_surgery for p in pains],
        [None if p is None else p.onset_speed for p in pains],
        [None if p is None else p.trend for p in pains],
    )
    for i, case in enumerate(cases):
        if case.pain_scores or case.assessed_on is not None:
            t = build_timeline(case)
            columns.days[i], columns.onset_days[i] = t.days_since_surgery, t.onset_days
            columns.relief[i], columns.speed[i], columns.trend[i] = t.relief, t.speed, t.trend
    return columns


def _course_from_fields(
    relief: Relief | None, speed: Speed | None, trend: Trend | None, onset: int | None
) -> Course:
    if relief == "none":
        return "improving" if trend == "improving" else "never_relieved"
    if relief in ("partial", "complete") and onset is not None and onset > 0:
        if speed == "sudden":
            return "relief_then_sudden_return"
        if speed == "gradual":
            return "relief_then_gradual_return"
    if trend == "improving":
        return "improving"
    if trend == "stable":
        return "plateau"
    return "unknown"
