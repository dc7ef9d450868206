"""Leaner drivers for two medspaCy components, with the same rules, matchers and results.

- :func:`run_context` does what ``ConText.__call__`` does (medspaCy's matcher finds the modifiers, each
  becomes a ``ConTextModifier``, scopes are limited pairwise, modifiers overlapping a target are dropped,
  then each modifier takes the targets in its scope and keeps its ``max_targets`` closest), but looks up the
  targets in a modifier's scope instead of testing every target against every modifier, and skips the span
  attributes and the graph object the reader does not use (it reads ``span._.modifiers``). A cue listed in
  both directions is one phrase rule, read forwards at a sentence start and with its backward twin
  (``metadata["elsewhere"]``) anywhere else, instead of two token patterns testing IS_SENT_START, which
  spaCy's Matcher evaluates token by token in Python.
- :func:`run_targets` does what ``TargetMatcher.__call__`` does for the operation names, with the phrase
  matcher alone when there are no token patterns.
- :func:`run_sections` does what ``Sectionizer.__call__`` does with our settings (no parent sections, no
  length limits, no sentence boundaries) but without writing ``token._.section`` on every token (the reader
  reads ``doc._.sections``), and it ends a section whose title has its text on the same line at the end of
  that paragraph (``_paragraph_end``): a letter's "Diagnosis: ..." line does not head the whole letter.
- A cue ending a heading line with a colon reaches the list under it (``_over_list``).

The note reader spends a third of its time in these components. tests/test_notes_generalise.py
(``test_fast_context_and_sections_match_medspacy``) checks that the readings equal those of medspaCy's own
drivers on three annotated sets, which hold neither of the two things this module adds (a one-paragraph
section, a cue heading a list); tests/test_notes_reader.py checks those two.
"""

from __future__ import annotations

import bisect
import re
from typing import Any


def run_context(context: Any, doc: Any, targets: list[Any]) -> Any:
    from medspacy.context.context_modifier import ConTextModifier

    matcher = context._ConText__matcher
    vocab = doc.vocab
    owner = doc.user_data.get("rc_sentence_of")
    modifiers = []
    for match_id, start, end in matcher(doc):
        rule = matcher.rule_map[vocab[match_id].text]
        elsewhere = (rule.metadata or {}).get("elsewhere")
        if elsewhere is not None:
            at_start = start == 0 or (
                owner[start] != owner[start - 1] if owner else bool(doc[start].is_sent_start)
            )
            if not at_start:
                rule = elsewhere
        modifiers.append(ConTextModifier(rule, start, end, doc, max_scope=context.max_scope))
    if owner:
        for m in modifiers:
            _over_list(m, doc, owner)
    # scopes only shrink, so a pair whose first scopes do not overlap never limits each other (limit_scope
    # returns at once); the other pairs are limited in medspaCy's order
    first = [m.scope_span for m in modifiers]
    for i in range(len(modifiers) - 1):
        m1 = modifiers[i]
        a1, b1 = first[i]
        for j in range(i + 1, len(modifiers)):
            a2, b2 = first[j]
            if a2 >= b1 or a1 >= b2:
                continue
            m2 = modifiers[j]
            m1.limit_scope(m2)
            m2.limit_scope(m1)
    order = sorted(range(len(targets)), key=lambda k: targets[k].start)
    starts = [targets[k].start for k in order]
    bounds = [(t.start, t.end) for t in targets]

    def overlapping(a: int, b: int) -> list[int]:
        """Indexes (in the targets' own order) of targets overlapping tokens [a, b)."""
        hi = bisect.bisect_left(starts, b)
        return sorted(order[p] for p in range(hi) if bounds[order[p]][1] > a)

    if context.prune_on_target_overlap:
        modifiers = [m for m in modifiers if not overlapping(*m.modifier_span)]
    edges: list[tuple[Any, Any]] = []
    for m in modifiers:
        if m.direction in ("TERMINATE", "PSEUDO"):
            continue
        ms, me = m.modifier_span
        for k in overlapping(*m.scope_span):
            t = targets[k]
            ts, te = bounds[k]
            if ts < me and ms < te:
                continue
            if m.allows(t.label_.upper()) and m.on_modifies(t):
                m.modify(t)
        m.reduce_targets()
        edges.extend((t, m) for t in m._targets)
    for target, modifier in edges:
        target._.modifiers += (modifier,)
    return doc


# a list item's first words: "- ", "• ", "* ", "1. ", "2) ", "a) ", "(b) "
LIST_ITEM = re.compile(r"(?:[-–—•*·▪◦]\s|\d{1,2}[.)]\s|[a-z][.)]\s|\([a-z0-9]\)\s)")


