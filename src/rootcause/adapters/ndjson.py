"""NDJSON cases in, contract JSON lines out, a chunk at a time.

A chunk of lines is decoded and validated by msgspec in one call (the lines are spliced into
one JSON array); only when that fails are the chunk's lines decoded one by one to find the bad
ones, so a clean file runs at bulk-decode speed and a dirty one still reports every bad line
with its number. Output keeps input order: a bad line yields an error object in its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import orjson

from rootcause.engine.assess import BatchScores, Engine
from rootcause.engine.case import Case, check_case, problem_from_msgspec
from rootcause.engine.timeline import build_timeline
from rootcause.errors import FieldProblem
from rootcause.knowledge.schema import TRIAGE_LEVELS

_DECODE_MANY = msgspec.json.Decoder(list[Case])
_DECODE_ONE = msgspec.json.Decoder(Case)


@dataclass(frozen=True)
class LineError:
    line: int
    case_id: str | None
    problems: list[FieldProblem]

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "case_id": self.case_id,
            "error": {
                "type": "invalid_case",
                "problems": [
                    {"field": p.field, "message": p.message, "suggestions": p.suggestions}
                    for p in self.problems
                ],
            },
        }

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(p) for p in self.problems)


def _loads_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _case_id_of(obj: Any) -> str | None:
    cid = obj.get("id") if isinstance(obj, dict) else None
    return cid if isinstance(cid, str) else None


def decode_chunk(lines: list[tuple[int, bytes]], finding_ids: frozenset[str]) -> list[Case | LineError]:
    """Decode and validate numbered lines; return a Case or a LineError for each, in order."""
    out: list[Case | LineError] = []
    try:
        cases = _DECODE_MANY.decode(b"[" + b",".join(raw for _, raw in lines) + b"]")
    except (msgspec.ValidationError, msgspec.DecodeError):
        cases = None
    if cases is not None:
        decoded: list[Case | LineError] = list(cases)
    else:
        decoded = []
        for number, raw in lines:
            try:
                decoded.append(_DECODE_ONE.decode(raw))
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                obj = _loads_or_none(raw)
                decoded.append(LineError(number, _case_id_of(obj), [problem_from_msgspec(exc, obj)]))
    for (number, _), item in zip(lines, decoded, strict=True):
        if isinstance(item, Case):
            problems = check_case(item, finding_ids)
            out.append(LineError(number, item.id, problems) if problems else item)
        else:
            out.append(item)
    return out


class ContractRenderer:
    """Writes spec §5 objects for a scored chunk as JSON lines, assembled from fragments.

    Per-condition and per-finding JSON fragments are rendered once; probabilities for the
    whole chunk are serialised by orjson in one call and spliced in, so the per-case Python
    work is a few list operations (the same bytes `json.dumps` of the dict would give,
    modulo whitespace).
    """

    def __init__(self, engine: Engine) -> None:
        model = engine.model
        self.n_conditions = model.n_conditions
        self.first = [b'{"condition":' + orjson.dumps(c) + b',"probability":' for c in model.conditions]
        self.middle = [b'},{"condition":' + orjson.dumps(c) + b',"probability":' for c in model.conditions]
        self.steps = [
            orjson.dumps({"finding": f, "kind": k})
            for f, k in zip(model.findings, model.finding_kind, strict=True)
        ]
        self.version = orjson.dumps(engine.version)
        self.rules = engine.triage_model.rules
        self.reasons = [f"Red flag ({cr.rule.level}): {cr.rule.reason}" for cr in self.rules]
        self.escalation_reason = [f"Posterior mass on causes needing {lvl} care" for lvl in TRIAGE_LEVELS]

    def render(self, cases: list[Case], scores: BatchScores) -> list[bytes]:
        n, n_c = len(cases), self.n_conditions
        order = np.argsort(-scores.posterior, axis=1, kind="stable")
        sorted_post = np.take_along_axis(scores.posterior, order, axis=1)
        numbers = orjson.dumps(sorted_post, option=orjson.OPT_SERIALIZE_NUMPY)[2:-2]
        nums = numbers.replace(b"],[", b",").split(b",")
        first, middle = self.first, self.middle
        names = [middle[j] for j in order.ravel().tolist()]
        fired_rows, fired_cols = np.nonzero(scores.fired)
        fired_by_case: dict[int, list[int]] = {}
        for r, c in zip(fired_rows.tolist(), fired_cols.tolist(), strict=True):
            fired_by_case.setdefault(r, []).append(c)
        levels = scores.level.tolist()
        escalated = scores.escalated.tolist()
        finite = np.isfinite(scores.step_gain)
        step_rows = [[self.steps[j] for j in row[ok]] for row, ok in zip(scores.steps, finite, strict=True)]
        order_first = order[:, 0].tolist()
        for i, case in enumerate(cases):
            fired = fired_by_case.get(i, [])
            reasons = [self.reasons[j] for j in fired]
            if escalated[i] > 0:
                reasons.append(self.escalation_reason[escalated[i]])
            if not reasons:
                reasons.append("No red flag; the likely causes can be managed at routine follow-up")
            triage = {
                "level": TRIAGE_LEVELS[levels[i]],
                "reasons": reasons,
                "rules": [self.rules[j].rule.id for j in fired],
            }
            head = (
                b'{"case_id":'
                + orjson.dumps(case.id)
                + b',"knowledge_base_version":'
                + self.version
                + b',"triage":'
                + orjson.dumps(triage)
                + b',"differential":['
            )
            names[i * n_c] = head + first[order_first[i]]
            last = i * n_c + n_c - 1
            nums[last] = nums[last] + b'}],"next_steps":[' + b",".join(step_rows[i]) + b"]}"
        pieces: list[bytes] = [b""] * (2 * n * n_c)
        pieces[0::2] = names
        pieces[1::2] = nums
        width = 2 * n_c
        return [b"".join(pieces[k : k + width]) for k in range(0, len(pieces), width)]


def process_chunk(
    engine: Engine, lines: list[tuple[int, bytes]], renderer: ContractRenderer | None = None
) -> tuple[list[bytes], list[LineError]]:
    """Score one chunk; return the output lines (input order) and the errors."""
    items = decode_chunk(lines, engine.finding_ids)
    good = [x for x in items if isinstance(x, Case)]
    errors = [x for x in items if isinstance(x, LineError)]
    rendered: list[bytes] = []
    if good:
        timelines = [build_timeline(c) for c in good]
        rendered = (renderer or ContractRenderer(engine)).render(good, engine.score(good, timelines))
    row_iter = iter(rendered)
    out = [next(row_iter) if isinstance(x, Case) else orjson.dumps(x.to_dict()) for x in items]
    return out, errors


def numbered_lines(stream: Iterable[bytes], chunk_size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Group non-blank lines into chunks, keeping their 1-based line numbers."""
    chunk: list[tuple[int, bytes]] = []
    for number, raw in enumerate(stream, start=1):
        line = raw.strip()
        if not line:
            continue
        chunk.append((number, line))
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_WORKER: tuple[Engine, ContractRenderer] | None = None


