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


def contract_rows(engine: Engine, cases: list[Case], scores: BatchScores) -> Iterator[dict[str, Any]]:
    """The spec §5 object for each scored case (lean: no explanations)."""
    model = engine.model
    names = model.conditions
    findings = model.findings
    kinds = model.finding_kind
    version = engine.version
    order = np.argsort(-scores.posterior, axis=1, kind="stable")
    sorted_post = np.take_along_axis(scores.posterior, order, axis=1).tolist()
    order_l = order.tolist()
    rules = engine.triage_model.rules
    reasons_of = [f"Red flag ({cr.rule.level}): {cr.rule.reason}" for cr in rules]
    fired_rows, fired_cols = np.nonzero(scores.fired)
    fired_by_case: dict[int, list[int]] = {}
    for r, c in zip(fired_rows.tolist(), fired_cols.tolist(), strict=True):
        fired_by_case.setdefault(r, []).append(c)
    levels = scores.level.tolist()
    escalated = scores.escalated.tolist()
    steps = scores.steps.tolist()
    finite = np.isfinite(scores.step_gain).tolist()
    for i, case in enumerate(cases):
        fired = fired_by_case.get(i, [])
        reasons = [reasons_of[j] for j in fired]
        if escalated[i] > 0:
            reasons.append(f"Posterior mass on causes needing {TRIAGE_LEVELS[escalated[i]]} care")
        if not reasons:
            reasons.append("No red flag; the likely causes can be managed at routine follow-up")
        yield {
            "case_id": case.id,
            "knowledge_base_version": version,
            "triage": {
                "level": TRIAGE_LEVELS[levels[i]],
                "reasons": reasons,
                "rules": [rules[j].rule.id for j in fired],
            },
            "differential": [
                {"condition": names[j], "probability": p}
                for j, p in zip(order_l[i], sorted_post[i], strict=True)
            ],
            "next_steps": [
                {"finding": findings[j], "kind": kinds[j]}
                for j, ok in zip(steps[i], finite[i], strict=True)
                if ok
            ],
        }


def process_chunk(engine: Engine, lines: list[tuple[int, bytes]]) -> tuple[list[bytes], list[LineError]]:
    """Score one chunk; return the output lines (input order) and the errors."""
    items = decode_chunk(lines, engine.finding_ids)
    good = [x for x in items if isinstance(x, Case)]
    errors = [x for x in items if isinstance(x, LineError)]
    rows: Iterable[dict[str, Any]] = ()
    if good:
        timelines = [build_timeline(c) for c in good]
        rows = contract_rows(engine, good, engine.score(good, timelines))
    row_iter = iter(rows)
    out = [orjson.dumps(next(row_iter) if isinstance(x, Case) else x.to_dict()) for x in items]
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
