"""A fast phrase index for the lexicon and frame words (thousands of phrases).

Each phrase is a medspaCy ``TargetRule`` (literal, category = our label, metadata: case_sensitive,
plural, flexible). They are matched with spaCy's hash-based
``PhraseMatcher`` in two views of the note:

- the *reduced* view leaves out "optional words" (sides, levels, determiners, a few adjectives: see
  ``flex`` in note_language.yaml), so "fractured rod" also matches "fractured R rod" and "haematoma within
  the psoas" matches "haematoma within L psoas";
- the *exact* view is the note itself, for phrases that begin or end with an optional word ("both feet"),
  name a level ("{root} distribution" -> "L5 distribution") or are abbreviations matched case-sensitively.

The last word of a clinician or lay phrase also matches its plural. A token-pattern matcher with optional
slots does the same work ten times slower, which is why this index exists.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{(\w+)\}")


class PhraseIndex:
    def __init__(self, nlp: Any, optional_words: set[str], determiners: set[str], level: re.Pattern[str],
                 placeholders: dict[str, list[str]]) -> None:  # fmt: skip
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.optional = optional_words
        self.dets = determiners
        self.level = level
        self.placeholders = placeholders
        self.reduced_lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.reduced_orth = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.exact_lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact_orth = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.labels: dict[int, str] = {}
        self._optional_cache: dict[str, bool] = {}

    def _is_optional(self, word: str) -> bool:
        hit = self._optional_cache.get(word)
        if hit is None:
            hit = word.lower() in self.optional or bool(self.level.match(word))
            if len(self._optional_cache) < 50000:
                self._optional_cache[word] = hit
        return hit

    def _expand(self, literal: str) -> list[str]:
        m = PLACEHOLDER.search(literal)
        if not m or m.group(1) not in self.placeholders:
            return [literal]
        out = []
        for value in self.placeholders[m.group(1)]:
            out += self._expand(literal[: m.start()] + value + literal[m.end() :])
        return out

    def add(self, rule: Any) -> None:
        """Add a medspaCy TargetRule; its metadata may set case_sensitive, plural and flexible."""
        meta = rule.metadata or {}
        case_sensitive = bool(meta.get("case_sensitive", False))
        plural = bool(meta.get("plural", False))
        flexible = bool(meta.get("flexible", True))
        label = rule.category
        key = self.nlp.vocab.strings.add(label)
        self.labels[key] = label
        for literal in self._expand(rule.literal):
            words = [t.text for t in self.nlp.make_doc(literal) if not t.is_space]
            if not words:
                continue
            variants = [words]
            if plural and words[-1].isalpha() and len(words[-1]) > 2:
                variants += [[*words[:-1], words[-1] + "s"], [*words[:-1], words[-1] + "es"]]
            for w in variants:
                interior = w[1:-1]
                exact = (
                    not flexible
                    or len(w) == 1
                    or self._is_optional(w[0])
                    or self._is_optional(w[-1])
                    or any(self._is_optional(x) and x.lower() not in self.dets for x in interior)
                )
                if exact:
                    doc = self.nlp.make_doc(" ".join(w))
                    (self.exact_orth if case_sensitive else self.exact_lower).add(label, [doc])
                else:
                    # the note's reduced view leaves out only optional words: a determiner that is not one
                    # ("this" in "weaker than this morning") stays in both
                    kept = [w[0], *[x for x in interior if not self._is_optional(x)], w[-1]]
                    doc = self.nlp.make_doc(" ".join(kept))
                    (self.reduced_orth if case_sensitive else self.reduced_lower).add(label, [doc])

    def __call__(self, doc: Any) -> list[tuple[str, int, int]]:
        from spacy.tokens import Doc

        cached = doc.user_data.get("rc_tokens")
        texts = (
            [t for t, _ in cached]
            if cached is not None and len(cached) == len(doc)
            else [t.text for t in doc]
        )
        keep = [i for i, x in enumerate(texts) if x.strip() and not self._is_optional(x)]
        out: list[tuple[str, int, int]] = []
        if keep:
            reduced = Doc(doc.vocab, words=[texts[i] for i in keep])
            for matcher in (self.reduced_lower, self.reduced_orth):
                if not len(matcher):
                    continue
                for key, start, end in matcher(reduced):
                    a, b = keep[start], keep[end - 1] + 1
                    if any("\n" in texts[i] for i in range(a, b)):
                        continue
                    out.append((self.labels[key], a, b))
        for matcher in (self.exact_lower, self.exact_orth):
            if not len(matcher):
                continue
            for key, start, end in matcher(doc):
                out.append((self.labels[key], start, end))
        return out
