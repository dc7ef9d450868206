"""`rootcause parse` and `rootcause validate-notes`: the note reader on the command line.

Registered in cli/main.py; `rootcause assess --note` also uses :func:`case_from_note`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rootcause.errors import CaseError, KnowledgeBaseError


def _main() -> Any:
    from rootcause.cli import main

    return main


def read_note_file(path: Path, note_date: str | None) -> Any:
    """Read a note file with the reader; exit 2 with a message naming the problem."""
    main = _main()
    from rootcause.adapters.notes.reader import parse_note_date, read_note

    try:
        when = parse_note_date(note_date)
    except CaseError as exc:
        main.fail(f"--note-date: {exc.problems[0].message}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        main.fail(f"{path}: no such file")
    except IsADirectoryError:
        main.fail(f"{path}: is a directory, expected a note text file")
    except UnicodeDecodeError:
        main.fail(f"{path}: not UTF-8 text")
    except OSError as exc:
        main.fail(f"{path}: cannot read ({exc.strerror})")
    try:
        return read_note(text, when)
    except KnowledgeBaseError as exc:
        main.fail(str(exc), code=1)


def case_from_note(path: Path, note_date: str | None) -> dict[str, Any]:
    """The case a note gives, for `assess --note`; exit 2 when the note names no operation."""
    reading = read_note_file(path, note_date)
    if "surgery" not in reading.case:
        _main().fail(
            f"{path}: surgery.procedure is missing: the note names no operation "
            "(e.g. microdiscectomy, laminectomy, TLIF, X-Stop); add it to the note or assess a case file"
        )
    case: dict[str, Any] = reading.case
    return case


def parse(
    note_file: Annotated[Path, typer.Argument(help="A clinical note or patient message (plain text)")],
    note_date: Annotated[
        str | None,
        typer.Option("--note-date", help="Date the note was written, YYYY-MM-DD (for 'since Sunday')"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {case, evidence, missing} as JSON")] = False,
) -> None:
    """Read a note: the structured case, the text behind each value, and what is still missing."""
    main = _main()
    reading = read_note_file(note_file, note_date)
    if as_json:
        main.emit_json(reading.to_dict())
        return
    table = Table(title=f"{note_file.name}: what the note says")
    for col in ("field", "value", "from the text"):
        table.add_column(col)
    for ev in reading.evidence:
        table.add_row(ev["field"], str(ev["value"]), repr(ev["text"]))
    main.out.print(table)
    if reading.missing:
        main.out.print("[yellow]still needed:[/] " + ", ".join(reading.missing), highlight=False)


def validate_notes(
    directory: Annotated[
        Path, typer.Argument(help="Folder of annotated notes (*.json, shared/notes format)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Reader accuracy on annotated notes: finding F1 by polarity, fields, red-flag errors (exit 1 if any)."""
    main = _main()
    from rootcause.adapters.notes.reader import read_note
    from rootcause.adapters.notes.scoring import evaluate, load_notes

    if not directory.is_dir():
        main.fail(f"{directory}: not a directory")
    try:
        notes = load_notes(directory)
    except CaseError as exc:
        main.fail(str(exc))
    if not notes:
        main.fail(f"{directory}: no *.json notes found")

    def read(text: str, note_date: str | None) -> dict[str, Any]:
        case: dict[str, Any] = read_note(text, dt.date.fromisoformat(note_date) if note_date else None).case
        return case

    try:
        report = evaluate(notes, read)
    except KnowledgeBaseError as exc:
        main.fail(str(exc), code=1)
    summary = report.summary()
    if as_json:
        main.emit_json(report.to_dict())
    else:
        table = Table(title=f"Note reader on {summary['notes']} notes in {directory}")
        for col in ("measure", "precision", "recall", "F1", "tp/fp/fn"):
            table.add_column(col)
        for label, key in (("findings present", "findings_present"), ("findings absent", "findings_absent")):
            c = summary[key]
            table.add_row(
                label,
                f"{c['precision']:.3f}",
                f"{c['recall']:.3f}",
                f"{c['f1']:.3f}",
                f"{c['tp']}/{c['fp']}/{c['fn']}",
            )
        main.out.print(table)
        fields = Table(title="Fields (where the annotation has them)")
        for col in ("field", "correct", "accuracy"):
            fields.add_column(col)
        for name, f in summary["fields"].items():
            fields.add_row(name, f"{f['correct']}/{f['total']}", f"{f['accuracy']:.2f}")
        main.out.print(fields)
        for err in report.red_flag_errors:
            main.out.print(
                f"[bold red]red-flag polarity error[/] {err['note']}: {err['finding']} "
                f"expected {err['expected']}, read {err['read']}",
                highlight=False,
            )
        worst = [n for n in report.per_note if n["differences"]]
        for n in worst:
            main.out.print(f"[dim]{n['note']}[/]: " + "; ".join(n["differences"]), highlight=False)
        main.out.print(f"red-flag polarity errors: {summary['red_flag_polarity_errors']}")
    if report.red_flag_errors:
        raise typer.Exit(1)
