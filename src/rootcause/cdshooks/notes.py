"""Clinical notes in DocumentReference resources → findings the structured FHIR record does not state.

For each DocumentReference about the patient (status not ``superseded``/``entered-in-error``, not
dated after the assessment date), the text of its first ``text/plain`` attachment (``data``, base64; or
``url``, read through the FHIR fetcher as a ``Binary`` on ``fhirServer``) is read with the note reader
(``rootcause.adapters.notes.read_note``, dated with ``DocumentReference.date`` or ``context.period``).
Its findings go through the same time window and conflict rules as coded FHIR evidence (a post-operative
finding in a note written before the operation is dropped; the latest note wins); a finding the
structured data already state is never overridden. Every finding taken from a note is reported with
the note's reference, date and the words it was read from.

Bounded: at most ``max_notes`` notes (newest first), ``max_chars`` characters each, and
``budget_s`` seconds of reading. If the note reader cannot be imported (an optional NLP dependency is
missing), notes are skipped and that is logged once per process; the call goes on without them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rootcause.cdshooks.prefetch import FetchError
from rootcause.fhir.evidence import Evidence, resolve
from rootcause.fhir.mapping import FhirMapping
from rootcause.fhir.reader import FhirCase
from rootcause.fhir.values import as_date
from rootcause.knowledge.loader import KnowledgeBase

log = logging.getLogger("rootcause.cdshooks")
SKIP_STATUS = {"superseded", "entered-in-error"}
QUOTE_MAX = 80


class NoteReading(Protocol):
    """What ``rootcause.adapters.notes.read_note`` returns (only these two are used)."""

    @property
    def case(self) -> dict[str, Any]: ...

    @property
    def evidence(self) -> list[dict[str, Any]]: ...


NoteReaderFn = Callable[[str, dt.date | None], NoteReading]


@dataclass(frozen=True)
class NoteFinding:
    """A finding taken from a note: what, from which note, dated when, read from which words."""

    finding: str
    value: bool
    reference: str
    date: str | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "value": self.value,
            "source": "note",
            "reference": self.reference,
            "date": self.date,
            "text": self.text,
        }


@dataclass
class NotesResult:
    findings: list[NoteFinding] = field(default_factory=list)
    read: list[str] = field(default_factory=list)  # references of the notes read
    lines: list[str] = field(default_factory=list)  # for the card's "Data used"
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_notes": [f.to_dict() for f in self.findings],
            "notes_read": self.read,
            "notes_problems": self.problems,
        }


class _DefaultReader:
    """The real note reader, imported on first use. If importing it (or its NLP pipeline) fails,
    notes are switched off for the process and that is logged once."""

    def __init__(self) -> None:
        self._fn: NoteReaderFn | None = None
        self.failed = False
        self._lock = threading.Lock()

    def get(self) -> NoteReaderFn | None:
        if self._fn is not None or self.failed:
            return self._fn
        with self._lock:
            if self._fn is None and not self.failed:
                try:
                    from rootcause.adapters.notes import read_note
                except ImportError as exc:
                    self._disable(exc)
                else:
                    self._fn = read_note
        return self._fn

    def disable(self, exc: BaseException) -> None:
        with self._lock:
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        if not self.failed:
            log.warning(
                "the note reader cannot be imported (%s); CDS Hooks calls go on without notes",
                type(exc).__name__,
            )
        self.failed = True
        self._fn = None


DEFAULT_READER = _DefaultReader()


def _md(text: str) -> str:
    """A short quote, safe inside a Markdown list item."""
    text = " ".join(text.split())
    if len(text) > QUOTE_MAX:
        text = text[: QUOTE_MAX - 1] + "…"
    for ch in "\\`*_[]<>|#":
        text = text.replace(ch, "\\" + ch)
    return text


def _note_date(doc: Mapping[str, Any]) -> dt.date | None:
    when = as_date(doc.get("date"))
    if when is None and isinstance(doc.get("context"), Mapping):
        period = doc["context"].get("period")
        if isinstance(period, Mapping):
            when = as_date(period.get("start")) or as_date(period.get("end"))
    return when


def _same(reference: str, patient_refs: set[str]) -> bool:
    """``Patient/1``, ``https://ehr/fhir/Patient/1`` and ``Patient/1/_history/2`` are the same patient."""
    reference = reference.split("/_history/")[0]
    return any(reference == r or reference.endswith("/" + r) for r in patient_refs)


