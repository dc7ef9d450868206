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
CHUNK = 2048
TINY = np.float32(1e-30)


Array32 = npt.NDArray[np.float32]


def _xlogx(x: Array32) -> Array32:
    out: Array32 = x * np.log(np.maximum(x, TINY))
    return out


def _level_term(mass: Array32, y: Array32) -> Array32:
    """M Hb(y/M) = M log M − y log y − (M − y) log(M − y), for one level or merged group."""
    out: Array32 = _xlogx(mass) - _xlogx(y) - _xlogx(np.maximum(mass - y, 0.0))
    return out


def _gain_chunk(model: Model, post: Array32, floor: IntArray) -> Array32:
    n_f = model.n_findings
    weighted = post @ model.gain_weights32  # (n, F + F + 4F): z, Σ π H_b(p), y per level
    z = np.clip(weighted[:, :n_f], 0.0, 1.0)
    h_z = -(_xlogx(z) + _xlogx(1.0 - z))
    mass = post @ model.urgency_onehot32  # (n, 4)
    conditional = np.zeros_like(z)
    cum_term = np.zeros_like(z)
    cum_y = np.zeros_like(z)
    cum_mass = np.zeros_like(mass[:, :1])
    for lvl in range(N_LEVELS):
        y = weighted[:, (2 + lvl) * n_f : (3 + lvl) * n_f]
        term = _level_term(mass[:, lvl : lvl + 1], y)
        conditional += term
        cum_term += term
        cum_y += y
        cum_mass += mass[:, lvl : lvl + 1]
        rows = np.flatnonzero(floor == lvl) if lvl > 0 else np.empty(0, dtype=np.int64)
        if rows.size:  # levels up to a red-flag floor merge into one group
            conditional[rows] += _level_term(cum_mass[rows], cum_y[rows]) - cum_term[rows]
    gain: Array32 = 2.0 * h_z - weighted[:, n_f : 2 * n_f] - conditional
    gain += np.where(model.red_flag_bonus[None, :] > floor[:, None], z, np.float32(0.0))
    return gain


def information_gain(model: Model, post: Array, known: Array, rule_floor: IntArray) -> tuple[Array, Array]:
    """Return (gain, gain per cost) for every case and finding, (n, F); known findings get -inf."""
    gain = np.empty((post.shape[0], model.n_findings))
    post32 = post.astype(np.float32)
    for start in range(0, post.shape[0], CHUNK):
        stop = start + CHUNK
        gain[start:stop] = _gain_chunk(model, post32[start:stop], rule_floor[start:stop])
    gain[known > 0] = -np.inf
    return gain, gain / model.cost_weight[None, :]


def top_steps(per_cost: Array, k: int) -> IntArray:
    """Indices of the k best findings per case, best first (k rounds of argmax: F is small)."""
    k = min(k, per_cost.shape[1])
    work = per_cost.copy()
    rows = np.arange(work.shape[0])
    result: IntArray = np.empty((work.shape[0], k), dtype=np.int64)
    for j in range(k):
        best = work.argmax(axis=1)
        result[:, j] = best
        work[rows, best] = -np.inf
    return result
