"""An assessment (the contract JSON) as the result page and the PDF report present it.

``result_view`` names every id (condition names, finding texts, timing facts), keeps each
number's source ids, and splits the differential into the bars shown and the rest. The same
view feeds the HTML result page, the printable page and the PDF, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

from rootcause.engine.assess import Engine

SHOWN = 8
"""Differential entries drawn as bars; the rest are listed under a disclosure."""

TIMING_ITEMS = {
    "days_since_surgery": "Time since surgery",
    "leg_pain.onset_days": "Onset of the current leg pain",
    "leg_pain.onset_speed": "Speed of onset",
    "leg_pain.relief_after_surgery": "Relief after surgery",
    "leg_pain.trend": "Trend over the last weeks",
    "course": "Course of the pain scores",
    "age": "Age",
    "sex": "Sex",
}
KIND_LABELS = {
    "question": "Ask",
    "examination": "Examine",
    "laboratory": "Test",
    "imaging": "Image",
    "invasive": "Procedure",
}
LEVEL_ORDER = ["emergency", "urgent", "soon", "routine"]


def condition_name(engine: Engine, cid: str) -> str:
    try:
        return engine.kb.condition(cid).name
    except KeyError:
        return cid.replace("_", " ")


def item_label(engine: Engine, item: str) -> str:
    if item in engine.finding_ids:
        return engine.kb.finding(item).clinician_text
    return TIMING_ITEMS.get(item, item.replace("_", " ").replace(".", ": "))


def value_label(value: Any) -> str:
    if value is True:
        return "present"
    if value is False:
        return "absent"
    return str(value).replace("_", " ")


def sources(engine: Engine, ids: list[str] | None) -> list[dict[str, Any]]:
    """Source ids with whether the knowledge base can cite them (then they link)."""
    refs = engine.kb.references
    return [{"id": s, "known": s in refs} for s in ids or []]


def _level_advice(engine: Engine, level: str) -> dict[str, str]:
    for advice in engine.kb.triage.advice:
        if advice.level == level:
            return {"label": advice.label, "clinician": advice.clinician, "patient": advice.patient}
    return {"label": level, "clinician": "", "patient": ""}


def _items(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "label": item_label(engine, r["item"]),
            "item": r["item"],
            "value": value_label(r.get("value")),
            "weight": float(r.get("weight", 0.0)),
            "lr": float(r.get("likelihood_ratio", 1.0)),
            "p_given_condition": r.get("p_given_condition"),
            "p_given_others": r.get("p_given_others"),
            "sources": sources(engine, r.get("sources")),
        }
        for r in rows
    ]


def result_view(engine: Engine, result: dict[str, Any]) -> dict[str, Any]:
    """Everything the result page, the print view and the PDF show, with names resolved."""
    triage = result["triage"]
    level = triage["level"]
    differential = [
        {
            "id": d["condition"],
            "name": condition_name(engine, d["condition"]),
            "p": float(d["probability"]),
        }
        for d in result["differential"]
    ]
    explanations = [
        {
            "id": e["condition"],
            "name": condition_name(engine, e["condition"]),
            "p": float(e["probability"]),
            "prior": float(e.get("prior", 0.0)),
            "prior_sources": sources(engine, e.get("prior_sources")),
            "for": _items(engine, e.get("for", [])),
            "against": _items(engine, e.get("against", [])),
        }
        for e in result.get("explanations", [])
    ]
    next_steps = [
        {
            "finding": s["finding"],
            "label": item_label(engine, s["finding"]),
            "kind": s.get("kind", ""),
            "verb": KIND_LABELS.get(str(s.get("kind", "")), str(s.get("kind", "")).title()),
            "question": s.get("question") or "",
            "value_per_cost": s.get("value_per_cost"),
        }
        for s in result.get("next_steps", [])
    ]
    treatments = [
        {
            "id": t["condition"],
            "name": t.get("name") or condition_name(engine, t["condition"]),
            "p": float(t.get("probability", 0.0)),
            "options": [{**o, "sources": sources(engine, o.get("source"))} for o in t.get("options", [])],
        }
        for t in result.get("treatments", [])
    ]
    fit = dict(result.get("fit") or {})
    fit["consider_names"] = [condition_name(engine, c) for c in fit.get("consider", []) or []]
    return {
        "case_id": result.get("case_id"),
        "kb_version": result.get("knowledge_base_version", ""),
        "triage": {
            "level": level,
            "rank": LEVEL_ORDER.index(level) if level in LEVEL_ORDER else 3,
            "reasons": list(triage.get("reasons", [])),
            "rule_advice": list(triage.get("rule_advice", [])),
            "clinician_advice": triage.get("clinician_advice") or _level_advice(engine, level)["clinician"],
            "patient_advice": triage.get("patient_advice") or _level_advice(engine, level)["patient"],
            "label": _level_advice(engine, level)["label"],
        },
        "leading": differential[0] if differential else None,
        "shown": differential[:SHOWN],
        "rest": differential[SHOWN:],
        "differential": differential,
        "explanations": explanations,
        "next_steps": next_steps,
        "treatments": treatments,
        "unchecked_red_flags": [item_label(engine, f) for f in result.get("unchecked_red_flags", [])],
        "timeline": result.get("timeline") or {},
        "fit": fit,
        "disclaimer": result.get("disclaimer") or engine.kb.manifest.disclaimer,
    }


def patient_view(engine: Engine, result: dict[str, Any], top: int = 3) -> dict[str, Any]:
    """The plain-language end of a patient interview: advice first, then what may be going on."""
    triage = result["triage"]
    level = triage["level"]
    causes: list[dict[str, Any]] = []
    for d in result["differential"][:top]:
        p = float(d["probability"])
        if causes and p < 0.05:
            break
        c = engine.kb.condition(d["condition"])
        likelihood = "most likely" if p >= 0.5 else "possible" if p >= 0.15 else "less likely"
        causes.append(
            {"name": c.name, "description": c.patient_description, "p": p, "likelihood": likelihood}
        )
    return {
        "level": level,
        "label": _level_advice(engine, level)["label"],
        "advice": triage.get("patient_advice") or _level_advice(engine, level)["patient"],
        "rule_advice": list(triage.get("rule_advice", [])),
        "causes": causes,
    }
