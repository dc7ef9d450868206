"""The `rootcause` command line: thin wrappers around the engine.

Bad input exits with status 2 and a message naming the field; nothing prints a traceback.
"""

from __future__ import annotations

import functools
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console

from rootcause.errors import CaseError, KnowledgeBaseError

if TYPE_CHECKING:
    from rich.progress import Progress

    from rootcause.engine.assess import Engine

app = typer.Typer(
    help="rootcause: decision support for leg pain after lumbar spine surgery. "
    "Supports clinical decisions; does not make them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
kb_app = typer.Typer(help="Inspect and check the knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")

out = Console()
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@functools.cache
def _engine() -> Engine:
    # Imported here, not above: NumPy and the knowledge base load only for commands that use
    # them, after `batch` has set the BLAS thread count they read at import.
    from rootcause.engine.assess import load_engine

    return load_engine()


def engine_or_exit() -> Engine:
    """The packaged engine, loaded once per process (commands and tests share it)."""
    try:
        return _engine()
    except KnowledgeBaseError as exc:
        fail(str(exc), code=1)


def read_json_file(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a directory, expected a case JSON file")
    except orjson.JSONDecodeError as exc:
        fail(f"{path}: malformed JSON ({exc})")


def emit_json(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


@app.command()
def assess(
    case_file: Annotated[Path | None, typer.Argument(help="Case JSON file (spec/case-format.md)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the contract JSON")] = False,
    fhir: Annotated[Path | None, typer.Option("--fhir", help="Read the case from a FHIR R4 Bundle")] = None,
    fhir_out: Annotated[Path | None, typer.Option("--fhir-out", help="Write a FHIR RiskAssessment")] = None,
    note: Annotated[Path | None, typer.Option("--note", help="Read the case from a clinical note")] = None,
    note_date: Annotated[str | None, typer.Option("--note-date", help="The note's date, YYYY-MM-DD")] = None,
) -> None:
    """Assess one case: differential, triage, next steps, treatments."""
    from rootcause.cli import fhir_io

    engine = engine_or_exit()
    source = fhir or case_file or note
    if source is None or sum(x is not None for x in (fhir, case_file, note)) > 1:
        fail("give either CASE_FILE or --fhir BUNDLE (or --note NOTE)")
    if note is not None:
        from rootcause.cli.notes import case_from_note

        raw = case_from_note(note, note_date)
    else:
        raw = read_json_file(source)
    if isinstance(raw, dict) and "case" in raw and "surgery" not in raw:
        raw = raw["case"]  # a vignette file: assess its case
    try:
        fhir_case = fhir_io.read_fhir_case(engine, raw, err) if fhir else None
        result = engine.assess(fhir_case.require_case() if fhir_case else raw)
        if fhir_out is not None:
            fhir_io.write_risk_assessment(engine, result, fhir_case, fhir_out)
    except (CaseError, fhir_io.FhirCliError) as exc:
        fail(f"{source}: {exc}")
    if as_json:
        emit_json(result.to_dict())
    else:
        from rootcause.cli.report import render

        render(engine, result, out)


@app.command()
def batch(
    input_file: Annotated[Path, typer.Argument(help="NDJSON file, one case per line")],
    output: Annotated[Path, typer.Option("--out", help="Where to write NDJSON results")],
    chunk_size: Annotated[int, typer.Option(help="Cases scored per vectorised chunk")] = 4096,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    workers: Annotated[int, typer.Option(help="Scoring processes (0 = one per CPU core, 1 = this one)")] = 0,
) -> None:
    """Score a cohort: one output line per input line, in order; bad lines are reported."""
    import gc
    import os

    # The batch creates millions of short-lived objects and no reference cycles: the cyclic
    # collector would only re-scan them (it cost a third of the run time, and a tenth of the
    # start-up, which imports and loads the knowledge base from here on); memory is freed by
    # reference counting as each chunk is written.
    collecting = gc.isenabled()
    gc.disable()
    # One BLAS thread per process, set before NumPy loads: the products are small and the
    # batch runs one process per core; OpenBLAS's idle threads spin on sched_yield for a
    # while after each call, taking CPU from the other process (a sixth of a batch's CPU).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        n_cases, n_errors = _score_file(input_file, output, chunk_size, progress, workers)
    finally:
        if collecting:
            gc.enable()
    err.print(f"{n_cases} lines scored, {n_errors} invalid -> {output}", highlight=False)
    if n_errors:
        raise typer.Exit(2)


def _score_file(
    input_file: Path, output: Path, chunk_size: int, progress: bool, workers: int
) -> tuple[int, int]:
    """Score `input_file` into `output` (written whole or not at all); (lines, invalid lines)."""
    import os

    from rootcause.adapters.ndjson import score_into

    engine = engine_or_exit()
    if not input_file.is_file():
        fail(f"{input_file}: no such file")
    keep_freed_memory()
    if chunk_size < 1:
        fail("--chunk-size: expected a positive number")
    total = input_file.stat().st_size
    small = total < 4 * 1024 * 1024  # not worth starting processes for
    n_workers = workers if workers > 0 else (1 if small else os.cpu_count() or 1)
    n_errors = 0
    n_cases = 0
    tmp = output.with_name(output.name + ".partial")
    # The bar is transient, so only a terminal ever shows it: elsewhere it is not built at all.
    bar = _progress_bar() if progress and err.is_terminal else None
    with input_file.open("rb") as src, tmp.open("wb", buffering=0) as dst, bar or nullcontext():
        task = bar.add_task("score", total=total, cases=0) if bar else None
        for errors, n, done in score_into(engine, src, dst.fileno(), chunk_size, n_workers):
            for e in errors:
                err.print(f"[red]{input_file}:{e}[/]", highlight=False)
            n_errors += len(errors)
            n_cases += n
            if bar and task is not None:
                bar.update(task, completed=done, cases=n_cases)
    tmp.replace(output)
    return n_cases, n_errors


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MB for reuse; False where it cannot.

    By default a block over 128 KB is mapped for each allocation and unmapped when freed, so
    every chunk's arrays and output buffer (megabytes each) were page-faulted in afresh: a
    fifth of a batch's time (100 000 cases: 1.42 -> 1.23 s, user + system time -15 %).
    Worker processes inherit the setting.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 256 << 20))
    except (OSError, AttributeError):  # not glibc
        return False


def _progress_bar() -> Progress:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("scoring"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[cases]} cases"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="Folder of vignette JSON files")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    interview: Annotated[
        bool, typer.Option("--interview", help="Simulate the adaptive interview on each vignette")
    ] = False,
    mode: Annotated[str, typer.Option(help="With --interview: patient, clinician or both")] = "both",
) -> None:
    """Accuracy on vignettes: top-1, top-3, triage; exit 1 if any case is under-triaged."""
    from rootcause.evaluation import evaluate, load_vignettes

    engine = engine_or_exit()
    if not directory.is_dir():
        fail(f"{directory}: not a directory")
    try:
        vignettes = load_vignettes(directory, engine)
    except CaseError as exc:
        fail(str(exc))
    if not vignettes:
        fail(f"{directory}: no *.json vignettes found")
    if interview:
        from rootcause.cli.interview import report_interview

        report_interview(engine, vignettes, mode, as_json)
        return
    report = evaluate(engine, vignettes)
    summary = report.summary()
    if as_json:
        emit_json({"summary": summary, "cases": [r.__dict__ for r in report.results]})
    else:
        from rich.table import Table

        table = Table(title=f"Vignettes in {directory}")
        for col in ("case", "expected", "predicted", "p", "rank", "triage (exp → got)"):
            table.add_column(col)
        for r in report.results:
            mark = "✓" if r.top1 else ("~" if r.top3 else "✗")
            tri = f"{r.expected_triage} → {r.triage}"
            if r.triage_delta < 0:
                tri = f"[bold red]{tri} UNDER[/]"
            elif r.triage_delta > 0:
                tri = f"[yellow]{tri} over[/]"
            table.add_row(
                r.name,
                r.expected,
                f"{mark} {r.predicted}",
                f"{r.probability:.2f}",
                str(r.rank),
                tri,
            )
        out.print(table)
        n = summary["cases"]
        out.print(
            f"top-1 {summary['top1']}/{n}  top-3 {summary['top3']}/{n}  "
            f"triage agreement {summary['triage_agreement']}/{n}  "
            f"under-triage {summary['under_triage']}  over-triage {summary['over_triage']}"
        )
    if summary["under_triage"]:
        raise typer.Exit(1)


