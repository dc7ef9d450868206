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

The sums over causes are two matrix products for a whole batch; the element-wise rest (the
logarithms, the floor merge, the cost and the top k) is a small C kernel, `_gain.c`, that
finishes each case's row in one pass: NumPy took some fifteen passes over (n, 4, F) arrays
and was 2.5x slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from rootcause.engine import _gain
from rootcause.engine.model import Array, IntArray, Model

N_LEVELS = 4
CHUNK = 1024  # cases per matrix product: its (CHUNK, 6F) float32 result stays in cache

Array32 = npt.NDArray[np.float32]
# n, F, weighted (n, 6F), mass (n, 4), floor, known, red-flag bonus, cost: what _gain.c reads
KernelInputs = tuple[int, int, Array32, Array32, IntArray, npt.NDArray[np.bool_], IntArray, Array32]


def _chunks(
    model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray
) -> Iterator[tuple[slice, KernelInputs]]:
    """Per chunk of cases, the kernel's inputs: z, Σ π H_b(p) and y per level from one product.

    Yielded one at a time, so each chunk's product is used while it is in cache and only one
    is alive at once. The element-wise rest (every logarithm, the floor merge, the cost and the top k) runs in
    the C kernel `_gain.c`, one case's row at a time while it is in the L1 cache.
    """
    post32 = post.astype(np.float32)
    for start in range(0, post.shape[0], CHUNK):
        rows = slice(start, start + CHUNK)
        weighted = post32[rows] @ model.gain_weights32  # (n, F + F + 4F)
        mass = post32[rows] @ model.urgency_onehot32  # (n, 4)
        inputs: KernelInputs = (
            weighted.shape[0],
            model.n_findings,
            weighted,
            mass,
            np.ascontiguousarray(floor[rows], dtype=np.int64),
            np.ascontiguousarray(known[rows]),
            model.red_flag_bonus,
            model.cost_weight32,
        )
        yield rows, inputs


def gain_per_cost(model: Model, post: Array, known: npt.NDArray[np.bool_], floor: IntArray) -> Array32:
    """(n, F) expected information gain per unit cost; known findings get -inf."""
    per_cost: Array32 = np.empty((post.shape[0], model.n_findings), dtype=np.float32)
    for rows, inputs in _chunks(model, post, known, floor):
        _gain.per_cost(*inputs, per_cost[rows])
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
    for rows, inputs in _chunks(model, post, known, floor):
        _gain.top_steps(*inputs, k, steps[rows], values[rows])
    return steps, values