def _is_text(content_type: Any) -> bool:
    return isinstance(content_type, str) and content_type.split(";")[0].strip().lower() == "text/plain"


def _decode(data: Any) -> str:
    if not isinstance(data, str):
        raise ValueError("attachment data is not a string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("attachment data is not base64") from exc
    return raw.decode("utf-8", errors="replace")


class NotesReader:
    """Built once; ``merge`` is safe to call from many threads (note reading is serialised)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        mapping: FhirMapping,
        *,
        read_note: NoteReaderFn | None = None,
        max_notes: int = 5,
        max_chars: int = 20_000,
        budget_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kb = kb
        self.mapping = mapping
        self._read_note = read_note
        self.max_notes = max_notes
        self.max_chars = max_chars
        self.budget_s = budget_s
        self.clock = clock
        self._lock = threading.Lock()
        self._disabled = False

    def reader(self) -> NoteReaderFn | None:
        if self._disabled:
            return None
        return self._read_note or DEFAULT_READER.get()

    def warm(self) -> None:
        """Import the reader and build its pipeline now (about two seconds), not in the first call."""
        fn = self.reader()
        if fn is None:
            return
        try:
            with self._lock:
                fn("Warm-up.", None)
        except ImportError as exc:
            self._unavailable(exc)
        except Exception as exc:  # a broken reader must not stop the service from starting
            log.warning("warming the note reader failed (%s) %s", type(exc).__name__, exc)

    def _unavailable(self, exc: ImportError) -> None:
        """Notes off from now on; logged once (by the shared default reader, or here)."""
        if self._read_note is None:
            DEFAULT_READER.disable(exc)
        elif not self._disabled:
            log.warning(
                "the note reader cannot be imported (%s); CDS Hooks calls go on without notes",
                type(exc).__name__,
            )
        self._disabled = True

    def _text(
        self, doc: Mapping[str, Any], fetch: Callable[[str], Any] | None
    ) -> tuple[str | None, str | None]:
        """The note's text, or ``None`` and why not."""
        contents = doc.get("content")
        attachments = [
            c["attachment"]
            for c in contents or []
            if isinstance(c, Mapping) and isinstance(c.get("attachment"), Mapping)
        ]
        for att in attachments:
            if not _is_text(att.get("contentType")):
                continue
            try:
                if att.get("data") is not None:
                    return _decode(att["data"])[: self.max_chars], None
                if isinstance(att.get("url"), str):
                    if fetch is None:
                        return None, "its text is at a URL and there is no FHIR server to read it from"
                    binary = fetch(att["url"])
                    if not isinstance(binary, Mapping) or binary.get("resourceType") != "Binary":
                        return None, "its URL did not give a FHIR Binary"
                    if not _is_text(binary.get("contentType")):
                        return None, "its Binary is not text/plain"
                    return _decode(binary.get("data"))[: self.max_chars], None
            except FetchError as exc:
                return None, f"its text could not be fetched ({exc})"
            except ValueError as exc:
                return None, str(exc)
        return None, "no text/plain attachment" if attachments else "no attachment"

    def merge(
        self,
        fc: FhirCase,
        documents: list[dict[str, Any]],
        *,
        patient_refs: set[str],
        fetch: Callable[[str], Any] | None = None,
    ) -> NotesResult:
        """Read ``documents`` and add their findings to ``fc.case`` where the record is silent."""
        out = NotesResult()
        case = fc.case
        read = self.reader()
        if case is None or not documents:
            return out
        if read is None:
            out.problems.append("notes not read: the note reader is not available")
            return out
        today = fc.assessed_on
        notes: list[tuple[dt.date | None, str, Mapping[str, Any]]] = []
        for i, doc in enumerate(documents):
            ref = (
                f"DocumentReference/{doc['id']}"
                if isinstance(doc.get("id"), str)
                else f"DocumentReference[{i}]"
            )
            subject = doc.get("subject")
            subject_ref = subject.get("reference") if isinstance(subject, Mapping) else None
            when = _note_date(doc)
            if doc.get("status") in SKIP_STATUS or doc.get("docStatus") == "entered-in-error":
                continue
            if isinstance(subject_ref, str) and patient_refs and not _same(subject_ref, patient_refs):
                out.problems.append(f"{ref}: about another patient; not read")
                continue
            if when is not None and when > today:
                out.problems.append(f"{ref}: dated after the assessment date; not read")
                continue
            notes.append((when, ref, doc))
        notes.sort(key=lambda n: n[0] or dt.date.min, reverse=True)
        if len(notes) > self.max_notes:
            out.problems.append(f"only the {self.max_notes} most recent of {len(notes)} notes were read")
        evidence: list[Evidence] = []
        quotes: dict[tuple[str, str], str] = {}
        deadline = self.clock() + self.budget_s
        for when, ref, note in notes[: self.max_notes]:
            if self.clock() >= deadline:
                out.problems.append(f"{ref}: not read (time budget for notes exhausted)")
                continue
            text, reason = self._text(note, fetch)
            if text is None:
                out.problems.append(f"{ref}: not read: {reason}")
                continue
            try:
                with self._lock:
                    reading = read(text, when)
            except ImportError as exc:  # its NLP dependencies are missing: go on without notes
                self._unavailable(exc)
                out.problems.append("notes not read: the note reader is not available")
                break
            except Exception as exc:  # the reader must never break the hook
                log.warning("a note could not be read (%s)", type(exc).__name__)
                out.problems.append(f"{ref}: the note reader failed on it")
                continue
            out.read.append(ref)
            words = {
                str(e.get("field", "")).removeprefix("findings."): str(e.get("text", ""))
                for e in reading.evidence
                if str(e.get("field", "")).startswith("findings.")
            }
            for fid, value in (reading.case.get("findings") or {}).items():
                if isinstance(value, bool) and fid in self.mapping.findings:
                    evidence.append(Evidence(fid, value, when, ref))
                    quotes[(fid, ref)] = words.get(fid, "")
        surgery_date = as_date((case.get("surgery") or {}).get("date"))
        values, used, why = resolve(self.mapping, evidence, surgery_date)
        out.problems += why
        stated = case.setdefault("findings", {})
        for fid, value in sorted(values.items()):
            chosen = max(
                (e for e in evidence if e.finding == fid and e.value == value and e.reference in used),
                key=lambda e: e.date or dt.date.min,
            )
            label = self.kb.finding(fid).clinician_text
            if fid in stated:
                if stated[fid] != value:
                    out.lines.append(
                        f"{label}: a note ({chosen.reference}) says {'yes' if value else 'no'}; "
                        "the structured record's value was used"
                    )
                continue
            stated[fid] = value
            found = NoteFinding(
                fid,
                value,
                chosen.reference,
                chosen.date.isoformat() if chosen.date else None,
                quotes.get((fid, chosen.reference), ""),
            )
            out.findings.append(found)
            when_text = f", {found.date}" if found.date else ""
            quote = f": “{_md(found.text)}”" if found.text else ""
            out.lines.append(
                f"{label}: {'yes' if value else 'no'} — from a note ({found.reference}{when_text}){quote}"
            )
        if not stated:
            del case["findings"]
        for ref in dict.fromkeys(f.reference for f in out.findings):
            if ref not in fc.basis:
                fc.basis.append(ref)
        return out
