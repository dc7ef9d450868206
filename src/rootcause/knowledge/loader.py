"""Load the knowledge-base files, validate them and check them against each other.

Schema validation (``schema.py``) checks each file alone; this module checks what no single
file can: every finding a condition names exists, every reference resolves, timing tables use
the declared bins, rules name real findings, and every contract id of the case format exists.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml
from pydantic import BaseModel, ValidationError

from rootcause.errors import KnowledgeBaseError
from rootcause.knowledge.schema import (
    PROCEDURES,
    Condition,
    CostTierInfo,
    Finding,
    FindingsFile,
    InterviewFile,
    Manifest,
    ProcedureInfo,
    Reference,
    SeedClaim,
    Sourced,
    TimingFile,
    TriageFile,
)

DATA_PACKAGE = "rootcause.knowledge"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class KnowledgeBase:
    """The validated knowledge base: typed objects, in a fixed order."""

    manifest: Manifest
    references: dict[str, Reference]
    findings: tuple[Finding, ...]
    cost_tiers: dict[str, CostTierInfo]
    conditions: tuple[Condition, ...]
    timing: TimingFile
    triage: TriageFile
    procedures: dict[str, ProcedureInfo]
    seed_claims: tuple[SeedClaim, ...]
    interview: InterviewFile

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def condition_ids(self) -> list[str]:
        return [c.id for c in self.conditions]

    @property
    def finding_ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def condition(self, condition_id: str) -> Condition:
        for c in self.conditions:
            if c.id == condition_id:
                return c
        raise KeyError(condition_id)

    def finding(self, finding_id: str) -> Finding:
        for f in self.findings:
            if f.id == finding_id:
                return f
        raise KeyError(finding_id)


def default_data_dir() -> Path:
    return Path(str(resources.files(DATA_PACKAGE).joinpath("data")))


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Parse YAML safely, with libyaml when installed (about ten times faster).

    Parsed documents are cached as JSON under the content's SHA-256 (YAML parsing was most of
    the start-up time of every command); a document that JSON cannot represent exactly (a
    date, say) is not cached, and an unwritable cache is simply not used. The result is
    validated by the schema either way.
    """
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cached = _parse_cache() / f"{key}.json"
    try:
        return orjson.loads(cached.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        pass
    parsed = yaml.load(text, Loader=_LOADER)
    try:
        encoded = orjson.dumps(parsed)
        if orjson.loads(encoded) == parsed:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f"{key}.{os.getpid()}.partial")
            partial.write_bytes(encoded)
            partial.replace(cached)
    except (OSError, TypeError):
        pass
    return parsed


