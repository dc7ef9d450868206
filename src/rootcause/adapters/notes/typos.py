"""Spelling slips in notes ("microdiscetomy", "rigth leg", "totaly gone"): a word that is neither English nor
in the reader's own vocabulary is replaced by the one vocabulary word one edit away (a letter left out, added,
changed or two letters swapped), the most frequent in English when several are.

Only words the reader could use are ever produced (the vocabulary is every word of the lexicons and the
language file), so a drug or a surname is never "corrected" into something else; capitalised words are left
alone unless they are long (a capitalised operation name), and words shorter than five letters are left alone.
The corrected text may be longer or shorter than the note: :class:`OffsetMap` maps its offsets back.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

WORD = re.compile(r"[A-Za-z]+")
LONG_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]{5,}(?![A-Za-z])")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LENGTH = 5
MIN_CAPITALISED = 8


@dataclass(frozen=True)
class OffsetMap:
    """Replaced words as (corrected start, corrected end, original start, original end), in order."""

    edits: tuple[tuple[int, int, int, int], ...] = ()
    _starts: list[int] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        self._starts.extend(e[0] for e in self.edits)

    def start(self, c: int) -> int:
        """The original offset of a span starting at corrected offset c."""
        return self._map(c, end=False)

    def end(self, c: int) -> int:
        """The original offset of a span ending at corrected offset c."""
        return self._map(c, end=True)

    def _map(self, c: int, end: bool) -> int:
        k = bisect.bisect_right(self._starts, c - 1 if end else c) - 1
        if k < 0:
            return c
        _cs, ce, os_, oe = self.edits[k]
        if c < ce or (end and c == ce):
            return oe if end else os_
        return c + (oe - ce)


def _edits1(word: str) -> Iterable[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    for a, b in splits:
        if b:
            yield a + b[1:]
        if len(b) > 1:
            yield a + b[1] + b[0] + b[2:]
        for c in LETTERS:
            if b:
                yield a + c + b[1:]
            yield a + c + b


class Corrector:
    def __init__(self, english: Iterable[str], vocabulary: Iterable[str], frequency: dict[str, int]) -> None:
        self.vocabulary = frozenset(w for w in vocabulary if len(w) >= MIN_LENGTH - 1 and w.isalpha())
        self.known = frozenset(english) | self.vocabulary
        self.frequency = frequency
        self._cache: dict[str, str | None] = {}

    def best(self, word: str) -> str | None:
        if word in self._cache:
            return self._cache[word]
        cands = {w for w in _edits1(word) if w in self.vocabulary}
        hit = max(sorted(cands), key=lambda w: self.frequency.get(w, 0)) if cands else None
        if len(self._cache) < 20000:
            self._cache[word] = hit
        return hit

    def fixes(self, text: str) -> dict[str, str]:
        """The words of text that get corrected, each with its correction."""
        out: dict[str, str] = {}
        for word in set(LONG_WORD.findall(text)):
            low = word.lower()
            if low in self.known:
                continue
            if word != low and (word[1:] != low[1:] or len(word) < MIN_CAPITALISED):
                continue
            fix = self.best(low)
            if fix is not None:
                out[word] = fix[0].upper() + fix[1:] if word[0].isupper() else fix
        return out

    def __call__(self, text: str) -> tuple[str, OffsetMap | None]:
        fixes = self.fixes(text)
        if not fixes:
            return text, None
        return replace_spans(
            text,
            [(m.start(), m.end(), fixes[m.group()]) for m in LONG_WORD.finditer(text) if m.group() in fixes],
        )


def replace_spans(text: str, edits: list[tuple[int, int, str]]) -> tuple[str, OffsetMap | None]:
    """The text with non-overlapping (start, end, replacement) edits made, and the map back to it (None when
    there are none)."""
    if not edits:
        return text, None
    parts: list[str] = []
    mapped: list[tuple[int, int, int, int]] = []
    last = shift = 0
    for start, end, new in sorted(edits):
        parts.append(text[last:start])
        cs = start + shift
        parts.append(new)
        mapped.append((cs, cs + len(new), start, end))
        shift += len(new) - (end - start)
        last = end
    parts.append(text[last:])
    return "".join(parts), OffsetMap(tuple(mapped))


def vocabulary_words(strings: Iterable[str]) -> set[str]:
    """Lower-case words of at least four letters in phrases and regular expressions (escapes such as \\b
    dropped)."""
    out: set[str] = set()
    for s in strings:
        for w in WORD.findall(re.sub(r"\\[A-Za-z]", " ", s)):
            if len(w) >= MIN_LENGTH - 1:
                out.add(w.lower())
    return out


def build_corrector(strings: Iterable[str]) -> Corrector:
    """English words and frequencies from pyspellchecker's dictionary (shipped with the package)."""
    from spellchecker import SpellChecker

    freq = SpellChecker(distance=1).word_frequency.dictionary
    return Corrector(freq.keys(), vocabulary_words(strings), dict(freq))
