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
from rootcause.engine.model import Array, IntArray, Model, bin_indices
from rootcause.engine.timeline import Timeline


@dataclass(frozen=True)
class Encoded:
    """A batch of cases as arrays; -1 marks unknown in the index arrays."""

    procedure: IntArray  # (n,)
    x_true: Array  # (n, F) 1.0 where the finding is present
    x_false: Array  # (n, F) 1.0 where the finding is known absent
    days: IntArray  # (n,) days since surgery, -1 unknown
    onset_days: IntArray  # (n,) onset day of the current episode, -1 unknown
    onset: IntArray  # (n,) onset bin
    assessed: IntArray  # (n,) days-since-surgery bin
    relief: IntArray
    speed: IntArray
    trend: IntArray
    context: Array  # (n, C) summed log factors of context, age and sex modifiers

    @property
    def n(self) -> int:
        return int(self.procedure.shape[0])


def _context(model: Model, cases: Sequence[Case]) -> Array:
    """Summed log factors of the route/approach/implant, age and sex modifiers, (n, C).

    Cases share few distinct surgical contexts, so each distinct one is resolved once.
    """
    n = len(cases)
    combos: dict[tuple[str | bool | None, ...], int] = {}
    combo_of = np.empty(n, dtype=np.int64)
    ages = np.full(n, -1, dtype=np.int64)
    sexes: list[str | None] = [None] * n
    for i, case in enumerate(cases):
        s = case.surgery
        key: tuple[str | bool | None, ...] = (s.procedure, s.route, s.approach, s.instrumented)
        combo_of[i] = combos.setdefault(key, len(combos))
        if case.age is not None:
            ages[i] = case.age
        sexes[i] = case.sex
    table = np.zeros((len(combos), model.n_conditions))
    names = ("procedure", "route", "approach", "instrumented")
    for key, k in combos.items():
        cached = model.context_cache.get(key)
        if cached is None:
            cached = np.zeros(model.n_conditions)
            fields = dict(zip(names, key, strict=True))
            for mod in model.context_modifiers:
                if all(fields[name] == value for name, value in mod.when):
                    cached += mod.log_factor
            model.context_cache[key] = cached
        table[k] = cached
    context: Array = table[combo_of]
    known = ages >= 0
    for age in model.age_modifiers:
        mask = known.copy()
        if age.low is not None:
            mask &= ages >= age.low
        if age.high is not None:
            mask &= ages <= age.high
        context[mask] += age.log_factor
    if model.sex_modifiers:
        sex_array = np.array(sexes, dtype=object)
        for sex, vec in model.sex_modifiers.items():
            context[sex_array == sex] += vec
    return context


def encode(model: Model, cases: Sequence[Case], timelines: Sequence[Timeline]) -> Encoded:
    n, n_f = len(cases), model.n_findings
    fidx = model.finding_index.__getitem__
    pidx = model.procedure_index
    rows: list[int] = []
    cols: list[int] = []
    vals: list[bool] = []
    for i, case in enumerate(cases):
        found = case.findings
        if found:
            rows.extend([i] * len(found))
            cols.extend(map(fidx, found))
            vals.extend(found.values())
    x_true = np.zeros((n, n_f))
    x_false = np.zeros((n, n_f))
    if rows:
        r, c, v = np.array(rows), np.array(cols), np.array(vals, dtype=bool)
        x_true[r[v], c[v]] = 1.0
        x_false[r[~v], c[~v]] = 1.0
    relief = {s: i for i, s in enumerate(model.relief_states)}
    speed = {s: i for i, s in enumerate(model.speed_states)}
    trend = {s: i for i, s in enumerate(model.trend_states)}
    timing = np.full((n, 5), -1, dtype=np.int64)  # days, onset days, relief, speed, trend
    for i, t in enumerate(timelines):
        if t.days_since_surgery is not None:
            timing[i, 0] = t.days_since_surgery
        if t.onset_days is not None:
            timing[i, 1] = t.onset_days
        if t.relief is not None:
            timing[i, 2] = relief[t.relief]
        if t.speed is not None:
            timing[i, 3] = speed[t.speed]
        if t.trend is not None:
            timing[i, 4] = trend[t.trend]
    procedure = np.fromiter((pidx[c.surgery.procedure] for c in cases), dtype=np.int64, count=n)
    return Encoded(
        procedure=procedure,
        x_true=x_true,
        x_false=x_false,
        days=timing[:, 0].copy(),
        onset_days=timing[:, 1].copy(),
        onset=bin_indices(model.onset_bins, timing[:, 1]),
        assessed=bin_indices(model.assessed_bins, timing[:, 0]),
        relief=timing[:, 2].copy(),
        speed=timing[:, 3].copy(),
        trend=timing[:, 4].copy(),
        context=_context(model, cases),
    )


def _gather(table: Array, index: IntArray) -> Array:
    """Rows of table[:, index] per case, zero where the index is unknown (-1)."""
    out: Array = table.T[np.maximum(index, 0)]
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


def logits_and_loglik(model: Model, enc: Encoded) -> tuple[Array, Array]:
    """Unnormalised log posterior and the findings+timing log-likelihood, each (n, C)."""
    loglik = finding_loglik(model, enc)
    for term in timing_terms(model, enc).values():
        loglik += term
    return log_prior(model, enc) + loglik, loglik


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


def escalation_posterior_from(model: Model, enc: Encoded, logits: Array) -> Array:
    """As `escalation_posterior`, reusing the full logits and removing the red-flag terms."""
    flags = model.red_flag
    if not flags.any():
        return softmax(logits.copy())
    red = enc.x_true[:, flags] @ model.log_p[flags] + enc.x_false[:, flags] @ model.log_q[flags]
    return softmax(logits - red)
