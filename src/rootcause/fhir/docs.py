"""Render the FHIR mapping tables of docs/fhir.md from ``fhir_mapping.yaml`` (so the docs cannot drift).

    python -m rootcause.fhir.docs docs/fhir.md     # rewrite the generated section in place

tests/test_fhir_mapping.py fails when docs/fhir.md differs from what this renders.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rootcause.fhir.mapping import FhirMapping, MappedCoding, load_mapping
from rootcause.knowledge.loader import KnowledgeBase, load_knowledge_base

BEGIN = "<!-- BEGIN GENERATED: fhir mapping tables (python -m rootcause.fhir.docs docs/fhir.md) -->"
END = "<!-- END GENERATED: fhir mapping tables -->"
SHORT = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://www.cms.gov/Medicare/Coding/ICD10": "ICD-10-PCS",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(c: MappedCoding) -> str:
    system = SHORT.get(c.system, c.system)
    code = {"exact": c.code, "prefix": f"{c.code}*", "regex": f"/{c.code}/"}[c.match]
    mark = "" if c.verified else " (unverified)"
    display = f" {c.display}" if c.display else ""
    return _cell(f"{system} `{code}`{display}{mark}")


def render_tables(mapping: FhirMapping, kb: KnowledgeBase) -> str:
    t = mapping.table
    out = [BEGIN, "", "### Procedures", "", "| procedure id | codes | text patterns (case-insensitive) |"]
    out.append("|---|---|---|")
    for p in t.procedures:
        codes = "<br>".join(_code(c) for c in p.coding) or "—"
        text = ", ".join(f"`{_cell(x)}`" for x in p.text) or "—"
        out.append(f"| `{p.id}` | {codes} | {text} |")
    out += ["", "### Route, approach and implant hints", "", "| when | sets |", "|---|---|"]
    for h in t.hints:
        coding = h.coding()
        when = f"text `{_cell(h.text or '')}`" if coding is None else _code(coding)
        sets = ", ".join(
            f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
            for k, v in h.set.model_dump(exclude_none=True).items()
        )
        out.append(f"| {when} | {sets} |")
    out += ["", "### Pain scores", "", "| code |", "|---|"]
    out += [f"| {_code(c)} |" for c in t.pain_scores.coding]
    out += [
        "",
        "### Findings",
        "",
        f"Every finding is also coded `{t.code_systems.finding}|<finding id>`.",
        "",
        "| finding id | category | window | codes naming the finding | measurements |",
        "|---|---|---|---|---|",
    ]
    for f in t.findings:
        codes = "<br>".join(_code(c) for c in f.coding) or "—"
        measures = []
        for m in f.measurements:
            rule: str = m.rule
            if m.rule == "threshold":
                parts = [
                    f"{label} {value:g}"
                    for label, value in (
                        ("present ≥", m.present_at_or_above),
                        ("present <", m.present_below),
                        ("absent <", m.absent_below),
                        ("absent ≥", m.absent_at_or_above),
                    )
                    if value is not None
                ]
                rule = f"threshold ({', '.join(parts)} {m.unit or ''})".replace(" )", ")")
            elif m.rule == "interpretation" and m.min_days_after_surgery is not None:
                rule = f"interpretation (present only from day {m.min_days_after_surgery})"
            measures.append(f"{'; '.join(_code(c) for c in m.coding)}: {rule}")
        category = kb.finding(f.id).category
        window = mapping.window(f.id) + (", any positive wins" if f.resolve == "any_true" else "")
        extra = " (inactive = false)" if f.current_only else ""
        out.append(f"| `{f.id}` | {category} | {window}{extra} | {codes} | {'<br>'.join(measures) or '—'} |")
    out += ["", END]
    return "\n".join(out)


def replace_section(document: str, section: str) -> str:
    start, end = document.index(BEGIN), document.index(END) + len(END)
    return document[:start] + section + document[end:]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "docs/fhir.md")
    kb = load_knowledge_base()
    section = render_tables(load_mapping(kb), kb)
    path.write_text(replace_section(path.read_text(encoding="utf-8"), section), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
