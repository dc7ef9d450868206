"""Information-gain kernels in C (_gain.c); next_steps.py is their only caller."""

import numpy as np
import numpy.typing as npt

def per_cost(
    n: int,
    n_findings: int,
    weighted: npt.NDArray[np.float32],
    mass: npt.NDArray[np.float32],
    floor: npt.NDArray[np.int64],
    known: npt.NDArray[np.bool_],
    bonus: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
) -> None: ...
def top_steps(
    n: int,
    n_findings: int,
    weighted: npt.NDArray[np.float32],
    mass: npt.NDArray[np.float32],
    floor: npt.NDArray[np.int64],
    known: npt.NDArray[np.bool_],
    bonus: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float32],
    k: int,
    steps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float32],
) -> None: ...