@kb_app.command("check")
def kb_check(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Validate the knowledge base and report estimates and unverified sources."""
    from rootcause.knowledge.check import check_report

    try:
        report = check_report()
    except KnowledgeBaseError as exc:
        fail(str(exc), code=1)
    if as_json:
        emit_json(report)
        return
    for key, value in report["counts"].items():
        out.print(f"{key:>32}: {value}", highlight=False)
    if report["unsourced"]:
        out.print(f"[red]{len(report['unsourced'])} numbers have no source or estimate[/]")
        raise typer.Exit(1)
    out.print("[green]knowledge base OK[/] — every number has a source or a stated estimate")


@kb_app.command("export")
def kb_export(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the only format)")] = True,
) -> None:
    """Print the prior and P(finding | condition) tables that define the no-timing posterior."""
    from rootcause.engine.model import export_tables

    engine = engine_or_exit()
    emit_json(export_tables(engine.model))


@app.command()
def demo() -> None:
    """Assess the bundled demo case and print the report in the terminal."""
    engine = engine_or_exit()
    from importlib import resources

    raw = orjson.loads(resources.files("rootcause").joinpath("demo/demo-case.json").read_bytes())
    render_case = engine.assess(raw)
    from rootcause.cli.report import render

    render(engine, render_case, out)


from rootcause.cli import interview as _interview  # noqa: E402  (registers after the app exists)

app.command("interview")(_interview.interview)

from rootcause.cli import service as _service  # noqa: E402  (REST service commands)

app.command("serve")(_service.serve)
app.command("seed-demo")(_service.seed_demo)
app.add_typer(_service.db_app, name="db")
app.add_typer(_service.keys_app, name="keys")

from rootcause.cli import notes as _notes  # noqa: E402  (note reader commands)

app.command("parse")(_notes.parse)
app.command("validate-notes")(_notes.validate_notes)


def main() -> None:
    """The `rootcause` console command.

    The process ends with the command, so the collector's final pass over every object left
    (the knowledge base, NumPy, pydantic: 40 ms after a batch) would find nothing worth
    freeing: the objects are frozen out of it. Exit status and output are the command's.
    """
    import gc

    try:
        app()
    finally:
        gc.freeze()
