"""Cases to the scorer's columns and int8 state matrix, and sums over stated findings, in C (_findings.c)."""

from typing import Any

import numpy as np
import numpy.typing as npt

def fill_states(
    findings: list[dict[str, bool]], index: dict[str, int], n_findings: int, out: npt.NDArray[np.int8]
) -> None: ...
def signed_sums(
    state: npt.NDArray[np.int8],
    n_findings: int,
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    positive: npt.NDArray[np.float64],
    negative: npt.NDArray[np.float64] | None,
    out: npt.NDArray[np.float64],
) -> None: ...
def case_columns(
    cases: list[Any],
    procedures: dict[str, int],
    reliefs: dict[str, int],
    speeds: dict[str, int],
    trends: dict[str, int],
    sexes: dict[str, int],
    out: npt.NDArray[np.int64],
) -> tuple[list[tuple[str | bool | None, ...]], list[int]]: ...
