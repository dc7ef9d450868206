"""The batch fast paths agree with the one-case code they replace.

Information gain in closed form vs. updating the posterior for each answer; the batch case
checks vs. `check_case`; timing read from the fields vs. `build_timeline`; chunked, threaded
scoring vs. one chunk; the byte-level NDJSON renderer vs. the engine's own numbers.
"""

from __future__ import annotations

import mmap
import tempfile
from dataclasses import replace
from pathlib import Path

import msgspec
import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rootcause import Engine
from rootcause.adapters import ndjson as ndjson_module
from rootcause.adapters.ndjson import (
    Chunk,
    ContractRenderer,
    LineError,
    chunk_spans,
    decode_chunk,
    process_chunk,
    read_chunks,
    score_into,
)
from rootcause.engine import assess as assess_module
from rootcause.engine.case import Case, check_case, check_cases
from rootcause.engine.next_steps import N_LEVELS, gain_per_cost
from rootcause.engine.scoring import encode
from rootcause.engine.timeline import build_timeline, timing_columns
from test_properties import CONTRACT, ENGINE, FAST, cases


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _brute_force_gain(engine: Engine, post: np.ndarray, floor: int, f: int) -> float:
    """Expected entropy drop of the differential and of the (floor-merged) triage level,
    computed by applying each answer to the posterior, plus the red-flag bonus."""
    model = engine.model
    p = model.p_present[f]
    levels = np.minimum(np.maximum(model.urgency_rank, floor), N_LEVELS - 1)

    def level_dist(q: np.ndarray) -> np.ndarray:
        return np.bincount(levels, weights=q, minlength=N_LEVELS)

    yes = float(post @ p)
    h_c = _entropy(post)
    h_l = _entropy(level_dist(post))
    after = 0.0
    for answer, weight in ((p, yes), (1 - p, 1 - yes)):
        updated = post * answer / weight
        after += weight * (_entropy(updated) + _entropy(level_dist(updated)))
    bonus = yes if model.red_flag_bonus[f] > floor else 0.0
    return h_c + h_l - after + bonus


@FAST
@given(cases())
def test_information_gain_equals_updating_the_posterior(case: dict) -> None:
    assessment, scores = ENGINE.assess_scored(case, explain=False)
    model = ENGINE.model
    per_cost = gain_per_cost(model, scores.posterior, scores.encoded.known, scores.floor)[0]
    floor = int(scores.floor[0])
    for f in range(model.n_findings):
        if scores.encoded.known[0, f]:
            assert per_cost[f] == -np.inf
            continue
        expected = _brute_force_gain(ENGINE, scores.posterior[0], floor, f) / model.cost_weight[f]
        assert per_cost[f] == pytest.approx(expected, abs=2e-5)
    best = [s["finding"] for s in assessment.next_steps]
    ranked = [model.findings[j] for j in np.argsort(-per_cost, kind="stable")[: len(best)]]
    assert best[0] in ranked[:2]  # float32 ties may swap neighbours


bad_cases = st.fixed_dictionaries(
    {
        "surgery": st.fixed_dictionaries(
            {"procedure": st.sampled_from(CONTRACT["procedures"])},
            optional={"date": st.sampled_from(["2024-03-01", "2024-05-01"])},
        ),
        "findings": st.dictionaries(
            st.sampled_from([*CONTRACT["findings"][:10], "fevr", "not_a_finding"]), st.booleans(), max_size=4
        ),
    },
    optional={
        "assessed_on": st.sampled_from(["2024-01-01", "2024-04-01"]),
        "days_since_surgery": st.integers(0, 120),
        "leg_pain": st.fixed_dictionaries({}, optional={"onset_days": st.integers(0, 200)}),
        "pain_scores": st.lists(
            st.fixed_dictionaries({"day": st.integers(-10, 200), "nrs": st.integers(0, 10)}), max_size=3
        ),
    },
)


@FAST
@given(st.lists(bad_cases, min_size=1, max_size=6))
def test_batch_checks_equal_one_case_checks(raw: list[dict]) -> None:
    parsed = [msgspec.convert(c, Case) for c in raw]  # no checks: that is what is under test
    expected = {i: p for i, c in enumerate(parsed) if (p := check_case(c, ENGINE.finding_ids))}
    assert check_cases(parsed, ENGINE.finding_ids) == expected


@FAST
@given(st.lists(cases(), min_size=1, max_size=8))
def test_timing_read_from_fields_equals_timelines(raw: list[dict]) -> None:
    parsed = [ENGINE.parse(c) for c in raw]
    assert timing_columns(parsed) == timing_columns(parsed, [build_timeline(c) for c in parsed])
    from_fields = encode(ENGINE.model, parsed)
    from_timelines = encode(ENGINE.model, parsed, [build_timeline(c) for c in parsed])
    for name in ("days", "onset_days", "onset", "assessed", "relief", "speed", "trend"):
        assert np.array_equal(getattr(from_fields, name), getattr(from_timelines, name)), name


