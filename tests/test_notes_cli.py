"""`rootcause parse`, `assess --note` and `validate-notes`, and the bar on the annotated notes.

tests/data/notes/ is a copy of the shared public notes; tests/data/notes_extra/ holds notes written for
these tests (other styles and wordings, annotated by the same rules)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rootcause.adapters.notes import read_note
from rootcause.adapters.notes.scoring import evaluate, load_notes
from rootcause.cli.main import app

runner = CliRunner()
DATA = Path(__file__).parent / "data"
NOTES = DATA / "notes"
EXTRA = DATA / "notes_extra"


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def _read(text: str, note_date: str | None) -> dict[str, Any]:
    case: dict[str, Any] = read_note(text, note_date).case
    return case


@pytest.fixture(scope="module")
def public_report() -> Any:
    return evaluate(load_notes(NOTES), _read)


def test_public_notes_meet_the_bar(public_report: Any) -> None:
    summary = public_report.summary()
    assert summary["notes"] == 25
    assert summary["findings_present"]["f1"] >= 0.90
    assert summary["findings_absent"]["f1"] >= 0.85
    assert summary["red_flag_polarity_errors"] == 0
    assert summary["fields"]["surgery.procedure"]["accuracy"] == 1.0
    assert summary["fields"]["days_since_surgery"]["accuracy"] == 1.0


def test_extra_notes_meet_the_bar() -> None:
    summary = evaluate(load_notes(EXTRA), _read).summary()
    assert summary["findings_present"]["f1"] >= 0.90
    assert summary["findings_absent"]["f1"] >= 0.85
    assert summary["red_flag_polarity_errors"] == 0
    assert summary["fields"]["surgery.procedure"]["accuracy"] == 1.0


def test_every_public_case_is_valid_for_the_engine(engine: Any) -> None:
    for note in load_notes(NOTES):
        case = read_note(note.text, note.note_date).case
        engine.parse(case)
        assert engine.assess(case).triage.level in ("routine", "soon", "urgent", "emergency")


def test_parse_json(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    text = "Hi, my microdiscectomy was on the 2nd of June. No fevers. The scar looks fine."
    note.write_text(text, encoding="utf-8")
    result = run("parse", str(note), "--note-date", "2026-08-04", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"case", "evidence", "missing"}
    assert data["case"]["surgery"]["procedure"] == "discectomy"
    assert data["case"]["days_since_surgery"] == 63
    fever = next(e for e in data["evidence"] if e["field"] == "findings.fever")
    start = text.index("fevers")
    assert fever == {
        "field": "findings.fever",
        "value": False,
        "start": start,
        "end": start + 6,
        "text": "fevers",
    }
    assert text[fever["start"] : fever["end"]] == "fevers"
    assert "leg_pain.onset_days" in data["missing"]


def test_parse_readable(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("POD 2 L4/5 TLIF. Afebrile.", encoding="utf-8")
    result = run("parse", str(note))
    assert result.exit_code == 0, result.output
    assert "findings.fever" in result.stdout and "still needed" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["parse", "{missing}"], "no such file"),
        (["parse", "{note}", "--note-date", "31/12/2026"], "--note-date"),
        (["parse", "{note}", "--note-date", "2026-02-30"], "--note-date"),
        (["parse", "{dir}"], "is a directory"),
        (["assess", "--note", "{missing}"], "no such file"),
        (["assess", "--note", "{note}", "--note-date", "yesterday"], "--note-date"),
        (["assess", "--note", "{unnamed}"], "surgery.procedure is missing"),
        (["assess", "{note}", "--note", "{note}"], "give either"),
        (["validate-notes", "{missing}"], "not a directory"),
        (["validate-notes", "{dir}"], "no *.json notes"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: list[str], words: str) -> None:
    note = tmp_path / "note.txt"
    note.write_text("L4/5 microdiscectomy 6/52 ago. Afebrile.", encoding="utf-8")
    unnamed = tmp_path / "unnamed.txt"
    unnamed.write_text("My back op was three weeks ago and I have a temperature of 38.5.", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    paths = {
        "missing": str(tmp_path / "nope.txt"),
        "note": str(note),
        "unnamed": str(unnamed),
        "dir": str(empty),
    }
    result = run(*[a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert "Traceback" not in result.output


def test_assess_note(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text(
        "ED triage. 67F. POD 2 open L3-5 laminectomy. 'Numb down below' when wiping, not PU since 15:00, "
        "legs weaker over last 4 h.",
        encoding="utf-8",
    )
    result = run("assess", "--note", str(note), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["triage"]["level"] == "emergency"
    assert abs(sum(d["probability"] for d in data["differential"]) - 1) < 1e-9


def test_validate_notes_json_and_exit_codes(tmp_path: Path) -> None:
    result = run("validate-notes", str(NOTES), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["red_flag_polarity_errors"] == 0
    assert set(data["per_finding"]["fever"]) == {"present", "absent"}
    # a note whose annotation disagrees on a red flag: exit 1
    bad = tmp_path / "notes"
    bad.mkdir()
    shutil.copy(NOTES / "n04-gp-deep-infection-after-tlif.json", bad)
    raw = json.loads((bad / "n04-gp-deep-infection-after-tlif.json").read_text())
    raw["expected_case"]["findings"]["fever"] = False
    (bad / "n04-gp-deep-infection-after-tlif.json").write_text(json.dumps(raw))
    result = run("validate-notes", str(bad))
    assert result.exit_code == 1
    assert "red-flag polarity error" in result.stdout


def test_malformed_note_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    result = run("validate-notes", str(tmp_path))
    assert result.exit_code == 2
    assert "bad.json" in result.stderr


def test_importing_the_reader_builds_nothing() -> None:
    code = (
        "import rootcause.adapters.notes, rootcause.adapters.notes.pipeline as p, rootcause.cli.main; "
        "print(p.get_pipeline.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_language_file_is_validated(tmp_path: Path) -> None:
    import yaml

    from rootcause.adapters.notes.language import language_path, load_language
    from rootcause.errors import KnowledgeBaseError

    raw = yaml.safe_load(language_path().read_text(encoding="utf-8"))
    raw["frames"][0]["unexpected"] = 1
    bad = tmp_path / "note_language.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as info:
        load_language(bad)
    assert "unexpected" in str(info.value)
    raw["frames"][0].pop("unexpected")
    raw["frames"][0]["finding"] = "no_such_finding"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as info:
        load_language(bad, finding_ids={"fever"})
    assert "no_such_finding" in str(info.value)
