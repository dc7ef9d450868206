"""The medspaCy pipeline: a blank English tokenizer, clinical sentence splitting, target rules built
from the knowledge base's lexicons and the language file, ConText and section detection.

Nothing here downloads anything: spaCy runs with ``spacy.blank("en")`` and medspaCy's components are
added one by one with our own rules. Build the pipeline with :func:`get_pipeline` (cached, built on
first use, never at import time).

Target spans (doc.spans["rc_targets"]) say what they are in their label, decoded by
:func:`label_info` (span extensions are keyed by character offsets in spaCy, so two targets over the
same words would share them): ``LEX+:ids`` / ``LEX-:ids`` (a lexicon phrase stating presence /
absence), ``NEGONLY:ids``, ``FRAME+:i`` / ``FRAME-:i`` (frame i of the language file),
``MEAS:id``, ``GRADE`` (a power grade), ``SCORE`` (a pain score), ``PROC:i`` (operation i).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rootcause.adapters.notes.language import Frame, NoteLanguage, RunOn, default_language
from rootcause.adapters.notes.phrases import PhraseIndex
from rootcause.adapters.notes.timewords import alternation

TARGETS = "rc_targets"
INLINE_SECTIONS = ("plan", "assessment")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
QUOTES = re.compile(r"(?<![A-Za-z])['‘’]|['‘’](?![A-Za-z])|[\"“”]")
SCORE_PATTERNS = [
    r"(?<![\d/.])(?P<score>\d{1,2}(?:\.\d)?)\s*(?:/|out\s+of)\s*(?:10|ten)\b(?!\s*/)",
    r"\b(?:NRS|NPRS|VAS)\s*(?:leg\s*)?(?:score\s*)?(?:of\s*)?(?P<score>\d{1,2}(?:\.\d)?)\b(?!\s*/|\s*out|\s*mm)",
    # a visual analogue scale in millimetres ("VAS leg 60 mm"): read as tenths
    r"\bVAS\s*(?:leg\s*)?(?:score\s*)?(?:of\s*)?(?P<score>\d{1,3})\s*mm\b",
]


SCORE_TRIGGERS = ["10", "ten", "nrs", "nprs", "vas"]


def normalise(text: str, lang: NoteLanguage | None = None) -> str:
    """Replace quotation marks with spaces, and with ``lang`` blank unticked boxes and their options (same
    length, so character offsets are unchanged: a field whose boxes are all unticked is left blank); end the
    text with a line break, so that its last line ends as every other does (a template's last field, "Bowel
    N", is answered before a line break)."""
    out = QUOTES.sub(" ", text.replace("\r", " ").replace("\t", " "))
    if lang is not None and lang.unticked_boxes:
        out = _unticked(tuple(lang.unticked_boxes)).sub(lambda m: " " * len(m.group(0)), out)
    return out if out.endswith("\n") else out + "\n"


TICKS = "☑☒✓✔"  # a ticked box ends the option before it as the next box does


@lru_cache(maxsize=8)
def _unticked(boxes: tuple[str, ...]) -> re.Pattern[str]:
    """A box and its option's words: to the next box or tick, "|", ";", ",", " - ", two spaces or the
    line's end."""
    box = alternation(boxes)
    stops = re.escape("".join(sorted({b[0] for b in boxes if b} | set(TICKS))))
    return re.compile(rf"({box})([ ]?[^\n\]|;,{stops}]*?)(?=[ ]{{2,}}|[ ]-[ ]|[ ]*[\n|;,{stops}]|$)")


@dataclass(frozen=True)
class LabelInfo:
    kind: str  # lex | negonly | part | frame | meas | grade | score | proc
    findings: tuple[str, ...] = ()
    negative: bool = False
    key: str = ""


_LABELS: dict[tuple[int, str], LabelInfo] = {}


def label_info(label: str, lang: NoteLanguage) -> LabelInfo:
    key = (id(lang), label)
    hit = _LABELS.get(key)
    if hit is None:
        hit = _label_info(label, lang)
        _LABELS[key] = hit
    return hit


def _label_info(label: str, lang: NoteLanguage) -> LabelInfo:
    head, _, rest = label.partition(":")
    if head in ("LEX+", "LEX-"):
        return LabelInfo("lex", tuple(rest.split(",")), head == "LEX-")
    if head == "NEGONLY":
        return LabelInfo("negonly", tuple(rest.split(",")))
    if head in ("FRAME+", "FRAME-"):
        return LabelInfo("frame", (lang.frames[int(rest)].finding,), head == "FRAME-", rest)
    if head == "FRAMEBARE":
        return LabelInfo("bare", (lang.frames[int(rest)].finding,), False, rest)
    if head == "PART":
        idx, role = rest.split(":")
        return LabelInfo("part", (lang.frames[int(idx)].finding,), role == "neg", rest)
    if head == "MEAS":
        return LabelInfo("meas", key=rest)
    if head == "PROC":
        return LabelInfo("proc", key=rest)
    return LabelInfo(head.lower())


class Compiler:
    """Splits phrases into tokens with the pipeline's tokenizer (placeholders such as {root} kept whole)."""

    def __init__(self, nlp: Any, lang: NoteLanguage) -> None:
        self.nlp = nlp
        self.lang = lang
        self.dets = {d.lower() for d in lang.flex.determiners}

    def tokens(self, phrase: str) -> list[str]:
        marked = PLACEHOLDER.sub(lambda m: f"rcph{m.group(1)}", phrase)
        return [t.text for t in self.nlp.make_doc(marked) if not t.is_space]


def _install_sentence_hooks(doc: Any, flags: list[bool]) -> None:
    """Precompute sentences once; spaCy's Span.sent would otherwise rescan the doc on every call (ConText
    calls it for each modifier)."""
    starts = [i for i, f in enumerate(flags) if f] or [0]
    bounds = [*starts[1:], len(doc)]
    sents = [doc[a:b] for a, b in zip(starts, bounds, strict=True)]
    owner: list[int] = []
    for k, (a, b) in enumerate(zip(starts, bounds, strict=True)):
        owner.extend([k] * (b - a))
    doc.user_data["rc_sentence_of"] = owner
    doc.user_hooks["sents"] = lambda d: iter(sents)
    doc.user_span_hooks["sent"] = lambda span: sents[owner[span.start]] if len(owner) > span.start else span


SENTENCE_END = {".", "!", ";", "...", "?!", "!?"}


def _initial(toks: list[tuple[str, str]], k: int) -> bool:
    """A capital letter and a full stop are an initial after a title or a name ("Mr J. Harrow", "Dr S. Lowe"),
    not after a value ("EHL 0/5 R. Pre-op power ...")."""
    j = k - 1
    while j >= 0 and not toks[j][0].strip():
        j -= 1
    if j < 0:
        return True
    before = toks[j][0]
    return before[:1].isupper() and before.replace(".", "").isalpha()


def _answer_on_next_line(toks: list[tuple[str, str]], i: int, answers: set[str], speakers: set[str]) -> bool:
    """'DR: Any chest pain?' then 'PT: No.' on the next line: the answer joins the question's sentence."""
    return (
        i >= 2
        and toks[i - 2][0] == "?"
        and toks[i - 1][0].count("\n") == 1
        and i + 2 < len(toks)
        and toks[i][0].lower() in speakers
        and toks[i + 1][0] == ":"
        and toks[i + 2][0].lower() in answers
        and (i + 3 >= len(toks) or toks[i + 3][0] in (".", ",", "!", ";") or "\n" in toks[i + 3][0])
    )


def _split_run_on(toks: list[tuple[str, str]], starts: list[bool], run_on: RunOn) -> None:
    """In a dictation with no punctuation, start a sentence at each clause opener (language data
    ``sentences.run_on``), so a "no" early on does not negate the rest of the note."""
    words = sum(1 for tx, _ in toks if tx[:1].isalnum())
    breaks = sum(1 for tx, _ in toks if tx in SENTENCE_END or ("\n" in tx and not tx.strip()))
    if words < run_on.words_per_break or breaks * run_on.words_per_break > words:
        return
    openers = sorted({o.lower() for o in run_on.openers}, key=len, reverse=True)
    not_after = {w.lower() for w in run_on.not_after}
    for i in range(1, len(toks)):
        if starts[i] or not toks[i][0][:1].isalnum():
            continue
        prev = toks[i - 1][0].lower()
        if prev in not_after or not prev[-1:].isalpha():
            continue  # nor after a number: "the 8/10 she gave on the morning of surgery" is one clause
        ahead = "".join(tx + ws for tx, ws in toks[i : i + 6]).lower()
        for opener in openers:
            if ahead.startswith(opener) and not ahead[len(opener) : len(opener) + 1].isalnum():
                starts[i] = True
                break


def _sentencizer_factory(lang: NoteLanguage) -> Any:
    abbreviations = {a.lower().rstrip(".") for a in lang.sentences.abbreviations}
    answers = {a.lower() for a in lang.sentences.answers}
    speakers = {a.lower() for a in lang.sentences.answer_speakers}

    run_on = lang.sentences.run_on

    def rc_sentences(doc: Any) -> Any:
        import numpy as np
        from spacy.attrs import SENT_START

        toks = [(t.text, t.whitespace_) for t in doc]
        doc.user_data["rc_tokens"] = (
            toks  # read by the later components (iterating a Doc builds Token objects)
        )
        n = len(toks)
        starts = [False] * n
        line_start = [False] * n
        depth = 0
        at_line = True
        for i in range(n):
            tx = toks[i][0]
            blank = not tx.strip()
            if i == 0:
                starts[0] = True
            else:
                prev = toks[i - 1][0]
                if "\n" in prev and not prev.strip():
                    starts[i], depth = not _answer_on_next_line(toks, i, answers, speakers), 0
                elif prev == ";" and depth > 0:
                    pass
                elif prev in SENTENCE_END:
                    starts[i] = not (
                        prev == "."
                        and i >= 2
                        and (
                            toks[i - 2][0].lower() in abbreviations
                            or (
                                len(toks[i - 2][0]) == 1
                                and toks[i - 2][0].isupper()
                                and _initial(toks, i - 2)
                            )
                        )
                    )
                elif prev in ("?", "??"):
                    # "?foot drop" is a query prefix; "worried?" ends a question; "Fever? No." is answered
                    starts[i] = (
                        not (not toks[i - 1][1] and tx.isalpha())
                        and not (
                            tx.lower() in answers
                            and (i + 1 >= n or toks[i + 1][0] in SENTENCE_END or "\n" in toks[i][1])
                        )
                        and not _answer_on_next_line(toks, i + 1, answers, speakers)
                    )
            if blank:
                at_line = at_line or "\n" in tx
            else:
                line_start[i] = at_line
                at_line = False
            if tx == "(":
                depth += 1
            elif tx == ")" and depth:
                depth -= 1
        if run_on is not None:
            _split_run_on(toks, starts, run_on)
        if n:
            flags = np.array([1 if f else -1 for f in starts], dtype="int64").astype(
                "uint64"
            )  # spaCy's encoding
            doc.from_array([SENT_START], flags.reshape(-1, 1))
            doc.user_data["rc_line_start"] = line_start
        _install_sentence_hooks(doc, starts)
        return doc

    return rc_sentences


def _context_rules(lang: NoteLanguage, proc_words: list[str], literal_sent_start: bool = False) -> list[Any]:
    from medspacy.context import ConTextRule

    rules: list[Any] = []
    # a cue listed both ways in one category reads forwards at the start of a sentence, backwards elsewhere
    # ("Before the operation she had ..." / "... claudication before surgery"); ConText would otherwise keep
    # one of two identical modifiers at random
    directions: dict[tuple[str, str], set[str]] = {}
    for group in lang.context:
        for lit in group.literals:
            directions.setdefault((group.category, lit.lower()), set()).add(group.direction)
    paired: dict[tuple[str, str], dict[str, Any]] = {}
    for number, group in enumerate(lang.context):
        kw: dict[str, Any] = {"direction": group.direction}
        if group.max_scope is not None:
            kw["max_scope"] = group.max_scope
        if group.max_targets is not None:
            kw["max_targets"] = group.max_targets
        if group.terminated_by:
            kw["terminated_by"] = {c.upper() for c in group.terminated_by}
        reach = {"reaches_list": lang.list_headings.reach} if group.reaches_list else {}
        not_cues = {c.lower() for c in lang.list_headings.not_cues}
        for lit in _expand_placeholders(group.literals, lang, proc_words):
            kw["metadata"] = reach if lit.lower() not in not_cues else {}
            both = {"FORWARD", "BACKWARD"} <= directions.get((group.category, lit.lower()), set())
            if both and group.direction in ("FORWARD", "BACKWARD") and literal_sent_start:
                # one phrase rule; fastcontext.run_context reads it forwards at a sentence start and with the
                # backward rule (metadata "elsewhere") anywhere else
                pair = paired.setdefault((group.category, lit.lower()), {})
                pair[group.direction] = ConTextRule(lit, group.category, **kw)
                if len(pair) == 2:
                    fwd = pair["FORWARD"]
                    fwd.metadata = {**(fwd.metadata or {}), "elsewhere": pair["BACKWARD"]}
                    rules.append(fwd)
            elif both and group.direction in ("FORWARD", "BACKWARD"):
                words = [t.text.lower() for t in _TOKENIZER_NLP[0].make_doc(lit) if not t.is_space]
                pattern: list[dict[str, Any]] = [{"LOWER": w} for w in words]
                pattern[0]["IS_SENT_START"] = group.direction == "FORWARD"
                rules.append(ConTextRule(lit, group.category, pattern=pattern, **kw))
            else:
                rules.append(ConTextRule(lit, group.category, **kw))
        kw["metadata"] = reach
        for i, pat in enumerate(group.patterns):
            rules.append(
                # a unique name per group: the matcher keeps one rule per name
                ConTextRule(
                    f"{group.category.lower()}_pattern_{number}_{i}", group.category, pattern=pat, **kw
                )
            )
    return rules


def _expand_placeholders(literals: list[str], lang: NoteLanguage, proc_words: list[str]) -> list[str]:
    """'{relative} {reporting}' -> 'wife measured', ...; '{procedure} for' -> 'laminectomy for', ..."""
    values = dict(lang.placeholders)
    values["procedure"] = proc_words
    out: list[str] = []
    todo = list(literals)
    while todo:
        lit = todo.pop(0)
        m = PLACEHOLDER.search(lit)
        if m is None or m.group(1) not in values:
            out.append(lit)
            continue
        todo = [lit[: m.start()] + v + lit[m.end() :] for v in values[m.group(1)]] + todo
    return out


_TOKENIZER_NLP: list[Any] = []
_BUILDS = itertools.count()

SPAN_ATTRS = {
    "NEGATED_EXISTENCE": {"is_negated": True},
    "POSSIBLE_EXISTENCE": {"is_uncertain": True},
    "HISTORICAL": {"is_historical": True},
    "HYPOTHETICAL": {"is_hypothetical": True},
    "FAMILY": {"is_family": True},
    "RESOLVED": {"is_resolved": True},
    "DISCONTINUED": {"is_discontinued": True},
}


@dataclass(frozen=True)
class Pipeline:
    nlp: Any
    lang: NoteLanguage
    finding_category: dict[str, str]
    frames: tuple[Frame, ...]
    corrector: Any = None

    def __call__(self, text: str) -> Any:
        return self.nlp(normalise(text, self.lang))

    def run(self, text: str) -> Any:
        """``nlp(text)`` without spaCy's per-call bookkeeping (component configs, error wrapping): the
        tokenizer, then each component in order."""
        doc = self.nlp.make_doc(text)
        for _, proc in self.nlp.pipeline:
            doc = proc(doc)
        return doc

    def correct(self, text: str) -> tuple[str, Any]:
        """Spelling slips corrected (typos.py): the text and an OffsetMap back to it (None if unchanged)."""
        if self.corrector is None:
            return text, None
        result: tuple[str, Any] = self.corrector(text)
        return result


def _strings(obj: Any) -> list[str]:
    """Every string in a nested structure of dicts, lists and models (keys included)."""
    if isinstance(obj, str):
        return [obj]
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump()
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _strings(k) + _strings(v)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            out += _strings(v)
    return out


def _lexicon_rules(findings: Iterable[Any], lang: NoteLanguage) -> list[Any]:
    """One TargetRule per lexicon phrase; a phrase shared by several findings labels them all."""
    from medspacy.target_matcher import TargetRule

    grouped: dict[tuple[str, bool, bool, str], list[str]] = {}
    cue = re.compile(r"^(?:" + alternation(lang.negated_form_cues) + r")\s+")
    for f in findings:
        lx = f.lexicon
        for phrase in lx.clinician + lx.lay:
            grouped.setdefault((phrase.lower(), False, False, "lex"), []).append(f.id)
        for phrase in lx.abbreviations:
            grouped.setdefault((phrase, True, False, "lex"), []).append(f.id)
        for phrase in lx.negated_forms:
            low = phrase.lower()
            rest = cue.sub("", low) if lang.negated_form_cues else low
            if rest != low:  # "denies back pain": the cue negates "back pain", and a list after it
                grouped.setdefault((rest, False, False, "negonly"), []).append(f.id)
            else:
                grouped.setdefault((low, False, True, "lex"), []).append(f.id)
    for fid, phrases in lang.negative_only.items():
        for phrase in phrases:
            grouped.setdefault((phrase.lower(), False, False, "negonly"), []).append(fid)
    rules = []
    for (phrase, cs, negative, kind), ids in grouped.items():
        prefix = "NEGONLY" if kind == "negonly" else ("LEX-" if negative else "LEX+")
        label = f"{prefix}:" + ",".join(sorted(set(ids)))
        meta = {"case_sensitive": cs, "plural": not cs and not negative, "flexible": True}
        rules.append(TargetRule(phrase, label, metadata=meta))
    return rules


def _frame_rules(lang: NoteLanguage) -> list[Any]:
    from medspacy.target_matcher import TargetRule

    rules = []
    for i, frame in enumerate(lang.frames):
        for role, phrases in (("name", frame.names), ("pos", frame.positive), ("neg", frame.negative)):
            for phrase in phrases:
                cs = role == "name" and phrase.isupper() and len(phrase) <= 5
                meta = {"case_sensitive": cs, "plural": False, "flexible": role == "name"}
                rules.append(TargetRule(phrase, f"PART:{i}:{role}", metadata=meta))
    return rules


def _regex_rules(lang: NoteLanguage) -> list[Any]:
    """Measurements, power grades and pain scores as medspaCy TargetRules with regular-expression patterns."""
    from medspacy.target_matcher import TargetRule

    rules = []
    for m in lang.measurements:
        for j, rx in enumerate(m.patterns):
            meta = {"triggers": [t.lower() for t in m.triggers]}
            rules.append(TargetRule(f"{m.id}_{j}", f"MEAS:{m.id}", pattern=rx, metadata=meta))
    rules.append(TargetRule("power_grade", "GRADE", pattern=lang.power.grade_pattern))
    for i, op in enumerate(lang.procedures.operations):
        rules += [
            TargetRule(f"operation_{i}_{j}", f"PROC:{i}", pattern=rx) for j, rx in enumerate(op.patterns)
        ]
    for j, rx in enumerate(SCORE_PATTERNS):
        meta = {"triggers": SCORE_TRIGGERS}
        rules.append(TargetRule(f"score_{j}", "SCORE", pattern=rx, metadata=meta))
    return rules


def _regex_component(rules: list[Any]) -> Any:
    """Run the regular-expression TargetRules over the text as medspaCy's RegexMatcher does (case-insensitive,
    widening to token boundaries), with spaCy's own character-to-token lookup."""
    from spacy.tokens import Span

    compiled = [
        (re.compile(r.pattern, re.IGNORECASE), r.category, tuple((r.metadata or {}).get("triggers") or ()))
        for r in rules
    ]

    def rc_regex(doc: Any) -> Any:
        found = []
        text = doc.text
        low = text.lower()
        for rx, label, triggers in compiled:
            if triggers and not any(t in low for t in triggers):
                continue  # no match can exist without one of these
            for m in rx.finditer(text):
                span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
                if span is not None and len(span):
                    found.append(Span(doc, span.start, span.end, label=label))
        doc.spans[TARGETS] = [*doc.spans[TARGETS], *found]
        return doc

    return rc_regex


def _procedure_rules(
    compiler: Compiler, lang: NoteLanguage, phrases_only: bool = False
) -> tuple[list[Any], list[str]]:
    from medspacy.target_matcher import TargetRule

    rules = []
    last_words: set[str] = set()
    for i, op in enumerate(lang.procedures.operations):
        for name in op.names:
            words = compiler.tokens(name)
            if not words:
                continue
            last_words.add(words[-1].lower())
            # a literal rule: medspaCy matches it with its PhraseMatcher (lower case)
            rules.append(TargetRule(name, f"PROC:{i}"))
    # "X-Stop", "X Stop", "x-stop": one token pattern (it also keeps the TargetMatcher's Matcher non-empty)
    spacer = next(
        i for i, op in enumerate(lang.procedures.operations) if op.procedure == "interspinous_spacer"
    )
    if phrases_only:  # fastcontext.run_targets: phrases only
        rules += [TargetRule(name, f"PROC:{spacer}") for name in ("X-Stop", "X Stop")]
    else:
        xstop = [{"LOWER": "x"}, {"ORTH": "-", "OP": "?"}, {"LOWER": "stop"}]
        rules.append(TargetRule("X-Stop", f"PROC:{spacer}", pattern=xstop))
    last_words.add("stop")
    return rules, sorted(last_words)


def _section_rules(lang: NoteLanguage, phrases_only: bool = False) -> list[Any]:
    """Section titles as literals "Title:" and "Title -" (medspaCy's PhraseMatcher). Where a title counts (at
    the start of a line; plan and assessment titles also at the start of a sentence) is checked when the
    sections are read (NoteDoc.build)."""
    from medspacy.section_detection import SectionRule

    rules = [
        SectionRule(f"{title}{mark}", sec.category)
        for sec in lang.sections
        for title in sec.titles
        for mark in (":", " -")
    ]
    if phrases_only:  # fastcontext.run_sections reads titles with the phrase matcher alone
        rules += [SectionRule(title, "past_history") for title in ("PMH/PSH:", "PMH/PSHx:")]
        return rules
    # "PMH/PSH:" as one token pattern (this also keeps the Sectionizer's token Matcher non-empty)
    pattern = [{"LOWER": "pmh"}, {"ORTH": "/"}, {"LOWER": {"IN": ["psh", "pshx"]}}, {"ORTH": ":"}]
    rules.append(SectionRule("PMH/PSH:", "past_history", pattern=pattern))
    return rules


def _skip_validation(component: Any) -> None:
    """Our generated patterns are tested; spaCy's per-pattern schema check adds seconds to each build."""
    for owner in ("_TargetMatcher__matcher", "_ConText__matcher", "_Sectionizer__matcher"):
        medspacy_matcher = getattr(component, owner, None)
        inner = getattr(medspacy_matcher, "_MedspacyMatcher__matcher", None)
        if inner is not None and hasattr(inner, "validate"):
            inner.validate = False


def build_pipeline(lang: NoteLanguage | None = None, fast: bool = True) -> Pipeline:
    """Build the spaCy/medspaCy pipeline (slow: call through get_pipeline). ``fast`` runs ConText and the
    Sectionizer through fastcontext.py (same results, a third less time); False runs medspaCy's own calls."""
    import medspacy  # noqa: F401  (registers the medspacy_* factories)
    import spacy
    from loguru import logger
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token
    from spacy.util import compile_prefix_regex, compile_suffix_regex

    from rootcause.adapters.notes.fastcontext import run_context, run_sections, run_targets
    from rootcause.adapters.notes.language import knowledge_findings
    from rootcause.adapters.notes.select import make_selector

    logger.disable("PyRuSH")
    findings = knowledge_findings()
    lang = lang or default_language()
    nlp: Any = spacy.blank("en")
    prefixes = [r"↑+", r"↓+", r"~", r"≥", r"≤", r"-(?=[A-Z]{2})", *nlp.Defaults.prefixes]  # "-XSLR"
    suffixes = [r"(?<=[A-Za-z])\+", r"(?<=[&/+0-9][A-Za-z])\.", r"(?<=^[A-Za-z])\.", *nlp.Defaults.suffixes]
    nlp.tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    # "c/d/i." and "0/5 R." end with a letter and a full stop, not an abbreviation "i." / "R." (initials are
    # told apart when sentences are split)
    nlp.tokenizer.rules = {
        k: v for k, v in nlp.tokenizer.rules.items() if not (len(k) == 2 and k[0].isalpha() and k[1] == ".")
    }
    if not _TOKENIZER_NLP:
        _TOKENIZER_NLP.append(nlp)
    else:
        _TOKENIZER_NLP[0] = nlp
    for attrs in SPAN_ATTRS.values():
        for attr in attrs:
            if not Span.has_extension(attr):
                Span.set_extension(attr, default=False)
    if not Doc.has_extension("rc_target_list"):
        Doc.set_extension("rc_target_list", default=None)
    if not Token.has_extension("rc_section"):
        Token.set_extension("rc_section", default=None)

    compiler = Compiler(nlp, lang)
    index = PhraseIndex(
        nlp,
        {w.lower() for w in lang.flex.optional_words},
        {w.lower() for w in lang.flex.determiners},
        re.compile(lang.flex.level_pattern),
        lang.placeholders,
    )
    for rule in [*_lexicon_rules(findings, lang), *_frame_rules(lang)]:
        index.add(rule)

    def rc_phrases(doc: Any) -> Any:
        doc.spans[TARGETS] = [Span(doc, a, b, label=label) for label, a, b in index(doc)]
        return doc

    # component names are global in spaCy's registry: each build gets its own (a second build with the same
    # names would run the first build's components)
    uid = f"{id(lang)}_{next(_BUILDS)}"
    names = {k: f"rc_{k}_{uid}" for k in ("sentences", "phrases", "regex", "select", "context")}
    Language.component(names["sentences"], func=_sentencizer_factory(lang))
    Language.component(names["phrases"], func=rc_phrases)
    Language.component(names["regex"], func=_regex_component(_regex_rules(lang)))
    Language.component(names["select"], func=make_selector(lang))
    nlp.add_pipe(names["sentences"])
    nlp.add_pipe(names["phrases"])
    nlp.add_pipe(names["regex"])
    matcher = nlp.add_pipe(
        "medspacy_target_matcher",
        config={"result_type": "group", "span_group_name": TARGETS, "prune": False},
    )
    proc_rules, proc_words = _procedure_rules(compiler, lang, phrases_only=fast)
    _skip_validation(matcher)
    matcher.add(proc_rules)
    if fast:
        nlp.remove_pipe("medspacy_target_matcher")
        names["targets"] = f"rc_targets_{uid}"
        Language.component(names["targets"], func=lambda doc: run_targets(matcher, doc, TARGETS))
        nlp.add_pipe(names["targets"], after=names["regex"])
    nlp.add_pipe(names["select"])
    context = nlp.add_pipe(
        "medspacy_context",
        name="rc_context_impl",
        config={
            "rules": None,
            "input_span_type": "group",
            "span_group_name": TARGETS,
            "span_attrs": SPAN_ATTRS,
            "prune_on_modifier_overlap": True,
            "prune_on_target_overlap": True,
        },
    )
    _skip_validation(context)
    context.add(_context_rules(lang, proc_words, literal_sent_start=fast))
    # ConText reads our targets from a plain list (Doc._.rc_target_list): iterating the SpanGroup would
    # rebuild every Span for every modifier/target pair
    nlp.remove_pipe("rc_context_impl")

    def medspacy_context(doc: Any) -> Any:
        doc._.rc_target_list = list(doc.spans[TARGETS]) if TARGETS in doc.spans else []
        if fast:
            return run_context(context, doc, doc._.rc_target_list)
        return context(doc, targets="rc_target_list")

    Language.component(names["context"], func=medspacy_context)
    nlp.add_pipe(names["context"])
    sectionizer = nlp.add_pipe(
        "medspacy_sectionizer",
        config={
            "rules": None,
            "input_span_type": "group",
            "span_group_name": TARGETS,
            "require_start_line": False,
            "span_attrs": None,
        },
    )
    _skip_validation(sectionizer)
    sectionizer.add(_section_rules(lang, phrases_only=fast))
    if fast:
        nlp.remove_pipe("medspacy_sectionizer")
        names["sections"] = f"rc_sections_{uid}"
        Language.component(names["sections"], func=lambda doc: run_sections(sectionizer, doc))
        nlp.add_pipe(names["sections"])
    categories = {f.id: str(f.category) for f in findings}
    from rootcause.adapters.notes.typos import build_corrector

    corrector = build_corrector([*_strings(lang), *_strings([f.lexicon for f in findings])])
    return Pipeline(
        nlp=nlp, lang=lang, finding_category=categories, frames=tuple(lang.frames), corrector=corrector
    )


@lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    """The shared pipeline, built on first use (about a second) and reused. The objects built so far are then
    moved out of the garbage collector's way (gc.freeze): the pipeline's hundreds of thousands of long-lived
    objects would otherwise be rescanned while notes are read."""
    import gc

    pipeline = build_pipeline()
    gc.collect()
    gc.freeze()
    return pipeline
