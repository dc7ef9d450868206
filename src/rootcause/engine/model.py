"""The knowledge base compiled into named NumPy arrays.

Everything the scorer multiplies lives here, with explicit id↔index maps and shape checks, so
that a batch of cases is scored with a handful of matrix products. Built once per knowledge
base by ``compile_model``; immutable afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rootcause.engine.case import MAX_AGE
from rootcause.knowledge.vocabulary import PROCEDURES, TRIAGE_LEVELS

if TYPE_CHECKING:  # compiling reads the validated knowledge base; a compiled model does not need it
    from rootcause.knowledge.loader import KnowledgeBase
    from rootcause.knowledge.schema import Condition, SourcedDistribution

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CATEGORY_KIND = {
    "history": "question",
    "symptom": "question",
    "risk_factor": "question",
    "examination": "examination",
    "laboratory": "laboratory",
    "imaging": "imaging",
    "procedure": "invasive",
}


def _check_shape(name: str, array: npt.NDArray[Any], expected: tuple[int, ...]) -> None:
    if array.shape != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")


@dataclass(frozen=True)
class ContextModifier:
    """A log-factor vector over conditions applied when every stated surgical field matches."""

    when: tuple[tuple[str, str | bool], ...]
    log_factor: Array


@dataclass(frozen=True)
class RangeModifier:
    low: int | None
    high: int | None
    log_factor: Array


@dataclass(frozen=True)
class Model:
    version: str
    conditions: list[str]
    findings: list[str]
    condition_index: dict[str, int]
    finding_index: dict[str, int]
    procedure_index: dict[str, int]
    prior: Array  # (P, C) normalised per procedure
    log_prior: Array  # (P, C)
    p_present: Array  # (F, C)
    log_p: Array  # (F, C)
    log_q: Array  # (F, C) log(1 - p)
    named: npt.NDArray[np.bool_]  # (F, C) True where the KB states the pair (not the leak)
    onset_bins: list[tuple[int, int | None]]
    assessed_bins: list[tuple[int, int | None]]
    log_onset: Array  # (P, C, n_onset)
    log_assessed: Array  # (P, C, n_assessed)
    relief_states: list[str]
    speed_states: list[str]
    trend_states: list[str]
    log_relief: Array  # (C, 3)
    log_speed: Array  # (C, 2)
    log_trend: Array  # (C, 3)
    fit_moments: Array  # (F, 2C) E[log P(x_f | c)] under c, then Var[log P(x_f | c)] under c
    context_modifiers: list[ContextModifier]
    log_age: Array  # (MAX_AGE + 2, C) summed age log factors per year of age; last row: age unknown
    sex_states: list[str]
    log_sex: Array  # (S + 1, C) sex log factors; last row: sex unknown or without a modifier
    urgency_rank: IntArray  # (C,) index into TRIAGE_LEVELS
    urgency_onehot: Array  # (C, 4)
    rare: npt.NDArray[np.bool_]
    cost_weight: Array  # (F,)
    cost_weight32: npt.NDArray[np.float32]  # (F,) the same, for the float32 information gain
    finding_kind: list[str]
    red_flag_level: IntArray  # (F,) level a single-finding rule raises to, -1 if none
    red_flag: npt.NDArray[np.bool_]  # (F,) findings flagged red_flag in findings.yaml
    red_flag_bonus: IntArray  # (F,) red_flag_level for red-flag findings, -1 for the rest
    red_flag_log_p: Array  # (F, C) log_p on red-flag findings' rows, zero on the rest
    red_flag_log_q: Array  # (F, C) the same of log_q
    p_by_condition32: npt.NDArray[np.float32]  # (C, F') p_present transposed, zero-padded (_gain_rows)
    entropy_by_condition32: npt.NDArray[np.float32]  # (C, F') binary entropy H_b of p, the same
    timing_moments: Array  # (P, C, 2, T): own_moments of each timing table (mean, variance) per variable
    sources: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    context_cache: dict[tuple[str | bool | None, ...], Array] = field(default_factory=dict)
    """Log factors per distinct surgical context, filled on first use (scoring._context)."""

    @property
    def n_conditions(self) -> int:
        return len(self.conditions)

    @property
    def n_findings(self) -> int:
        return len(self.findings)


def _dist(dist: SourcedDistribution, states: list[str], floor: float) -> Array:
    values = np.array([dist.values[s] for s in states], dtype=np.float64)
    values = np.maximum(values, floor)
    result: Array = np.log(values / values.sum())
    return result


def _bins(bins: list[Any]) -> list[tuple[int, int | None]]:
    return [(b.min_days, b.max_days) for b in bins]


def _onset_for(c: Condition, procedure: str) -> SourcedDistribution:
    dist: SourcedDistribution = c.timing.onset_by_procedure.get(procedure, c.timing.onset)  # type: ignore[call-overload]
    return dist


def compile_model(kb: KnowledgeBase) -> Model:
    conditions = kb.condition_ids
    findings = kb.finding_ids
    n_c, n_f, n_p = len(conditions), len(findings), len(PROCEDURES)
    floor = kb.manifest.leak_floor
    cidx = {c: i for i, c in enumerate(conditions)}
    fidx = {f: i for i, f in enumerate(findings)}
    sources: dict[tuple[str, str], list[str]] = {}

    prior = np.zeros((n_p, n_c))
    for j, cond in enumerate(kb.conditions):
        for i, proc in enumerate(PROCEDURES):
            prior[i, j] = cond.prior[proc].value
            sources[(cond.id, f"prior.{proc}")] = cond.prior[proc].source
    prior /= prior.sum(axis=1, keepdims=True)

    p = np.array([f.base_rate.p for f in kb.findings], dtype=np.float64)[:, None].repeat(n_c, 1)
    named = np.zeros((n_f, n_c), dtype=bool)
    for j, cond in enumerate(kb.conditions):
        for fid, lik in cond.likelihoods.items():
            p[fidx[fid], j] = lik.p
            named[fidx[fid], j] = True
            sources[(cond.id, fid)] = lik.source
    for i, f in enumerate(kb.findings):
        for j, cond in enumerate(kb.conditions):
            if not named[i, j]:
                sources[(cond.id, f.id)] = f.base_rate.source
    p = np.clip(p, floor, 1.0 - floor)

    t = kb.timing
    relief_states, speed_states, trend_states = t.relief.states, t.speed.states, t.trend.states
    onset_ids = [b.id for b in t.onset_bins]
    assessed_ids = [b.id for b in t.assessed_bins]
    log_onset = np.zeros((n_p, n_c, len(onset_ids)))
    log_assessed = np.zeros((n_p, n_c, len(assessed_ids)))
    log_relief = np.zeros((n_c, len(relief_states)))
    log_speed = np.zeros((n_c, len(speed_states)))
    log_trend = np.zeros((n_c, len(trend_states)))
    for j, cond in enumerate(kb.conditions):
        for i, proc in enumerate(PROCEDURES):
            log_onset[i, j] = _dist(_onset_for(cond, proc), onset_ids, floor)
        for i, proc in enumerate(PROCEDURES):
            assessed = cond.timing.assessed_by_procedure.get(proc, cond.timing.assessed)
            log_assessed[i, j] = _dist(assessed or t.default_assessed, assessed_ids, floor)
        log_relief[j] = _dist(cond.timing.relief, relief_states, floor)
        log_speed[j] = _dist(cond.timing.speed, speed_states, floor)
        log_trend[j] = _dist(cond.timing.trend, trend_states, floor)
        timing_src = cond.timing
        sources[(cond.id, "timing.onset")] = timing_src.onset.source
        sources[(cond.id, "timing.relief")] = timing_src.relief.source
        sources[(cond.id, "timing.speed")] = timing_src.speed.source
        sources[(cond.id, "timing.trend")] = timing_src.trend.source
        sources[(cond.id, "timing.assessed")] = (timing_src.assessed or t.default_assessed).source

    context: dict[tuple[tuple[str, str | bool], ...], Array] = {}
    ages: list[RangeModifier] = []
    sexes: dict[str, Array] = {}
    for j, cond in enumerate(kb.conditions):
        for mod in cond.prior_modifiers:
            key = tuple(sorted(mod.when.items()))
            vec = context.setdefault(key, np.zeros(n_c))
            vec[j] += np.log(mod.factor)
        for age in cond.age_modifiers:
            vec = np.zeros(n_c)
            vec[j] = np.log(age.factor)
            ages.append(RangeModifier(age.min_age, age.max_age, vec))
        for sex in cond.sex_modifiers:
            sexes.setdefault(sex.sex, np.zeros(n_c))[j] += np.log(sex.factor)

    rank = np.array([TRIAGE_LEVELS.index(c.urgency.level) for c in kb.conditions], dtype=np.int64)
    onehot = np.zeros((n_c, len(TRIAGE_LEVELS)))
    onehot[np.arange(n_c), rank] = 1.0

    red_flag_level = np.full(n_f, -1, dtype=np.int64)
    for rule in kb.triage.rules:
        w = rule.when
        if (
            not w.all
            and len(w.any) >= 1
            and w.min_days is None
            and w.max_days is None
            and (w.onset_speed is None)
        ):
            for fid in w.any:
                i = fidx[fid]
                red_flag_level[i] = max(red_flag_level[i], TRIAGE_LEVELS.index(rule.level))

    binary_entropy = -(p * np.log(p) + (1 - p) * np.log1p(-p))

    cost_weight = np.array([kb.cost_tiers[f.cost_tier].weight for f in kb.findings])
    flags = np.array([f.red_flag for f in kb.findings], dtype=bool)
    model = Model(
        version=kb.version,
        conditions=conditions,
        findings=findings,
        condition_index=cidx,
        finding_index=fidx,
        procedure_index={p_: i for i, p_ in enumerate(PROCEDURES)},
        prior=prior,
        log_prior=np.log(prior),
        p_present=p,
        log_p=np.log(p),
        log_q=np.log1p(-p),
        named=named,
        onset_bins=_bins(t.onset_bins),
        assessed_bins=_bins(t.assessed_bins),
        log_onset=log_onset,
        log_assessed=log_assessed,
        relief_states=relief_states,
        speed_states=speed_states,
        trend_states=trend_states,
        log_relief=log_relief,
        log_speed=log_speed,
        log_trend=log_trend,
        fit_moments=np.concatenate(
            [p * np.log(p) + (1 - p) * np.log1p(-p), p * (1 - p) * (np.log(p) - np.log1p(-p)) ** 2], axis=1
        ),
        context_modifiers=[ContextModifier(k, vec) for k, vec in context.items()],
        log_age=_age_table(ages, n_c),
        sex_states=list(sexes),
        log_sex=np.vstack([*sexes.values(), np.zeros(n_c)]),
        urgency_rank=rank,
        urgency_onehot=onehot,
        rare=np.array([c.rare for c in kb.conditions]),
        cost_weight=cost_weight,
        cost_weight32=cost_weight.astype(np.float32),
        finding_kind=[CATEGORY_KIND[f.category] for f in kb.findings],
        red_flag_level=red_flag_level,
        red_flag=flags,
        red_flag_bonus=np.where([f.red_flag for f in kb.findings], red_flag_level, -1).astype(np.int64),
        red_flag_log_p=np.where(flags[:, None], np.log(p), 0.0),
        red_flag_log_q=np.where(flags[:, None], np.log1p(-p), 0.0),
        p_by_condition32=_gain_rows(p.T),
        entropy_by_condition32=_gain_rows(binary_entropy.T),
        timing_moments=_stacked_moments(n_p, [log_onset, log_assessed, log_relief, log_speed, log_trend]),
        sources=sources,
    )
    _check_shape("p_present", model.p_present, (n_f, n_c))
    _check_shape("log_onset", model.log_onset, (n_p, n_c, len(onset_ids)))
    return model


GAIN_ROW_MULTIPLE = 16
"""The information-gain kernel (_gain.c) reads per-cause rows padded to whole AVX-512 vectors."""


def _gain_rows(by_condition: Array) -> npt.NDArray[np.float32]:
    """(C, F) as float32 with zero columns up to a multiple of GAIN_ROW_MULTIPLE findings."""
    n_c, n_f = by_condition.shape
    padded = np.zeros((n_c, -(-n_f // GAIN_ROW_MULTIPLE) * GAIN_ROW_MULTIPLE), dtype=np.float32)
    padded[:, :n_f] = by_condition
    return padded


TIMING_VARIABLES = ("onset", "assessed", "relief", "speed", "trend")
"""The timing variables, in the order of the last axis of Model.timing_moments."""


def _stacked_moments(n_procedures: int, tables: list[Array]) -> Array:
    """(P, C, 2, T) mean and variance of each timing table, tables without a procedure axis
    repeated over it, so the fit score takes every variable's moments in one gather."""
    per_variable = []
    for table in tables:
        mean, var = own_moments(table)
        per_variable.append(
            np.broadcast_to(np.stack([mean, var], axis=-1), (n_procedures, *mean.shape[-1:], 2))
        )
    return np.ascontiguousarray(np.stack(per_variable, axis=-1))


