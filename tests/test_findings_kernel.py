"""The C findings encoder against a plain Python build of the state matrix."""

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