def _worker_init() -> None:
    global _WORKER
    from rootcause.engine.assess import load_engine

    engine = load_engine()
    _WORKER = (engine, ContractRenderer(engine))


def _worker_process(lines: list[tuple[int, bytes]]) -> tuple[list[bytes], list[LineError]]:
    assert _WORKER is not None, "worker not initialised"
    engine, renderer = _WORKER
    return process_chunk(engine, lines, renderer)


def score_stream(
    engine: Engine, chunks: Iterable[list[tuple[int, bytes]]], workers: int = 1
) -> Iterator[tuple[list[bytes], list[LineError], int]]:
    """Score chunks in input order: in this process, or in `workers` processes (bounded read-ahead).

    Yields (output lines, errors, number of input lines) per chunk.
    """
    if workers <= 1:
        renderer = ContractRenderer(engine)
        for chunk in chunks:
            lines, errors = process_chunk(engine, chunk, renderer)
            yield lines, errors, len(chunk)
        return
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
        pending: deque[tuple[Future[tuple[list[bytes], list[LineError]]], int]] = deque()
        for chunk in chunks:
            pending.append((pool.submit(_worker_process, chunk), len(chunk)))
            if len(pending) >= 2 * workers:
                future, n = pending.popleft()
                yield (*future.result(), n)
        while pending:
            future, n = pending.popleft()
            yield (*future.result(), n)
