"""The C information-gain kernel against the closed form in float64, and its input checks."""

from __future__ import annotations

import numpy as np
import pytest

from rootcause import load_engine
from rootcause.engine import _gain
from rootcause.engine.next_steps import N_LEVELS, gain_per_cost, ranked_steps

ENGINE = load_engine()
MODEL = ENGINE.model


def _xlogx(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def _closed_form(post: np.ndarray, known: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The module docstring's formulas, in float64, one case at a time."""
    p = MODEL.p_present  # (F, C)
    h_p = -(_xlogx(p) + _xlogx(1 - p))
    out = np.empty((post.shape[0], MODEL.n_findings))
    for i, pi in enumerate(post):
        levels = np.maximum(MODEL.urgency_rank, floor[i])  # levels below the floor merged into it
        z = np.clip(p @ pi, 0, 1)
        gain = -2 * (_xlogx(z) + _xlogx(1 - z)) - h_p @ pi
        for lvl in range(N_LEVELS):
            at = levels == lvl
            mass, y = pi[at].sum(), p[:, at] @ pi[at]
            gain -= _xlogx(np.array(mass)) - _xlogx(y) - _xlogx(np.maximum(mass - y, 0))
        gain += np.where(MODEL.red_flag_bonus > floor[i], z, 0.0)
        out[i] = np.where(known[i], -np.inf, gain / MODEL.cost_weight)
    return out


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 400
    post = rng.dirichlet(np.full(MODEL.n_conditions, 0.4), size=n)
    post[:4] = np.eye(MODEL.n_conditions)[:4]  # certainty: zero masses and zero entropies
    known = rng.random((n, MODEL.n_findings)) < 0.15
    known[5] = True  # nothing left to ask
    floor = np.arange(n) % N_LEVELS  # every red-flag floor
    return post, known, floor


def test_kernel_equals_closed_form(batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    post, known, floor = batch
    kernel = gain_per_cost(MODEL, post, known, floor)
    expected = _closed_form(post, known, floor)
    assert np.array_equal(np.isneginf(kernel), known)
    assert np.allclose(kernel[~known], expected[~known], rtol=0, atol=2e-6)


def test_top_steps_equal_a_stable_sort_of_the_gains(batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    post, known, floor = batch
    per_cost = gain_per_cost(MODEL, post, known, floor)
    for k in (1, 5, MODEL.n_findings):
        steps, values = ranked_steps(MODEL, post, known, floor, k)
        order = np.argsort(-per_cost, axis=1, kind="stable")[:, :k]
        assert np.array_equal(steps, order), k
        assert np.array_equal(values, np.take_along_axis(per_cost, order, axis=1))
    steps, values = ranked_steps(MODEL, post, known, floor, 5)
    assert np.isneginf(values[5]).all() and list(steps[5]) == [0, 1, 2, 3, 4]


def test_a_case_scores_the_same_alone_and_in_a_batch(batch: tuple[np.ndarray, ...]) -> None:
    post, known, floor = batch
    reps = 8
    whole = gain_per_cost(MODEL, np.tile(post, (reps, 1)), np.tile(known, (reps, 1)), np.tile(floor, reps))
    alone = np.tile(gain_per_cost(MODEL, post, known, floor), (reps, 1))
    assert np.array_equal(whole, alone)  # one row at a time, in the same order: bit for bit


def test_rows_are_padded_to_whole_vectors_with_zeros() -> None:
    for rows in (MODEL.p_by_condition32, MODEL.entropy_by_condition32):
        assert rows.shape[0] == MODEL.n_conditions and rows.shape[1] % 16 == 0
        assert rows.shape[1] - MODEL.n_findings < 16 and not rows[:, MODEL.n_findings :].any()
    assert np.array_equal(MODEL.p_by_condition32[:, : MODEL.n_findings], MODEL.p_present.T.astype(np.float32))


NAMES = ["post", "p", "spread", "urgency", "floor", "known", "bonus", "cost", "out"]


def _inputs(n: int) -> list:
    f = MODEL.n_findings
    return [
        n,
        MODEL.n_conditions,
        f,
        np.full((n, MODEL.n_conditions), 1 / MODEL.n_conditions),
        MODEL.p_by_condition32,
        MODEL.entropy_by_condition32,
        MODEL.urgency_rank,
        np.zeros(n, np.int64),
        np.zeros((n, f), np.bool_),
        MODEL.red_flag_bonus,
        MODEL.cost_weight32,
    ]


@pytest.mark.parametrize("wrong", NAMES)
def test_kernel_refuses_buffers_of_the_wrong_size(wrong: str) -> None:
    args = [*_inputs(3), np.empty((3, MODEL.n_findings), np.float32)]
    position = 3 + NAMES.index(wrong)
    args[position] = args[position][:-1]
    with pytest.raises(ValueError, match=rf"^{wrong}: expected \d+ bytes, got \d+$"):
        _gain.per_cost(*args)


def test_kernel_refuses_an_urgency_outside_the_levels() -> None:
    args = _inputs(2)
    args[6] = np.where(np.arange(MODEL.n_conditions) == 3, N_LEVELS, MODEL.urgency_rank)
    with pytest.raises(ValueError, match=r"^urgency: expected levels 0 to 3, got 4$"):
        _gain.per_cost(*args, np.empty((2, MODEL.n_findings), np.float32))


def test_kernel_refuses_a_bad_k_and_read_only_output() -> None:
    args = _inputs(2)
    steps, values = np.empty((2, 5), np.int64), np.empty((2, 5), np.float32)
    with pytest.raises(ValueError, match="k: expected 1 to"):
        _gain.top_steps(*args, 0, steps, values)
    read_only = np.empty((2, MODEL.n_findings), np.float32)
    read_only.flags.writeable = False
    with pytest.raises((TypeError, BufferError)):
        _gain.per_cost(*args, read_only)
