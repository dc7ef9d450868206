"""Typed, strict models of the knowledge-base files.

Every model forbids unknown keys so a typo in a YAML file is an error, not a silently
ignored setting. Every number that shapes a probability is a `Sourced*` value: it names
reference ids (resolved against ``references.yaml`` by the loader) or carries an explicit
``estimate`` with its reasoning.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Re-exported: the names live in vocabulary.py, which does not import pydantic.
from rootcause.knowledge.vocabulary import PROCEDURES as PROCEDURES
from rootcause.knowledge.vocabulary import TRIAGE_LEVELS as TRIAGE_LEVELS
from rootcause.knowledge.vocabulary import Procedure as Procedure
from rootcause.knowledge.vocabulary import TriageLevel as TriageLevel

FindingCategory = Literal[
    "history", "symptom", "risk_factor", "examination", "laboratory", "imaging", "procedure"
]
CostTier = Literal["history", "examination", "laboratory", "imaging", "invasive"]
EvidenceStrength = Literal["high", "moderate", "low", "very_low", "expert_opinion", "against"]
TreatmentKind = Literal[
    "self_care",
    "physiotherapy",
    "medication",
    "injection",
    "procedure",
    "surgery",
    "emergency_surgery",
    "referral",
    "watchful_waiting",
    "device",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
RefId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]


class Strict(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import; most
    # models only ever validate nested in a file's model, and a knowledge base read from the
    # load cache (loader.py) builds none. Validation itself is the same either way.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Sourced(Strict):
    """Provenance shared by every number: references or an explicit estimate."""

    source: list[RefId] = Field(default_factory=list)
    estimate: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _has_basis(self) -> Sourced:
        if not self.source and not (self.estimate and self.estimate.strip()):
            raise ValueError("needs 'source' (reference ids) or 'estimate' (the reasoning behind the number)")
        return self


class SourcedProbability(Sourced):
    p: Probability


class SourcedWeight(Sourced):
    value: Annotated[float, Field(gt=0.0)]


class SourcedDistribution(Sourced):
    """A categorical distribution over named states; must sum to 1 (within 0.02)."""

    values: dict[str, Probability]

    @model_validator(mode="after")
    def _sums_to_one(self) -> SourcedDistribution:
        total = sum(self.values.values())
        if abs(total - 1.0) > 0.02:
            raise ValueError(f"values must sum to 1, got {total:.3f}")
        return self


# ---------------------------------------------------------------- references


class Reference(Strict):
    id: RefId
    citation: str
    year: int | None = None
    identifier: str | None = Field(default=None, description="DOI, PMID, PMC id or URL")
    verified: bool = Field(default=False, description="True when the figure was read in the primary source")
    note: str | None = None


# ---------------------------------------------------------------- findings


class Coding(Strict):
    system: str
    code: str
    display: str | None = None
    verified: bool = False


class Lexicon(Strict):
    """Words a note reader matches for this finding (data, so clinicians can extend it)."""

    clinician: list[str] = Field(default_factory=list)
    abbreviations: list[str] = Field(default_factory=list)
    lay: list[str] = Field(default_factory=list)
    negated_forms: list[str] = Field(
        default_factory=list, description="phrases that state the finding is absent"
    )


class Finding(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    category: FindingCategory
    cost_tier: CostTier
    clinician_text: str
    patient_text: str = Field(description="plain words stating the finding")
    clinician_question: str
    patient_question: str | None = Field(
        default=None, description="None when a patient cannot answer it (exam, tests)"
    )
    base_rate: SourcedProbability = Field(
        description="P(finding | a cause the knowledge base does not link to it): the leak"
    )
    red_flag: bool = False
    lexicon: Lexicon = Field(default_factory=Lexicon)
    coding: list[Coding] = Field(default_factory=list)


class CostTierInfo(Strict):
    id: CostTier
    weight: Annotated[float, Field(gt=0)]
    label: str


class FindingsFile(Strict):
    cost_tiers: list[CostTierInfo]
    findings: list[Finding]


# ---------------------------------------------------------------- conditions


class ConditionCodes(Strict):
    icd10cm: list[Coding] = Field(default_factory=list)
    snomed: list[Coding] = Field(default_factory=list)


class PriorModifier(Sourced):
    """Multiplies the prior when the case states the surgical context (route, approach…)."""

    when: dict[Literal["route", "approach", "instrumented", "procedure"], str | bool]
    factor: Annotated[float, Field(gt=0)]


class AgeModifier(Sourced):
    min_age: int | None = None
    max_age: int | None = None
    factor: Annotated[float, Field(gt=0)]


class SexModifier(Sourced):
    sex: Literal["male", "female"]
    factor: Annotated[float, Field(gt=0)]


class Timing(Strict):
    onset: SourcedDistribution = Field(description="P(onset bin | cause) over timing.yaml bins")
    onset_by_procedure: dict[Procedure, SourcedDistribution] = Field(default_factory=dict)
    assessed: SourcedDistribution | None = Field(
        default=None,
        description="P(days-since-surgery bin | cause): how long the cause keeps presenting",
    )
    assessed_by_procedure: dict[Procedure, SourcedDistribution] = Field(default_factory=dict)
    relief: SourcedDistribution
    speed: SourcedDistribution
    trend: SourcedDistribution


class Treatment(Strict):
    name: str
    kind: TreatmentKind
    description: str
    provider: str
    evidence: EvidenceStrength
    evidence_summary: str
    source: list[RefId] = Field(default_factory=list)
    estimate: str | None = None
    self_care: bool = Field(default=False, description="something the patient can do")
    seed_claim: str | None = None

    @model_validator(mode="after")
    def _has_basis(self) -> Treatment:
        if not self.source and not self.estimate:
            raise ValueError("treatment needs 'source' or 'estimate'")
        return self


class Urgency(Sourced):
    level: TriageLevel


class Condition(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    clinician_description: str
    patient_description: str
    group: Literal["spinal_early", "spinal_late", "spinal_structural", "non_spinal", "rare"]
    rare: bool = False
    seed_claims: list[str] = Field(default_factory=list)
    codes: ConditionCodes = Field(default_factory=ConditionCodes)
    urgency: Urgency
    prior: dict[Procedure, SourcedWeight]
    prior_modifiers: list[PriorModifier] = Field(default_factory=list)
    age_modifiers: list[AgeModifier] = Field(default_factory=list)
    sex_modifiers: list[SexModifier] = Field(default_factory=list)
    timing: Timing
    likelihoods: dict[str, SourcedProbability]
    treatments: list[Treatment]
    literature_notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _every_procedure_has_prior(self) -> Condition:
        missing = [p for p in PROCEDURES if p not in self.prior]
        if missing:
            raise ValueError(f"prior is missing procedures: {', '.join(missing)}")
        return self


# ---------------------------------------------------------------- timing bins


class Bin(Strict):
    id: str
    min_days: int
    max_days: int | None = None
    label: str


class StateSet(Strict):
    states: list[str]
    description: str


class TimingFile(Strict):
    onset_bins: list[Bin]
    assessed_bins: list[Bin]
    default_assessed: SourcedDistribution
    relief: StateSet
    speed: StateSet
    trend: StateSet


# ---------------------------------------------------------------- triage


class RuleCondition(Strict):
    """All of `all` true, at least one of `any` true, within the day window if known."""

    all: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    min_days: int | None = None
    max_days: int | None = None
    onset_speed: Literal["sudden", "gradual"] | None = None
    min_onset_days: int | None = Field(
        default=None, description="the episode began at least this many days after surgery (if known)"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> RuleCondition:
        if not self.all and not self.any:
            raise ValueError("a rule needs findings in 'all' or 'any'")
        return self


class TriageRule(Sourced):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    level: TriageLevel
    when: RuleCondition
    reason: str
    patient_advice: str


class Escalation(Sourced):
    level: TriageLevel
    threshold: Probability


class LevelAdvice(Strict):
    level: TriageLevel
    label: str
    clinician: str
    patient: str


class FitSettings(Sourced):
    z_threshold: float
    min_findings: int


class TriageFile(Strict):
    rules: list[TriageRule]
    escalation: list[Escalation]
    advice: list[LevelAdvice]
    fit: FitSettings


# ---------------------------------------------------------------- procedures, seed claims


class ProcedureInfo(Strict):
    id: Procedure
    name: str
    patient_name: str
    includes: list[str]
    instrumented_default: bool
    coding: list[Coding] = Field(default_factory=list)


class SeedClaim(Strict):
    id: Annotated[str, Field(pattern=r"^S[0-9]{2}$")]
    claim: str
    verdict: Literal["supported", "partly_supported", "corrected", "unsupported"]
    literature: str
    source: list[RefId] = Field(default_factory=list)
    carried_by: list[str] = Field(description="knowledge-base entries, e.g. conditions/x.yaml")
    tests: list[str] = Field(description="test node ids that check the behaviour")


class Manifest(Strict):
    version: str
    title: str
    disclaimer: str
    leak_floor: Probability = Field(description="the smallest probability any table may hold")


# ---------------------------------------------------------------- interview


class ChoiceOption(Strict):
    value: str
    patient: str
    clinician: str


class Implied(Strict):
    field: str
    value: str
    sets: int


class TimelineQuestion(Strict):
    id: Literal[
        "surgery.procedure",
        "surgery.route",
        "days_since_surgery",
        "leg_pain.relief_after_surgery",
        "leg_pain.onset_days",
        "leg_pain.onset_speed",
        "leg_pain.trend",
    ]
    kind: Literal["choice", "days"]
    patient: str
    clinician: str
    options: list[ChoiceOption] = Field(default_factory=list)
    implied_by: Implied | None = None
    skip_if_onset_day_zero: bool = False
    only_for_procedures: list[Procedure] = Field(default_factory=list)


class InterviewSettings(Sourced):
    stop_probability: Probability
    min_value_per_cost: Annotated[float, Field(ge=0)]
    max_questions: Annotated[int, Field(ge=1)]


class Checklist(Strict):
    """One grouped question: tick what is present; unticked items are recorded as absent."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    patient: str
    clinician: str
    red_flags: bool = Field(default=False, description="the items are every red-flag finding")
    findings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_items(self) -> Checklist:
        if self.red_flags == bool(self.findings):
            raise ValueError("a checklist has either red_flags: true or a findings list")
        return self


class InterviewFile(Strict):
    settings: InterviewSettings
    timeline: list[TimelineQuestion]
    checklists: list[Checklist]

    @model_validator(mode="after")
    def _one_red_flag_screen(self) -> InterviewFile:
        if sum(c.red_flags for c in self.checklists) != 1:
            raise ValueError("exactly one checklist must be the red-flag screen (red_flags: true)")
        return self
