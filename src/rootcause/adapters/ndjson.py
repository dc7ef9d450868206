"""NDJSON cases in, contract JSON lines out, a chunk at a time.

A chunk of lines is decoded and validated by msgspec in one call (the lines are spliced into
one JSON array); only when that fails are the chunk's lines decoded one by one to find the bad
ones, so a clean file runs at bulk-decode speed and a dirty one still reports every bad line
with its number. Output keeps input order: a bad line yields an error object in its place.
"""

from __future__ import annotations

import gc
import mmap
import os
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from rootcause.adapters import _render
from rootcause.engine.assess import BatchScores, Engine
from rootcause.engine.case import CASE_DECODER, Case, check_cases, problem_from_msgspec
from rootcause.errors import FieldProblem
from rootcause.knowledge.vocabulary import TRIAGE_LEVELS

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

_DECODE_MANY = msgspec.json.Decoder(list[Case])


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


@dataclass(frozen=True)
class Chunk:
    """Consecutive input lines as read (newlines and blank lines kept) and the first one's number."""

    first_line: int
    text: bytes

    @cached_property
    def lines(self) -> list[bytes]:
        """The lines without their b"\n", split as a file iterator splits them."""
        lines = self.text.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # the text's last newline ends a line; it does not start one
        return lines

    @property
    def n_lines(self) -> int:
        ends = self.text.count(b"\n")
        return ends + 1 if self.text and not self.text.endswith(b"\n") else ends


def read_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[Chunk]:
    """Split a binary stream into chunks of `chunk_size` lines (the file iterator runs in C)."""
    number = 1
    while lines := list(islice(stream, chunk_size)):
        yield Chunk(number, b"".join(lines))
        number += len(lines)


def decode_chunk(chunk: Chunk, finding_ids: frozenset[str]) -> list[Case | LineError]:
    """Decode and validate a chunk; a Case or a LineError for each non-blank line, in order.

    The chunk's newlines become commas and the whole is decoded as one JSON array in one call
    (no object per line is made first); a blank or bad line, or a line that held more than one
    value, makes that fail, and only then is the chunk decoded line by line.
    """
    decoded: list[Case | LineError]
    numbers: list[int]
    text = chunk.text[:-1] if chunk.text.endswith(b"\n") else chunk.text
    try:
        decoded = list(_DECODE_MANY.decode(b"[" + text.replace(b"\n", b",") + b"]"))
        if len(decoded) != chunk.n_lines:
            raise msgspec.DecodeError("not one value per line")
        numbers = list(range(chunk.first_line, chunk.first_line + len(decoded)))
    except (msgspec.ValidationError, msgspec.DecodeError):
        decoded, numbers = [], []
        for number, raw in enumerate(chunk.lines, start=chunk.first_line):
            line = raw.strip()
            if not line:
                continue
            numbers.append(number)
            try:
                decoded.append(CASE_DECODER.decode(line))
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                obj = _loads_or_none(line)
                decoded.append(LineError(number, _case_id_of(obj), [problem_from_msgspec(exc, obj)]))
    cases = [(i, x) for i, x in enumerate(decoded) if isinstance(x, Case)]
    problems = check_cases([x for _, x in cases], finding_ids)
    for k, found in problems.items():
        i, case = cases[k]
        decoded[i] = LineError(numbers[i], case.id, found)
    return decoded


TRIAGE_CACHE = 65_536  # rendered triage objects kept per renderer (a few MB at most)


