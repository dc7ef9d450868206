"""The knowledge browser: causes, findings, treatments and the citation of every number.

Each source has its own page (``/knowledge/sources/E84``) with the full reference and every
number in the knowledge base that cites it, so a clinician can check the basis of any advice;
every source id on a result page links there.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.knowledge.schema import Condition, Reference
from rootcause.service.deps import EngineDep
from rootcause.web.auth import UserDep, WebUser
from rootcause.web.render import render_page

router = APIRouter(prefix="/knowledge")
GROUPS = {
    "spinal_early": "Spinal, early after surgery",
    "spinal_late": "Spinal, later",
    "spinal_structural": "Spinal, structural (implants, fusion, fracture)",
    "non_spinal": "Not from the spine",
    "rare": "Rare",
}
CATEGORIES = {
    "symptom": "Symptoms",
    "history": "Course and events",
    "risk_factor": "Risk factors and past history",
    "examination": "Examination",
    "laboratory": "Laboratory",
    "imaging": "Imaging",
    "procedure": "Diagnostic procedures",
}


def reference_link(ref: Reference) -> str | None:
    """A URL for the reference's identifier (DOI, PMID, PMC id or URL), when it has one."""
    ident = (ref.identifier or "").strip()
    low = ident.lower()
    if low.startswith(("http://", "https://")):
        return ident
    doi = re.match(r"^(?:doi:\s*)?(10\.\S+)$", ident, re.I)
    if doi:
        return "https://doi.org/" + doi.group(1)
    pmid = re.match(r"^pmid[:\s]*(\d+)$", ident, re.I)
    if pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{pmid.group(1)}/"
    pmc = re.match(r"^(?:pmcid[:\s]*)?(pmc\d+)$", ident, re.I)
    if pmc:
        return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{pmc.group(1).upper()}/"
    return None


@functools.lru_cache(maxsize=4)
def citations(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """Source id → [(what cites it, link)] across conditions, findings and triage rules."""
    uses: dict[str, list[tuple[str, str]]] = defaultdict(list)

    def add(ids: list[str], what: str, link: str) -> None:
        for rid in ids:
            uses[rid].append((what, link))

    for c in engine.kb.conditions:
        link = f"/knowledge/conditions/{c.id}"
        add(c.urgency.source, f"{c.name}: urgency", link)
        for proc, w in c.prior.items():
            add(w.source, f"{c.name}: prior after {proc}", link)
        for m in [*c.prior_modifiers, *c.age_modifiers, *c.sex_modifiers]:
            add(m.source, f"{c.name}: prior modifier", link)
        timing = c.timing
        for name, dist in (
            ("onset", timing.onset),
            ("relief", timing.relief),
            ("speed", timing.speed),
            ("trend", timing.trend),
            ("assessed", timing.assessed),
        ):
            if dist is not None:
                add(dist.source, f"{c.name}: timing ({name})", link)
        for proc, dist in [*timing.onset_by_procedure.items(), *timing.assessed_by_procedure.items()]:
            add(dist.source, f"{c.name}: timing after {proc}", link)
        for fid, lp in c.likelihoods.items():
            add(lp.source, f"{c.name}: P({fid} | cause)", link + f"#lk-{fid}")
        for t in c.treatments:
            add(t.source, f"{c.name}: treatment “{t.name}”", link + "#treatments")
    for f in engine.kb.findings:
        add(f.base_rate.source, f"{f.clinician_text}: base rate", f"/knowledge/findings#{f.id}")
    for rule in engine.kb.triage.rules:
        add(rule.source, f"Triage rule: {rule.reason}", "/knowledge#triage")
    for esc in engine.kb.triage.escalation:
        add(esc.source, f"Triage escalation to {esc.level}", "/knowledge#triage")
    return dict(uses)


def _not_found(request: Request, engine: Engine, user: WebUser, what: str) -> Response:
    context = {
        "title": "Not found",
        "heading": f"No such {what}",
        "message": f"The knowledge base has no {what} with this id.",
    }
    return render_page(request, "error.html", engine, context, status=404, user=user)


@router.get("")
async def knowledge_index(request: Request, user: UserDep, engine: EngineDep) -> Response:
    kb = engine.kb
    grouped: dict[str, list[Condition]] = defaultdict(list)
    for c in kb.conditions:
        grouped[c.group].append(c)
    context = {
        "title": "Knowledge base",
        "kb": kb,
        "groups": [(GROUPS.get(g, g), grouped[g]) for g in GROUPS if grouped.get(g)],
        "counts": {
            "causes": len(kb.conditions),
            "findings": len(kb.findings),
            "treatments": sum(len(c.treatments) for c in kb.conditions),
            "sources": len(kb.references),
            "triage rules": len(kb.triage.rules),
        },
    }
    return render_page(request, "knowledge_index.html", engine, context, user=user)


@router.get("/conditions/{condition_id}")
async def knowledge_condition(
    condition_id: str, request: Request, user: UserDep, engine: EngineDep
) -> Response:
    try:
        c = engine.kb.condition(condition_id)
    except KeyError:
        return _not_found(request, engine, user, "cause")
    bins = {b.id: b.label for b in engine.kb.timing.onset_bins}
    likelihoods = sorted(c.likelihoods.items(), key=lambda kv: -kv[1].p)
    context: dict[str, Any] = {
        "title": c.name,
        "c": c,
        "group": GROUPS.get(c.group, c.group),
        "bins": bins,
        "likelihoods": [(engine.kb.finding(fid), lp) for fid, lp in likelihoods],
        "leak": engine.kb.manifest.leak_floor,
    }
    return render_page(request, "knowledge_condition.html", engine, context, user=user)


@router.get("/findings")
async def knowledge_findings(request: Request, user: UserDep, engine: EngineDep) -> Response:
    by_category: dict[str, list[Any]] = defaultdict(list)
    for f in engine.kb.findings:
        by_category[f.category].append(f)
    context = {
        "title": "Findings",
        "sections": [(CATEGORIES.get(k, k), by_category[k]) for k in CATEGORIES if by_category.get(k)],
        "tiers": engine.kb.cost_tiers,
    }
    return render_page(request, "knowledge_findings.html", engine, context, user=user)


@router.get("/treatments")
async def knowledge_treatments(request: Request, user: UserDep, engine: EngineDep) -> Response:
    context = {"title": "Treatments", "conditions": engine.kb.conditions}
    return render_page(request, "knowledge_treatments.html", engine, context, user=user)


@router.get("/sources")
async def knowledge_sources(request: Request, user: UserDep, engine: EngineDep) -> Response:
    refs = sorted(engine.kb.references.values(), key=lambda r: (len(r.id), r.id))
    uses = citations(engine)
    context = {
        "title": "Sources",
        "refs": [(r, reference_link(r), len(uses.get(r.id, []))) for r in refs],
    }
    return render_page(request, "knowledge_sources.html", engine, context, user=user)


@router.get("/sources/{source_id}")
async def knowledge_source(source_id: str, request: Request, user: UserDep, engine: EngineDep) -> Response:
    ref = engine.kb.references.get(source_id)
    if ref is None:
        return _not_found(request, engine, user, "source")
    context = {
        "title": f"Source {ref.id}",
        "ref": ref,
        "link": reference_link(ref),
        "uses": citations(engine).get(ref.id, []),
    }
    return render_page(request, "knowledge_source.html", engine, context, user=user)
