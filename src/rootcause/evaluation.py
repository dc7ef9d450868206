"""Accuracy against vignettes: top-1, top-3, triage agreement, under- and over-triage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootcause.engine.assess import Assessment, Engine
from rootcause.engine.case import Case
from rootcause.errors import CaseError, FieldProblem
from rootcause.knowledge.schema import TRIAGE_LEVELS


@dataclass(frozen=True)
class Vignette:
    name: str
    case: Case
    condition: str
    also_acceptable: list[str]
    triage: str
    source: str = ""


@dataclass(frozen=True)
class CaseResult:
    name: str
    expected: str
    acceptable: list[str]
    predicted: str
    rank: int | None  # 1-based rank of the first acceptable cause
    expected_triage: str
    triage: str
    probability: float

    @property
    def top1(self) -> bool:
        return self.rank == 1

    @property
    def top3(self) -> bool:
        return self.rank is not None and self.rank <= 3

    @property
    def triage_delta(self) -> int:
        return TRIAGE_LEVELS.index(self.triage) - TRIAGE_LEVELS.index(self.expected_triage)


@dataclass(frozen=True)
class Report:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.results)

    def count(self, attr: str) -> int:
        return sum(1 for r in self.results if getattr(r, attr))

    @property
    def under_triaged(self) -> list[CaseResult]:
        return [r for r in self.results if r.triage_delta < 0]

    @property
    def over_triaged(self) -> list[CaseResult]:
        return [r for r in self.results if r.triage_delta > 0]

    def summary(self) -> dict[str, Any]:
        return {
            "cases": self.n,
            "top1": self.count("top1"),
            "top3": self.count("top3"),
            "triage_agreement": sum(1 for r in self.results if r.triage_delta == 0),
            "under_triage": len(self.under_triaged),
            "over_triage": len(self.over_triaged),
        }


def load_vignettes(directory: Path, engine: Engine) -> list[Vignette]:
    """Read every *.json vignette in a directory; raise CaseError naming the file on bad input."""
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            expected = raw["expected"]
            case = engine.parse(raw["case"])
            out.append(
                Vignette(
                    name=path.stem,
                    case=case,
                    condition=expected["condition"],
                    also_acceptable=list(expected.get("also_acceptable", [])),
                    triage=expected["triage"],
                    source=raw.get("source", ""),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CaseError([FieldProblem(path.name, f"not a valid vignette: {exc}")]) from None
        except CaseError as exc:
            raise CaseError(
                [FieldProblem(f"{path.name}: {p.field}", p.message, p.suggestions) for p in exc.problems]
            ) from None
    return out


def score_vignette(v: Vignette, a: Assessment) -> CaseResult:
    ranked = [c for c, _ in a.differential]
    acceptable = [v.condition, *v.also_acceptable]
    ranks = [ranked.index(c) + 1 for c in acceptable if c in ranked]
    return CaseResult(
        name=v.name,
        expected=v.condition,
        acceptable=v.also_acceptable,
        predicted=a.leading,
        rank=min(ranks) if ranks else None,
        expected_triage=v.triage,
        triage=a.triage.level,
        probability=a.differential[0][1],
    )


def evaluate(engine: Engine, vignettes: Sequence[Vignette]) -> Report:
    assessments = engine.assess_many([v.case for v in vignettes])
    return Report([score_vignette(v, a) for v, a in zip(vignettes, assessments, strict=True)])


@dataclass(frozen=True)
class InterviewResult:
    name: str
    mode: str
    questions: int
    rank_at_stop: int | None
    rank_full: int | None
    triage_at_stop: str
    expected_triage: str
    missed_red_flags: list[str]
    stop_reason: str

    @property
    def under_triaged(self) -> bool:
        return TRIAGE_LEVELS.index(self.triage_at_stop) < TRIAGE_LEVELS.index(self.expected_triage)


def _rank(a: Assessment, v: Vignette) -> int | None:
    ranked = [c for c, _ in a.differential]
    ranks = [ranked.index(c) + 1 for c in [v.condition, *v.also_acceptable] if c in ranked]
    return min(ranks) if ranks else None


def evaluate_interview(engine: Engine, vignettes: Sequence[Vignette], mode: str) -> list[InterviewResult]:
    """Simulate the interview on each vignette (unknown findings answered "don't know")."""
    from rootcause.engine.interview import Interviewer, Mode, simulate

    interviewer = Interviewer(engine)
    chosen: Mode = "patient" if mode == "patient" else "clinician"
    out = []
    for v in vignettes:
        case = v.case.to_dict()
        transcript = simulate(interviewer, case, chosen)
        asked: set[str] = set()
        for q in transcript.questions:
            asked.update(q if isinstance(q, list) else [q])
        present_flags = [
            f for f in interviewer.red_flag_group("clinician") if case["findings"].get(f) is True
        ]
        out.append(
            InterviewResult(
                name=v.name,
                mode=chosen,
                questions=len(transcript.questions),
                rank_at_stop=_rank(transcript.assessment, v),
                rank_full=_rank(engine.assess(v.case), v),
                triage_at_stop=transcript.assessment.triage.level,
                expected_triage=v.triage,
                missed_red_flags=[f for f in present_flags if f not in asked],
                stop_reason=transcript.reason,
            )
        )
    return out


def interview_summary(results: Sequence[InterviewResult]) -> dict[str, Any]:
    import statistics

    def top(rank: int | None, k: int) -> bool:
        return rank is not None and rank <= k

    return {
        "cases": len(results),
        "median_questions": statistics.median(r.questions for r in results) if results else 0,
        "top1_at_stop": sum(top(r.rank_at_stop, 1) for r in results),
        "top3_at_stop": sum(top(r.rank_at_stop, 3) for r in results),
        "top1_full": sum(top(r.rank_full, 1) for r in results),
        "top3_full": sum(top(r.rank_full, 3) for r in results),
        "under_triage_at_stop": sum(r.under_triaged for r in results),
        "missed_red_flags": sum(len(r.missed_red_flags) for r in results),
    }
