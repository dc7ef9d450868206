"""NDJSON cases in, contract JSON lines out, a chunk at a time.

A chunk of lines is decoded and validated by msgspec in one call (the lines are spliced into
one JSON array); only when that fails are the chunk's lines decoded one by one to find the bad
ones, so a clean file runs at bulk-decode speed and a dirty one still reports every bad line
with its number. Output keeps input order: a bad line yields an error object in its place.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from rootcause.engine.assess import BatchScores, Engine
from rootcause.engine.case import CASE_DECODER, Case, check_cases, problem_from_msgspec
from rootcause.engine.model import Array
from rootcause.errors import FieldProblem
from rootcause.knowledge.schema import TRIAGE_LEVELS

if TYPE_CHECKING:
    from concurrent.futures import Future

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
    lines: list[bytes]


def read_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[Chunk]:
    """Split a binary stream into chunks of `chunk_size` lines (the file iterator runs in C)."""
    number = 1
    while lines := list(islice(stream, chunk_size)):
        yield Chunk(number, lines)
        number += len(lines)


def decode_chunk(chunk: Chunk, finding_ids: frozenset[str]) -> list[Case | LineError]:
    """Decode and validate a chunk; a Case or a LineError for each non-blank line, in order.

    The lines are spliced into one JSON array and decoded in one call; a blank or bad line
    makes that fail, and only then is the chunk decoded line by line.
    """
    decoded: list[Case | LineError]
    numbers: list[int]
    try:
        decoded = list(_DECODE_MANY.decode(b"[" + b",".join(chunk.lines) + b"]"))
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


PROBABILITY_DECIMALS = 12
_NUMBER_WIDTH = 16  # two blanks, "0." or "1.", twelve decimals: four 4-byte words


class ContractRenderer:
    """Writes spec §5 objects for a scored chunk as JSON lines, the differential as array ops.

    Every differential entry is laid out at the same width: the condition id, then the
    probability right-aligned after `"probability":` (JSON allows the blanks) with twelve
    decimals, which is within 5e-13 of the float and well inside the contract's 1e-9. So
    each case's differential is a row gather of pre-rendered entries plus the digits, for the
    whole chunk at once; per case Python only joins the head, that block and the next steps.
    """

    def __init__(self, engine: Engine) -> None:
        model = engine.model
        self.n_conditions = model.n_conditions
        heads = [b'{"condition":' + orjson.dumps(c) + b',"probability":' for c in model.conditions]
        self.number_at = max(map(len, heads))
        self.entry_width = self.number_at + _NUMBER_WIDTH + 2  # + "}," or "}]"
        self.entries = _padded(heads, self.entry_width)
        self.entries[:, -2:] = np.frombuffer(b"},", dtype=np.uint8)
        self.units = np.frombuffer(b"  0.  1.", dtype=np.uint32)  # the word before the decimals
        self.quads = np.frombuffer(b"".join(b"%04d" % k for k in range(10_000)), dtype=np.uint32)
        kinds = zip(model.findings, model.finding_kind, strict=True)
        steps = [orjson.dumps({"finding": f, "kind": k}) for f, k in kinds]
        self.step_width = 1 + max(map(len, steps))
        # one row per finding and a blank last row for "no further step"; the first step of a
        # case has no comma before it, so it comes from its own table
        self.first_steps = _padded([b" " + x for x in steps] + [b""], self.step_width)
        self.later_steps = _padded([b"," + x for x in steps] + [b""], self.step_width)
        self.version = orjson.dumps(engine.version)
        self.rules = engine.triage_model.rules
        self.reasons = [f"Red flag ({cr.rule.level}): {cr.rule.reason}" for cr in self.rules]
        self.escalation_reason = [f"Posterior mass on causes needing {lvl} care" for lvl in TRIAGE_LEVELS]
        self.rule_bits = 1 << np.arange(len(self.rules), dtype=np.int64)

    def body(self, scores: BatchScores) -> npt.NDArray[np.uint8]:
        """(n, width) bytes: `,"differential":[…],"next_steps":[…]}` and a newline, per case."""
        n = scores.posterior.shape[0]
        diff = self.differential(scores.posterior)
        steps = np.where(np.isfinite(scores.step_gain), scores.steps, self.first_steps.shape[0] - 1)
        parts = [
            np.broadcast_to(np.frombuffer(b',"differential":[', dtype=np.uint8), (n, 17)),
            diff,
            np.broadcast_to(np.frombuffer(b',"next_steps":[', dtype=np.uint8), (n, 15)),
            self.first_steps[steps[:, 0]],
            *[self.later_steps[steps[:, j]] for j in range(1, steps.shape[1])],
            np.broadcast_to(np.frombuffer(b"]}\n", dtype=np.uint8), (n, 3)),
        ]
        return np.concatenate(parts, axis=1)

    def differential(self, posterior: Array) -> npt.NDArray[np.uint8]:
        """(n, C * width) bytes: each case's entries, most probable first, ending with "]"."""
        n, n_c, width = posterior.shape[0], self.n_conditions, self.entry_width
        order = np.argsort(-posterior, axis=1, kind="stable")
        block = self.entries[order]  # (n, C, width)
        scaled = np.rint(np.take_along_axis(posterior, order, axis=1) * 10**PROBABILITY_DECIMALS)
        fixed = np.clip(scaled, 0, 10**PROBABILITY_DECIMALS).astype(np.int64)
        words = np.empty((n, n_c, 4), dtype=np.uint32)
        words[:, :, 0] = self.units[fixed // 10**PROBABILITY_DECIMALS]
        words[:, :, 1] = self.quads[(fixed // 10**8) % 10_000]
        words[:, :, 2] = self.quads[(fixed // 10**4) % 10_000]
        words[:, :, 3] = self.quads[fixed % 10_000]
        block[:, :, self.number_at : self.number_at + _NUMBER_WIDTH] = words.view(np.uint8)
        block[:, -1, -1] = ord("]")
        return block.reshape(n, n_c * width)

    def triage(self, scores: BatchScores) -> list[bytes]:
        """Each case's triage object; cases share few distinct ones, so each is rendered once."""
        key = (scores.fired @ self.rule_bits) * 16 + scores.level * 4 + scores.escalated
        distinct, inverse = np.unique(key, return_inverse=True)
        rendered = []
        for code in distinct.tolist():
            fired = [j for j in range(len(self.rules)) if (code >> 4) & (1 << j)]
            level, escalated = (code >> 2) & 3, code & 3
            reasons = [self.reasons[j] for j in fired]
            if escalated > 0:
                reasons.append(self.escalation_reason[escalated])
            if not reasons:
                reasons.append("No red flag; the likely causes can be managed at routine follow-up")
            rules = [self.rules[j].rule.id for j in fired]
            rendered.append(orjson.dumps({"level": TRIAGE_LEVELS[level], "reasons": reasons, "rules": rules}))
        return [rendered[k] for k in inverse.tolist()]

    def render(self, cases: list[Case], scores: BatchScores) -> list[Piece]:
        """Two pieces per case: its head (id, version, triage) and a view of its body row."""
        n = len(cases)
        if not n:
            return []
        body = memoryview(self.body(scores).reshape(-1).data)
        size = len(body) // n
        head = b',"knowledge_base_version":' + self.version + b',"triage":'
        dumps = orjson.dumps
        pieces: list[Piece] = [b""] * (2 * n)
        pieces[0::2] = [
            b"".join((b'{"case_id":', dumps(case.id), head, triage))
            for case, triage in zip(cases, self.triage(scores), strict=True)
        ]
        pieces[1::2] = [body[i : i + size] for i in range(0, n * size, size)]
        return pieces


def _padded(fragments: list[bytes], width: int) -> npt.NDArray[np.uint8]:
    """Fragments as rows of a byte table, blank-padded to one width (blanks are JSON whitespace)."""
    table = np.full((len(fragments), width), ord(" "), dtype=np.uint8)
    for j, fragment in enumerate(fragments):
        table[j, : len(fragment)] = np.frombuffer(fragment, dtype=np.uint8)
    return table


Piece = bytes | memoryview


def process_chunk(
    engine: Engine, chunk: Chunk, renderer: ContractRenderer | None = None
) -> tuple[list[Piece], list[LineError]]:
    """Score one chunk; return its output as pieces to write in order, and the errors."""
    items = decode_chunk(chunk, engine.finding_ids)
    good = [x for x in items if isinstance(x, Case)]
    rendered = (renderer or ContractRenderer(engine)).render(good, engine.score(good))
    if len(good) == len(items):
        return rendered, []
    errors = [x for x in items if isinstance(x, LineError)]
    pieces: list[Piece] = []
    k = 0
    for item in items:
        if isinstance(item, Case):
            pieces += rendered[k : k + 2]
            k += 2
        else:
            pieces.append(orjson.dumps(item.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
    return pieces, errors


def write_pieces(fd: int, pieces: list[Piece]) -> None:
    """Write pieces to a file descriptor with gathered writes: no copy into one buffer first."""
    start = 0
    while start < len(pieces):
        batch = pieces[start : start + _IOV_MAX]
        written = os.writev(fd, batch)
        start += len(batch)
        if written < sum(map(len, batch)):  # a short write (rare on files): finish byte-wise
            rest = b"".join(batch)[written:]
            while rest:
                rest = rest[os.write(fd, rest) :]


_IOV_MAX = os.sysconf("SC_IOV_MAX")


def score_into(
    engine: Engine, chunks: Iterable[Chunk], out_fd: int, workers: int = 1
) -> Iterator[tuple[list[LineError], int]]:
    """Score chunks and write their output lines to `out_fd` in input order.

    Yields (errors, number of input lines) per chunk as it is written. With `workers` > 1
    the chunks are scored in forked worker processes that inherit the loaded engine; each
    writes its output to a spool file in memory (tmpfs), and this process splices the files
    into the output in order (`os.sendfile`, no copy through Python), so only the input lines
    and the errors cross between processes. BLAS is held to one thread per process: the
    products are small and its idle threads would spin on the cores the chunks need.
    """
    global _WORKER
    import multiprocessing

    from threadpoolctl import threadpool_limits

    renderer = ContractRenderer(engine)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        with threadpool_limits(limits=1, user_api="blas"):
            for chunk in chunks:
                pieces, errors = process_chunk(engine, chunk, renderer)
                write_pieces(out_fd, pieces)
                yield errors, len(chunk.lines)
        return
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: only for workers

    in_memory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    spool = tempfile.mkdtemp(prefix="rootcause-batch-", dir=in_memory)
    _WORKER = (engine, renderer, spool)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            pending: deque[tuple[Future[tuple[str, list[LineError]]], int]] = deque()

            def finish() -> tuple[list[LineError], int]:
                future, n = pending.popleft()
                path, errors = future.result()
                _splice(path, out_fd)
                return errors, n

            for chunk in chunks:
                pending.append((pool.submit(_spool_chunk, chunk), len(chunk.lines)))
                if len(pending) >= 2 * workers:
                    yield finish()
            while pending:
                yield finish()
    finally:
        _WORKER = None
        shutil.rmtree(spool, ignore_errors=True)


_WORKER: tuple[Engine, ContractRenderer, str] | None = None


def _worker_init() -> None:
    """In a forked worker: one BLAS thread, and no cyclic GC (batches make no cycles)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    gc.disable()


def _spool_chunk(chunk: Chunk) -> tuple[str, list[LineError]]:
    assert _WORKER is not None, "worker not initialised"
    engine, renderer, spool = _WORKER
    pieces, errors = process_chunk(engine, chunk, renderer)
    path = os.path.join(spool, f"{chunk.first_line:012d}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        write_pieces(fd, pieces)
    finally:
        os.close(fd)
    return path, errors


def _splice(path: str, out_fd: int) -> None:
    """Append a spool file to the output inside the kernel, then delete it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            offset += os.sendfile(out_fd, fd, offset, size - offset)
    finally:
        os.close(fd)
        os.unlink(path)
