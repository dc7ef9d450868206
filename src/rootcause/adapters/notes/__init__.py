"""Reading clinical notes: free text to a structured case, with negation, timing and evidence spans.

    >>> from rootcause.adapters.notes import read_note
    >>> reading = read_note("6/52 post L4/5 microdiscectomy. Denies saddle anaesthesia. Afebrile.")
    >>> reading.case["surgery"]["procedure"], reading.case["findings"]["fever"]
    ('discectomy', False)

The medspaCy pipeline is built on first use (about two seconds) and cached; importing this package
builds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rootcause.adapters.notes.reader import NoteReading

__all__ = ["NoteReading", "read_note"]


def read_note(text: str, note_date: Any = None) -> NoteReading:
    from rootcause.adapters.notes.reader import read_note as _read

    return _read(text, note_date)


def __getattr__(name: str) -> Any:
    if name == "NoteReading":
        from rootcause.adapters.notes.reader import NoteReading

        return NoteReading
    raise AttributeError(name)
