"""Information-gain kernels in C (_gain.c); next_steps.py is their only caller."""

import numpy as np
import numpy.typing as npt

def per_cost(
    n: int,
    n_conditions: int,
    n_findings: int,
    post: npt.NDArray[np.float64],
    p: npt.NDArray[np.float32],
    spread: npt.NDArray[np.float32],
    urgency: npt.NDArray[np.int64],
    floor: npt.NDArray[np.int64],
    known: npt.NDArray[np.bool_],
    bonus: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
) -> None: ...
def top_steps(
    n: int,
    n_conditions: int,
    n_findings: int,
    post: npt.NDArray[np.float64],
    p: npt.NDArray[np.float32],
    spread: npt.NDArray[np.float32],
    urgency: npt.NDArray[np.int64],
    floor: npt.NDArray[np.int64],
    known: npt.NDArray[np.bool_],
    bonus: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float32],
    k: int,
    steps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float32],
) -> None: ...
