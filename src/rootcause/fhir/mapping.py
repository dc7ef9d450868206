"""The FHIR mapping table (``knowledge/data/fhir_mapping.yaml``): typed, validated, indexed.

The YAML is data: which codes mean which finding or procedure, how a lab value or an answer decides a
finding, which words hint at the surgical route. This module validates it (unknown keys are errors,
every regex must compile, every finding id must exist in the knowledge base) and builds the lookup
indexes the reader uses. Nothing here reads FHIR resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rootcause.errors import KnowledgeBaseError
from rootcause.knowledge.loader import KnowledgeBase, load_yaml
from rootcause.knowledge.schema import PROCEDURES, Procedure

MAPPING_FILE = "fhir_mapping.yaml"

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"

# Procedure precedence when several match on the selected day (documented in the YAML).
PROCEDURE_PRECEDENCE: tuple[Procedure, ...] = (
    "fusion",
    "interspinous_spacer",
    "discectomy",
    "laminectomy",
    "other",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


class MappedCoding(_Strict):
    system: str
    code: str
    display: str | None = None
    verified: bool = False
    match: Literal["exact", "prefix", "regex"] = "exact"

    @model_validator(mode="after")
    def _regex_compiles(self) -> MappedCoding:
        if self.match == "regex":
            _check_regex(self.code)
        return self

    def matches(self, system: str, code: str) -> bool:
        if system != self.system:
            return False
        if self.match == "exact":
            return code == self.code
        if self.match == "prefix":
            return code.upper().startswith(self.code.upper())
        return re.search(self.code, code, re.IGNORECASE) is not None


class UnitConversion(_Strict):
    """value_in_unit = (value + offset) * scale."""

    scale: float
    offset: float = 0.0


class Measurement(_Strict):
    rule: Literal["interpretation", "threshold", "answer", "recognised"]
    coding: list[MappedCoding] = Field(min_length=1)
    unit: str | None = None
    unit_conversions: dict[str, UnitConversion] = Field(default_factory=dict)
    present_at_or_above: float | None = None
    present_below: float | None = None
    absent_below: float | None = None
    absent_at_or_above: float | None = None
    present_answers: list[MappedCoding] = Field(default_factory=list)
    absent_answers: list[MappedCoding] = Field(default_factory=list)
    present_interpretation: list[str] = Field(default_factory=lambda: ["H", "HH", "HU", "A", "AA"])
    absent_interpretation: list[str] = Field(default_factory=lambda: ["N", "L", "LL", "LU"])
    min_days_after_surgery: int | None = Field(
        default=None, description="a 'present' result earlier than this day after surgery is not converted"
    )
    note: str | None = None

    @model_validator(mode="after")
    def _rule_has_its_settings(self) -> Measurement:
        thresholds = (
            self.present_at_or_above,
            self.present_below,
            self.absent_below,
            self.absent_at_or_above,
        )
        if self.rule == "threshold" and all(t is None for t in thresholds):
            raise ValueError("rule 'threshold' needs at least one threshold")
        if self.rule == "answer" and not (self.present_answers or self.absent_answers):
            raise ValueError("rule 'answer' needs present_answers or absent_answers")
        return self


class FindingMapping(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    coding: list[MappedCoding] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    window: Literal["post_op", "any"] | None = None
    resolve: Literal["latest", "any_true"] = "latest"
    current_only: bool = False
    note: str | None = None


class ProcedureMapping(_Strict):
    id: Procedure
    coding: list[MappedCoding] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)

    @field_validator("text")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        return [_check_regex(p) for p in value]


class HintSet(_Strict):
    route: Literal["posterior", "anterior", "lateral", "combined"] | None = None
    approach: Literal["open", "minimally_invasive"] | None = None
    instrumented: bool | None = None


class Hint(_Strict):
    text: str | None = None
    system: str | None = None
    code: str | None = None
    match: Literal["exact", "prefix", "regex"] = "exact"
    set: HintSet

    @model_validator(mode="after")
    def _text_or_code(self) -> Hint:
        if (self.text is None) == (self.system is None or self.code is None):
            raise ValueError("a hint needs either 'text' or both 'system' and 'code'")
        if self.text is not None:
            _check_regex(self.text)
        if self.match == "regex" and self.code is not None:
            _check_regex(self.code)
        return self

    def coding(self) -> MappedCoding | None:
        return self._coding

    @cached_property
    def _coding(self) -> MappedCoding | None:  # built once: hints are read for every Procedure
        if self.system is None or self.code is None:
            return None
        return MappedCoding(system=self.system, code=self.code, match=self.match)


class Answers(_Strict):
    present: list[MappedCoding]
    absent: list[MappedCoding]
    present_text: list[str]
    absent_text: list[str]
    present_interpretation: list[str]
    absent_interpretation: list[str]


class PainScoreMapping(_Strict):
    coding: list[MappedCoding] = Field(min_length=1)
    leg_words: list[str]
    other_site_words: list[str]


class CodeSystems(_Strict):
    finding: str
    procedure: str
    condition: str
    observation: str
    method: str
    triage: str


class FhirMappingFile(_Strict):
    code_systems: CodeSystems
    equivalent_systems: dict[str, str] = Field(default_factory=dict)
    answers: Answers
    pain_scores: PainScoreMapping
    procedures: list[ProcedureMapping]
    non_lumbar_text: list[str]
    lumbar_text: list[str]
    spine_text: list[str]
    hints: list[Hint]
    findings: list[FindingMapping]

    @field_validator("non_lumbar_text", "lumbar_text", "spine_text")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        return [_check_regex(p) for p in value]

    @model_validator(mode="after")
    def _unique_and_complete(self) -> FhirMappingFile:
        ids = [f.id for f in self.findings]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate finding ids: {', '.join(dupes)}")
        procs = [p.id for p in self.procedures]
        missing = [p for p in PROCEDURES if p not in procs]
        if missing or len(set(procs)) != len(procs):
            raise ValueError(f"procedures must list each of {list(PROCEDURES)} once; missing {missing}")
        return self


def _compile_any(patterns: Iterable[str]) -> re.Pattern[str]:
    joined = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(joined or r"(?!x)x", re.IGNORECASE)


@dataclass(frozen=True)
class FhirMapping:
    """The validated table plus the indexes the reader needs."""

    table: FhirMappingFile
    finding_category: dict[str, str]

    @property
    def systems(self) -> CodeSystems:
        return self.table.code_systems

    def normalise_system(self, system: str | None) -> str:
        if not system:
            return ""
        return self.table.equivalent_systems.get(system, system)

    @cached_property
    def findings(self) -> dict[str, FindingMapping]:
        return {f.id: f for f in self.table.findings}

    @cached_property
    def procedures(self) -> dict[str, ProcedureMapping]:
        return {p.id: p for p in self.table.procedures}

    @cached_property
    def procedure_text(self) -> dict[str, re.Pattern[str]]:
        return {p.id: _compile_any(p.text) for p in self.table.procedures}

    @cached_property
    def non_lumbar(self) -> re.Pattern[str]:
        return _compile_any(self.table.non_lumbar_text)

    @cached_property
    def lumbar(self) -> re.Pattern[str]:
        return _compile_any(self.table.lumbar_text)

    @cached_property
    def spine(self) -> re.Pattern[str]:
        return _compile_any(self.table.spine_text)

    def window(self, finding_id: str) -> Literal["post_op", "any"]:
        explicit = self.findings[finding_id].window
        if explicit is not None:
            return explicit
        return "any" if self.finding_category.get(finding_id) == "risk_factor" else "post_op"

    def finding_for_code(self, system: str, code: str) -> str | None:
        """The finding a code names directly (rootcause finding code system included)."""
        system = self.normalise_system(system)
        if system == self.systems.finding:
            return code if code in self.findings else None
        for f in self.table.findings:
            if any(c.matches(system, code) for c in f.coding):
                return f.id
        return None

    def measurement_for_code(self, system: str, code: str) -> tuple[str, Measurement] | None:
        system = self.normalise_system(system)
        for f in self.table.findings:
            for m in f.measurements:
                if any(c.matches(system, code) for c in m.coding):
                    return f.id, m
        return None

    def procedure_for_code(self, system: str, code: str) -> Procedure | None:
        system = self.normalise_system(system)
        if system == self.systems.procedure:
            for known in PROCEDURES:
                if code == known:
                    return known
            return None
        for pid in PROCEDURE_PRECEDENCE:
            if any(c.matches(system, code) for c in self.procedures[pid].coding):
                return pid
        return None

    def is_pain_score(self, system: str, code: str) -> bool:
        system = self.normalise_system(system)
        return any(c.matches(system, code) for c in self.table.pain_scores.coding)

    def answer(self, system: str, code: str) -> bool | None:
        system = self.normalise_system(system)
        if any(c.matches(system, code) for c in self.table.answers.present):
            return True
        if any(c.matches(system, code) for c in self.table.answers.absent):
            return False
        return None

    def answer_text(self, text: str) -> bool | None:
        t = text.strip().lower()
        if t in self.table.answers.present_text:
            return True
        if t in self.table.answers.absent_text:
            return False
        return None

    def finding_coding(self, finding_id: str) -> list[dict[str, Any]]:
        """FHIR codings for a finding: its standard codes, then the rootcause code."""
        out = [
            {"system": c.system, "code": c.code, "display": c.display}
            for c in self.findings[finding_id].coding
            if c.match == "exact"
        ]
        out.append({"system": self.systems.finding, "code": finding_id})
        return out


def default_mapping_path() -> Path:
    return Path(str(resources.files("rootcause.knowledge").joinpath("data", MAPPING_FILE)))


def load_mapping(kb: KnowledgeBase, path: Path | None = None) -> FhirMapping:
    """Read and validate the mapping; every knowledge-base finding must be listed, and nothing else."""
    where = path or default_mapping_path()
    try:
        raw = load_yaml(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError([f"{where.name}: cannot read ({exc})"]) from exc
    try:
        table = FhirMappingFile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{where.name}: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise KnowledgeBaseError(problems) from exc
    listed = [f.id for f in table.findings]
    known = kb.finding_ids
    problems = [
        f"{where.name}: finding {fid!r} is not in the knowledge base" for fid in listed if fid not in known
    ]
    problems += [f"{where.name}: finding {fid!r} is missing" for fid in known if fid not in listed]
    if problems:
        raise KnowledgeBaseError(problems)
    return FhirMapping(table=table, finding_category={f.id: f.category for f in kb.findings})