def _over_list(m: Any, doc: Any, owner: list[int]) -> None:
    """A forward cue that ends a heading line with a colon reaches the list items under it, as it would
    the same items written after it on its line: "Come to the Emergency Department if you notice:" /
    "- difficulty passing urine", "Denies:" / "- fever". The items are the lines after the heading that
    each start with a bullet or a number, up to the first line that does not. Only cues of a group marked
    ``reaches_list`` do (note_language.yaml ``list_headings``), within ``reach`` words of the colon."""
    reach = (m.rule.metadata or {}).get("reaches_list")
    if reach is None or m.direction.lower() != "forward" or m.rule.max_scope:
        return
    (ms, me), (_, end) = m.modifier_span, m.scope_span
    if end >= len(doc) or owner[end] == owner[ms]:
        return  # the scope stops inside its sentence
    last = end - 1
    while last > ms and doc[last].is_space:
        last -= 1
    if doc[last].text != ":" or last - me > reach:
        return  # its sentence does not end with a colon soon after the cue
    text, stop = doc.text, end
    while stop < len(doc):  # the next sentence, if it is a list item on a line of its own
        sentence, first, before = owner[stop], stop, stop - 1
        while first < len(doc) and doc[first].is_space:
            first += 1
        while before > 0 and doc[before].is_space:
            before -= 1
        if first == len(doc) or owner[first] != sentence:
            break
        gap = text[doc[before].idx + len(doc[before].text) : doc[first].idx]
        if "\n" not in gap or not LIST_ITEM.match(text, doc[first].idx):
            break
        while stop < len(doc) and owner[stop] == sentence:
            stop += 1
    if stop > end:
        m._scope_end = stop


def run_sections(sectionizer: Any, doc: Any) -> Any:
    from medspacy.section_detection.section import Section

    matcher = sectionizer._Sectionizer__matcher
    tokens = matcher._MedspacyMatcher__matcher
    if len(tokens):
        matches = matcher(doc)
    else:  # titles are phrases only: skip the empty token matcher (spaCy warns on every call to it)
        from medspacy.common.util import prune_overlapping_matches

        matches = matcher._MedspacyMatcher__phrase_matcher(doc)
        matches = prune_overlapping_matches(matches) if matcher._prune else matches
    n = len(doc)
    sections: list[Any] = []
    if not matches:
        sections.append(Section(None, 0, 0, 0, n))
    else:
        if matches[0][1] != 0:
            sections.append(Section(None, 0, 0, 0, matches[0][1]))
        strings = sectionizer.nlp.vocab.strings
        for i, (match_id, start, end) in enumerate(matches):
            rule = matcher.rule_map[strings[match_id]]
            body_end = matches[i + 1][1] if i + 1 < len(matches) else n
            stop = _paragraph_end(doc, end, body_end)
            sections.append(Section(rule.category, start, end, end, stop, None, rule))
            if stop < body_end:  # the paragraphs after a one-paragraph section belong to none
                sections.append(Section(None, stop, stop, stop, body_end))
    doc._.sections = sections
    return doc


def _paragraph_end(doc: Any, end: int, body_end: int) -> int:
    """Where a section whose title has its text on the same line ("Diagnosis: left S1 radicular pain five
    months after ...") ends: at the end of its paragraph, a blank line. A letter's one-line heading does not
    make the letter under it a diagnosis. A title alone on its line heads everything up to the next title."""
    text = doc.text
    if end >= body_end:
        return body_end
    start = doc[end].idx
    line = text[start : text.find("\n", start) if "\n" in text[start:] else len(text)]
    if not line.strip():
        return body_end
    for k in range(end, body_end):
        if doc[k].is_space and doc[k].text.count("\n") >= 2:
            return k + 1
    return body_end


def run_targets(target_matcher: Any, doc: Any, group: str) -> Any:
    """TargetMatcher.__call__ for the operation names (result_type "group"): phrases only when the token
    matcher is empty (spaCy warns on every call to an empty Matcher); spans are labelled with the rule's
    category."""
    from spacy.tokens import Span

    matcher = target_matcher._TargetMatcher__matcher
    if len(matcher._MedspacyMatcher__matcher):
        matches = matcher(doc)
    else:
        from medspacy.common.util import prune_overlapping_matches

        matches = matcher._MedspacyMatcher__phrase_matcher(doc)
        matches = prune_overlapping_matches(matches) if matcher._prune else matches
    strings = doc.vocab.strings
    spans = [
        Span(doc, start, end, label=matcher.rule_map[strings[rule_id]].category)
        for rule_id, start, end in matches
    ]
    if group in doc.spans:
        doc.spans[group] = [*doc.spans[group], *spans]
    else:
        doc.spans[group] = spans
    return doc
