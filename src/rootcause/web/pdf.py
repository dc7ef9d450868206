"""The assessment report as a PDF (fpdf2: pure Python, no system libraries).

The same ``result_view`` as the HTML page: triage, differential, why (weights and sources),
next steps, treatments, and at the end the full citation of every source the report cites.
The built-in Helvetica font covers Latin-1, so other characters are spelled out (``≥`` → ``>=``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from rootcause.engine.assess import Engine
from rootcause.web.views import item_label, result_view

REPLACE = {
    "≥": ">=", "≤": "<=", "↑": "up ", "↓": "down ", "β": "beta", "—": "-", "–": "-", "‘": "'", "’": "'",
    "“": '"', "”": '"', "…": "...", "•": "-", "⚑": "!", "→": "->", "−": "-", "≈": "~", " ": " ",
}  # fmt: skip
LEVEL_RGB = {
    "emergency": (176, 0, 32),
    "urgent": (192, 86, 0),
    "soon": (138, 109, 0),
    "routine": (30, 125, 50),
}
BAR_RGB = (31, 95, 168)


def latin1(text: Any) -> str:
    """Text the core PDF fonts can show: known symbols spelled out, the rest transliterated."""
    s = str(text)
    for k, v in REPLACE.items():
        s = s.replace(k, v)
    if all(ord(ch) < 256 for ch in s):
        return s
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(ch if ord(ch) < 256 else "?" for ch in decomposed if not unicodedata.combining(ch))


def fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened with '...' to fit ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..."


def filename(result: dict[str, Any]) -> str:
    case_id = re.sub(r"[^A-Za-z0-9._-]+", "-", str(result.get("case_id") or "assessment")).strip("-")
    return f"rootcause-{case_id or 'assessment'}.pdf"


class Report(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = latin1(footer_text)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(16, 16, 16)
        self.set_title("rootcause assessment")
        self.set_creator("rootcause")

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", size=7)
        self.set_text_color(90, 90, 90)
        self.multi_cell(0, 3, self.footer_text + f"   Page {self.page_no()}", align="C")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", size)
        self.set_text_color(20, 20, 20)
        self.multi_cell(0, 6, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", size=9.5)

    def para(
        self, text: str, *, bold: bool = False, size: float = 9.5, colour: tuple[int, int, int] = (20, 20, 20)
    ) -> None:
        self.set_font("Helvetica", "B" if bold else "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, 4.6, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def bullet(self, text: str) -> None:
        self.set_font("Helvetica", size=9.5)
        self.set_text_color(20, 20, 20)
        x = self.get_x()
        self.cell(5, 4.6, "-")
        self.multi_cell(0, 4.6, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_x(x)


def _case_lines(engine: Engine, case: dict[str, Any]) -> list[str]:
    lines = []
    surgery = case.get("surgery") or {}
    if surgery:
        parts = [str(surgery.get("procedure", "")).replace("_", " ")]
        if surgery.get("levels"):
            parts.append(", ".join(surgery["levels"]))
        for name in ("approach", "route"):
            if surgery.get(name):
                parts.append(str(surgery[name]).replace("_", " "))
        if surgery.get("date"):
            parts.append(f"on {surgery['date']}")
        lines.append("Operation: " + ", ".join(p for p in parts if p))
    who = [f"{case['age']} years" if case.get("age") is not None else "", str(case.get("sex") or "")]
    if any(who):
        lines.append("Patient: " + ", ".join(w for w in who if w))
    findings = case.get("findings") or {}
    present = [item_label(engine, f) for f, v in findings.items() if v is True]
    absent = [item_label(engine, f) for f, v in findings.items() if v is False]
    if present:
        lines.append("Present: " + "; ".join(present))
    if absent:
        lines.append("Looked for, absent: " + "; ".join(absent))
    scores = case.get("pain_scores") or []
    if scores:
        lines.append("Pain scores: " + ", ".join(f"day {s.get('day')}: {s.get('nrs')}" for s in scores))
    return lines


def report_pdf(
    engine: Engine, result: dict[str, Any], case: dict[str, Any], *, generated: str | None = None
) -> bytes:
    """The report for one assessment; ``case`` is the case it was made from (for the summary)."""
    r = result_view(engine, result)
    pdf = Report(r["disclaimer"])
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 9, "rootcause assessment", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    when = generated or dt.date.today().isoformat()
    meta = f"Generated {when} - knowledge base {r['kb_version']}"
    if r["case_id"]:
        meta = f"Case {r['case_id']} - " + meta
    pdf.para(meta, size=9, colour=(80, 80, 80))
    pdf.para(r["disclaimer"], size=8.5, colour=(80, 80, 80))

    lines = _case_lines(engine, case)
    timeline = r["timeline"]
    if timeline.get("days_since_surgery") is not None:
        lines.append(
            f"Timeline: {timeline['days_since_surgery']} days after surgery; course "
            f"{str(timeline.get('course', 'unknown')).replace('_', ' ')}"
        )
    if lines:
        pdf.heading("Case")
        for line in lines:
            pdf.bullet(line)

    t = r["triage"]
    pdf.heading("Triage: " + t["label"])
    pdf.para(t["clinician_advice"], bold=True, colour=LEVEL_RGB.get(t["level"], (20, 20, 20)))
    for reason in t["reasons"]:
        pdf.bullet(reason)
    pdf.para("For the patient: " + t["patient_advice"])
    for advice in t["rule_advice"]:
        pdf.bullet(advice)
    if r["fit"].get("poor_fit"):
        pdf.para("Poor fit: " + str(r["fit"].get("message", "")), bold=True)

    pdf.heading("Differential")
    for d in r["differential"][:10]:
        y = pdf.get_y()
        if y > pdf.h - 30:
            pdf.add_page()
            y = pdf.get_y()
        pdf.set_font("Helvetica", size=9.5)
        pdf.set_text_color(20, 20, 20)
        pdf.cell(78, 5.5, fit(pdf, latin1(d["name"]), 76))
        pdf.set_fill_color(225, 230, 238)
        pdf.rect(96, y + 1.2, 80, 3.4, style="F")
        pdf.set_fill_color(*BAR_RGB)
        pdf.rect(96, y + 1.2, max(0.3, 80 * d["p"]), 3.4, style="F")
        pdf.set_x(178)
        pdf.cell(0, 5.5, f"{100 * d['p']:.1f}%", new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="R")

    cited: list[str] = []

    def cite(items: list[dict[str, Any]]) -> str:
        ids = [s["id"] for s in items]
        cited.extend(i for i in ids if i not in cited and i in engine.kb.references)
        return ", ".join(ids) if ids else "estimate"

    pdf.heading("Why")
    for e in r["explanations"][:3]:
        pdf.para(
            f"{e['name']} ({100 * e['p']:.1f}%) - prior {100 * e['prior']:.1f}% [{cite(e['prior_sources'])}]",
            bold=True,
        )
        for label, rows in (("for", e["for"]), ("against", e["against"])):
            for w in rows:
                numbers = f"weight {w['weight']:+.2f}, LR {w['lr']:.2f}"
                pdf.bullet(f"{label}: {w['label']} = {w['value']}; {numbers} [{cite(w['sources'])}]")

    pdf.heading("What to find out next")
    for s in r["next_steps"]:
        pdf.bullet(f"{s['verb']}: {s['label']}. {s['question']}")
    if r["unchecked_red_flags"]:
        pdf.para("Red flags not yet checked: " + "; ".join(r["unchecked_red_flags"]))

    pdf.heading("Treatment options")
    for tr in r["treatments"]:
        pdf.para(f"{tr['name']} ({100 * tr['p']:.0f}%)", bold=True)
        for o in tr["options"]:
            kind, evidence = str(o["kind"]).replace("_", " "), str(o["evidence"]).replace("_", " ")
            pdf.bullet(
                f"{o['name']} ({kind}; evidence {evidence}): "
                f"{o['description']} By: {o['provider']}. [{cite(o['sources'])}]"
            )

    if cited:
        pdf.heading("Sources cited")
        refs = engine.kb.references
        for rid in sorted(cited, key=lambda s: (len(s), s)):
            ref = refs[rid]
            ident = f" {ref.identifier}" if ref.identifier and ref.identifier not in ref.citation else ""
            pdf.bullet(f"{rid}. {ref.citation}{ident}")
    return bytes(pdf.output())
