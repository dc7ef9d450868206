"""The engine: validated knowledge base in, assessments out. Pure: no I/O beyond loading.

``Engine.assess`` handles one case with full explanations; ``Engine.assess_many`` scores a
whole batch with the same array code and builds the contract objects.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from rootcause.engine.case import Case, check_case, parse_case
from rootcause.engine.explain import Explanation, explain_case, fit_scores
from rootcause.engine.model import Array, Model, compile_model
from rootcause.engine.next_steps import ranked_steps
from rootcause.engine.scoring import (
    Encoded,
    encode,
    escalation_posterior_from,
    log_prior,
    logits_and_loglik,
    softmax,
)
from rootcause.engine.timeline import Timeline, build_timeline
from rootcause.engine.triage import (
    TriageModel,
    compile_triage,
    escalation_level,
    fired_rules,
    level_mass,
    rule_level,
)
from rootcause.errors import CaseError
from rootcause.knowledge.vocabulary import TRIAGE_LEVELS

if TYPE_CHECKING:
    from rootcause.knowledge.loader import KnowledgeBase
    from rootcause.knowledge.schema import Condition, Finding

N_NEXT_STEPS = 5
N_EXPLAINED = 5
TREATMENT_MIN_PROBABILITY = 0.05
N_TREATED = 3
N_CONSIDER = 4
SCORE_CHUNK = 4096  # cases per scored chunk: 25 chunks for 100 000 cases balance two threads well

_POOL: tuple[ThreadPoolExecutor, ThreadpoolController] | None = None


def _score_pool() -> tuple[ThreadPoolExecutor, ThreadpoolController]:
    """One pool per process, created on the first large batch, and the BLAS thread control."""
    global _POOL
    if _POOL is None:
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="rootcause-score")
        _POOL = (pool, ThreadpoolController())
    return _POOL


@dataclass(frozen=True)
class Triage:
    level: str
    reasons: list[str]
    rules: list[str]
    clinician_advice: str
    patient_advice: str
    rule_advice: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reasons": self.reasons,
            "rules": self.rules,
            "clinician_advice": self.clinician_advice,
            "patient_advice": self.patient_advice,
            "rule_advice": self.rule_advice,
        }


@dataclass(frozen=True)
class Assessment:
    case_id: str | None
    knowledge_base_version: str
    triage: Triage
    differential: list[tuple[str, float]]
    next_steps: list[dict[str, Any]]
    unchecked_red_flags: list[str]
    timeline: Timeline
    fit: dict[str, Any]
    explanations: list[Explanation] = field(default_factory=list)
    treatments: list[dict[str, Any]] = field(default_factory=list)
    disclaimer: str = ""

    @property
    def leading(self) -> str:
        return self.differential[0][0]

    def probability(self, condition: str) -> float:
        return dict(self.differential)[condition]

    def to_dict(self) -> dict[str, Any]:
        tl = self.timeline
        return {
            "case_id": self.case_id,
            "knowledge_base_version": self.knowledge_base_version,
            "triage": self.triage.to_dict(),
            "differential": [{"condition": c, "probability": p} for c, p in self.differential],
            "next_steps": self.next_steps,
            "unchecked_red_flags": self.unchecked_red_flags,
            "timeline": {
                "days_since_surgery": tl.days_since_surgery,
                "relief_after_surgery": tl.relief,
                "onset_days": tl.onset_days,
                "onset_speed": tl.speed,
                "trend": tl.trend,
                "course": tl.course,
                "derived_from_pain_scores": list(tl.derived_from_scores),
            },
            "fit": self.fit,
            "explanations": [e.to_dict() for e in self.explanations],
            "treatments": self.treatments,
            "disclaimer": self.disclaimer,
        }


@dataclass(frozen=True)
class BatchScores:
    """Array results for a batch: what the contract output is built from."""

    encoded: Encoded
    posterior: Array  # (n, C)
    loglik: Array  # (n, C)
    fired: npt.NDArray[np.bool_]  # (n, R)
    level: npt.NDArray[np.int64]  # (n,)
    floor: npt.NDArray[np.int64]  # (n,) level set by the red-flag rules alone
    escalated: npt.NDArray[np.int64]  # (n,)
    steps: npt.NDArray[np.int64]  # (n, k) finding indices
    step_gain: npt.NDArray[np.float32]  # (n, k) information gain per cost; -inf: nothing left to ask
    fit_z: Array
    fit_items: Array

    @classmethod
    def concatenate(cls, parts: Sequence[BatchScores]) -> BatchScores:
        if len(parts) == 1:
            return parts[0]
        encoded = Encoded.concatenate([p.encoded for p in parts])
        arrays = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(cls)
            if f.name != "encoded"
        }
        return cls(encoded=encoded, **arrays)


class Engine:
    """Built once from a validated knowledge base; thread-safe and immutable afterwards.

    Scoring needs only the compiled model and triage rules. An engine read from the compiled
    cache (`rootcause.engine.compiled`) reads the knowledge base itself (its wording, advice
    and treatments) on first use, so a batch never imports the schema or pydantic.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        model = compile_model(kb)
        self._setup(model, compile_triage(kb, model), lambda: kb)

    @classmethod
    def compiled(
        cls, model: Model, triage_model: TriageModel, load_kb: Callable[[], KnowledgeBase]
    ) -> Engine:
        """An engine from compiled parts; `load_kb` must return the knowledge base they came from."""
        engine = cls.__new__(cls)
        engine._setup(model, triage_model, load_kb)
        return engine

    def _setup(self, model: Model, triage_model: TriageModel, load_kb: Callable[[], KnowledgeBase]) -> None:
        self.model = model
        self.triage_model = triage_model
        self.finding_ids = frozenset(model.findings)
        self._kb: KnowledgeBase | None = None
        self._load_kb = load_kb
        self._kb_lock = threading.Lock()
        self._treatment_options: dict[str, list[dict[str, Any]]] = {}

    @property
    def kb(self) -> KnowledgeBase:
        kb = self._kb
        if kb is None:
            with self._kb_lock:
                if self._kb is None:
                    self._kb = self._load_kb()
                kb = self._kb
        return kb

    @cached_property
    def _red_flags(self) -> list[str]:
        return [f.id for f in self.kb.findings if f.red_flag]

    @cached_property
    def _finding(self) -> dict[str, Finding]:
        return {f.id: f for f in self.kb.findings}

    @cached_property
    def _condition(self) -> dict[str, Condition]:
        return {c.id: c for c in self.kb.conditions}

    @property
    def version(self) -> str:
        return self.model.version

    # ------------------------------------------------------------------ input

    def parse(self, obj: Any) -> Case:
        return parse_case(obj, self.finding_ids)

    def validate(self, case: Case) -> None:
        problems = check_case(case, self.finding_ids)
        if problems:
            raise CaseError(problems, case.id)

    # ------------------------------------------------------------------ scoring

    def score(self, cases: Sequence[Case], timelines: Sequence[Timeline] | None = None) -> BatchScores:
        """Score a batch; a large one in cache-sized chunks spread over the CPU's cores.

        Pass the cases' timelines when they are built anyway; otherwise the timing is read
        from the cases directly.

        NumPy releases the GIL in the array work, so threads overlap one chunk's arithmetic
        with another's Python-level encoding. BLAS gets one thread meanwhile: the products are
        small, and its idle threads would spin on the cores the chunks need (1.4x measured).
        """
        n = len(cases)
        if n <= SCORE_CHUNK:
            return self._score_chunk(cases, timelines)
        starts = range(0, n, SCORE_CHUNK)

        def one(start: int) -> BatchScores:
            stop = start + SCORE_CHUNK
            return self._score_chunk(cases[start:stop], None if timelines is None else timelines[start:stop])

        pool, blas = _score_pool()
        with blas.limit(limits=1, user_api="blas"):
            parts = list(pool.map(one, starts))
        return BatchScores.concatenate(parts)

    def _score_chunk(self, cases: Sequence[Case], timelines: Sequence[Timeline] | None) -> BatchScores:
        model, tri = self.model, self.triage_model
        enc = encode(model, cases, timelines)
        logits, loglik = logits_and_loglik(model, enc)
        post = softmax(logits.copy())
        fired = fired_rules(tri, enc)
        by_rule = rule_level(tri, fired)
        escalated = escalation_level(tri, level_mass(model, escalation_posterior_from(model, enc, logits)))
        level = np.maximum(by_rule, escalated)
        steps, step_gain = ranked_steps(model, post, enc.known, by_rule, N_NEXT_STEPS)
        best = post.argmax(axis=1)
        z, items = fit_scores(model, enc, best, loglik)
        return BatchScores(enc, post, loglik, fired, level, by_rule, escalated, steps, step_gain, z, items)

    # ------------------------------------------------------------------ output

    def assess(self, case: Case | dict[str, Any], *, explain: bool = True) -> Assessment:
        parsed = case if isinstance(case, Case) else self.parse(case)
        if isinstance(case, Case):
            self.validate(parsed)
        return self.assess_many([parsed], explain=explain, validated=True)[0]

    def assess_scored(self, case: dict[str, Any], *, explain: bool = True) -> tuple[Assessment, BatchScores]:
        """Assess one case and also return its array scores (for callers that rank questions)."""
        parsed = self.parse(case)
        timelines = [build_timeline(parsed)]
        scores = self.score([parsed], timelines)
        return self._assessment(0, parsed, timelines[0], scores, explain), scores

    def assess_many(
        self, cases: Sequence[Case], *, explain: bool = False, validated: bool = False
    ) -> list[Assessment]:
        if not validated:
            for case in cases:
                self.validate(case)
        timelines = [build_timeline(c) for c in cases]
        scores = self.score(cases, timelines)
        return [self._assessment(i, case, timelines[i], scores, explain) for i, case in enumerate(cases)]

    def _assessment(self, i: int, case: Case, tl: Timeline, s: BatchScores, explain: bool) -> Assessment:
        model, kb = self.model, self.kb
        post = s.posterior[i]
        order = np.argsort(-post, kind="stable")
        differential = [(model.conditions[j], float(post[j])) for j in order]
        triage = self._triage(i, s, post)
        steps = [
            {
                "finding": model.findings[j],
                "kind": model.finding_kind[j],
                "question": self._finding[model.findings[j]].clinician_question,
                "patient_question": self._finding[model.findings[j]].patient_question,
                "value_per_cost": round(float(g), 5),
            }
            for j, g in zip(s.steps[i], s.step_gain[i], strict=True)
            if np.isfinite(g)
        ]
        known = set(case.findings)
        unchecked = [f for f in self._red_flags if f not in known]
        fit = self._fit(i, s, order)
        explanations: list[Explanation] = []
        treatments: list[dict[str, Any]] = []
        if explain:
            prior_row = np.exp(log_prior(model, s.encoded)[i])
            prior_row /= prior_row.sum()
            labels = {
                "onset": f"day {tl.onset_days}" if tl.onset_days is not None else "",
                "assessed": f"day {tl.days_since_surgery}" if tl.days_since_surgery is not None else "",
                "relief": tl.relief or "",
                "speed": tl.speed or "",
                "trend": tl.trend or "",
            }
            explanations = explain_case(
                model,
                s.encoded,
                i,
                post,
                prior_row,
                case.surgery.procedure,
                labels,
                [int(j) for j in order[:N_EXPLAINED]],
            )
            treatments = self.treatments_for(
                [(c, p) for c, p in differential[:N_TREATED] if p >= TREATMENT_MIN_PROBABILITY]
            )
        return Assessment(
            case_id=case.id,
            knowledge_base_version=kb.version,
            triage=triage,
            differential=differential,
            next_steps=steps,
            unchecked_red_flags=unchecked,
            timeline=tl,
            fit=fit,
            explanations=explanations,
            treatments=treatments,
            disclaimer=kb.manifest.disclaimer,
        )

    def _triage(self, i: int, s: BatchScores, post: Array) -> Triage:
        tri = self.triage_model
        level = int(s.level[i])
        reasons: list[str] = []
        rules: list[str] = []
        rule_advice: list[str] = []
        fired = [tri.rules[j] for j in np.flatnonzero(s.fired[i])]
        fired.sort(key=lambda cr: -cr.level)
        for cr in fired:
            reasons.append(f"Red flag ({cr.level_name}): {cr.reason}")
            rules.append(cr.id)
            rule_advice.append(cr.patient_advice)
        esc = int(s.escalated[i])
        if esc > 0 and (not fired or esc >= max(cr.level for cr in fired)):
            ranks = self.model.urgency_rank
            names = [
                f"{self._condition[self.model.conditions[j]].name} {post[j]:.0%}"
                for j in np.argsort(-post)
                if ranks[j] >= esc and post[j] >= 0.02
            ][:3]
            reasons.append(f"Probable causes needing {TRIAGE_LEVELS[esc]} care: {', '.join(names)}")
        if not reasons:
            reasons.append("No red flag; the likely causes can be managed at routine follow-up")
        name = TRIAGE_LEVELS[level]
        _, clinician, patient = tri.advice[name]
        return Triage(name, reasons, rules, clinician, patient, rule_advice)

    def _fit(self, i: int, s: BatchScores, order: npt.NDArray[np.int64]) -> dict[str, Any]:
        settings = self.kb.triage.fit
        z = float(s.fit_z[i])
        items = int(s.fit_items[i])
        poor = items >= settings.min_findings and z < settings.z_threshold
        consider: list[str] = []
        if poor:
            lik = s.loglik[i]
            rare = [j for j in np.argsort(-lik) if self.model.rare[j] and j != order[0]]
            consider = [self.model.conditions[j] for j in rare[:N_CONSIDER]]
        message = (
            "No listed cause explains these findings well; the leading cause is a weak fit. "
            "Consider rarer causes and a specialist review."
            if poor
            else "The leading cause is a reasonable fit for the findings."
        )
        return {
            "poor_fit": poor,
            "z": round(z, 3),
            "items": items,
            "message": message,
            "consider": consider,
        }

    def treatments_for(self, leading: list[tuple[str, float]]) -> list[dict[str, Any]]:
        out = []
        for cid, p in leading:
            cond = self._condition[cid]
            options = self._treatment_options.get(cid)
            if options is None:  # rendered once per condition; the knowledge base is immutable
                options = [t.model_dump(exclude_none=True) for t in cond.treatments]
                self._treatment_options[cid] = options
            out.append(
                {
                    "condition": cid,
                    "name": cond.name,
                    "probability": p,
                    "options": [dict(o) for o in options],
                }
            )
        return out


def load_engine(data_dir: Any = None) -> Engine:
    """The engine for the knowledge base in `data_dir` (the packaged one by default).

    Read from the compiled cache when the same files were compiled by the same code before;
    otherwise the knowledge base is validated, compiled and the result cached.
    """
    from rootcause.engine.compiled import load_compiled_engine

    return load_compiled_engine(data_dir)
