"""Between the target matcher and ConText: pair frame names with their results and keep one reading
per stretch of text.

- Lexicon phrases: the longest wins where two overlap ("numb down below" beats "numb").
- Frames: a test or body-part name and the nearest result of the same frame in the same sentence
  ("SLR left 35° +ve", "Myotomes, reflexes and sensation normal", "calf pain or swelling"); a "no"/"not"
  between them turns a positive result negative. The result words of a consuming frame give no finding of
  their own (the "tingling" of a Tinel sign is not paraesthesia).
- Measurements, grades, scores and operations pass through.
"""

from __future__ import annotations

import re
from typing import Any

from rootcause.adapters.notes.language import NoteLanguage

TARGETS = "rc_targets"
LIST_WORDS = {",", "and", "or", "&", "/", "+", "nor", "(", ")"}
NEGATORS = {"not", "no", "n't", "nt", "never", "without", "non", "none", "nor", "nil", "✗", "✘"}
# adjectives that, written before another word, describe that word rather than the name before them
# ("power, normal knee jerks"): not a result for the name
ATTRIBUTIVE = frozenset(
    (
        "normal",
        "present",
        "absent",
        "intact",
        "reduced",
        "full",
        "palpable",
        "weak",
        "painful",
        "tender",
        "red",
        "swollen",
        "clean",
        "dry",
        "positive",
        "negative",
        "equal",
        "brisk",
        "diminished",
        "depressed",
        "healthy",
        "fine",
        "warm",
        "hot",
        "soft",
        "limited",
        "restricted",
    )
)
# words that may follow such an adjective when it is the result ("pulses palpable bilaterally")
FOLLOW_OK = frozenset(
    (
        "over",
        "in",
        "on",
        "at",
        "along",
        "to",
        "from",
        "with",
        "by",
        "for",
        "below",
        "above",
        "throughout",
        "today",
        "now",
        "still",
        "also",
        "too",
        "again",
        "when",
        "since",
        "after",
        "before",
        "but",
        "though",
        "as",
        "than",
        "compared",
        "versus",
        "vs",
        "especially",
        "particularly",
        "x",
        "per",
        "and",
        "or",
        "bilaterally",
        "bilat",
        "both",
        "left",
        "right",
        "l",
        "r",
        "lt",
        "rt",
        "sides",
        "side",
        "all",
        "round",
        "around",
        "where",
        "that",
        "which",
        "so",
        "then",
        "here",
        "there",
        "it",
        "he",
        "she",
        "they",
    )
)
DEGREES = re.compile(r"^(\d{1,3})°?$")
DEGREE_WORDS = {"°", "degrees", "deg", "degree"}


def prune_longest(spans: list[Any], contained_only: bool = False) -> list[Any]:
    """Keep the longest of overlapping spans; identical spans with different labels all stay. With
    contained_only, only a span inside a longer one is dropped: two phrases that share a word both stay
    ("progressive weakness of both legs" is progressive_weakness and "weakness of both legs")."""
    ordered = sorted(spans, key=lambda s: (-(s.end - s.start), s.start))
    kept: list[Any] = []
    covering: dict[int, list[tuple[int, int]]] = {}  # token -> (start, end) of kept spans over it
    for s in ordered:
        a, b = s.start, s.end
        clash = False
        for t in (a,) if contained_only else range(a, b):
            for ka, kb in covering.get(t, ()):
                if (ka, kb) == (a, b):
                    continue
                if (ka <= a and b <= kb) if contained_only else True:
                    clash = True
                    break
            if clash:
                break
        if not clash:
            kept.append(s)
            for t in range(a, b):
                covering.setdefault(t, []).append((a, b))
    return kept


