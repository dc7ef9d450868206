"""Findings dicts to the int8 state matrix in C (_findings.c); scoring.encode is its caller."""

import numpy as np
import numpy.typing as npt

def fill_states(
    findings: list[dict[str, bool]], index: dict[str, int], n_findings: int, out: npt.NDArray[np.int8]
) -> None: ...
