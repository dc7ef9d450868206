"""Cards from an Assessment, and the "insufficient data" card. Pure functions: no I/O.

The indicator follows triage (critical for emergency and urgent, warning for soon, info for routine);
the summary stays under 140 characters; the detail gives the leading causes with probabilities, the
triage reasons, the next step, the options for the leading cause, unchecked red flags, what data were
used and the disclaimer. Card and suggestion uuids are uuid5 of the hookInstance and the card kind, so
the same call always yields the same ids and feedback can be matched to stored cards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rootcause.cdshooks.models import (
    SUMMARY_MAX,
    Action,
    Card,
    Coding,
    Link,
    OverrideReasonCoding,
    Source,
    Suggestion,
)
from rootcause.engine.assess import Assessment
from rootcause.knowledge.loader import KnowledgeBase

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://rootcause.dev/cds-hooks")
INDICATOR = {"emergency": "critical", "urgent": "critical", "soon": "warning", "routine": "info"}
SHORT_ADVICE = {
    "emergency": "EMERGENCY, emergency department now",
    "urgent": "URGENT, surgical review within 24 h",
    "soon": "review within 1-2 weeks",
    "routine": "routine follow-up",
}
TOPIC = Coding(
    system="https://rootcause.dev/fhir/CodeSystem/topic",
    code="leg-pain-after-lumbar-surgery",
    display="Leg pain after lumbar spine surgery",
)
OVERRIDE_SYSTEM = "https://rootcause.dev/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS = (
    ("not-applicable", "Not applicable: no recent lumbar spine surgery"),
    ("data-incorrect", "The record data used are wrong or out of date"),
    ("clinical-judgement", "Clinical judgement differs"),
    ("already-managed", "Already being managed"),
)
TEST_KINDS = {"laboratory", "imaging", "invasive"}


@dataclass(frozen=True)
class CardSettings:
    """Where cards point. ``app_launch_url`` is the web app's SMART launch URL; the result page id goes
    in ``appContext`` (and in ``result_url`` for an absolute link, when that template is set)."""

    app_launch_url: str = "https://app.rootcause.dev/launch"
    result_url: str | None = None  # e.g. "https://app.rootcause.dev/results/{assessment_id}"
    sources_url: str = "https://rootcause.dev/docs/knowledge-base#sources"
    icon_url: str | None = None
    max_causes: int = 5
    max_options: int = 3
    max_suggestions: int = 2


def stable_uuid(hook_instance: str, *kind: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join((hook_instance, *kind))))


def fit_summary(text: str, limit: int = SUMMARY_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,;:-") + "…"


def percent(p: float) -> str:
    return "<1%" if p < 0.005 else f"{p:.0%}"


def _short(name: str) -> str:
    return name.split(" (")[0]


def _source(settings: CardSettings) -> Source:
    return Source.model_validate(
        {"label": "rootcause", "url": settings.sources_url, "icon": settings.icon_url, "topic": TOPIC}
    )


def _links(settings: CardSettings, hook_instance: str, assessment_id: str | None) -> list[Link]:
    context: dict[str, str] = {"hookInstance": hook_instance}
    if assessment_id:
        context["assessment"] = assessment_id
    links = [
        Link(
            label="Open the full rootcause assessment"
            if assessment_id
            else "Open rootcause to enter the case",
            url=settings.app_launch_url,
            type="smart",
            appContext=json.dumps(context, separators=(",", ":")),
        )
    ]
    if settings.result_url and assessment_id:
        links.append(
            Link(
                label="Result page (outside the EHR)",
                url=settings.result_url.format(assessment_id=assessment_id),
                type="absolute",
            )
        )
    return links


def _override_reasons() -> list[OverrideReasonCoding]:
    return [OverrideReasonCoding(system=OVERRIDE_SYSTEM, code=c, display=d) for c, d in OVERRIDE_REASONS]


def _suggestions(
    assessment: Assessment,
    kb: KnowledgeBase,
    hook_instance: str,
    patient: str | None,
    settings: CardSettings,
) -> list[Suggestion]:
    out: list[Suggestion] = []
    for step in assessment.next_steps:
        if step["kind"] not in TEST_KINDS or len(out) >= settings.max_suggestions:
            continue
        finding = kb.finding(step["finding"])
        request: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "code": {"text": step["question"]},
            "reasonCode": [{"text": f"rootcause next step: {finding.clinician_text}"}],
        }
        if patient:
            request["subject"] = {"reference": patient}
        out.append(
            Suggestion(
                label=fit_summary(f"Propose: {finding.clinician_text}", 120),
                uuid=stable_uuid(hook_instance, "assessment", "suggestion", finding.id),
                actions=[
                    Action(
                        type="create",
                        description=f"Propose a test to check: {finding.clinician_text}",
                        resource=request,
                    )
                ],
            )
        )
    return out


def _detail(
    assessment: Assessment, kb: KnowledgeBase, settings: CardSettings, data_lines: Sequence[str]
) -> str:
    tri = assessment.triage
    lines = [f"**Triage: {tri.level.upper()}** — {tri.clinician_advice}", ""]
    lines += [f"- {r}" for r in tri.reasons]
    lines += ["", "**Most likely causes** (of all causes considered; probabilities sum to 1)", ""]
    lines += ["| cause | probability |", "|---|---|"]
    for cid, p in assessment.differential[: settings.max_causes]:
        lines.append(f"| {kb.condition(cid).name} | {percent(p)} |")
    if assessment.fit.get("poor_fit"):
        lines += ["", f"⚠ {assessment.fit['message']}"]
    if assessment.next_steps:
        lines += ["", "**Next step:** " + assessment.next_steps[0]["question"]]
        others = [s["question"] for s in assessment.next_steps[1:3]]
        lines += [f"- then: {q}" for q in others]
    if assessment.treatments:
        lead = assessment.treatments[0]
        lines += ["", f"**Options if {lead['name']} is confirmed:**"]
        for opt in lead["options"][: settings.max_options]:
            lines.append(
                f"- {opt['name']} (evidence: {opt['evidence'].replace('_', ' ')}) — {opt['description']}"
            )
    if assessment.unchecked_red_flags:
        flags = [kb.finding(f).clinician_text for f in assessment.unchecked_red_flags[:6]]
        lines += ["", "**Red flags not recorded:** " + "; ".join(flags)]
    if data_lines:
        lines += ["", "**Data used:**"] + [f"- {d}" for d in data_lines]
    lines += ["", f"Knowledge base {assessment.knowledge_base_version}. Sources: {settings.sources_url}"]
    lines += ["", f"_{assessment.disclaimer or kb.manifest.disclaimer}_"]
    return "\n".join(lines)


def assessment_card(
    assessment: Assessment,
    kb: KnowledgeBase,
    *,
    hook_instance: str,
    settings: CardSettings | None = None,
    assessment_id: str | None = None,
    patient: str | None = None,
    data_lines: Sequence[str] = (),
) -> Card:
    """The card for one assessment. ``data_lines`` say what the case was read from (and what is missing)."""
    settings = settings or CardSettings()
    level = assessment.triage.level
    cid, p = assessment.differential[0]
    summary = fit_summary(
        f"Leg pain after spine surgery: {SHORT_ADVICE[level]}. "
        f"Most likely {_short(kb.condition(cid).name)} ({percent(p)})"
    )
    suggestions = _suggestions(assessment, kb, hook_instance, patient, settings)
    return Card(
        uuid=stable_uuid(hook_instance, "assessment"),
        summary=summary,
        detail=_detail(assessment, kb, settings, data_lines),
        indicator=INDICATOR[level],
        source=_source(settings),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=_override_reasons(),
        links=_links(settings, hook_instance, assessment_id),
    )


def insufficient_data_card(
    missing: Sequence[str],
    *,
    hook_instance: str,
    settings: CardSettings | None = None,
    notes: Sequence[str] = (),
    disclaimer: str = "",
) -> Card:
    """Said instead of an assessment when the record does not hold enough to make a case."""
    settings = settings or CardSettings()
    lines = ["rootcause could not assess leg pain after lumbar spine surgery for this patient.", ""]
    lines += ["**Missing:**"] + [f"- {m}" for m in missing]
    if notes:
        lines += ["", "**Also noted:**"] + [f"- {n}" for n in notes]
    lines += ["", "You can enter the case in rootcause directly."]
    if disclaimer:
        lines += ["", f"_{disclaimer}_"]
    return Card(
        uuid=stable_uuid(hook_instance, "insufficient-data"),
        summary=fit_summary("rootcause: not enough data to assess leg pain after lumbar spine surgery"),
        detail="\n".join(lines),
        indicator="info",
        source=_source(settings),
        overrideReasons=_override_reasons(),
        links=_links(settings, hook_instance, None),
    )
