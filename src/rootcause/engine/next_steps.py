"""What to find out next: expected reduction in uncertainty per unit of cost.

The expected entropy reduction from learning binary finding X is the mutual information between
X and the quantity of interest. For the differential C:
    I(C; X) = H_b(P(X)) − Σ_c π_c H_b(p_c),     P(X) = Σ_c π_c p_c,
and for the triage level L (the urgency distribution the posterior implies, with levels below
the current red-flag floor merged into it):
    I(L; X) = H_b(P(X)) − Σ_l [M_l log M_l − y_l log y_l − (M_l − y_l) log(M_l − y_l)],
    M_l = Σ_{c at level l} π_c,   y_l = Σ_{c at level l} π_c p_c.
A positive answer that would fire a red-flag rule above the current floor adds its
probability (it changes management even when it barely changes the entropies); only findings
marked red_flag get this bonus. The sum is divided by the finding's cost weight (question <
examination < laboratory < imaging < invasive test).

All of it runs in a small C kernel, `_gain.c`, that finishes each case's row in one pass: the
sums over causes from the posterior (each cause adds to its own urgency level only), then the
logarithms, the floor merge, the cost and the top k. NumPy took some fifteen passes over
(n, 4, F) arrays and was 2.5x slower; a BLAS product for the sums, then the kernel, took 1.8x
as long per case on one core as the fused kernel (2.9 against 1.6 µs), whose sums skip the
zero blocks of that product and never write it out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rootcause.engine import _gain
from rootcause.engine.model import Array, IntArray, Model

N_LEVELS = 4

Array32 = npt.NDArray[np.float32]
# n, C, F, posterior (n, C), p (C, F'), H_b(p) (C, F'), urgency (C,), floor, known, red-flag bonus,
# cost: what _gain.c reads
KernelInputs = tuple[
    int, int, int, Array, Array32, Array32, IntArray, IntArray, npt.NDArray[np.bool_], IntArray, Array32
]


def _inputs(model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray) -> KernelInputs:
    return (
        post.shape[0],
        model.n_conditions,
        model.n_findings,
        np.ascontiguousarray(post, dtype=np.float64),
        model.p_by_condition32,
        model.entropy_by_condition32,
        model.urgency_rank,
        np.ascontiguousarray(floor, dtype=np.int64),
        np.ascontiguousarray(known, dtype=np.bool_),
        model.red_flag_bonus,
        model.cost_weight32,
    )


def gain_per_cost(model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray) -> Array32:
    """(n, F) expected information gain per unit cost; known findings get -inf."""
    per_cost: Array32 = np.empty((post.shape[0], model.n_findings), dtype=np.float32)
    _gain.per_cost(*_inputs(model, post, known, floor), per_cost)
    return per_cost


def ranked_steps(
    model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray, k: int
) -> tuple[IntArray, Array32]:
    """The k most informative findings per unit cost for every case, best first, and their value.

    Ties go to the lower finding index, as a stable sort gives; known findings come last
    with -inf. Never holds the full (n, F) gain matrix.
    """
    n = post.shape[0]
    k = min(k, model.n_findings)
    steps: IntArray = np.empty((n, k), dtype=np.int64)
    values: Array32 = np.empty((n, k), dtype=np.float32)
    _gain.top_steps(*_inputs(model, post, known, floor), k, steps, values)
    return steps, values
