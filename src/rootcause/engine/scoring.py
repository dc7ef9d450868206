"""Cases → arrays → posterior, for a whole batch at once.

The posterior is a softmax over conditions of
    log prior(procedure) + context modifiers (route, approach, instrumented, age, sex)
    + Σ_known findings log P(x_f | c) + timing terms (onset bin, days-since bin, relief, speed, trend),
i.e. one matrix product per term for the whole batch. With no context and no timing it is
exactly the naive-Bayes posterior of the exported tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from rootcause.engine.case import Case
from rootcause.engine.model import Array, IntArray, Model, bin_index
from rootcause.engine.timeline import Timeline


@dataclass(frozen=True)
class Encoded:
    """A batch of cases as arrays; -1 marks unknown in the index arrays."""

    procedure: IntArray  # (n,)
    x_true: Array  # (n, F) 1.0 where the finding is present
    x_false: Array  # (n, F) 1.0 where the finding is known absent
    days: IntArray  # (n,) days since surgery, -1 unknown
    onset: IntArray  # (n,) onset bin
    assessed: IntArray  # (n,) days-since-surgery bin
    relief: IntArray
    speed: IntArray
    trend: IntArray
    context: Array  # (n, C) summed log factors of context, age and sex modifiers

    @property
    def n(self) -> int:
        return int(self.procedure.shape[0])


def _state(states: list[str], value: str | None) -> int:
    return states.index(value) if value is not None else -1


def encode(model: Model, cases: Sequence[Case], timelines: Sequence[Timeline]) -> Encoded:
    n, n_f, n_c = len(cases), model.n_findings, model.n_conditions
    procedure = np.empty(n, dtype=np.int64)
    x_true = np.zeros((n, n_f))
    x_false = np.zeros((n, n_f))
    days = np.full(n, -1, dtype=np.int64)
    onset = np.full(n, -1, dtype=np.int64)
    assessed = np.full(n, -1, dtype=np.int64)
    relief = np.full(n, -1, dtype=np.int64)
    speed = np.full(n, -1, dtype=np.int64)
    trend = np.full(n, -1, dtype=np.int64)
    context = np.zeros((n, n_c))
    fidx = model.finding_index
    pidx = model.procedure_index
    mods = model.context_modifiers
    for i, (case, tl) in enumerate(zip(cases, timelines, strict=True)):
        procedure[i] = pidx[case.surgery.procedure]
        for fid, present in case.findings.items():
            if present:
                x_true[i, fidx[fid]] = 1.0
            else:
                x_false[i, fidx[fid]] = 1.0
        if tl.days_since_surgery is not None:
            days[i] = tl.days_since_surgery
            assessed[i] = bin_index(model.assessed_bins, tl.days_since_surgery)
        if tl.onset_days is not None:
            onset[i] = bin_index(model.onset_bins, tl.onset_days)
        relief[i] = _state(model.relief_states, tl.relief)
        speed[i] = _state(model.speed_states, tl.speed)
        trend[i] = _state(model.trend_states, tl.trend)
        surgery = case.surgery
        if mods and (surgery.route or surgery.approach or surgery.instrumented is not None):
            for mod in mods:
                if getattr(surgery, mod.field, None) == mod.value and mod.field != "procedure":
                    context[i] += mod.log_factor
        if case.age is not None:
            for age in model.age_modifiers:
                if (age.low is None or case.age >= age.low) and (age.high is None or case.age <= age.high):
                    context[i] += age.log_factor
        if case.sex is not None and case.sex in model.sex_modifiers:
            context[i] += model.sex_modifiers[case.sex]
    return Encoded(procedure, x_true, x_false, days, onset, assessed, relief, speed, trend, context)


def _gather(table: Array, index: IntArray) -> Array:
    """Rows of table[:, index] per case, zero where the index is unknown (-1)."""
    out = table[:, np.maximum(index, 0)].T.copy()
    out[index < 0] = 0.0
    return out


def _gather_by_procedure(table: Array, procedure: IntArray, index: IntArray) -> Array:
    """table[procedure, :, index] per case (n, C), zero where the index is unknown."""
    out = table[procedure, :, np.maximum(index, 0)]
    out[index < 0] = 0.0
    return out


def timing_terms(model: Model, enc: Encoded) -> dict[str, Array]:
    """Per-case log-likelihood of each timing variable under each condition, (n, C) each."""
    return {
        "onset": _gather_by_procedure(model.log_onset, enc.procedure, enc.onset),
        "assessed": _gather_by_procedure(model.log_assessed, enc.procedure, enc.assessed),
        "relief": _gather(model.log_relief, enc.relief),
        "speed": _gather(model.log_speed, enc.speed),
        "trend": _gather(model.log_trend, enc.trend),
    }


def log_prior(model: Model, enc: Encoded) -> Array:
    return model.log_prior[enc.procedure] + enc.context


def finding_loglik(model: Model, enc: Encoded) -> Array:
    loglik: Array = enc.x_true @ model.log_p + enc.x_false @ model.log_q
    return loglik


def softmax(logits: Array) -> Array:
    shifted: Array = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def posterior(model: Model, enc: Encoded) -> tuple[Array, Array]:
    """Return (posterior, findings+timing log-likelihood) for every case, each (n, C)."""
    loglik = finding_loglik(model, enc)
    for term in timing_terms(model, enc).values():
        loglik += term
    return softmax(log_prior(model, enc) + loglik), loglik


def entropy(p: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
    safe = np.where(p > 0, p, 1.0)
    result: npt.NDArray[np.float64] = -(p * np.log(safe)).sum(axis=axis)
    return result


def escalation_posterior(model: Model, enc: Encoded) -> Array:
    """The posterior with red-flag findings left out, used for triage escalation.

    Red flags act on triage through the deterministic rules only. Leaving them out here makes
    triage monotone: setting a red flag can fire a rule but cannot move posterior mass away
    from a dangerous cause and so lower the escalation.
    """
    keep = ~model.red_flag
    masked = replace(enc, x_true=enc.x_true * keep, x_false=enc.x_false * keep)
    post, _ = posterior(model, masked)
    return post
