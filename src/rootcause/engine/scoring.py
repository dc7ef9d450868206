"""Cases → arrays → posterior, for a whole batch at once.

The posterior is a softmax over conditions of
    log prior(procedure) + context modifiers (route, approach, instrumented, age, sex)
    + Σ_known findings log P(x_f | c) + timing terms (onset bin, days-since bin, relief, speed, trend),
i.e. one matrix product per term for the whole batch. With no context and no timing it is
exactly the naive-Bayes posterior of the exported tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
import numpy.typing as npt

from rootcause.engine import _findings
from rootcause.engine.case import Case
from rootcause.engine.model import Array, IntArray, Model, bin_indices
from rootcause.engine.timeline import Timeline, TimingColumns, build_timeline, timing_columns


@dataclass(frozen=True)
class Encoded:
    """A batch of cases as arrays; -1 marks unknown in the index arrays.

    Findings are kept as one int8 matrix (+1 present, -1 absent, 0 unknown); sums over them
    run over the stated entries only (`stated`, `stated_sum`).
    """

    procedure: IntArray  # (n,)
    state: npt.NDArray[np.int8]  # (n, F)
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

    @cached_property
    def stated(self) -> tuple[IntArray, IntArray]:
        """(rows, columns) of the stated findings, in row-major order."""
        rows, cols = np.divmod(np.flatnonzero(self.state), self.state.shape[1])
        return rows, cols

    @cached_property
    def known(self) -> npt.NDArray[np.bool_]:
        known: npt.NDArray[np.bool_] = self.state != 0
        return known

    @classmethod
    def concatenate(cls, parts: Sequence[Encoded]) -> Encoded:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def _int_column(values: Sequence[int | None]) -> IntArray:
    """Optional ints to an int64 array with -1 for unknown (None becomes NaN on the way)."""
    as_float = np.array(values, dtype=np.float64)
    as_float[np.isnan(as_float)] = -1.0
    return as_float.astype(np.int64)


def _state_column(values: Sequence[str | None], states: list[str]) -> IntArray:
    index: dict[str | None, int] = {s: i for i, s in enumerate(states)}
    index[None] = -1
    return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))


def _context(model: Model, contexts: list[tuple[str | bool | None, ...]], columns: IntArray) -> Array:
    """Summed log factors of the route/approach/implant, age and sex modifiers, (n, C).

    Cases share few distinct surgical contexts (`contexts`, found by `_findings.case_columns`),
    so each distinct one is resolved once.
    """
    table = np.zeros((len(contexts), model.n_conditions))
    names = ("procedure", "route", "approach", "instrumented")
    for k, key in enumerate(contexts):
        cached = model.context_cache.get(key)
        if cached is None:
            cached = np.zeros(model.n_conditions)
            fields = dict(zip(names, key, strict=True))
            for mod in model.context_modifiers:
                if all(fields[name] == value for name, value in mod.when):
                    cached += mod.log_factor
            model.context_cache[key] = cached
        table[k] = cached
    context: Array = table[columns[COLUMN_CONTEXT]]
    context += model.log_age[columns[COLUMN_AGE]]  # -1: the last row, age unknown
    context += model.log_sex[columns[COLUMN_SEX]]  # -1: the last row, sex unknown or unmodified
    return context


# Rows of the (9, n) array `_findings.case_columns` fills, in its order.
(
    COLUMN_PROCEDURE,
    COLUMN_DAYS,
    COLUMN_ONSET,
    COLUMN_RELIEF,
    COLUMN_SPEED,
    COLUMN_TREND,
    COLUMN_CONTEXT,
    COLUMN_AGE,
    COLUMN_SEX,
) = range(9)


def _index(states: Sequence[str]) -> dict[str, int]:
    return {state: i for i, state in enumerate(states)}


def _set_timing(model: Model, columns: IntArray, rows: IntArray | slice, timing: TimingColumns) -> None:
    """Overwrite the timing rows of `columns` for the cases `rows` with derived timing."""
    columns[COLUMN_DAYS, rows] = _int_column(timing.days)
    columns[COLUMN_ONSET, rows] = _int_column(timing.onset_days)
    columns[COLUMN_RELIEF, rows] = _state_column(timing.relief, model.relief_states)
    columns[COLUMN_SPEED, rows] = _state_column(timing.speed, model.speed_states)
    columns[COLUMN_TREND, rows] = _state_column(timing.trend, model.trend_states)


def encode(model: Model, cases: Sequence[Case], timelines: Sequence[Timeline] | None = None) -> Encoded:
    """Cases to arrays: every column in one C pass over the cases (`_findings.case_columns`).

    `timelines` are used when given; otherwise the timing is read from the cases directly, and
    derived by `build_timeline` only for the cases with pain scores or dates (the same values
    either way: a case without those has nothing to derive).
    """
    n, n_f = len(cases), model.n_findings
    cases = cases if isinstance(cases, list) else list(cases)
    state = np.empty((n, n_f), dtype=np.int8)
    _findings.fill_states([c.findings for c in cases], model.finding_index, n_f, state)
    columns: IntArray = np.empty((9, n), dtype=np.int64)
    contexts, slow = _findings.case_columns(
        cases,
        model.procedure_index,
        _index(model.relief_states),
        _index(model.speed_states),
        _index(model.trend_states),
        _index(model.sex_states),
        columns,
    )
    if timelines is not None:
        _set_timing(model, columns, slice(None), timing_columns(cases, timelines))
    elif slow:
        derived = [cases[i] for i in slow]
        _set_timing(
            model, columns, np.array(slow), timing_columns(derived, [build_timeline(c) for c in derived])
        )
    days, onset_days = columns[COLUMN_DAYS], columns[COLUMN_ONSET]
    return Encoded(
        procedure=columns[COLUMN_PROCEDURE],
        state=state,
        days=days,
        onset_days=onset_days,
        onset=bin_indices(model.onset_bins, onset_days),
        assessed=bin_indices(model.assessed_bins, days),
        relief=columns[COLUMN_RELIEF],
        speed=columns[COLUMN_SPEED],
        trend=columns[COLUMN_TREND],
        context=_context(model, contexts, columns),
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


# timing variable -> (its log-likelihood table on the model, whether the table is per procedure)
TIMING_TABLES: dict[str, tuple[str, bool]] = {
    "onset": ("log_onset", True),
    "assessed": ("log_assessed", True),
    "relief": ("log_relief", False),
    "speed": ("log_speed", False),
    "trend": ("log_trend", False),
}


def timing_terms(model: Model, enc: Encoded) -> dict[str, Array]:
    """Per-case log-likelihood of each timing variable under each condition, (n, C) each."""
    return {
        name: _gather_by_procedure(getattr(model, table), enc.procedure, getattr(enc, name))
        if by_procedure
        else _gather(getattr(model, table), getattr(enc, name))
        for name, (table, by_procedure) in TIMING_TABLES.items()
    }


def timing_row(model: Model, enc: Encoded, row: int) -> dict[str, Array]:
    """The timing terms of one case, (C,) each, for the variables it states.

    What timing_terms gives for that row, without gathering the whole batch.
    """
    procedure = int(enc.procedure[row])
    out: dict[str, Array] = {}
    for name, (table, by_procedure) in TIMING_TABLES.items():
        index = int(getattr(enc, name)[row])
        if index >= 0:
            values: Array = getattr(model, table)
            out[name] = values[procedure, :, index] if by_procedure else values[:, index]
    return out


def log_prior(model: Model, enc: Encoded) -> Array:
    return model.log_prior[enc.procedure] + enc.context


def stated_sum(enc: Encoded, positive: Array, negative: Array | None = None) -> Array:
    """(n, K): Σ positive[f] over each case's present findings, plus negative[f] over its absent ones.

    The products (state > 0) @ positive + (state < 0) @ negative, summed in C over the few
    findings each case states (_findings.signed_sums): dense float products over mostly-zero
    matrices took a sixth of a batch's scoring time.
    """
    state = np.ascontiguousarray(enc.state)
    rows, cols = enc.stated
    out: Array = np.empty((state.shape[0], positive.shape[1]))
    table = np.ascontiguousarray(positive, dtype=np.float64)
    other = None if negative is None else np.ascontiguousarray(negative, dtype=np.float64)
    _findings.signed_sums(state, state.shape[1], rows, cols, table, other, out)
    return out


def finding_loglik(model: Model, enc: Encoded) -> Array:
    return stated_sum(enc, model.log_p, model.log_q)


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


def escalation_posterior_from(model: Model, enc: Encoded, logits: Array) -> Array:
    """The posterior with red-flag findings left out, used for triage escalation.

    Red flags act on triage through the deterministic rules only. Leaving them out here makes
    triage monotone: setting a red flag can fire a rule but cannot move posterior mass away
    from a dangerous cause and so lower the escalation. Reuses the full logits and removes
    the red-flag terms.
    """
    flags = model.red_flag
    if not flags.any():
        return softmax(logits.copy())
    red = stated_sum(enc, model.red_flag_log_p, model.red_flag_log_q)
    return softmax(logits - red)
