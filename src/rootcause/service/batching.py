"""Cases of requests that wait at the same time are assessed in one engine call.

Scoring one case costs about as much NumPy call overhead as scoring thirty (the posterior,
triage and next steps are array code), so under load a worker assesses the cases whose
requests reached the engine in the same event-loop turn together: measured per explained
case, 0.76 ms alone and 0.47 ms in a batch of eight; without explanations 0.46 and 0.13 ms.
Nothing waits for a batch to fill: the first request of a turn schedules the call for the
next turn, so a lone request is assessed at once. Every case is scored independently, so
the answers are those of one at a time up to float rounding (BLAS sums a batch's products
in another order, about 1e-16), as for /v1/assess/batch; tests compare them.

State is per worker process and per event loop, and lives only while a request waits, so
the service stays stateless across requests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rootcause.engine.assess import Assessment, Engine
from rootcause.engine.case import Case

MAX_BATCH = 8  # cases per engine call: past 8 a case costs no less, and the loop turn grows


@dataclass(frozen=True)
class _Waiting:
    case: Case
    explain: bool
    future: asyncio.Future[Assessment]


class AssessmentBatcher:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pending: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}

    async def assess(self, case: Case, *, explain: bool) -> Assessment:
        """Assess a validated case together with the others waiting in this event-loop turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Assessment] = loop.create_future()
        waiting = self._pending.get(loop)
        if waiting is None:
            waiting = self._pending[loop] = []
            loop.call_soon(self._run, loop)
        waiting.append(_Waiting(case, explain, future))
        return await future

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._pending.pop(loop, [])
        for explain in (True, False):
            group = [w for w in waiting if w.explain is explain and not w.future.cancelled()]
            for start in range(0, len(group), MAX_BATCH):
                self._assess_group(group[start : start + MAX_BATCH], explain)

    def _assess_group(self, group: list[_Waiting], explain: bool) -> None:
        try:
            results = self._engine.assess_many([w.case for w in group], explain=explain, validated=True)
        except Exception as exc:  # a bug: the request gets a 500 with a problem body
            if len(group) == 1:
                if not group[0].future.done():
                    group[0].future.set_exception(exc)
                return
            for w in group:  # one failure must not fail the others: retry each alone
                self._assess_group([w], explain)
            return
        for w, result in zip(group, results, strict=True):
            if not w.future.done():
                w.future.set_result(result)