def own_moments(table: Array) -> tuple[Array, Array]:
    """Mean and variance of a log-probability table's value under its own distribution (last axis)."""
    probs = np.exp(table)
    e1 = (probs * table).sum(axis=-1)
    return e1, (probs * table**2).sum(axis=-1) - e1**2


def _age_table(modifiers: list[RangeModifier], n_c: int) -> Array:
    """Resolve the age ranges once into a row per year of age, so a batch needs one gather."""
    years = np.arange(MAX_AGE + 1)
    table = np.zeros((MAX_AGE + 2, n_c))
    for mod in modifiers:
        covered = np.ones(MAX_AGE + 1, dtype=bool)
        if mod.low is not None:
            covered &= years >= mod.low
        if mod.high is not None:
            covered &= years <= mod.high
        table[:-1][covered] += mod.log_factor
    return table


def bin_indices(bins: list[tuple[int, int | None]], days: IntArray) -> IntArray:
    """Bin index for each day count (bins are contiguous from day 0); -1 stays -1."""
    lows = np.array([low for low, _ in bins], dtype=np.int64)
    result: IntArray = np.where(days >= 0, np.searchsorted(lows, days, side="right") - 1, -1)
    return result


def export_tables(model: Model) -> dict[str, Any]:
    """The tables that define the no-timing posterior (spec §6), for independent checking."""
    return {
        "knowledge_base_version": model.version,
        "conditions": model.conditions,
        "findings": model.findings,
        "prior": {
            proc: {c: float(model.prior[i, j]) for j, c in enumerate(model.conditions)}
            for proc, i in model.procedure_index.items()
        },
        "p_present": {
            f: {c: float(model.p_present[i, j]) for j, c in enumerate(model.conditions)}
            for i, f in enumerate(model.findings)
        },
    }