class ContractRenderer:
    """Writes spec §5 objects for a scored chunk as JSON lines, in one C call (`_render.c`).

    What does not change between cases is rendered here once with orjson: each cause's
    `{"condition":…,"probability":` and each finding's next-step object; each chunk's
    distinct triage objects are rendered once per chunk (cases share few of them).
    """

    def __init__(self, engine: Engine) -> None:
        model = engine.model
        self.conditions = [b'{"condition":' + orjson.dumps(c) + b',"probability":' for c in model.conditions]
        kinds = zip(model.findings, model.finding_kind, strict=True)
        self.steps = [orjson.dumps({"finding": f, "kind": k}) for f, k in kinds]
        self.head = b',"knowledge_base_version":' + orjson.dumps(engine.version) + b',"triage":'
        self.rules = engine.triage_model.rules
        self.reasons = [f"Red flag ({cr.level_name}): {cr.reason}" for cr in self.rules]
        self.escalation_reason = [f"Posterior mass on causes needing {lvl} care" for lvl in TRIAGE_LEVELS]
        self.rule_bits = 1 << np.arange(len(self.rules), dtype=np.int64)
        self._triage_cache: dict[int, bytes] = {}

    def triage(self, scores: BatchScores) -> tuple[list[bytes], npt.NDArray[np.int64]]:
        """The distinct triage objects of a chunk, and which one each case has.

        A triage object is fixed by the rules fired, the level and the escalation; each such
        combination is rendered once and kept (up to TRIAGE_CACHE of them) for later chunks.
        """
        key = (scores.fired @ self.rule_bits) * 16 + scores.level * 4 + scores.escalated
        distinct, inverse = np.unique(key, return_inverse=True)
        rendered = []
        for code in distinct.tolist():
            text = self._triage_cache.get(code)
            if text is None:
                text = self._render_triage(code)
                if len(self._triage_cache) < TRIAGE_CACHE:
                    self._triage_cache[code] = text
            rendered.append(text)
        return rendered, inverse.astype(np.int64).reshape(-1)

    def _render_triage(self, code: int) -> bytes:
        fired = [j for j in range(len(self.rules)) if (code >> 4) & (1 << j)]
        level, escalated = (code >> 2) & 3, code & 3
        reasons = [self.reasons[j] for j in fired]
        if escalated > 0:
            reasons.append(self.escalation_reason[escalated])
        if not reasons:
            reasons.append("No red flag; the likely causes can be managed at routine follow-up")
        rules = [self.rules[j].id for j in fired]
        return orjson.dumps({"level": TRIAGE_LEVELS[level], "reasons": reasons, "rules": rules})

    def render(self, cases: list[Case], scores: BatchScores) -> tuple[bytes, npt.NDArray[np.int64]]:
        """The cases' lines in one buffer, and the offset just past each line."""
        n = len(cases)
        ends: npt.NDArray[np.int64] = np.empty(n, dtype=np.int64)
        if not n:
            return b"", ends
        triages, which = self.triage(scores)
        blob = _render.lines(
            [case.id for case in cases],
            self.head,
            triages,
            which,
            np.ascontiguousarray(scores.posterior, dtype=np.float64),
            self.conditions,
            np.ascontiguousarray(scores.steps, dtype=np.int64),
            np.ascontiguousarray(scores.step_gain, dtype=np.float32),
            self.steps,
            ends,
        )
        return blob, ends


Piece = bytes | memoryview


