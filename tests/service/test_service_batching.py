"""Concurrent /v1/assess requests are assessed together, with the answers of one at a time."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from rootcause import Engine
from rootcause.engine.assess import Assessment
from rootcause.engine.case import Case
from rootcause.service import batching
from rootcause.service.batching import AssessmentBatcher

from .conftest import Org

VIGNETTES = sorted((Path(__file__).parent.parent / "data" / "vignettes").glob("*.json"))


def assert_same_answer(got: Any, expected: Any, key: str = "") -> None:
    """Equal, floats up to rounding: BLAS sums a batch's products in another order than one
    case's (about 1e-16), and a next step's float32 value may then round the other way."""
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), key
        for k in expected:
            assert_same_answer(got[k], expected[k], k)
    elif isinstance(expected, list):
        assert len(got) == len(expected), key
        for g, e in zip(got, expected, strict=True):
            assert_same_answer(g, e, key)
    elif isinstance(expected, float):
        tolerance = 2e-5 if key == "value_per_cost" else 1e-12
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=tolerance), (key, got, expected)
    else:
        assert got == expected, key


def _cases(engine: Engine) -> list[Case]:
    return [engine.parse(json.loads(p.read_text())["case"]) for p in VIGNETTES]


class CountingEngine:
    """The real engine, counting its calls; a case with id "boom" makes a call fail."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: list[int] = []

    def assess_many(self, cases: list[Case], *, explain: bool, validated: bool) -> list[Assessment]:
        self.calls.append(len(cases))
        if any(c.id == "boom" for c in cases):
            raise RuntimeError("boom")
        return self.engine.assess_many(cases, explain=explain, validated=validated)


def _run(batcher: AssessmentBatcher, jobs: list[tuple[Case, bool]]) -> list[Any]:
    async def main() -> list[Any]:
        tasks = [batcher.assess(case, explain=explain) for case, explain in jobs]
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(main())


def test_waiting_cases_are_assessed_in_one_call_each_way(engine: Engine) -> None:
    cases = _cases(engine)
    counting = CountingEngine(engine)
    jobs = [(c, k % 2 == 0) for k, c in enumerate(cases * 2)]
    results = _run(AssessmentBatcher(counting), jobs)  # type: ignore[arg-type]
    per_group = [min(batching.MAX_BATCH, len(cases) - k) for k in range(0, len(cases), batching.MAX_BATCH)]
    assert sorted(counting.calls) == sorted(per_group * 2)  # explained, and not, in bounded calls
    for (case, explain), result in zip(jobs, results, strict=True):
        assert_same_answer(result.to_dict(), engine.assess(case, explain=explain).to_dict())


def test_large_bursts_are_split_into_bounded_calls(engine: Engine, monkeypatch: Any) -> None:
    monkeypatch.setattr(batching, "MAX_BATCH", 4)
    counting = CountingEngine(engine)
    cases = _cases(engine)[:10]
    results = _run(AssessmentBatcher(counting), [(c, True) for c in cases])  # type: ignore[arg-type]
    assert counting.calls == [4, 4, 2]
    assert [r.case_id for r in results] == [c.id for c in cases]


def test_one_failing_case_does_not_fail_the_others(engine: Engine) -> None:
    cases = _cases(engine)[:4]
    bad = Case(surgery=cases[0].surgery, id="boom")
    counting = CountingEngine(engine)
    jobs = [(cases[0], True), (bad, True), *[(c, True) for c in cases[1:]]]
    results = _run(AssessmentBatcher(counting), jobs)  # type: ignore[arg-type]
    assert isinstance(results[1], RuntimeError)
    good = [r for k, r in enumerate(results) if k != 1]
    assert [r.case_id for r in good] == [c.id for c in cases]
    assert counting.calls[0] == len(jobs)  # tried together first, then one by one


def test_a_cancelled_request_is_left_out(engine: Engine) -> None:
    cases = _cases(engine)[:3]
    counting = CountingEngine(engine)
    batcher = AssessmentBatcher(counting)  # type: ignore[arg-type]

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(batcher.assess(c, explain=False)) for c in cases]
        await asyncio.sleep(0)  # every request is now waiting for the same call
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[1], asyncio.CancelledError)
    assert counting.calls == [2]
    assert [results[0].case_id, results[2].case_id] == [cases[0].id, cases[2].id]


def test_concurrent_api_requests_get_their_own_answers(app: FastAPI, org_a: Org, engine: Engine) -> None:
    bodies = [json.loads(p.read_text())["case"] for p in VIGNETTES]
    counting = CountingEngine(engine)
    app.state.rootcause._batcher = AssessmentBatcher(counting)  # type: ignore[arg-type]

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *[client.post("/v1/assess", json=b, headers=org_a.clinician) for b in bodies * 3]
            )

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * len(bodies) * 3
    assert sum(counting.calls) == len(responses) and len(counting.calls) < len(responses)
    for body, response in zip(bodies * 3, responses, strict=True):
        expected = orjson.loads(
            orjson.dumps(engine.assess(body).to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
        )
        assert_same_answer(response.json(), expected)
