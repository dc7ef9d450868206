"""The C case kernels (state matrix, case columns, sums over stated findings) against plain Python."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rootcause.engine import _findings
from rootcause.engine.scoring import encode
from rootcause.engine.timeline import build_timeline
from test_properties import ENGINE, FAST, cases

MODEL = ENGINE.model
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


COLUMN_NAMES = ["procedure", "days", "onset", "relief", "speed", "trend", "context", "age", "sex"]


def _index(states: list[str]) -> dict[str, int]:
    return {s: i for i, s in enumerate(states)}


def _columns(parsed: list) -> tuple[np.ndarray, list, list[int]]:
    out = np.full((9, len(parsed)), 99, dtype=np.int64)  # whatever was there is overwritten
    contexts, slow = _findings.case_columns(
        parsed,
        MODEL.procedure_index,
        _index(MODEL.relief_states),
        _index(MODEL.speed_states),
        _index(MODEL.trend_states),
        _index(MODEL.sex_states),
        out,
    )
    return out, contexts, slow


@FAST
@given(st.lists(cases(), max_size=12), st.lists(st.booleans(), min_size=12, max_size=12))
def test_case_columns_equal_a_plain_python_read(raw: list[dict], dated: list[bool]) -> None:
    for case, with_date in zip(raw, dated, strict=False):
        if with_date and "days_since_surgery" not in case:
            case["surgery"]["date"] = "2026-01-05"
            case["assessed_on"] = "2037-12-31"  # after any score day the strategy draws
    parsed = [ENGINE.parse(c) for c in raw]
    out, contexts, slow = _columns(parsed)
    keys: dict = {}
    for i, c in enumerate(parsed):
        s, pain = c.surgery, c.leg_pain
        key = (s.procedure, s.route, s.approach, s.instrumented)
        expected = {
            "procedure": MODEL.procedure_index[s.procedure],
            "context": keys.setdefault(key, len(keys)),
            "age": -1 if c.age is None else c.age,
            "sex": _index(MODEL.sex_states).get(c.sex, -1) if c.sex else -1,
            "days": -1 if c.days_since_surgery is None else c.days_since_surgery,
        }
        onset = None if pain is None else pain.onset_days
        if onset is not None and c.days_since_surgery is not None:
            onset = min(onset, c.days_since_surgery)
        expected["onset"] = -1 if onset is None else onset
        for name, states, value in (
            ("relief", MODEL.relief_states, pain and pain.relief_after_surgery),
            ("speed", MODEL.speed_states, pain and pain.onset_speed),
            ("trend", MODEL.trend_states, pain and pain.trend),
        ):
            expected[name] = states.index(value) if value else -1
        got = {name: int(out[k, i]) for k, name in enumerate(COLUMN_NAMES)}
        assert got == expected, (i, raw[i])
    assert contexts == list(keys)
    assert slow == [i for i, c in enumerate(parsed) if c.pain_scores or c.assessed_on is not None]


@FAST
@given(st.lists(cases(), min_size=1, max_size=12))
def test_encoding_reads_timing_as_the_timelines_give_it(raw: list[dict]) -> None:
    parsed = [ENGINE.parse(c) for c in raw]
    direct = encode(MODEL, parsed)
    through = encode(MODEL, parsed, [build_timeline(c) for c in parsed])
    for f in dataclasses.fields(direct):
        assert np.array_equal(getattr(direct, f.name), getattr(through, f.name)), f.name


def test_case_columns_refuse_a_bad_output_and_an_unknown_state() -> None:
    parsed = [ENGINE.parse({"surgery": {"procedure": "fusion"}, "leg_pain": {"trend": "stable"}})]
    with pytest.raises(ValueError, match=r"^out: expected 72 bytes, got 64$"):
        _findings.case_columns(parsed, MODEL.procedure_index, {}, {}, {}, {}, np.empty((8, 1), np.int64))
    with pytest.raises(KeyError, match="stable"):
        _findings.case_columns(
            parsed, MODEL.procedure_index, {}, {}, {"worsening": 0}, {}, np.empty((9, 1), np.int64)
        )
    with pytest.raises(KeyError, match="fusion"):
        _findings.case_columns(parsed, {}, {}, {}, {}, {}, np.empty((9, 1), np.int64))
    with pytest.raises(AttributeError):
        _findings.case_columns([object()], MODEL.procedure_index, {}, {}, {}, {}, np.empty((9, 1), np.int64))