def process_chunk(
    engine: Engine, chunk: Chunk, renderer: ContractRenderer | None = None
) -> tuple[list[Piece], list[LineError]]:
    """Score one chunk; return its output as pieces to write in order, and the errors."""
    items = decode_chunk(chunk, engine.finding_ids)
    good = [x for x in items if isinstance(x, Case)]
    blob, ends = (renderer or ContractRenderer(engine)).render(good, engine.score(good))
    if len(good) == len(items):
        return [blob], []
    errors = [x for x in items if isinstance(x, LineError)]
    view = memoryview(blob)
    pieces: list[Piece] = []
    k, start = 0, 0
    for item in items:
        if isinstance(item, Case):
            end = int(ends[k])
            pieces.append(view[start:end])
            k, start = k + 1, end
        else:
            pieces.append(orjson.dumps(item.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
    return pieces, errors


def write_pieces(fd: int, pieces: list[Piece], offset: int | None = None) -> None:
    """Write pieces with gathered writes, no copy into one buffer first; at `offset` if given."""
    start = 0
    while start < len(pieces):
        batch = pieces[start : start + _IOV_MAX]
        written = os.writev(fd, batch) if offset is None else os.pwritev(fd, batch, offset)
        size = sum(map(len, batch))
        if written < size:  # a short write (rare on files): finish byte-wise
            rest = b"".join(batch)[written:]
            at = None if offset is None else offset + written
            while rest:
                done = os.write(fd, rest) if at is None else os.pwrite(fd, rest, at)
                rest = rest[done:]
                at = None if at is None else at + done
        if offset is not None:
            offset += size
        start += len(batch)


_IOV_MAX = os.sysconf("SC_IOV_MAX")


def score_into(
    engine: Engine, src: BinaryIO, out_fd: int, chunk_size: int, workers: int = 1
) -> Iterator[tuple[list[LineError], int, int]]:
    """Score the NDJSON stream `src` a chunk at a time and write the output lines to `out_fd`.

    Yields (errors, number of input lines, input bytes done) per chunk, in input order.
    With `workers` > 1 the chunks are scored in forked worker processes that inherit the
    loaded engine and a read-only map of the input file: only chunk spans, sizes and errors
    cross between processes. Output stays in input order without passing through this
    process: once every earlier chunk's output size is known, a worker is told its chunk's
    offset and writes there itself. BLAS is held to one thread per process: the products are
    small and its idle threads would spin on the cores the chunks need.
    """
    import multiprocessing

    from threadpoolctl import threadpool_limits

    renderer = ContractRenderer(engine)
    size = os.fstat(src.fileno()).st_size
    if workers <= 1 or size == 0 or "fork" not in multiprocessing.get_all_start_methods():
        with threadpool_limits(limits=1, user_api="blas"):
            for chunk in read_chunks(src, chunk_size):
                pieces, errors = process_chunk(engine, chunk, renderer)
                write_pieces(out_fd, pieces)
                yield errors, chunk.n_lines, src.tell()
        return
    yield from _score_in_workers(engine, renderer, src, out_fd, chunk_size, workers)


@dataclass(frozen=True)
class _Span:
    """A chunk as a byte range of the input map."""

    index: int
    first_line: int
    start: int
    end: int
    lines: int


def chunk_spans(data: mmap.mmap, chunk_size: int) -> Iterator[_Span]:
    """Byte ranges of `chunk_size` lines each; lines end at b"\n", as a file iterator splits them."""
    start, line, index, size = 0, 1, 0, len(data)
    while start < size:
        end, lines = start, 0
        while lines < chunk_size and end < size:
            end = data.find(b"\n", end) + 1 or size
            lines += 1
        yield _Span(index, line, start, end, lines)
        index, line, start = index + 1, line + lines, end


def _score_in_workers(
    engine: Engine, renderer: ContractRenderer, src: BinaryIO, out_fd: int, chunk_size: int, workers: int
) -> Iterator[tuple[list[LineError], int, int]]:
    import multiprocessing
    from multiprocessing.connection import Connection, wait

    context = multiprocessing.get_context("fork")
    data = mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ)
    spans = chunk_spans(data, chunk_size)
    processes, connections = [], []
    try:
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_worker, args=(engine, renderer, data, out_fd, theirs), daemon=True
            )
            process.start()
            theirs.close()
            processes.append(process)
            connections.append(ours)
        sized: dict[int, tuple[Connection, _Span, int, list[LineError]]] = {}
        writing: set[int] = set()  # chunks told their offset and not yet written
        next_index, offset = 0, 0  # the next chunk to place, and where it goes
        idle = list(connections)
        while True:
            while idle and (span := next(spans, None)) is not None:
                conn = idle.pop()
                conn.send(span)
                writing.add(span.index)
            if not writing:
                break
            for ready in wait(connections):
                assert isinstance(ready, Connection)
                message = _receive(ready)
                if isinstance(message, int):  # that chunk is written; the worker is free
                    writing.discard(message)
                    idle.append(ready)
                    continue
                span, n_bytes, errors = message
                sized[span.index] = (ready, span, n_bytes, errors)
            while next_index in sized:  # place every chunk whose predecessors are placed
                conn, span, n_bytes, errors = sized.pop(next_index)
                conn.send(offset)
                offset += n_bytes
                next_index += 1
                yield errors, span.lines, span.end
    finally:
        for conn in connections:
            with suppress(OSError):
                conn.send(None)
            conn.close()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        data.close()


def _receive(conn: Connection) -> Any:
    try:
        message = conn.recv()
    except EOFError:
        raise RuntimeError("a batch worker process ended unexpectedly") from None
    if isinstance(message, BaseException):
        raise RuntimeError(f"a batch worker failed: {message!r}") from message
    return message


def _worker(
    engine: Engine, renderer: ContractRenderer, data: mmap.mmap, out_fd: int, conn: Connection
) -> None:
    """In a forked process: score each span sent, report its output size, write it at the offset given.

    One BLAS thread, and no cyclic GC (batches make no cycles).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    gc.disable()
    try:
        while (span := conn.recv()) is not None:
            chunk = Chunk(span.first_line, data[span.start : span.end])
            pieces, errors = process_chunk(engine, chunk, renderer)
            conn.send((span, sum(map(len, pieces)), errors))
            offset = conn.recv()
            if offset is None:
                return
            write_pieces(out_fd, pieces, offset)
            conn.send(span.index)
    except Exception as exc:  # reported to the main process, which stops the batch
        with suppress(OSError):
            conn.send(exc)
