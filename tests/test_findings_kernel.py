"""The C findings kernels (state matrix, sums over stated findings) against plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rootcause import load_engine
from rootcause.engine import _findings

MODEL = load_engine().model
IDS = MODEL.findings

answers = st.dictionaries(st.sampled_from(IDS), st.booleans(), max_size=len(IDS))


@given(st.lists(answers, max_size=12))
def test_states_equal_a_plain_python_build(findings: list[dict[str, bool]]) -> None:
    expected = np.zeros((len(findings), len(IDS)), dtype=np.int8)
    for i, stated in enumerate(findings):
        for fid, present in stated.items():
            expected[i, MODEL.finding_index[fid]] = 1 if present else -1
    out = np.full_like(expected, 7)  # whatever was there is overwritten
    _findings.fill_states(findings, MODEL.finding_index, len(IDS), out)
    assert np.array_equal(out, expected)


def _out(n: int) -> np.ndarray:
    return np.empty((n, len(IDS)), dtype=np.int8)


def test_unknown_finding_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no_such_finding"):
        _findings.fill_states(
            [{IDS[0]: True}, {"no_such_finding": True}], MODEL.finding_index, len(IDS), _out(2)
        )


def test_answer_that_is_not_a_bool_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"findings\[0\]\[.*\]: expected a bool"):
        _findings.fill_states([{IDS[0]: 1}], MODEL.finding_index, len(IDS), _out(1))  # type: ignore[dict-item]


def test_a_case_that_is_not_a_dict_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"findings\[1\]: expected a dict"):
        _findings.fill_states([{}, [IDS[0]]], MODEL.finding_index, len(IDS), _out(2))  # type: ignore[list-item]


def test_output_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match=r"out: expected \d+ bytes, got \d+"):
        _findings.fill_states([{}, {}], MODEL.finding_index, len(IDS), _out(1))


def test_index_outside_the_matrix_is_refused() -> None:
    with pytest.raises(ValueError, match=r"index\['x'\]: expected 0 to 1, got 5"):
        _findings.fill_states([{"x": True}], {"x": 5}, 2, np.empty((1, 2), dtype=np.int8))


def _stated(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.divmod(np.flatnonzero(state), state.shape[1])
    return rows, cols


@given(st.lists(answers, max_size=12), st.booleans())
def test_signed_sums_equal_the_dense_products(findings: list[dict[str, bool]], with_negative: bool) -> None:
    state = np.zeros((len(findings), len(IDS)), dtype=np.int8)
    _findings.fill_states(findings, MODEL.finding_index, len(IDS), state)
    positive, negative = MODEL.log_p, MODEL.log_q
    expected = (state > 0) @ positive + ((state < 0) @ negative if with_negative else 0.0)
    out = np.full((len(findings), positive.shape[1]), np.nan)  # every row is written
    rows, cols = _stated(state)
    _findings.signed_sums(state, len(IDS), rows, cols, positive, negative if with_negative else None, out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_signed_sums_refuse_a_stated_entry_outside_the_state() -> None:
    state = np.zeros((2, 3), dtype=np.int8)
    table, out = np.ones((3, 4)), np.empty((2, 4))
    with pytest.raises(ValueError, match=r"stated\[0\]: \(2, 0\) is outside the \(2, 3\) state"):
        _findings.signed_sums(state, 3, np.array([2]), np.array([0]), table, None, out)


def test_signed_sums_refuse_tables_and_output_of_the_wrong_size() -> None:
    state = np.zeros((2, 3), dtype=np.int8)
    none = np.array([], dtype=np.int64)
    with pytest.raises(ValueError, match="positive: expected 3 rows of float64"):
        _findings.signed_sums(state, 3, none, none, np.ones((2, 4)), None, np.empty((2, 4)))
    with pytest.raises(ValueError, match=r"negative: expected 96 bytes, got 64"):
        _findings.signed_sums(state, 3, none, none, np.ones((3, 4)), np.ones((2, 4)), np.empty((2, 4)))
    with pytest.raises(ValueError, match=r"out: expected 64 bytes, got 32"):
        _findings.signed_sums(state, 3, none, none, np.ones((3, 4)), None, np.empty((1, 4)))
