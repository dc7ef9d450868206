"""What to find out next: expected reduction in uncertainty per unit of cost.

The expected entropy reduction from learning binary finding X is the mutual information between
X and the quantity of interest. For the differential C:
    I(C; X) = H_b(P(X)) − Σ_c π_c H_b(p_c),     P(X) = Σ_c π_c p_c,
and for the triage level L (the urgency distribution the posterior implies, with levels below
the current red-flag floor merged into it):
    I(L; X) = H_b(P(X)) − Σ_l [M_l log M_l − y_l log y_l − (M_l − y_l) log(M_l − y_l)],
    M_l = Σ_{c at level l} π_c,   y_l = Σ_{c at level l} π_c p_c.
Both are a few matrix products for a whole batch. A positive answer that would fire a red-flag
rule above the current floor adds its probability (it changes management even when it barely
changes the entropies); only findings marked red_flag get this bonus. The sum is divided by
the finding's cost weight (question < examination < laboratory < imaging < invasive test).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rootcause.engine.model import Array, IntArray, Model

N_LEVELS = 4
CHUNK = 1024
SMALL = 32  # up to this many cases, the top k comes from one sort
TINY = np.float32(1e-30)


Array32 = npt.NDArray[np.float32]


def _xlogx(x: Array32, out: Array32 | None = None) -> Array32:
    """x log x with 0 log 0 = 0; `out` avoids a temporary in the hot loop."""
    result: Array32 = np.maximum(x, TINY, out=out)
    np.log(result, out=result)
    result *= x
    return result


def _gain_chunk(model: Model, post: Array32, floor: IntArray) -> Array32:
    """Gain per finding for a chunk of cases small enough that its arrays stay in cache.

    The urgency levels are one (n, 4, F) block, so each step is one NumPy call for all four.
    Every logarithm works in a contiguous buffer: NumPy vectorises only contiguous loops.
    """
    n, n_f = post.shape[0], model.n_findings
    weighted = post @ model.gain_weights32  # (n, F + F + 4F): z, Σ π H_b(p), y per level
    mass = post @ model.urgency_onehot32  # (n, 4)
    z = np.clip(weighted[:, :n_f], 0.0, 1.0)
    scratch = np.empty((n, N_LEVELS, n_f), dtype=np.float32)
    rest = np.empty_like(scratch)
    # gain = 2 H_b(z) − Σ π H_b(p) − Σ_l [M_l log M_l − y_l log y_l − (M_l − y_l) log(M_l − y_l)]
    h_z = _xlogx(z)
    h_z += _xlogx(np.subtract(1.0, z))  # a fresh buffer: scratch[:, 0] would be a strided view
    gain = weighted[:, n_f : 2 * n_f] + 2.0 * h_z
    np.negative(gain, out=gain)
    # Levels up to a case's red-flag floor count as one group, carried by the floor level:
    # below it mass and y are zero (0 log 0 = 0), at it they are the sums up to it.
    y = weighted[:, 2 * n_f :].reshape(n, N_LEVELS, n_f).copy()  # y per level, contiguous
    for lvl in range(int(floor.max(initial=0))):
        # carry this level up into the next for cases whose floor is above it
        merge = (floor > lvl).astype(np.float32)[:, None]  # float: a bool operand costs a cast
        y[:, lvl + 1] += y[:, lvl] * merge
        y[:, lvl] *= 1.0 - merge
        mass[:, lvl + 1 : lvl + 2] += mass[:, lvl : lvl + 1] * merge
        mass[:, lvl : lvl + 1] *= 1.0 - merge
    gain -= _xlogx(mass).sum(axis=1, keepdims=True)
    np.subtract(mass[:, :, None], y, out=rest)
    np.maximum(rest, 0.0, out=rest)
    levels = _xlogx(y, scratch)
    levels += _xlogx(rest, y)  # y is spent: its buffer takes the result
    for lvl in range(N_LEVELS):  # plain adds: a reduction over the middle axis is slower
        gain += levels[:, lvl]
    gain += np.where(model.red_flag_bonus[None, :] > floor[:, None], z, np.float32(0.0))
    return gain


def _per_cost_chunk(model: Model, post: Array32, known: npt.NDArray[np.bool_], floor: IntArray) -> Array32:
    per_cost = _gain_chunk(model, post, floor)
    per_cost /= model.cost_weight32
    per_cost[known] = -np.inf
    return per_cost


def gain_per_cost(model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray) -> Array32:
    """(n, F) expected information gain per unit cost; known findings get -inf."""
    post32 = post.astype(np.float32)
    parts = [
        _per_cost_chunk(model, post32[s : s + CHUNK], known[s : s + CHUNK], floor[s : s + CHUNK])
        for s in range(0, post.shape[0], CHUNK)
    ]
    return np.concatenate(parts) if parts else np.empty((0, model.n_findings), dtype=np.float32)


def ranked_steps(
    model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray, k: int
) -> tuple[IntArray, Array32]:
    """The k most informative findings per unit cost for every case, best first, and their value.

    Works a cache-sized chunk at a time and keeps only the top k, so a large batch never
    holds the full (n, F) gain matrix.
    """
    n = post.shape[0]
    k = min(k, model.n_findings)
    steps: IntArray = np.empty((n, k), dtype=np.int64)
    values: Array32 = np.empty((n, k), dtype=np.float32)
    post32 = post.astype(np.float32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        per_cost = _per_cost_chunk(model, post32[start:stop], known[start:stop], floor[start:stop])
        rows = np.arange(stop - start)
        if stop - start <= SMALL:
            # one sort beats k passes when there are few rows; stable, so ties go to the
            # lower index exactly as argmax does
            best_k = np.argsort(-per_cost, axis=1, kind="stable")[:, :k]
            steps[start:stop] = best_k
            values[start:stop] = per_cost[rows[:, None], best_k]
            continue
        for j in range(k):
            best = per_cost.argmax(axis=1)
            steps[start:stop, j] = best
            values[start:stop, j] = per_cost[rows, best]
            per_cost[rows, best] = -np.inf
    return steps, values
