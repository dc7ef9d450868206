"""The C line renderer against a plain Python rendering of the same contract objects."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootcause import load_engine
from rootcause.adapters import _render
from rootcause.adapters.ndjson import ContractRenderer

ENGINE = load_engine()
RENDERER = ContractRenderer(ENGINE)
N_C = ENGINE.model.n_conditions
N_F = ENGINE.model.n_findings
TRIAGES = [
    b'{"level":"routine","reasons":[],"rules":[]}',
    b'{"level":"urgent","reasons":["x"],"rules":["r"]}',
]


def _number(p: float) -> str:
    """Twelve decimals, trailing zeros dropped, at least one decimal."""
    fixed = min(max(int(np.rint(p * 1e12)), 0), 10**12)
    return f"{fixed // 10**12}.{(f'{fixed % 10**12:012d}').rstrip('0') or '0'}"


def _expected_line(
    case_id: str | None, triage: bytes, post: np.ndarray, steps: np.ndarray, gains: np.ndarray
) -> bytes:
    order = np.argsort(-post, kind="stable")
    entries = ",".join(RENDERER.conditions[j].decode() + _number(float(post[j])) + "}" for j in order)
    chosen = ",".join(RENDERER.steps[s].decode() for s, g in zip(steps, gains, strict=True) if np.isfinite(g))
    head = b'{"case_id":' + orjson.dumps(case_id) + RENDERER.head + triage
    return head + f',"differential":[{entries}],"next_steps":[{chosen}]}}\n'.encode()


ids = st.one_of(st.none(), st.text(max_size=12))
probabilities = st.lists(
    st.sampled_from([0.0, 1.0, 0.25, 1e-13, 5e-13, 4.9999999999e-13, 0.1 + 0.2, 1 / 3, 0.5, 2 / 3]),
    min_size=N_C,
    max_size=N_C,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ids, probabilities, st.integers(0, 1), st.integers(0, 5)), max_size=6))
def test_lines_equal_a_python_rendering(rows: list[tuple[str | None, list[float], int, int]]) -> None:
    n, k = len(rows), 5
    post = np.array([p for _, p, _, _ in rows], dtype=np.float64).reshape(n, N_C)
    which = np.array([t for _, _, t, _ in rows], dtype=np.int64)
    rng = np.random.default_rng(n)
    steps = rng.integers(0, N_F, (n, k)).astype(np.int64)
    gains = rng.random((n, k)).astype(np.float32)
    for i, (_, _, _, finite) in enumerate(rows):
        gains[i, finite:] = -np.inf  # nothing left to ask after the first `finite` steps
    ends = np.empty(n, dtype=np.int64)
    blob = _render.lines(
        [r[0] for r in rows],
        RENDERER.head,
        TRIAGES,
        which,
        post,
        RENDERER.conditions,
        steps,
        gains,
        RENDERER.steps,
        ends,
    )
    expected = [
        _expected_line(case_id, TRIAGES[which[i]], post[i], steps[i], gains[i])
        for i, (case_id, _, _, _) in enumerate(rows)
    ]
    assert blob == b"".join(expected)
    assert list(ends) == list(np.cumsum([len(x) for x in expected]))
    for line, (case_id, *_) in zip(blob.splitlines(), rows, strict=True):
        assert orjson.loads(line)["case_id"] == case_id  # valid JSON, the id round-trips


def _args(n: int) -> list:
    return [
        ["a"] * n,
        RENDERER.head,
        TRIAGES,
        np.zeros(n, dtype=np.int64),
        np.full((n, N_C), 1 / N_C),
        RENDERER.conditions,
        np.zeros((n, 5), dtype=np.int64),
        np.zeros((n, 5), dtype=np.float32),
        RENDERER.steps,
        np.empty(n, dtype=np.int64),
    ]


@pytest.mark.parametrize(
    ("position", "value", "message"),
    [
        (3, np.zeros(1, dtype=np.int64), r"triage_index: expected 16 bytes, got 8"),
        (3, np.array([0, 2], dtype=np.int64), r"triage_index\[1\]: expected 0 to 1, got 2"),
        (4, np.zeros((2, 3)), r"posterior: expected \d+ bytes"),
        (6, np.full((2, 5), N_F, dtype=np.int64), r"steps\[0\]: a finding index outside"),
        (7, np.zeros((2, 4), dtype=np.float32), r"gains: expected 40 bytes"),
        (9, np.empty(1, dtype=np.int64), r"ends: expected 16 bytes"),
        (5, [], r"conditions: expected a non-empty list"),
    ],
)
def test_inconsistent_inputs_are_refused(position: int, value: object, message: str) -> None:
    args = _args(2)
    args[position] = value
    with pytest.raises(ValueError, match=message):
        _render.lines(*args)


def test_ids_and_texts_of_the_wrong_type_are_refused() -> None:
    args = _args(2)
    args[0] = ["a", 3]
    with pytest.raises(TypeError, match=r"ids\[1\]: expected a str or None"):
        _render.lines(*args)
    args = _args(2)
    args[2] = [b"{}", "text"]
    with pytest.raises(TypeError, match=r"triages\[1\]: expected bytes"):
        _render.lines(*args)