def _parse_cache() -> Path:
    configured = os.environ.get("ROOTCAUSE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rootcause" / "yaml"


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: file is missing")
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: not valid YAML ({exc})")
    return None


def _validate(model: type[M], raw: Any, where: str, problems: list[str]) -> M | None:
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            problems.append(f"{where}: {loc}: {err['msg']}")
    return None


def iter_sourced(obj: Any, path: str = "") -> Iterator[tuple[str, Sourced]]:
    """Yield every sourced number inside a model, with its dotted path."""
    if isinstance(obj, Sourced):
        yield path, obj
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from iter_sourced(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from iter_sourced(value, f"{path}.{key}")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from iter_sourced(value, f"{path}[{i}]")


def _near(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def load_knowledge_base(data_dir: Path | None = None) -> KnowledgeBase:
    """Read and validate every file; raise ``KnowledgeBaseError`` listing all problems."""
    root = data_dir or default_data_dir()
    problems: list[str] = []

    manifest = _validate(Manifest, _read_yaml(root / "manifest.yaml", problems), "manifest.yaml", problems)
    refs_raw = _read_yaml(root / "references.yaml", problems) or {}
    references: dict[str, Reference] = {}
    for i, raw in enumerate(refs_raw.get("references", [])):
        ref = _validate(Reference, raw, f"references.yaml: references[{i}]", problems)
        if ref is not None:
            if ref.id in references:
                problems.append(f"references.yaml: duplicate id {ref.id}")
            references[ref.id] = ref

    findings_file = _validate(
        FindingsFile, _read_yaml(root / "findings.yaml", problems), "findings.yaml", problems
    )
    timing = _validate(TimingFile, _read_yaml(root / "timing.yaml", problems), "timing.yaml", problems)
    triage = _validate(TriageFile, _read_yaml(root / "triage.yaml", problems), "triage.yaml", problems)
    interview = _validate(
        InterviewFile, _read_yaml(root / "interview.yaml", problems), "interview.yaml", problems
    )
    procs_raw = _read_yaml(root / "procedures.yaml", problems) or {}
    procedures: dict[str, ProcedureInfo] = {}
    for i, raw in enumerate(procs_raw.get("procedures", [])):
        proc = _validate(ProcedureInfo, raw, f"procedures.yaml: procedures[{i}]", problems)
        if proc is not None:
            procedures[proc.id] = proc
    seed_raw = _read_yaml(root / "seed_claims.yaml", problems) or {}
    seed_claims: list[SeedClaim] = []
    for i, raw in enumerate(seed_raw.get("claims", [])):
        claim = _validate(SeedClaim, raw, f"seed_claims.yaml: claims[{i}]", problems)
        if claim is not None:
            seed_claims.append(claim)

    conditions: list[Condition] = []
    cond_dir = root / "conditions"
    for path in sorted(cond_dir.glob("*.yaml")):
        cond = _validate(Condition, _read_yaml(path, problems), f"conditions/{path.name}", problems)
        if cond is not None:
            if cond.id != path.stem:
                problems.append(f"conditions/{path.name}: id {cond.id!r} must match the file name")
            conditions.append(cond)

    if problems or None in (manifest, findings_file, timing, triage, interview):
        raise KnowledgeBaseError(problems or ["a required file failed to load"])
    assert manifest and findings_file and timing and triage and interview  # narrowed above

    finding_ids = [f.id for f in findings_file.findings]
    condition_ids = [c.id for c in conditions]
    _cross_check(
        problems, references, findings_file, conditions, timing, triage, procedures, seed_claims, interview
    )
    if len(set(finding_ids)) != len(finding_ids):
        problems.append("findings.yaml: duplicate finding ids")
    if len(set(condition_ids)) != len(condition_ids):
        problems.append("conditions: duplicate condition ids")
    if problems:
        raise KnowledgeBaseError(problems)

    return KnowledgeBase(
        manifest=manifest,
        references=references,
        findings=tuple(findings_file.findings),
        cost_tiers={t.id: t for t in findings_file.cost_tiers},
        conditions=tuple(conditions),
        timing=timing,
        triage=triage,
        procedures=procedures,
        seed_claims=tuple(seed_claims),
        interview=interview,
    )


def _cross_check(
    problems: list[str],
    references: dict[str, Reference],
    findings_file: FindingsFile,
    conditions: list[Condition],
    timing: TimingFile,
    triage: TriageFile,
    procedures: dict[str, ProcedureInfo],
    seed_claims: list[SeedClaim],
    interview: InterviewFile | None = None,
) -> None:
    finding_ids = [f.id for f in findings_file.findings]
    fset = set(finding_ids)
    ref_ids = sorted(references)
    tiers = {t.id for t in findings_file.cost_tiers}
    onset_bins = [b.id for b in timing.onset_bins]
    assessed_bins = [b.id for b in timing.assessed_bins]

    for f in findings_file.findings:
        if f.cost_tier not in tiers:
            problems.append(f"findings.yaml: {f.id}: cost tier {f.cost_tier!r} is not declared")
    for proc in PROCEDURES:
        if proc not in procedures:
            problems.append(f"procedures.yaml: procedure {proc!r} is missing")

    def check_refs(where: str, obj: Any) -> None:
        for path, sourced in iter_sourced(obj):
            for ref in sourced.source:
                if ref not in references:
                    problems.append(f"{where}: {path}: unknown reference {ref!r}{_near(ref, ref_ids)}")

    def check_states(where: str, got: list[str], want: list[str]) -> None:
        if set(got) != set(want):
            problems.append(f"{where}: expected states {want}, got {sorted(got)}")

    for c in conditions:
        where = f"conditions/{c.id}.yaml"
        check_refs(where, c)
        for t in c.treatments:
            for ref in t.source:
                if ref not in references:
                    problems.append(f"{where}: treatment {t.name!r}: unknown reference {ref!r}")
        for fid in c.likelihoods:
            if fid not in fset:
                problems.append(f"{where}: likelihoods: unknown finding {fid!r}{_near(fid, finding_ids)}")
        check_states(f"{where}: timing.onset", list(c.timing.onset.values), onset_bins)
        for proc, dist in c.timing.onset_by_procedure.items():
            check_states(f"{where}: timing.onset_by_procedure.{proc}", list(dist.values), onset_bins)
        for proc, dist in c.timing.assessed_by_procedure.items():
            check_states(f"{where}: timing.assessed_by_procedure.{proc}", list(dist.values), assessed_bins)
        if c.timing.assessed is not None:
            check_states(f"{where}: timing.assessed", list(c.timing.assessed.values), assessed_bins)
        check_states(f"{where}: timing.relief", list(c.timing.relief.values), timing.relief.states)
        check_states(f"{where}: timing.speed", list(c.timing.speed.values), timing.speed.states)
        check_states(f"{where}: timing.trend", list(c.timing.trend.values), timing.trend.states)

    check_states("timing.yaml: default_assessed", list(timing.default_assessed.values), assessed_bins)
    for f in findings_file.findings:
        check_refs(f"findings.yaml: {f.id}", f)
    check_refs("triage.yaml", triage)
    for rule in triage.rules:
        for fid in [*rule.when.all, *rule.when.any]:
            if fid not in fset:
                problems.append(
                    f"triage.yaml: rule {rule.id}: unknown finding {fid!r}{_near(fid, finding_ids)}"
                )
    levels = {a.level for a in triage.advice}
    for level in ("emergency", "urgent", "soon", "routine"):
        if level not in levels:
            problems.append(f"triage.yaml: advice for level {level!r} is missing")
    if interview is not None:
        for checklist in interview.checklists:
            for fid in checklist.findings:
                if fid not in fset:
                    problems.append(f"interview.yaml: checklist {checklist.id}: unknown finding {fid!r}")
    for claim in seed_claims:
        for ref in claim.source:
            if ref not in references:
                problems.append(f"seed_claims.yaml: {claim.id}: unknown reference {ref!r}")
