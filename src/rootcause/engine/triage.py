"""Triage: red-flag rules first (they only ever raise the level), then posterior escalation.

Rules come from ``triage.yaml``. A rule's day window applies only when the days since surgery
are known; when they are unknown the rule fires anyway, because a red flag must never be
averaged or reasoned away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rootcause.engine.model import Array, IntArray, Model
from rootcause.engine.scoring import Encoded
from rootcause.knowledge.loader import KnowledgeBase
from rootcause.knowledge.schema import TRIAGE_LEVELS, TriageRule


@dataclass(frozen=True)
class CompiledRule:
    rule: TriageRule
    level: int
    all_idx: IntArray
    any_idx: IntArray
    speed: int  # -1: any speed


@dataclass(frozen=True)
class TriageModel:
    rules: list[CompiledRule]
    thresholds: list[tuple[int, float]]  # (level, threshold) most urgent first
    advice: dict[str, tuple[str, str, str]]  # level -> (label, clinician, patient)


def compile_triage(kb: KnowledgeBase, model: Model) -> TriageModel:
    fidx = model.finding_index
    rules = [
        CompiledRule(
            rule=r,
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
    return TriageModel(rules, thresholds, advice)


def fired_rules(triage: TriageModel, enc: Encoded) -> npt.NDArray[np.bool_]:
    """(n, R) which rules fire for each case."""
    n = enc.n
    out = np.zeros((n, len(triage.rules)), dtype=bool)
    present = enc.x_true > 0
    for j, cr in enumerate(triage.rules):
        fires = np.ones(n, dtype=bool)
        if cr.all_idx.size:
            fires &= present[:, cr.all_idx].all(axis=1)
        if cr.any_idx.size:
            fires &= present[:, cr.any_idx].any(axis=1)
        w = cr.rule.when
        known = enc.days >= 0
        if w.min_days is not None:
            fires &= ~known | (enc.days >= w.min_days)
        if w.max_days is not None:
            fires &= ~known | (enc.days <= w.max_days)
        if cr.speed >= 0:
            fires &= enc.speed == cr.speed
        if w.min_onset_days is not None:
            fires &= (enc.onset_days < 0) | (enc.onset_days >= w.min_onset_days)
        out[:, j] = fires
    return out


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