def make_selector(lang: NoteLanguage) -> Any:
    from spacy.tokens import Span

    from rootcause.adapters.notes.pipeline import label_info

    frames = lang.frames
    anchor_words: set[str] = set()
    for frame in frames:
        for name in frame.names:
            anchor_words.update(w.lower() for w in re.findall(r"[\w'/+-]+", name))

    def pair(doc: Any, parts: list[Any]) -> tuple[list[Any], list[tuple[int, int]]]:
        sids: list[int] = doc.user_data.get("rc_sentence_of") or []
        if len(sids) != len(doc):
            sids, current = [], 0
            for tok in doc:
                if tok.is_sent_start and tok.i:
                    current += 1
                sids.append(current)

        def sent_id(_doc: Any, i: int) -> int:
            return sids[i]

        def words(a: int, b: int) -> int:
            return sum(1 for t in range(a, b) if not doc[t].is_space)

        names: dict[int, list[Any]] = {}
        results: dict[int, list[tuple[Any, bool]]] = {}
        name_tokens: set[int] = set()
        for s in parts:
            frame_key, role = label_info(s.label_, lang).key.split(":")
            if role == "name":
                names.setdefault(int(frame_key), []).append(s)
                name_tokens.update(range(s.start, s.end))
            else:
                results.setdefault(int(frame_key), []).append((s, role == "neg"))
        out: list[Any] = []
        consumed: list[tuple[int, int]] = []
        seen: set[tuple[int, int, int, bool]] = set()
        n = len(doc)
        for idx, name_spans in names.items():
            frame = frames[idx]
            gap_max = frame.max_gap if frame.max_gap is not None else lang.frame_max_gap
            block_before = {w.lower() for w in frame.block_before}
            block_after = {w.lower() for w in frame.block_after}
            neg_block_after = {w.lower() for w in frame.negative_block_after}
            cands = results.get(idx, [])
            elsewhere = {w.lower() for w in frame.not_in_sentence_with}
            excluded = {sids[i] for i in range(n) if doc[i].lower_ in elsewhere} if elsewhere else set()
            for a in prune_longest(name_spans):
                if a.start > 0 and doc[a.start - 1].lower_ in block_before:
                    continue
                if sids[a.start] in excluded:
                    continue  # "headache worse on sitting or standing, eases lying flat": not claudication
                if any(  # a phrase before the name: "on the saddle" (a bicycle's)
                    " " in b
                    and a.start >= b.count(" ") + 1
                    and " ".join(t.lower_ for t in doc[a.start - b.count(" ") - 1 : a.start]) == b
                    for b in block_before
                ):
                    continue
                if a.end < n and doc[a.end].lower_ in block_after:
                    continue
                blocked_after = a.end < n and doc[a.end].lower_ in neg_block_after
                sent = sent_id(doc, a.start)
                best: tuple[int, Any, bool, int, int] | None = None
                # forward: list-run of names and list words, then a gap without other names
                p = a.end
                while p < n and sent_id(doc, p) == sent and (doc[p].lower_ in LIST_WORDS or p in name_tokens):
                    if doc[p].text == "+" and (p + 1 >= n or (p + 1) not in name_tokens):
                        break  # "femoral stretch +ve", "FNST + on L": a sign, not "and"
                    p += 1
                for r, neg in cands:
                    if neg and blocked_after:
                        continue
                    if doc[r.start].text == "-" and r.end - r.start == 1:
                        continue  # a bare "-" is a result only when written against the name ("-XSLR")
                    if r.start < p or sent_id(doc, r.start) != sent or words(p, r.start) > gap_max:
                        continue
                    if any(t in name_tokens for t in range(p, r.start)):
                        continue
                    if _signed(doc, a.end, r.start):
                        continue
                    if any("\n" in doc[t].text for t in range(a.end, r.start)):
                        continue
                    if (
                        r.end - r.start == 1
                        and doc[r.start].lower_ in ATTRIBUTIVE
                        and r.end < n
                        and doc[r.end].is_alpha
                        and doc[r.end].lower_ not in FOLLOW_OK
                    ):
                        continue
                    gap = words(p, r.start)
                    if best is None or gap < best[0]:
                        best = (gap, r, neg, a.start, r.end)
                if frame.order == "any":
                    q = a.start
                    while (
                        q > 0
                        and sent_id(doc, q - 1) == sent
                        and (doc[q - 1].lower_ in LIST_WORDS or (q - 1) in name_tokens)
                        and not (doc[q - 1].text == "+" and not doc[q - 1].whitespace_)  # "+SLR"
                    ):
                        q -= 1
                    for r, neg in cands:
                        if neg and blocked_after:
                            continue
                        if (
                            doc[r.start].text in "+-"
                            and r.end - r.start == 1
                            and (r.end != a.start or doc[r.start].whitespace_)
                        ):
                            continue  # a bare sign before a name counts only written against it ("+SLR")
                        if r.end > q or sent_id(doc, r.start) != sent or words(r.end, q) > gap_max:
                            continue
                        if any(t in name_tokens for t in range(r.end, q)):
                            continue
                        if _signed(doc, r.end, a.start):
                            continue
                        if any("\n" in doc[t].text for t in range(r.end, a.start)):
                            continue
                        if any(doc[t].lower_ in NEGATORS for t in range(r.end, q)):
                            continue  # "bowel normal, no saddle changes": the result ends an earlier clause
                        if any(
                            doc[t].lower_ in block_before and sent_id(doc, t) == sent
                            for t in range(max(0, r.start - 3), r.start)
                        ):
                            continue  # "saddle sensation intact to PP": the result belongs to a blocked name
                        gap = words(r.end, q)
                        if best is None or gap < best[0]:
                            best = (gap, r, neg, r.start, a.end)
                if best is None and frame.degrees_negative_from is not None:
                    for t in range(a.end, min(n, a.end + gap_max)):
                        if sent_id(doc, t) != sent:
                            break
                        m = DEGREES.match(doc[t].text)
                        if m and (
                            doc[t].text.endswith("°") or (t + 1 < n and doc[t + 1].lower_ in DEGREE_WORDS)
                        ):
                            if float(m.group(1)) >= frame.degrees_negative_from:
                                key = (a.start, t + 1, idx, True)
                                if key not in seen:
                                    seen.add(key)
                                    out.append(_make(doc, a.start, t + 1, True, idx, None))
                            break
                if best is None:
                    if frame.bare_name_absent:
                        label = f"FRAMEBARE:{idx}"
                        if (a.start, a.end, idx, False) not in seen:
                            seen.add((a.start, a.end, idx, False))
                            out.append(Span(doc, a.start, a.end, label=label))
                    continue
                _, r, neg, start, end = best
                inner = list(range(a.end, r.start) if r.start >= a.end else range(r.end, a.start))
                # a negative result carries its own negation: a negator of an earlier clause does not flip it
                # ("Wound healed, no redness, not tender"); a positive one may sit in a denied list ("no
                # erythema, drainage or fluctuance")
                breaks = [i for i, t in enumerate(inner) if doc[t].text in (",", ";")]
                if neg and breaks:
                    inner = inner[breaks[-1] + 1 :]
                if any(doc[t].lower_ in NEGATORS for t in inner):
                    neg = not neg
                key = (start, end, idx, neg)
                if key in seen:
                    continue
                seen.add(key)
                out.append(_make(doc, start, end, neg, idx, (r.start, r.end)))
                if frame.consumes_result:
                    consumed.append((r.start, r.end))
        return out, consumed

    def _make(doc: Any, start: int, end: int, neg: bool, idx: int, result: Any) -> Any:
        label = f"FRAME{'-' if neg else '+'}:{idx}"
        doc.user_data.setdefault("rc_frame_results", {})[(start, end, label)] = result
        return Span(doc, start, end, label=label)

    def rc_select(doc: Any) -> Any:
        spans = list(doc.spans[TARGETS]) if TARGETS in doc.spans else []
        kinds = [label_info(s.label_, lang).kind for s in spans]
        parts = [s for s, k in zip(spans, kinds, strict=True) if k == "part"]
        lex = [s for s, k in zip(spans, kinds, strict=True) if k in ("lex", "negonly")]
        rest = [s for s, k in zip(spans, kinds, strict=True) if k not in ("lex", "negonly", "part")]
        frame_spans, consumed = pair(doc, parts)
        unique: dict[tuple[int, int, str], Any] = {}
        for s in lex:
            unique.setdefault((s.start, s.end, s.label_), s)
        kept = [
            s
            for s in prune_longest(list(unique.values()), contained_only=True)
            if not any(c0 <= s.start and s.end <= c1 for c0, c1 in consumed)
        ]
        others: dict[tuple[int, int, str], Any] = {}
        for s in rest:
            others.setdefault((s.start, s.end, s.label_), s)
        meas = prune_longest(
            [s for s in others.values() if label_info(s.label_, lang).kind in ("meas", "score", "grade")]
        )
        procs = prune_longest([s for s in others.values() if label_info(s.label_, lang).kind == "proc"])
        doc.spans[TARGETS] = sorted([*kept, *frame_spans, *meas, *procs], key=lambda s: (s.start, s.end))
        return doc

    return rc_select


def _signed(doc: Any, start: int, end: int) -> bool:
    """A review-of-systems sign ("(-)", "(+)") between a name and a result starts another item."""
    text = "".join(doc[t].text for t in range(start, end))
    return "(-)" in text or "(+)" in text
