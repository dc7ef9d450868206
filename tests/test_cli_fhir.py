"""`rootcause assess --fhir BUNDLE [--json] [--fhir-out RISK]`."""

from __future__ import annotations

import json
from pathlib import Path

from fhir.resources.R4B.riskassessment import RiskAssessment
from typer.testing import CliRunner

from rootcause.cli.main import app

runner = CliRunner()
FHIR = Path(__file__).parent / "data" / "fhir"
VIGNETTES = Path(__file__).parent / "data" / "vignettes"


def test_assess_fhir_json_and_risk_assessment(tmp_path: Path) -> None:
    out = tmp_path / "risk.json"
    result = runner.invoke(
        app, ["assess", "--fhir", str(FHIR / "bundle-fusion-cpt.json"), "--json", "--fhir-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # notes go to stderr, stdout stays JSON
    assert data["case_id"] == "fusion-cpt" and data["triage"]["level"] == "urgent"
    risk = json.loads(out.read_text())
    RiskAssessment.model_validate(risk)
    assert risk["subject"] == {"reference": "Patient/fus-1"}
    assert len(risk["prediction"]) == len(data["differential"])
    assert "previous_spine_surgery" in result.stderr


def test_assess_case_file_can_write_a_risk_assessment(tmp_path: Path) -> None:
    out = tmp_path / "risk.json"
    result = runner.invoke(
        app, ["assess", str(VIGNETTES / "01-gradual-return-at-six-weeks.json"), "--fhir-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["subject"] == {"display": "01-gradual-return-at-six-weeks"}


def test_assess_fhir_errors_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bundle = json.loads((FHIR / "bundle-discectomy-snomed.json").read_text())
    bundle["entry"][1]["resource"]["performedDateTime"] = "June 2026"
    bad.write_text(json.dumps(bundle))
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    for args, words in [
        (["assess", "--fhir", str(bad)], "Procedure/op-1.performedDateTime"),
        (["assess", "--fhir", str(empty)], "no completed lumbar spine Procedure"),
        (
            ["assess", "--fhir", str(VIGNETTES / "01-gradual-return-at-six-weeks.json")],
            "expected a FHIR Bundle",
        ),
        (["assess"], "give either CASE_FILE or --fhir"),
        (["assess", str(VIGNETTES / "01-gradual-return-at-six-weeks.json"), "--fhir", str(empty)], "either"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in " ".join(result.stderr.split()), result.stderr
        assert "Traceback" not in result.output
