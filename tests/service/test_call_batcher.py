"""``CallBatcher``: requests waiting together are answered by one call on one thread, each with the
outcome at its own position; batches are bounded, first come first served, and one batch's failure
stays in that batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from rootcause.service.call_batcher import CallBatcher


class Recorder:
    def __init__(self, fail_on: int | None = None, short: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[int] = set()
        self.fail_on = fail_on
        self.short = short

    def __call__(self, items: Sequence[int]) -> list[str]:
        self.batches.append(list(items))
        self.threads.add(threading.get_ident())
        if self.fail_on in items:
            raise RuntimeError("a bug in this batch")
        out = [f"answer {i}" for i in items]
        return out[:-1] if self.short else out


def run(batcher: CallBatcher[int, str], items: list[int]) -> list[str | BaseException]:
    async def main() -> list[str | BaseException]:
        return await asyncio.gather(*(batcher.answer(i) for i in items), return_exceptions=True)

    return asyncio.run(main())


def test_requests_of_one_turn_form_one_batch_and_get_their_own_outcomes() -> None:
    answer = Recorder()
    batcher = CallBatcher(answer, max_batch=32, name="test")
    assert run(batcher, [3, 1, 2]) == ["answer 3", "answer 1", "answer 2"]
    assert answer.batches == [[3, 1, 2]]
    assert threading.get_ident() not in answer.threads  # off the event loop's thread


def test_batches_are_bounded_and_taken_in_arrival_order_on_one_thread() -> None:
    answer = Recorder()
    batcher = CallBatcher(answer, max_batch=2, name="test")
    assert run(batcher, [1, 2, 3, 4, 5]) == [f"answer {i}" for i in [1, 2, 3, 4, 5]]
    assert answer.batches == [[1, 2], [3, 4], [5]]
    assert len(answer.threads) == 1


def test_a_failing_batch_fails_its_own_requests_only() -> None:
    answer = Recorder(fail_on=3)
    batcher = CallBatcher(answer, max_batch=2, name="test")
    out = run(batcher, [1, 2, 3, 4, 5])
    assert out[:2] == ["answer 1", "answer 2"] and out[4] == "answer 5"
    assert all(isinstance(o, RuntimeError) and "a bug" in str(o) for o in out[2:4])


def test_a_wrong_number_of_outcomes_is_an_error_not_a_shifted_answer() -> None:
    batcher = CallBatcher(Recorder(short=True), max_batch=8, name="test")
    out = run(batcher, [1, 2])
    assert all(isinstance(o, RuntimeError) and "1 outcomes for a batch of 2" in str(o) for o in out)


def test_a_request_that_goes_away_does_not_disturb_the_others() -> None:
    gate = threading.Event()

    def slow(items: Sequence[int]) -> list[str]:
        gate.wait(5)
        return [f"answer {i}" for i in items]

    batcher = CallBatcher(slow, max_batch=8, name="test")

    async def main() -> tuple[str, bool]:
        kept = asyncio.ensure_future(batcher.answer(1))
        dropped = asyncio.ensure_future(batcher.answer(2))
        await asyncio.sleep(0.05)  # both are in the running batch
        dropped.cancel()
        gate.set()
        return await kept, dropped.cancelled()

    assert asyncio.run(main()) == ("answer 1", True)


@pytest.mark.parametrize("n", [1, 40])
def test_requests_arriving_while_a_batch_runs_form_the_next(n: int) -> None:
    answer = Recorder()
    batcher = CallBatcher(answer, max_batch=64, name="test")

    async def main() -> list[str]:
        first = asyncio.ensure_future(batcher.answer(0))
        await asyncio.sleep(0)  # the first batch starts with request 0 alone
        await asyncio.sleep(0)
        rest = [asyncio.ensure_future(batcher.answer(i)) for i in range(1, n + 1)]
        return [await first] + [await r for r in rest]

    assert asyncio.run(main()) == [f"answer {i}" for i in range(n + 1)]
    assert answer.batches[0] == [0] and sum(len(b) for b in answer.batches) == n + 1
