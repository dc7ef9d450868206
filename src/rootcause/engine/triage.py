"""Triage: red-flag rules first (they only ever raise the level), then posterior escalation.

Rules come from ``triage.yaml``. A rule's day window applies only when the days since surgery
are known; when they are unknown the rule fires anyway, because a red flag must never be
averaged or reasoned away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from rootcause.engine.model import Array, IntArray, Model
from rootcause.engine.scoring import Encoded, stated_sum
from rootcause.knowledge.vocabulary import TRIAGE_LEVELS, TriageLevel

if TYPE_CHECKING:
    from rootcause.knowledge.loader import KnowledgeBase


@dataclass(frozen=True)
class CompiledRule:
    """A triage rule as the scorer and the reports need it (plain data: no schema objects)."""

    id: str
    level_name: TriageLevel
    reason: str
    patient_advice: str
    level: int
    all_idx: IntArray
    any_idx: IntArray
    speed: int  # -1: any speed


@dataclass(frozen=True)
class TriageModel:
    rules: list[CompiledRule]
    thresholds: list[tuple[int, float]]  # (level, threshold) most urgent first
    advice: dict[str, tuple[str, str, str]]  # level -> (label, clinician, patient)
    all_matrix: Array  # (F, R) 1 where the finding is in the rule's `all`
    any_matrix: Array  # (F, R) 1 where the finding is in the rule's `any`
    n_all: Array  # (R,) size of each rule's `all`
    has_any: npt.NDArray[np.bool_]  # (R,)
    min_days: IntArray  # (R,) -1 where unbounded
    max_days: IntArray  # (R,) -1 where unbounded
    speed: IntArray  # (R,) -1 where any speed
    min_onset: IntArray  # (R,) -1 where unbounded


def compile_triage(kb: KnowledgeBase, model: Model) -> TriageModel:
    fidx = model.finding_index
    rules = [
        CompiledRule(
            id=r.id,
            level_name=r.level,
            reason=r.reason,
            patient_advice=r.patient_advice,
            level=TRIAGE_LEVELS.index(r.level),
            all_idx=np.array([fidx[f] for f in r.when.all], dtype=np.int64),
            any_idx=np.array([fidx[f] for f in r.when.any], dtype=np.int64),
            speed=model.speed_states.index(r.when.onset_speed) if r.when.onset_speed else -1,
        )
        for r in kb.triage.rules
    ]
    thresholds = sorted(
        ((TRIAGE_LEVELS.index(e.level), e.threshold) for e in kb.triage.escalation), reverse=True
    )
    advice: dict[str, tuple[str, str, str]] = {
        a.level: (a.label, a.clinician, a.patient) for a in kb.triage.advice
    }
    n_f, n_r = model.n_findings, len(rules)
    all_matrix = np.zeros((n_f, n_r))
    any_matrix = np.zeros((n_f, n_r))
    for j, cr in enumerate(rules):
        all_matrix[cr.all_idx, j] = 1.0
        any_matrix[cr.any_idx, j] = 1.0

    def bound(values: list[int | None]) -> IntArray:
        return np.array([-1 if v is None else v for v in values], dtype=np.int64)

    whens = [r.when for r in kb.triage.rules]
    return TriageModel(
        rules,
        thresholds,
        advice,
        all_matrix=all_matrix,
        any_matrix=any_matrix,
        n_all=all_matrix.sum(axis=0),
        has_any=any_matrix.sum(axis=0) > 0,
        min_days=bound([w.min_days for w in whens]),
        max_days=bound([w.max_days for w in whens]),
        speed=np.array([cr.speed for cr in rules], dtype=np.int64),
        min_onset=bound([w.min_onset_days for w in whens]),
    )


def fired_rules(triage: TriageModel, enc: Encoded) -> npt.NDArray[np.bool_]:
    """(n, R) which rules fire for each case: two matrix products and a few comparisons."""
    fires: npt.NDArray[np.bool_] = stated_sum(enc, triage.all_matrix) >= triage.n_all[None, :]
    fires &= ~triage.has_any[None, :] | (stated_sum(enc, triage.any_matrix) > 0)
    days, onset, speed = enc.days[:, None], enc.onset_days[:, None], enc.speed[:, None]
    unknown_days = days < 0
    fires &= (triage.min_days < 0) | unknown_days | (days >= triage.min_days)
    fires &= (triage.max_days < 0) | unknown_days | (days <= triage.max_days)
    fires &= (triage.speed < 0) | (speed == triage.speed)
    fires &= (triage.min_onset < 0) | (onset < 0) | (onset >= triage.min_onset)
    return fires


def level_mass(model: Model, post: Array) -> Array:
    """(n, 4) posterior mass at each urgency level (routine..emergency)."""
    mass: Array = post @ model.urgency_onehot
    return mass


def escalation_level(triage: TriageModel, mass: Array) -> IntArray:
    """(n,) the level the posterior alone calls for."""
    at_least = np.cumsum(mass[:, ::-1], axis=1)[:, ::-1]  # mass at level >= l
    level = np.zeros(mass.shape[0], dtype=np.int64)
    for lvl, threshold in triage.thresholds:
        level = np.where((level < lvl) & (at_least[:, lvl] >= threshold), lvl, level)
    return level


def rule_level(triage: TriageModel, fired: npt.NDArray[np.bool_]) -> IntArray:
    levels = np.array([cr.level for cr in triage.rules], dtype=np.int64)
    result: IntArray = np.where(fired, levels[None, :], 0).max(axis=1, initial=0)
    return result
