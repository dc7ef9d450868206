"""What to find out next: expected reduction in uncertainty per unit of cost.

For every unknown finding f the expected entropy after learning it is
    P(f) · H(differential | f) + P(¬f) · H(differential | ¬f)
plus the same for the triage level (the distribution of urgency implied by the posterior,
floored by the red-flag rules that a positive answer would fire). Both posteriors-after-answer
are computed in closed form with matrix products, so a whole batch is scored at once:
    H(q | f) = log Z_f − [(π log π) pᵀ + π (p log p)ᵀ] / Z_f,   Z_f = π pᵀ.
The gain is divided by the finding's cost weight (question < examination < laboratory <
imaging < invasive test).
"""

from __future__ import annotations

import numpy as np

from rootcause.engine.model import Array, IntArray, Model
from rootcause.engine.scoring import entropy

N_LEVELS = 4


def _xlogx(x: Array) -> Array:
    out: Array = np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)
    return out


def _branch_entropy(post: Array, plogpost: Array, p: Array, plogp: Array) -> tuple[Array, Array]:
    """(Z, H) for the branch whose likelihood table is p (F, C): each (n, F)."""
    z = post @ p.T
    z = np.maximum(z, 1e-300)
    h = np.log(z) - (plogpost @ p.T + post @ plogp.T) / z
    return z, np.maximum(h, 0.0)


def _floored_entropy(mass: Array, floor: IntArray) -> Array:
    """Entropy of level distributions (…, 4) after moving mass below `floor` up to it."""
    levels = np.arange(N_LEVELS)
    below = levels < floor[..., None]
    at = levels == floor[..., None]
    moved = np.where(below, mass, 0.0).sum(axis=-1, keepdims=True)
    dist = np.where(below, 0.0, mass) + np.where(at, moved, 0.0)
    return entropy(dist)


def information_gain(model: Model, post: Array, known: Array, rule_floor: IntArray) -> tuple[Array, Array]:
    """Return (gain, gain per cost) for every case and finding, (n, F); known findings get -inf."""
    p = model.p_present
    q = 1.0 - p
    plogpost = _xlogx(post)
    z_t, h_t = _branch_entropy(post, plogpost, p, _xlogx(p))
    z_f, h_f = _branch_entropy(post, plogpost, q, _xlogx(q))
    z_sum = z_t + z_f
    gain_diff = entropy(post)[:, None] - (z_t * h_t + z_f * h_f) / z_sum

    onehot = model.urgency_onehot
    mass_now = post @ onehot
    h_triage_now = _floored_entropy(mass_now, rule_floor)
    mass_t = np.stack([(post * onehot[:, lvl]) @ p.T for lvl in range(N_LEVELS)], axis=-1)
    mass_f = np.stack([(post * onehot[:, lvl]) @ q.T for lvl in range(N_LEVELS)], axis=-1)
    mass_t /= np.maximum(z_t, 1e-300)[..., None]
    mass_f /= np.maximum(z_f, 1e-300)[..., None]
    floor_f = np.broadcast_to(rule_floor[:, None], z_t.shape)
    floor_t = np.maximum(floor_f, model.red_flag_level[None, :])
    gain_triage = (
        h_triage_now[:, None]
        - (z_t * _floored_entropy(mass_t, floor_t) + z_f * _floored_entropy(mass_f, floor_f)) / z_sum
    )
    # A positive red-flag answer changes management even when its entropy gain is small.
    red_flag_bonus = np.where(model.red_flag_level[None, :] > rule_floor[:, None], z_t, 0.0)

    gain = gain_diff + gain_triage + red_flag_bonus
    gain = np.where(known > 0, -np.inf, gain)
    return gain, gain / model.cost_weight[None, :]


def top_steps(per_cost: Array, k: int) -> IntArray:
    """Indices of the k best findings per case, best first."""
    k = min(k, per_cost.shape[1])
    part = np.argpartition(-per_cost, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(per_cost, part, axis=1).argsort(axis=1)[:, ::-1]
    result: IntArray = np.take_along_axis(part, order, axis=1)
    return result
