"""The note reader's language data (knowledge/data/note_language.yaml): typed, strict, loaded once.

Every model forbids unknown keys, so a typo in the YAML is an error naming the key, not a rule that
silently never fires. Regular expressions are compiled at load time, so a bad pattern fails here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rootcause.errors import KnowledgeBaseError
from rootcause.knowledge.loader import load_knowledge_base, load_yaml
from rootcause.knowledge.schema import Finding

ProcedureId = Literal["discectomy", "laminectomy", "fusion", "interspinous_spacer", "other"]
Direction = Literal["FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"bad regular expression {p!r}: {exc}") from exc
    return patterns


class RunOn(Strict):
    """Dictation with no punctuation at all: where its sentences start."""

    words_per_break: int = Field(ge=10)  # fewer sentence ends and new lines than one per this many words
    openers: list[str]  # words that start a clause (one or more words each)
    not_after: list[str]  # ... unless the word before joins them to it ("when she sits", "of the")


class Sentences(Strict):
    abbreviations: list[str]
    answers: list[str] = []
    answer_speakers: list[str] = []
    run_on: RunOn | None = None


class Flex(Strict):
    optional_words: list[str]
    determiners: list[str]
    level_pattern: str
    max_optional: int = Field(ge=0, le=4)


class SectionRule(Strict):
    category: str
    titles: list[str]


class SectionEffects(Strict):
    ignore: list[str]
    family: list[str]
    examination: list[str]


class ContextRuleGroup(Strict):
    category: str
    direction: Direction
    literals: list[str] = Field(default_factory=list)
    patterns: list[list[dict[str, Any]]] = Field(default_factory=list)
    max_scope: int | None = Field(default=None, gt=0)
    max_targets: int | None = Field(default=None, gt=0)
    terminated_by: list[str] = Field(default_factory=list, description="categories that end this cue's scope")
    reaches_list: bool = Field(
        default=False,
        description="a cue of this group that ends a heading line with a colon also reaches the bulleted or "
        "numbered list under it (``list_headings``)",
    )

    @model_validator(mode="after")
    def _has_rules(self) -> ContextRuleGroup:
        if not self.literals and not self.patterns:
            raise ValueError("needs literals or patterns")
        return self


class ListHeadings(Strict):
    """When a cue of a ``reaches_list`` group reaches the list under its heading line."""

    reach: int = Field(ge=0, le=12, description="words at most between the cue and the colon ending its line")
    not_cues: list[str] = Field(
        default_factory=list,
        description="cues of such a group that head a list of facts, not of what the cue says",
    )


class Frame(Strict):
    finding: str
    names: list[str]
    positive: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)
    order: Literal["name_first", "any"] = "name_first"
    max_gap: int | None = Field(
        default=None, ge=0, le=24, description="tokens between name and result (default: frame_max_gap)"
    )
    block_before: list[str] = Field(
        default_factory=list, description="a name after one of these words or phrases is not read"
    )
    block_after: list[str] = Field(default_factory=list, description="a name before one of these is not read")
    not_in_sentence_with: list[str] = Field(
        default_factory=list, description="not read in a sentence with one of these words (single words)"
    )
    negative_block_after: list[str] = Field(
        default_factory=list,
        description="no negative result for a name before one of these ('normal sensation over')",
    )
    degrees_negative_from: float | None = None
    bare_name_absent: bool = Field(
        default=False, description="the name alone, negated or resolved, says absent ('no headache')"
    )
    consumes_result: bool = Field(
        default=True, description="the result words serve the frame only (no finding of their own)"
    )


class FrameQualifier(Strict):
    finding: str
    require: list[str]
    negate: list[str]


class DayThreshold(Strict):
    up_to_day: int
    true_above: float
    false_at_or_below: float


class UnknownDay(Strict):
    true_above: float
    false_at_or_below: float


class LossVolume(Strict):
    """A stated blood loss explains a fall only if it is large enough for it."""

    pattern: str = Field(description="finds the volume after an explanation word: groups `volume`, `unit`")
    ml_per_unit_fall: float = Field(gt=0, description="mL of stated loss needed per unit of fall")
    estimate: str = Field(min_length=10, description="the reasoning behind ml_per_unit_fall")

    @field_validator("pattern")
    @classmethod
    def _check(cls, pattern: str) -> str:
        return _check_regex([pattern])[0]


class Measurement(Strict):
    id: str
    finding: str
    patterns: list[str]
    value_pattern: str | None = None
    range: tuple[float, float]
    true_at_or_above: float | None = None
    true_above: float | None = None
    true_below: float | None = None
    false_below: float | None = None
    age_adjusted: bool = False
    by_day: list[DayThreshold] = Field(default_factory=list)
    unknown_day: UnknownDay | None = None
    large_unit_true_above: float | None = None
    drop_at_least: float | None = None
    explained_by: list[str] = Field(default_factory=list)
    loss_volume: LossVolume | None = None
    triggers: list[str] = Field(
        default_factory=list,
        description="lower-case strings one of which every match contains: the patterns are skipped for "
        "a note "
        "without any (speed only; empty = always run)",
    )
    not_explained_cues: list[str] = Field(
        default_factory=list, description="near an explained_by word these say it does not explain the value"
    )

    _check = field_validator("patterns")(_check_regex)


class GradeProgression(Strict):
    then: str
    was: str
    earlier_after: str
    earlier_sentence: str
    current_sentence: str


class Power(Strict):
    grade_pattern: str
    sides_header: str = Field(description="a sentence with this gives grades as right/left pairs ('4/3')")
    generic: list[str]
    test_counts: list[str] = Field(
        description="a sentence naming one of these and no muscle counts tests ('SIJ ... (0/5)'): no grades"
    )
    muscles: dict[str, list[str]]
    foot_drop_muscles: list[str]
    foot_drop_at_or_below: int
    femoral_muscles: list[str]
    femoral_support: list[list[str]]
    progression: GradeProgression
    not_weakness_after: list[str] = Field(
        default=[],
        description="a grade below 5 followed by one of these is not weakness ('4/5 pain-limited')",
    )

    @model_validator(mode="after")
    def _known_muscles(self) -> Power:
        for m in [*self.foot_drop_muscles, *self.femoral_muscles]:
            if m not in self.muscles:
                raise ValueError(f"unknown muscle group {m!r}; expected one of {', '.join(self.muscles)}")
        p = self.progression
        _check_regex(
            [
                self.grade_pattern,
                self.sides_header,
                p.then,
                p.was,
                p.earlier_after,
                p.earlier_sentence,
                *[p.current_sentence],
            ]
        )
        return self


class ReadingQualifier(Strict):
    finding: str
    words: list[str]
    sets: dict[str, bool]


class NewDeficit(Strict):
    earlier_cues: list[str]
    history_findings: list[str]
    since_operation_cues: list[str] = []  # earlier_cues that date the normal power after the operation


class Implication(Strict):
    when: str
    is_: bool = Field(alias="is")
    then: dict[str, bool]


class FindingRules(Strict):
    current_categories: list[str]
    since_surgery: list[str]
    discontinuable: list[str]
    examiner_only: list[str]
    examiner_cues: list[str]
    max_days_after_surgery: dict[str, int]
    modalities: dict[str, list[str]]
    modality_not_result: list[str]
    finding_modalities: dict[str, list[str]]
    root_block_relief_percent: int = Field(
        ge=1, le=100, description="relief after a diagnostic root block that counts as a positive block"
    )
    not_with: dict[str, list[str]] = Field(
        default_factory=dict,
        description="finding -> findings whose frame in the same sentence means the words describe the other "
        "finding ('sensation reduced over the L5 dermatome' is sensory loss, not the pain's distribution)",
    )
    resolved_later: dict[str, list[str]] = Field(
        default_factory=dict,
        description="finding -> words that, later in the same sentence, say the problem has gone (read as "
        "RESOLVED); not after 'previously', 'before', 'until', 'was' or 'had been'",
    )
    modality_from_title: bool = Field(
        default=True,
        description="a report whose first line names one modality ('MRI LUMBAR SPINE') is read as that",
    )

    @model_validator(mode="after")
    def _known_modalities(self) -> FindingRules:
        for fid, mods in self.finding_modalities.items():
            for m in mods:
                if m not in self.modalities:
                    raise ValueError(f"finding_modalities.{fid}: unknown modality {m!r}")
        return self


class Operation(Strict):
    names: list[str]
    patterns: list[str] = Field(
        default_factory=list,
        description="regular expressions for lay descriptions ('operation on my L4-5 disc')",
    )
    procedure: ProcedureId
    route: Literal["posterior", "anterior", "lateral", "combined"] | None = None
    approach: Literal["open", "minimally_invasive"] | None = None
    instrumented: bool | None = None


class Procedures(Strict):
    operations: list[Operation]
    precedence: list[ProcedureId]
    combined_when: list[str]
    approach_words: dict[Literal["open", "minimally_invasive"], list[str]]
    implant_words: list[str]
    not_implant_words: list[str]
    back_references: list[str]


class DateStyle(Strict):
    """Regular expressions counted to tell US (month first) from day-first notes, when every numeric
    date in a note fits both orders."""

    month_first_cues: list[str]
    day_first_cues: list[str]

    _check = field_validator("month_first_cues", "day_first_cues")(_check_regex)


class Timeline(Strict):
    number_words: dict[str, float]
    date_style: DateStyle
    vague_quantities: list[str]
    units: dict[Literal["day", "week", "fortnight", "month", "year"], list[str]]
    unit_days: dict[Literal["day", "week", "fortnight", "month", "year"], float]
    month_names: dict[str, int]
    holidays: dict[str, tuple[int, int]] = Field(default_factory=dict)
    weekdays: dict[str, int]
    month_only_within: float
    note_date_cues: list[str]
    surgery_date_labels: list[str] = Field(
        description="a date right after one of these labels is the operation's ('Date of surgery: 07/17')"
    )
    surgery_date_labels_day_first: list[str] = Field(
        default_factory=list, description="the same, in notes that write dates day first only ('DOS')"
    )
    surgery_refs: list[str]
    other_event_dates: list[str] = Field(
        description="words before a date in the operation's sentence that date another event ('discharged')"
    )
    after_surgery: list[str]
    ago: list[str]
    relative_days: dict[str, int]
    since_operation: list[str]
    onset_verbs: list[str]
    events: list[str]
    trend_words: list[str]
    pain_words: list[str]
    leg_words: list[str]
    back_words: list[str]
    no_leg_pain: list[str]
    trend_exclude_after: list[str]
    durations_not: list[str]
    long_preop_days: int

    @model_validator(mode="after")
    def _regexes(self) -> Timeline:
        _check_regex([*self.after_surgery, *self.relative_days, *self.since_operation])
        return self


class Relief(Strict):
    none: list[str]
    partial: list[str]
    complete: list[str]
    score_drop: float = Field(
        gt=0, description="points a leg-pain score must fall from before the operation for partial relief"
    )
    zero_score_within_days: int = Field(
        gt=0, description="a dated leg-pain score of 0 up to this day after the operation is complete relief"
    )

    @model_validator(mode="after")
    def _regexes(self) -> Relief:
        _check_regex([*self.none, *self.partial, *self.complete])
        return self


class Speed(Strict):
    sudden: list[str]
    gradual: list[str]
    sudden_within_days: int

    @model_validator(mode="after")
    def _regexes(self) -> Speed:
        _check_regex([*self.sudden, *self.gradual])
        return self


class Trend(Strict):
    improving: list[str]
    stable: list[str]
    worsening: list[str]

    @model_validator(mode="after")
    def _regexes(self) -> Trend:
        _check_regex([*self.improving, *self.stable, *self.worsening])
        return self


class Sides(Strict):
    left: list[str]
    right: list[str]
    both: list[str]
    not_side_after: list[str]
    not_side_in_chronic_clause: list[str] = []


class Demographics(Strict):
    male_titles: list[str]
    female_titles: list[str]
    male_words: list[str]
    female_words: list[str]
    non_patient_cues: list[str] = Field(description="words before a titled name that make it a clinician's")
    clinician_after: list[str] = Field(
        description="words right after a titled name that make it a clinician's ('Mr Ellis came to see me')"
    )
    relatives: dict[str, Literal["male", "female"]] = Field(
        default_factory=dict, description="'my mum had her operation': the patient is the writer's relative"
    )


class Dictation(Strict):
    """Speech recognition's spoken punctuation, split words and spoken numbers (dictation.py)."""

    cue_pattern: str = Field(description="spoken punctuation that marks a dictated note")
    min_cues: int = Field(ge=1)
    punctuation: dict[str, str]
    joins: dict[str, str] = Field(description="words speech recognition splits in two ('lamin ectomy')")
    number_after: str = Field(description="a spoken number followed by this is written as digits")
    number_before: str = Field(description="a spoken number after this is written as digits")

    @model_validator(mode="after")
    def _patterns(self) -> Dictation:
        _check_regex([self.cue_pattern, self.number_after, self.number_before])
        return self


