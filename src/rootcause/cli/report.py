"""Rich rendering of an assessment for the terminal."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rootcause.engine.assess import Assessment, Engine

LEVEL_STYLE = {
    "emergency": "bold white on red",
    "urgent": "bold black on dark_orange",
    "soon": "bold black on yellow",
    "routine": "bold white on green",
}


def render(engine: Engine, a: Assessment, console: Console, top: int = 8) -> None:
    kb = engine.kb
    level = a.triage.level
    banner = Text(f" TRIAGE: {level.upper()} ", style=LEVEL_STYLE[level])
    reasons = "\n".join(f"• {r}" for r in a.triage.reasons)
    console.print(
        Panel(
            Group(banner, Text(reasons), Text(a.triage.clinician_advice, style="italic")),
            title=f"rootcause — case {a.case_id or '(unnamed)'}",
            subtitle=f"knowledge base {a.knowledge_base_version}",
        )
    )
    table = Table(title="Differential", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("Cause")
    table.add_column("Probability", justify="right")
    table.add_column("")
    for i, (cid, p) in enumerate(a.differential[:top], start=1):
        bar = "█" * max(1, round(p * 30)) if p >= 0.005 else ""
        table.add_row(str(i), kb.condition(cid).name, f"{p:.1%}", bar)
    console.print(table)

    for exp in a.explanations[:3]:
        why = Table(title=f"Why: {kb.condition(exp.condition).name} ({exp.probability:.0%})")
        why.add_column("Evidence")
        why.add_column("Value")
        why.add_column("LR", justify="right")
        why.add_column("Sources")
        for item in exp.evidence[:8]:
            lr = f"{item.likelihood_ratio:.2f}"
            style = "green" if item.direction == "for" else "red"
            why.add_row(
                item.item,
                str(item.value),
                Text(lr, style=style),
                ", ".join(item.sources) or "estimate",
            )
        console.print(why)

    if a.fit["poor_fit"]:
        consider = ", ".join(kb.condition(c).name for c in a.fit["consider"])
        console.print(Panel(f"{a.fit['message']}\nConsider: {consider}", title="Poor fit", style="yellow"))

    steps = Table(title="Most useful next steps")
    steps.add_column("Kind")
    steps.add_column("Ask / examine / order")
    for s in a.next_steps:
        steps.add_row(s["kind"], s["question"])
    console.print(steps)
    if a.unchecked_red_flags:
        names = ", ".join(kb.finding(f).clinician_text for f in a.unchecked_red_flags[:8])
        console.print(Text(f"Red flags not yet checked: {names}", style="bold red"))

    for t in a.treatments:
        tt = Table(title=f"Treatment options: {t['name']}")
        tt.add_column("Option")
        tt.add_column("Evidence")
        tt.add_column("Who")
        for o in t["options"]:
            tt.add_row(o["name"], o["evidence"], o["provider"])
        console.print(tt)
    console.print(Text(a.disclaimer, style="dim"))