def test_chunked_threaded_scoring_equals_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    findings = ENGINE.model.findings
    raw = [
        {
            "surgery": {"procedure": CONTRACT["procedures"][k % 5]},
            "days_since_surgery": int(rng.integers(0, 900)),
            "findings": {findings[j]: bool(rng.integers(0, 2)) for j in rng.choice(len(findings), 6)},
        }
        for k in range(50)
    ]
    parsed = [ENGINE.parse(c) for c in raw]
    whole = ENGINE.score(parsed)
    monkeypatch.setattr(assess_module, "SCORE_CHUNK", 7)
    chunked = ENGINE.score(parsed)
    assert np.allclose(whole.posterior, chunked.posterior, rtol=0, atol=1e-15)
    assert np.array_equal(whole.level, chunked.level)
    # the gain kernel finishes one case's row at a time: chunking cannot change a bit of it
    assert np.array_equal(whole.steps, chunked.steps)
    assert np.array_equal(whole.step_gain, chunked.step_gain)
    assert np.array_equal(whole.encoded.state, chunked.encoded.state)


def _rendered_rows(raw: list[dict]) -> list[dict]:
    lines = [orjson.dumps(c) + b"\n" for c in raw]
    pieces, errors = process_chunk(ENGINE, Chunk(1, b"".join(lines)), ContractRenderer(ENGINE))
    assert not errors
    out = b"".join(bytes(p) for p in pieces)
    assert out.endswith(b"\n") and out.count(b"\n") == len(raw)
    return [orjson.loads(line) for line in out.splitlines()]


def test_a_chunk_decodes_in_one_call_only_when_each_line_holds_one_case() -> None:
    one = orjson.dumps({"id": "a", "surgery": {"procedure": "fusion"}, "findings": {"fever": True}})
    two = orjson.dumps({"id": "b", "surgery": {"procedure": "discectomy"}})
    crlf = decode_chunk(Chunk(10, one + b"\r\n" + two + b"\r\n"), ENGINE.finding_ids)
    assert [c.id for c in crlf if isinstance(c, Case)] == ["a", "b"]
    no_final_newline = decode_chunk(Chunk(10, one + b"\n" + two), ENGINE.finding_ids)
    assert [c.id for c in no_final_newline if isinstance(c, Case)] == ["a", "b"]
    # two values on one line would decode as two array items: the line is an error, numbered
    text = one + b"\n" + one + b"," + two + b"\n\n" + two + b"\n"
    items = decode_chunk(Chunk(10, text), ENGINE.finding_ids)
    assert [type(x).__name__ for x in items] == ["Case", "LineError", "Case"]
    error = items[1]
    assert isinstance(error, LineError) and error.line == 11
    assert [Chunk(10, t).n_lines for t in (b"", b"x", b"x\n", b"x\n\n")] == [0, 1, 1, 2]


@FAST
@given(st.lists(cases(), min_size=1, max_size=5))
def test_rendered_lines_are_the_engine_numbers(raw: list[dict]) -> None:
    for row, case in zip(_rendered_rows(raw), raw, strict=True):
        single = ENGINE.assess(case, explain=False)
        probabilities = [d["probability"] for d in row["differential"]]
        assert probabilities == sorted(probabilities, reverse=True)
        got = {d["condition"]: d["probability"] for d in row["differential"]}
        for condition, p in single.differential:
            assert got[condition] == pytest.approx(p, rel=0, abs=1e-12)
        assert row["triage"]["level"] == single.triage.level
        batch_steps = [s["finding"] for s in row["next_steps"]]
        single_steps = [s["finding"] for s in single.next_steps]
        assert len(batch_steps) == len(single_steps)
        if batch_steps != single_steps:
            # the batch's BLAS kernel may differ in the last float32 place: only steps whose gains tie within
            # 1e-6 may trade places
            scored = ENGINE.score([ENGINE.parse(case)])
            gains = gain_per_cost(ENGINE.model, scored.posterior, scored.encoded.known, scored.floor)[0]
            index = {f: i for i, f in enumerate(ENGINE.model.findings)}
            for got_step, want_step in zip(batch_steps, single_steps, strict=True):
                assert abs(gains[index[got_step]] - gains[index[want_step]]) <= 1e-6, (got_step, want_step)