class Missing(Strict):
    always: list[str]
    red_flags: list[str]


class NoteLanguage(Strict):
    version: str
    sentences: Sentences
    flex: Flex
    placeholders: dict[str, list[str]]
    sections: list[SectionRule]
    section_effects: SectionEffects
    context: list[ContextRuleGroup]
    list_headings: ListHeadings
    frame_max_gap: int = Field(ge=0, le=12)
    frames: list[Frame]
    frame_qualifiers: list[FrameQualifier]
    negative_only: dict[str, list[str]]
    negated_form_cues: list[str] = Field(
        default_factory=list,
        description="a lexicon negated form opening with one of these is read as its remainder, negated by "
        "the cue, so the cue still reaches the rest of a list ('denies back pain, fevers or numbness')",
    )
    measurements: list[Measurement]
    power: Power
    dictation: Dictation
    reading_qualifiers: list[ReadingQualifier]
    reading_subjects: list[str] = Field(
        description="a next sentence opening with one of these is about the same reading ('It is no worse')"
    )
    unticked_boxes: list[str] = Field(
        description="marks of a form's unticked box: the option after one is blanked before reading"
    )
    copied_forward: list[str] = Field(
        description="cues of text an electronic record copied from an earlier note: what follows, to the end "
        "of its bracket or line, describes that earlier time"
    )
    preop_links: dict[str, str]
    new_deficit: NewDeficit
    implications: list[Implication]
    finding_rules: FindingRules
    procedures: Procedures
    timeline: Timeline
    relief: Relief
    speed: Speed
    trend: Trend
    sides: Sides
    demographics: Demographics
    missing: Missing

    def finding_ids_used(self) -> set[str]:
        """Every finding id the language data names (checked against the knowledge base)."""
        ids = {f.finding for f in self.frames} | {q.finding for q in self.frame_qualifiers}
        ids |= {m.finding for m in self.measurements} | set(self.negative_only)
        for imp in self.implications:
            ids |= {imp.when, *imp.then}
        ids |= set(self.preop_links) | set(self.preop_links.values())
        for rq in self.reading_qualifiers:
            ids |= {rq.finding, *rq.sets}
        ids |= set(self.new_deficit.history_findings)
        rules = self.finding_rules
        ids |= {*rules.since_surgery, *rules.discontinuable, *rules.examiner_only}
        ids |= {*rules.max_days_after_surgery, *rules.finding_modalities, *self.missing.red_flags}
        ids |= set(rules.not_with) | {x for xs in rules.not_with.values() for x in xs}
        return ids


def language_path() -> Path:
    return Path(str(resources.files("rootcause.knowledge").joinpath("data/note_language.yaml")))


def load_language(path: Path | None = None, finding_ids: set[str] | None = None) -> NoteLanguage:
    """Read and validate the language file; raise KnowledgeBaseError naming every problem."""
    where = path or language_path()
    try:
        raw = load_yaml(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError([f"{where.name}: cannot read ({exc})"]) from exc
    try:
        lang = NoteLanguage.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{where.name}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        ]
        raise KnowledgeBaseError(problems) from exc
    if finding_ids is not None:
        unknown = sorted(lang.finding_ids_used() - finding_ids)
        if unknown:
            raise KnowledgeBaseError([f"{where.name}: unknown finding id {u!r}" for u in unknown])
    return lang


@lru_cache(maxsize=1)
def knowledge_findings() -> tuple[Finding, ...]:
    """The packaged knowledge base's findings, through the one validated loader."""
    return load_knowledge_base().findings


@lru_cache(maxsize=1)
def default_language() -> NoteLanguage:
    return load_language(finding_ids={f.id for f in knowledge_findings()})
