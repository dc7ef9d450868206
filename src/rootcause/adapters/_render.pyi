"""Contract JSON lines in C (_render.c); ContractRenderer in ndjson.py is its caller."""

import numpy as np
import numpy.typing as npt

def lines(
    ids: list[str | None],
    head: bytes,
    triages: list[bytes],
    triage_index: npt.NDArray[np.int64],
    posterior: npt.NDArray[np.float64],
    conditions: list[bytes],
    steps: npt.NDArray[np.int64],
    gains: npt.NDArray[np.float32],
    step_texts: list[bytes],
    ends: npt.NDArray[np.int64],
) -> bytes: ...