def test_rendered_line_with_certainty_and_few_steps_left() -> None:
    """A probability of 1 and fewer unknown findings than next-step slots stay valid JSON."""
    findings = ENGINE.model.findings
    everything = {f: False for f in findings[:-2]}
    everything["fever"] = True
    case = {"id": 'quote " and \\ slash', "surgery": {"procedure": "fusion"}, "findings": everything}
    (row,) = _rendered_rows([case])
    assert row["case_id"] == 'quote " and \\ slash'
    assert len(row["next_steps"]) <= 2
    assert sum(d["probability"] for d in row["differential"]) == pytest.approx(1.0, abs=1e-9)
    parsed_case = ENGINE.parse(case)
    scores = ENGINE.score([parsed_case])
    certain = np.zeros((1, ENGINE.model.n_conditions))
    certain[0, 3] = 1.0
    blob, ends = ContractRenderer(ENGINE).render([parsed_case], replace(scores, posterior=certain))
    assert list(ends) == [len(blob)]
    differential = orjson.loads(blob)["differential"]
    assert differential[0] == {"condition": ENGINE.model.conditions[3], "probability": 1.0}
    assert all(d["probability"] == 0.0 for d in differential[1:])
    assert b'"probability":1.0}' in blob and b'"probability":0.0}' in blob


@given(
    st.lists(st.sampled_from([b'{"a":1}', b"", b"x", b"  ", b"{}\r"]), max_size=30),
    st.booleans(),
    st.integers(1, 6),
)
def test_chunk_spans_split_lines_as_the_file_iterator_does(
    lines: list[bytes], final_newline: bool, size: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    with tempfile.TemporaryFile() as fh:
        fh.write(data)
        fh.flush()
        fh.seek(0)
        chunks = list(read_chunks(fh, size))
        fh.seek(0)
        file_lines = [line.removesuffix(b"\n") for line in fh]
        expected = [(c.first_line, c.text) for c in chunks]
        if not data:  # an empty file cannot be mapped; score_into scores it in-process
            assert expected == []
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            spans = list(chunk_spans(mapped, size))
    assert [line for c in chunks for line in c.lines] == file_lines
    got = [(s.first_line, data[s.start : s.end]) for s in spans]
    assert got == expected
    assert [s.lines for s in spans] == [c.n_lines for c in chunks] == [len(c.lines) for c in chunks]
    assert [s.index for s in spans] == list(range(len(spans)))


def _ndjson(tmp_path: Path, n: int) -> Path:
    src = tmp_path / "in.ndjson"
    rng = np.random.default_rng(5)
    findings = ENGINE.model.findings
    rows = [
        {"id": f"c{k}", "surgery": {"procedure": CONTRACT["procedures"][k % 5]}, "days_since_surgery": int(d)}
        | {"findings": {findings[int(rng.integers(len(findings)))]: True}}
        for k, d in enumerate(rng.integers(0, 900, n))
    ]
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return src


def test_workers_write_the_same_file_as_one_process(tmp_path: Path) -> None:
    src = _ndjson(tmp_path, 300)
    outputs = []
    for workers in (1, 2, 3):
        out = tmp_path / f"out{workers}.ndjson"
        with src.open("rb") as fh, out.open("wb", buffering=0) as dst:
            done = list(score_into(ENGINE, fh, dst.fileno(), chunk_size=16, workers=workers))
        assert sum(n for _, n, _ in done) == 300
        assert done[-1][2] == src.stat().st_size  # progress ends at the end of the input
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0].splitlines()) == 300


def test_a_failing_worker_stops_the_batch_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("scoring broke")

    monkeypatch.setattr(ndjson_module, "process_chunk", broken)  # the forked workers inherit it
    src = _ndjson(tmp_path, 50)
    with (
        src.open("rb") as fh,
        (tmp_path / "out.ndjson").open("wb") as dst,
        pytest.raises(RuntimeError, match="a batch worker failed: ValueError"),
    ):
        list(score_into(ENGINE, fh, dst.fileno(), chunk_size=8, workers=2))


def test_triage_objects_kept_between_chunks_render_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    findings = ENGINE.model.findings
    raw = [
        {
            "surgery": {"procedure": "fusion"},
            "findings": {str(f): bool(rng.integers(0, 2)) for f in rng.choice(findings, 9)},
        }
        for _ in range(120)
    ]
    lines = [orjson.dumps(c) + b"\n" for c in raw]
    monkeypatch.setattr(ndjson_module, "TRIAGE_CACHE", 5)
    kept = ContractRenderer(ENGINE)
    first, _ = process_chunk(ENGINE, Chunk(1, b"".join(lines)), kept)
    again, _ = process_chunk(ENGINE, Chunk(1, b"".join(lines)), kept)  # now partly from the kept objects
    fresh, _ = process_chunk(ENGINE, Chunk(1, b"".join(lines)), ContractRenderer(ENGINE))
    distinct = {
        orjson.dumps(orjson.loads(line)["triage"]) for line in b"".join(map(bytes, fresh)).splitlines()
    }
    assert len(distinct) > 5 and len(kept._triage_cache) == 5  # more than fit: the cache stays bounded
    assert b"".join(map(bytes, first)) == b"".join(map(bytes, again)) == b"".join(map(bytes, fresh))
