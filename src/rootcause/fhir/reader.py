"""FHIR R4 Bundle (or a list of resources) → a rootcause case (spec/case-format.md §1).

Resources are validated with ``fhir.resources.R4B``: fhir.resources 7+ defaults to R5 and has no pure
4.0.1 package, and R4B (4.3) reads R4 JSON for every resource used here (Patient, Procedure,
Observation, Condition), so it is the R4-compatible choice.

- Patient: age at the assessment date from ``birthDate``; sex from ``gender``.
- Procedure: the most recent lumbar operation on or before the assessment date (``procedures.py``).
- Observation: leg-pain scores (LOINC 72514-3 and kin) → ``pain_scores`` with days relative to surgery;
  finding-coded observations (yes/no values, answers, interpretation) and measurements (lab flags,
  thresholds, smoking status) → ``findings``; ``dataAbsentReason`` = unknown.
- Condition: a mapped diagnosis → a finding (risk factors, DVT); ``verificationStatus`` refuted → false.

Unknown is not absent: nothing the record does not state becomes ``false``. Resources that are not
used are listed in ``unmapped``; the reasons for every decision go to ``notes``. In strict mode an
invalid resource raises ``FhirInputError`` naming the resource and field; otherwise it is skipped and
reported in ``problems``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from rootcause.errors import CaseError, FieldProblem
from rootcause.fhir.evidence import Evidence, resolve
from rootcause.fhir.mapping import FhirMapping, load_mapping
from rootcause.fhir.procedures import LumbarProcedure, choose_surgery, classify
from rootcause.fhir.values import (
    as_date,
    codings,
    concept_text,
    describe,
    is_partial,
    measurement_value,
    numeric_value,
    observation_date,
    yes_no,
)
from rootcause.knowledge.loader import KnowledgeBase

MODELS: dict[str, Any] = {
    "Patient": Patient,
    "Procedure": Procedure,
    "Observation": Observation,
    "Condition": Condition,
}
SKIP_OBSERVATION_STATUS = {"entered-in-error", "cancelled", "registered"}
UNCERTAIN_VERIFICATION = {"unconfirmed", "provisional", "differential"}
INACTIVE_CLINICAL = {"inactive", "resolved", "remission"}


class FhirInputError(CaseError):
    """The FHIR input is invalid or cannot make a case; each problem names the resource and field."""


@dataclass
class FhirCase:
    """What the reader made of the resources, and why."""

    case: dict[str, Any] | None
    assessed_on: dt.date
    patient: str | None = None
    basis: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)

    def require_case(self) -> dict[str, Any]:
        if self.case is None:
            raise FhirInputError([FieldProblem("Procedure", m) for m in self.missing] or self.problems)
        return self.case

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "assessed_on": self.assessed_on.isoformat(),
            "patient": self.patient,
            "basis": self.basis,
            "notes": self.notes,
            "unmapped": self.unmapped,
            "missing": self.missing,
            "problems": [str(p) for p in self.problems],
        }


@dataclass
class _Parsed:
    label: str
    reference: str
    full_url: str | None
    resource: Any


def _word_pattern(words: list[str]) -> re.Pattern[str] | None:
    """One regex matching any of ``words`` as a whole word (``None`` for no words), compiled once."""
    return re.compile("|".join(rf"\b{re.escape(w)}\b" for w in words)) if words else None


def _has_word(pattern: re.Pattern[str] | None, text: str) -> bool:
    return pattern is not None and pattern.search(text) is not None


def _label(raw: Mapping[str, Any], index: int) -> str:
    rtype = raw.get("resourceType", "resource")
    rid = raw.get("id")
    return f"{rtype}/{rid}" if rid else f"{rtype}[{index}]"


class FhirReader:
    """Built once from the knowledge base and mapping; ``read_*`` are pure functions of their input."""

    def __init__(self, mapping: FhirMapping) -> None:
        self.mapping = mapping
        pain = mapping.table.pain_scores
        self._leg_words = _word_pattern(pain.leg_words)
        self._other_site_words = _word_pattern(pain.other_site_words)

    @classmethod
    def from_kb(cls, kb: KnowledgeBase) -> FhirReader:
        return cls(load_mapping(kb))

    # ------------------------------------------------------------------ entry points

    def read_bundle(
        self,
        bundle: Any,
        *,
        assessed_on: dt.date | None = None,
        patient_id: str | None = None,
        strict: bool = True,
    ) -> FhirCase:
        if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
            got = bundle.get("resourceType") if isinstance(bundle, Mapping) else type(bundle).__name__
            raise FhirInputError([FieldProblem("resourceType", f"expected a FHIR Bundle, got {got!r}")])
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise FhirInputError([FieldProblem("Bundle.entry", "expected a list of entries")])
        resources: list[tuple[Any, str | None]] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise FhirInputError([FieldProblem(f"Bundle.entry[{i}]", "expected an object")])
            resources.append((entry.get("resource"), entry.get("fullUrl")))
        if assessed_on is None:
            assessed_on = as_date(bundle.get("timestamp"))
        case_id = bundle.get("id") if isinstance(bundle.get("id"), str) else None
        return self._read(resources, assessed_on, patient_id, strict, case_id)

    def read_resources(
        self,
        resources: Iterable[Any],
        *,
        assessed_on: dt.date | None = None,
        patient_id: str | None = None,
        strict: bool = False,
        case_id: str | None = None,
    ) -> FhirCase:
        return self._read([(r, None) for r in resources], assessed_on, patient_id, strict, case_id)

    # ------------------------------------------------------------------ the work

    def _parse(
        self, items: list[tuple[Any, str | None]], strict: bool, out: FhirCase
    ) -> dict[str, list[_Parsed]]:
        parsed: dict[str, list[_Parsed]] = {k: [] for k in MODELS}
        seen: set[str] = set()
        problems: list[FieldProblem] = []
        for i, (raw, full_url) in enumerate(items):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("resourceType"), str):
                problems.append(
                    FieldProblem(f"entry[{i}].resource", "expected a FHIR resource with resourceType")
                )
                continue
            label = _label(raw, i)
            rtype = raw["resourceType"]
            model = MODELS.get(rtype)
            if model is None:
                if rtype != "OperationOutcome":
                    out.unmapped.append(f"{label}: resource type not read")
                continue
            if label in seen and raw.get("id"):
                continue  # the same resource from two prefetch keys or pages
            seen.add(label)
            try:
                resource = model.model_validate(dict(raw))
            except ValidationError as exc:
                for err in exc.errors():
                    loc = ".".join(str(x) for x in err["loc"] if x != "__root__")
                    problems.append(FieldProblem(f"{label}.{loc}" if loc else label, err["msg"]))
                continue
            parsed[rtype].append(
                _Parsed(label, label if raw.get("id") else (full_url or label), full_url, resource)
            )
        if problems and strict:
            raise FhirInputError(problems)
        out.problems += problems
        return parsed

    def _read(
        self,
        items: list[tuple[Any, str | None]],
        assessed_on: dt.date | None,
        patient_id: str | None,
        strict: bool,
        case_id: str | None,
    ) -> FhirCase:
        today = assessed_on or dt.date.today()
        out = FhirCase(case=None, assessed_on=today)
        if assessed_on is None:
            out.notes.append(f"assessment date not given; using today ({today})")
        parsed = self._parse(items, strict, out)
        patient = self._patient(parsed["Patient"], patient_id, out)
        refs = self._patient_refs(patient, patient_id)
        out.patient = patient.reference if patient else (f"Patient/{patient_id}" if patient_id else None)

        def mine(p: _Parsed, subject: Reference | None) -> bool:
            if subject is None or not subject.reference or not refs:
                return True
            ref = subject.reference.split("/_history/")[0]
            if ref in refs or any(ref.endswith("/" + r) for r in refs if r.startswith("Patient/")):
                return True
            out.notes.append(f"{p.label}: about another patient ({subject.reference}); ignored")
            return False

        candidates: list[LumbarProcedure] = []
        for p in parsed["Procedure"]:
            proc: Procedure = p.resource
            if not mine(p, proc.subject):
                continue
            if proc.status != "completed":
                out.notes.append(f"{p.label}: status {proc.status!r}, not completed; ignored")
                continue
            got = classify(self.mapping, proc, p.reference)
            if isinstance(got, str):
                out.unmapped.append(f"{p.label} ({describe(proc.code)}): {got}")
            else:
                candidates.append(got)
        choice = choose_surgery(candidates, today)
        out.notes += choice.notes
        if choice.surgery is None:
            out.missing.append(
                "no completed lumbar spine Procedure (discectomy, decompression, fusion, "
                f"interspinous spacer) on or before {today}"
            )
            return out
        surgery = choice.surgery
        surgery_date = as_date(surgery.get("date"))
        out.basis += choice.used
        evidence: list[Evidence] = []
        if choice.earlier:
            evidence += [Evidence("previous_spine_surgery", True, None, r) for r in choice.earlier]
            out.notes.append(
                "earlier lumbar operation(s) " + ", ".join(choice.earlier) + " → previous_spine_surgery"
            )

        case: dict[str, Any] = {}
        if case_id:
            case["id"] = case_id
        if patient is not None:
            case.update(self._demographics(patient, today, out))
        case["surgery"] = surgery
        case["assessed_on"] = today.isoformat()

        pain: dict[int, tuple[dt.date, float, str]] = {}
        for p in parsed["Observation"]:
            obs: Observation = p.resource
            if mine(p, obs.subject):
                self._observation(p, obs, surgery_date, today, pain, evidence, out)
        for p in parsed["Condition"]:
            cond: Condition = p.resource
            if mine(p, cond.subject):
                self._condition(p, cond, today, evidence, out)

        if pain:
            case["pain_scores"] = [{"day": d, "nrs": pain[d][1]} for d in sorted(pain)]
            out.basis += [pain[d][2] for d in sorted(pain)]
        findings, used, notes = resolve(self.mapping, evidence, surgery_date)
        out.notes += notes
        out.basis += [r for r in used if r not in out.basis]
        if findings:
            case["findings"] = findings
        out.case = case
        return out

    def _patient(self, patients: list[_Parsed], patient_id: str | None, out: FhirCase) -> _Parsed | None:
        if patient_id is not None:
            match = [p for p in patients if p.resource.id == patient_id]
            if not match and patients:
                out.notes.append(f"no Patient with id {patient_id!r}; demographics unknown")
            return match[0] if match else None
        if len(patients) > 1:
            out.notes.append(f"{len(patients)} Patient resources; used {patients[0].label}")
        return patients[0] if patients else None

    @staticmethod
    def _patient_refs(patient: _Parsed | None, patient_id: str | None) -> set[str]:
        refs: set[str] = set()
        if patient is not None:
            refs.add(patient.reference)
            if patient.full_url:
                refs.add(patient.full_url)
        if patient_id:
            refs.add(f"Patient/{patient_id}")
        return refs

    @staticmethod
    def _demographics(p: _Parsed, today: dt.date, out: FhirCase) -> dict[str, Any]:
        patient: Patient = p.resource
        demo: dict[str, Any] = {}
        born = as_date(patient.birthDate)
        if born is not None:
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            if age < 0:
                out.notes.append(f"{p.label}: birthDate {born} is after the assessment date; age unknown")
            else:
                demo["age"] = age
                if is_partial(patient.birthDate):
                    out.notes.append(f"{p.label}: partial birthDate {patient.birthDate}; age is approximate")
        if patient.gender in ("male", "female", "other"):
            demo["sex"] = patient.gender
        out.basis.append(p.reference)
        return demo

    def _observation(
        self,
        p: _Parsed,
        obs: Observation,
        surgery_date: dt.date | None,
        today: dt.date,
        pain: dict[int, tuple[dt.date, float, str]],
        evidence: list[Evidence],
        out: FhirCase,
    ) -> None:
        if obs.status in SKIP_OBSERVATION_STATUS:
            out.notes.append(f"{p.label}: status {obs.status!r}; ignored")
            return
        when = as_date(observation_date(obs))
        if when is not None and when > today:
            out.notes.append(f"{p.label}: dated {when}, after the assessment date; ignored")
            return
        m = self.mapping
        cs = codings(obs.code)
        if any(m.is_pain_score(s, c) for s, c, _ in cs):
            self._pain(p, obs, when, surgery_date, pain, out)
            return
        for system, code, _ in cs:
            fid = m.finding_for_code(system, code)
            if fid is not None:
                value, why = yes_no(obs, m)
                self._add(evidence, out, p, fid, value, when, why)
                return
        for system, code, _ in cs:
            hit = m.measurement_for_code(system, code)
            if hit is None:
                continue
            fid, rule = hit
            value, why = measurement_value(obs, rule)
            if value and rule.min_days_after_surgery is not None:
                day = (when - surgery_date).days if when and surgery_date else None
                if day is None or day < rule.min_days_after_surgery:
                    shown = f"day {day}" if day is not None else "an unknown day"
                    value, why = (
                        None,
                        (
                            f"raised on {shown} after surgery, before day {rule.min_days_after_surgery}, "
                            "when a rise is expected"
                        ),
                    )
            self._add(evidence, out, p, fid, value, when, why)
            return
        out.unmapped.append(f"{p.label} ({describe(obs.code)}): code not in the mapping")

    def _pain(
        self,
        p: _Parsed,
        obs: Observation,
        when: dt.date | None,
        surgery_date: dt.date | None,
        pain: dict[int, tuple[dt.date, float, str]],
        out: FhirCase,
    ) -> None:
        texts = " ".join(
            [t for bs in ([obs.bodySite] if obs.bodySite else []) for t in concept_text(bs)]
            + concept_text(obs.code)[:1]
            + [n.text for n in obs.note or [] if n.text]
        ).lower()
        if not _has_word(self._leg_words, texts) and _has_word(self._other_site_words, texts):
            out.notes.append(f"{p.label}: pain score for another site; not used as leg pain")
            return
        value, _ = numeric_value(obs)
        if value is None:
            out.notes.append(f"{p.label}: pain score without a numeric value; ignored")
            return
        if not 0 <= value <= 10:
            out.problems.append(FieldProblem(f"{p.label}.value", f"pain score must be 0-10, got {value:g}"))
            return
        if when is None or surgery_date is None:
            out.notes.append(f"{p.label}: pain score cannot be placed in time (no date); ignored")
            return
        day = (when - surgery_date).days
        if day < -3650:
            return
        if day not in pain or pain[day][0] <= when:
            pain[day] = (when, value, p.reference)

    def _condition(
        self, p: _Parsed, cond: Condition, today: dt.date, evidence: list[Evidence], out: FhirCase
    ) -> None:
        verification = {c for _, c, _ in codings(cond.verificationStatus)}
        clinical = {c for _, c, _ in codings(cond.clinicalStatus)}
        when = as_date(cond.onsetDateTime) or as_date(cond.recordedDate)
        if when is not None and when > today:
            out.notes.append(f"{p.label}: recorded after the assessment date; ignored")
            return
        for system, code, _ in codings(cond.code):
            fid = self.mapping.finding_for_code(system, code)
            if fid is None:
                continue
            fm = self.mapping.findings[fid]
            if "entered-in-error" in verification:
                out.notes.append(f"{p.label}: entered in error; ignored")
                return
            if "refuted" in verification:
                self._add(evidence, out, p, fid, False, when, "")
            elif verification & UNCERTAIN_VERIFICATION:
                self._add(evidence, out, p, fid, None, when, f"verification {sorted(verification)[0]}")
            elif clinical & INACTIVE_CLINICAL:
                if fm.current_only:
                    self._add(evidence, out, p, fid, False, when, "")
                elif self.mapping.window(fid) == "any":
                    self._add(evidence, out, p, fid, True, when, "")
                else:
                    self._add(evidence, out, p, fid, None, when, f"clinical status {sorted(clinical)[0]}")
            else:
                self._add(evidence, out, p, fid, True, when, "")
            return
        out.unmapped.append(f"{p.label} ({describe(cond.code)}): code not in the mapping")

    @staticmethod
    def _add(
        evidence: list[Evidence],
        out: FhirCase,
        p: _Parsed,
        fid: str,
        value: bool | None,
        when: dt.date | None,
        why: str,
    ) -> None:
        if value is None:
            out.notes.append(f"{p.label}: {fid} left unknown ({why})")
        else:
            evidence.append(Evidence(fid, value, when, p.reference))


def bundle_to_case(
    bundle: Any,
    *,
    kb: KnowledgeBase | None = None,
    assessed_on: dt.date | None = None,
    patient_id: str | None = None,
    strict: bool = True,
) -> FhirCase:
    """Build a reader from ``kb`` (the packaged knowledge base by default) and read ``bundle``."""
    if kb is None:
        from rootcause.knowledge.loader import load_knowledge_base

        kb = load_knowledge_base()
    return FhirReader.from_kb(kb).read_bundle(
        bundle, assessed_on=assessed_on, patient_id=patient_id, strict=strict
    )
