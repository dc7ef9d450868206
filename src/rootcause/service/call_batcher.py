"""Requests that wait at the same time are answered together, by one thread per worker process.

Why one thread: a call that is all CPU (check a token, read FHIR, assess, store) gains nothing from a
pool thread per request. Python runs one thread at a time (the GIL), so dozens of threads only take
turns, each switch costing system calls and cache. Measured on the CDS Hooks service, one worker
under 50 clients: 171 calls/s with a pool thread per call, 219 with every call on one thread; two
workers: about 300 against 423. Why together: what costs per call but not per item is then paid once
per batch (an engine call, a write transaction).

Nothing waits for a batch to fill. A request that finds the thread idle starts a batch on the next
event-loop turn, so the requests of that turn join it; requests arriving while a batch runs form
the next one. Batches hold at most ``max_batch`` requests, taken first come, first served.

State is per worker process and per event loop, and lives only while a request waits, so the
service stays stateless across requests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass
class _LoopQueue(Generic[Item, Outcome]):
    waiting: list[tuple[Item, asyncio.Future[Outcome]]] = field(default_factory=list)
    running: bool = False
    scheduled: bool = False


class CallBatcher(Generic[Item, Outcome]):
    """Runs ``answer_many(items)`` on one thread for the requests waiting together; each request
    gets the outcome at its own position. ``answer_many`` must return one outcome per item and
    should not raise: if it does (a bug), every request of that batch gets the exception."""

    def __init__(
        self, answer_many: Callable[[Sequence[Item]], Sequence[Outcome]], *, max_batch: int, name: str
    ) -> None:
        self._answer_many = answer_many
        self.max_batch = max_batch
        self._name = name
        self._queues: dict[asyncio.AbstractEventLoop, _LoopQueue[Item, Outcome]] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _thread(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=self._name)
            return self._executor

    async def answer(self, item: Item) -> Outcome:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _LoopQueue())
        future: asyncio.Future[Outcome] = loop.create_future()
        queue.waiting.append((item, future))
        if not queue.running and not queue.scheduled:
            queue.scheduled = True
            loop.call_soon(self._start, loop, queue)
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop, queue: _LoopQueue[Item, Outcome]) -> None:
        queue.scheduled = False
        batch = queue.waiting[: self.max_batch]
        del queue.waiting[: len(batch)]
        if not batch:
            return
        queue.running = True
        done = loop.run_in_executor(self._thread(), self._answer_many, [item for item, _ in batch])
        done.add_done_callback(lambda finished: self._finish(loop, queue, batch, finished))

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: _LoopQueue[Item, Outcome],
        batch: list[tuple[Item, asyncio.Future[Outcome]]],
        finished: asyncio.Future[Sequence[Outcome]],
    ) -> None:
        queue.running = False
        error = finished.exception()
        outcomes = finished.result() if error is None else None
        if outcomes is not None and len(outcomes) != len(batch):
            error = RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
        for i, (_, future) in enumerate(batch):
            if future.done():  # the client went away; its call was answered (and stored) all the same
                continue
            if error is not None or outcomes is None:
                future.set_exception(error or RuntimeError("no outcome"))
            else:
                future.set_result(outcomes[i])
        if queue.waiting:
            self._start(loop, queue)
        else:
            self._queues.pop(loop, None)
