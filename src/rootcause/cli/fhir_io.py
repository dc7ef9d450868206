"""FHIR input and output for ``rootcause assess --fhir BUNDLE [--fhir-out RISK.json]``.

Kept out of ``main.py`` so the command itself changes by a few lines only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from rootcause.engine.assess import Assessment, Engine
from rootcause.errors import KnowledgeBaseError
from rootcause.fhir.reader import FhirCase, FhirInputError, FhirReader
from rootcause.fhir.risk import risk_assessment_json


class FhirCliError(Exception):
    """A message for ``fail()`` (exit 2)."""


def read_fhir_case(engine: Engine, raw: Any, err: Console) -> FhirCase:
    """Read a parsed Bundle; notes go to standard error, problems raise ``FhirCliError``."""
    try:
        reader = FhirReader.from_kb(engine.kb)
    except KnowledgeBaseError as exc:
        raise FhirCliError(str(exc)) from exc
    try:
        fc = reader.read_bundle(raw, strict=True)
        fc.require_case()
    except FhirInputError as exc:
        raise FhirCliError(str(exc)) from exc
    for note in fc.notes:
        err.print(f"[dim]fhir: {note}[/]", highlight=False)
    if fc.unmapped:
        err.print(f"[dim]fhir: {len(fc.unmapped)} resources not used:[/]", highlight=False)
        for item in fc.unmapped:
            err.print(f"[dim]  {item}[/]", highlight=False)
    return fc


def write_risk_assessment(engine: Engine, result: Assessment, fc: FhirCase | None, path: Path) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        engine_version = version("rootcause")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        engine_version = None
    mapping = FhirReader.from_kb(engine.kb).mapping
    body = risk_assessment_json(
        result,
        engine.kb,
        mapping,
        subject=fc.patient if fc else None,
        basis=fc.basis if fc else (),
        occurrence=dt.datetime.now(dt.UTC),
        engine_version=engine_version,
    )
    try:
        path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        raise FhirCliError(f"{path}: cannot write ({exc.strerror})") from exc
