"""`rootcause interview`: the adaptive interview in the terminal, or simulated from a case."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from rootcause.errors import CaseError

if TYPE_CHECKING:  # imported where used: `rootcause --help` and `batch` need none of them
    from rootcause.engine.interview import Interviewer, Mode, Question

DAYS = re.compile(r"^\s*(\d+)\s*(d|day|days|w|wk|week|weeks|m|mo|month|months|y|yr|year|years)?\s*$", re.I)
UNIT_DAYS = {"d": 1, "w": 7, "m": 30.44, "y": 365}
BACK = {"b", "back", "undo"}
DONT_KNOW = {"?", "d", "dk", "don't know", "dont know", "unknown"}


def parse_days(text: str) -> int | None:
    """'10', '10 days', '6w', '3 months', '1y' → days; None if not understood."""
    match = DAYS.match(text)
    if not match:
        return None
    number, unit = int(match.group(1)), (match.group(2) or "d").lower()[0]
    return round(number * UNIT_DAYS[unit])


def _ask(console: Console, q: Question, number: int) -> Any:
    """Prompt until the answer is understood. Returns 'BACK', None (don't know) or a value."""
    from rich.panel import Panel
    from rich.prompt import Prompt

    console.print(Panel(q.text, title=f"Question {number}", subtitle="b = back, ? = don't know"))
    if q.kind == "checklist":
        for i, opt in enumerate(q.options, start=1):
            console.print(f"  [bold]{i:>2}[/] {opt['label']}")
    elif q.kind == "choice":
        for i, opt in enumerate(q.options, start=1):
            console.print(f"  [bold]{i}[/] {opt['label']}")
    while True:
        hint = {
            "yes_no": "y / n",
            "choice": "number",
            "days": "e.g. 10 days, 6 weeks, 3 months",
            "checklist": "numbers separated by commas, or 0 for none",
        }[q.kind]
        raw = Prompt.ask(f"[dim]{hint}[/]", console=console).strip().lower()
        if raw in BACK:
            return "BACK"
        if raw in DONT_KNOW:
            return None
        value = _interpret(q, raw)
        if value is not _INVALID:
            return value
        console.print("[red]Sorry, I did not understand that answer.[/]")


_INVALID = object()


def _interpret(q: Question, raw: str) -> Any:
    if q.kind == "yes_no":
        return True if raw in {"y", "yes"} else False if raw in {"n", "no"} else _INVALID
    if q.kind == "days":
        days = parse_days(raw)
        return _INVALID if days is None else days
    if q.kind == "choice":
        if raw.isdigit() and 1 <= int(raw) <= len(q.options):
            return q.options[int(raw) - 1]["value"]
        return _INVALID
    picks = [p.strip() for p in raw.replace(" ", ",").split(",") if p.strip()]
    if picks == ["0"]:
        return []
    if not picks or not all(p.isdigit() and 1 <= int(p) <= len(q.options) for p in picks):
        return _INVALID
    return [q.options[int(p) - 1]["value"] for p in picks]


def interview(
    mode: Annotated[
        str, typer.Option(help="patient (history questions, plain words) or clinician")
    ] = "patient",
    simulate_case: Annotated[
        Path | None, typer.Option("--simulate", help="Answer from this case JSON instead of asking")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --simulate: print JSON")] = False,
    save: Annotated[Path | None, typer.Option(help="Save the collected case JSON here")] = None,
) -> None:
    """Adaptive interview: the fewest questions to a safe, confident answer."""
    from rootcause.cli.main import emit_json, engine_or_exit, fail, out, read_json_file
    from rootcause.engine.interview import MODES, Interviewer, simulate

    if mode not in MODES:
        fail(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
    chosen: Mode = "patient" if mode == "patient" else "clinician"
    engine = engine_or_exit()
    interviewer = Interviewer(engine)
    if simulate_case is not None:
        raw = read_json_file(simulate_case)
        if isinstance(raw, dict) and "case" in raw and "surgery" not in raw:
            raw = raw["case"]
        try:
            engine.parse(raw)
            transcript = simulate(interviewer, raw, chosen)
        except CaseError as exc:
            fail(f"{simulate_case}: {exc}")
        if as_json:
            emit_json(
                {
                    "questions": transcript.questions,
                    "stop_reason": transcript.reason,
                    "assessment": transcript.assessment.to_dict(),
                }
            )
        else:
            from rootcause.cli.report import render

            out.print(f"{len(transcript.questions)} questions; stopped: {transcript.reason}")
            render(engine, transcript.assessment, out)
        return
    _run_interactive(interviewer, chosen, save, out)


def _run_interactive(interviewer: Interviewer, mode: Mode, save: Path | None, console: Console) -> None:
    from rich.panel import Panel
    from rich.prompt import Prompt

    from rootcause.cli.report import render
    from rootcause.engine.interview import Session

    console.print(Panel(interviewer.engine.kb.manifest.disclaimer, title="rootcause interview", style="cyan"))
    session = Session(mode)
    while True:
        status = interviewer.status(session)
        if status.done or status.question is None:
            break
        answer = _ask(console, status.question, len(session.answers) + 1)
        if answer == "BACK":
            session = interviewer.undo(session)
            continue
        try:
            session = interviewer.answer(session, status.question.id, answer)
        except CaseError as exc:
            console.print(f"[red]{exc}[/]")
    console.print(f"\n[bold]Done after {len(session.answers)} questions[/] ({status.reason}).\n")
    render(interviewer.engine, status.assessment, console)
    case = interviewer.case_of(session)
    target = save
    if target is None and console.is_terminal:
        path = Prompt.ask("Save the case JSON to (leave empty to skip)", default="", console=console)
        target = Path(path) if path else None
    if target is not None:
        target.write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n")
        console.print(f"Saved {target}")


def report_interview(engine: Any, vignettes: list[Any], mode: str, as_json: bool) -> None:
    """`rootcause validate DIR --interview`: per case and overall; exit 1 on unsafe results."""
    from rich.table import Table

    from rootcause.cli.main import emit_json, fail, out
    from rootcause.engine.interview import MODES
    from rootcause.evaluation import evaluate_interview, interview_summary

    modes = list(MODES) if mode == "both" else [mode]
    if any(m not in MODES for m in modes):
        fail(f"--mode: expected patient, clinician or both, got {mode!r}")
    unsafe = False
    payload: dict[str, Any] = {}
    for m in modes:
        results = evaluate_interview(engine, vignettes, m)
        summary = interview_summary(results)
        unsafe |= bool(summary["under_triage_at_stop"] or summary["missed_red_flags"])
        payload[m] = {"summary": summary, "cases": [r.__dict__ for r in results]}
        if as_json:
            continue
        table = Table(title=f"Interview ({m} mode)")
        for col in (
            "case",
            "questions",
            "rank at stop",
            "rank full",
            "triage (exp → stop)",
            "missed red flags",
        ):
            table.add_column(col)
        for r in results:
            tri = f"{r.expected_triage} → {r.triage_at_stop}"
            table.add_row(
                r.name,
                str(r.questions),
                str(r.rank_at_stop),
                str(r.rank_full),
                f"[bold red]{tri} UNDER[/]" if r.under_triaged else tri,
                ", ".join(r.missed_red_flags),
            )
        out.print(table)
        out.print(
            f"{m}: median questions {summary['median_questions']}  "
            f"top-1 {summary['top1_at_stop']}/{summary['cases']} (full {summary['top1_full']})  "
            f"top-3 {summary['top3_at_stop']}/{summary['cases']} (full {summary['top3_full']})  "
            f"under-triage {summary['under_triage_at_stop']}  missed red flags {summary['missed_red_flags']}"
        )
    if as_json:
        emit_json(payload)
    if unsafe:
        raise typer.Exit(1)
