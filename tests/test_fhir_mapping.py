"""The mapping table: complete, consistent with the knowledge base, and rendered in docs/fhir.md."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rootcause import Engine, KnowledgeBaseError
from rootcause.fhir.docs import BEGIN, END, render_tables, replace_section
from rootcause.fhir.mapping import default_mapping_path, load_mapping

DOCS = Path(__file__).parent.parent / "docs" / "fhir.md"


def test_every_knowledge_base_finding_and_procedure_is_mapped(engine: Engine) -> None:
    mapping = load_mapping(engine.kb)
    assert [f.id for f in mapping.table.findings] == engine.kb.finding_ids
    assert sorted(p.id for p in mapping.table.procedures) == sorted(engine.kb.procedures)
    for fid in engine.kb.finding_ids:
        assert mapping.finding_for_code(mapping.systems.finding, fid) == fid
        assert mapping.finding_coding(fid)[-1] == {"system": mapping.systems.finding, "code": fid}


def test_codes_already_in_the_knowledge_base_are_reused(engine: Engine) -> None:
    """findings.yaml and procedures.yaml codings all resolve to the same id through the mapping."""
    mapping = load_mapping(engine.kb)
    for finding in engine.kb.findings:
        for c in finding.coding:
            direct = mapping.finding_for_code(c.system, c.code)
            measured = mapping.measurement_for_code(c.system, c.code)
            assert finding.id in (direct, measured[0] if measured else None), (finding.id, c.code)
    for proc in engine.kb.procedures.values():
        for c in proc.coding:
            assert mapping.procedure_for_code(c.system, c.code) == proc.id


def test_only_the_confirmed_code_is_marked_verified() -> None:
    text = default_mapping_path().read_text()
    verified = [line for line in text.splitlines() if "verified: true" in line and not line.startswith("#")]
    assert len(verified) == 2  # LOINC 72514-3 (evidence sheet) and rootcause's own leg-pain-nrs code
    assert any("72514-3" in line for line in verified)


def test_a_bad_mapping_is_reported_with_its_location(engine: Engine, tmp_path: Path) -> None:
    raw = yaml.safe_load(default_mapping_path().read_text())
    raw["findings"] = raw["findings"][1:]  # drop one finding
    raw["findings"][0]["coding"] = [{"system": "x", "code": "(", "match": "regex"}]
    bad = tmp_path / "fhir_mapping.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(KnowledgeBaseError, match=r"findings\.0\.coding\.0.*invalid regular expression"):
        load_mapping(engine.kb, bad)
    raw["findings"][0]["coding"] = []
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(KnowledgeBaseError, match="same_distribution_as_before_surgery' is missing"):
        load_mapping(engine.kb, bad)


def test_docs_list_every_finding_and_match_the_generated_tables(engine: Engine) -> None:
    doc = DOCS.read_text()
    section = render_tables(load_mapping(engine.kb), engine.kb)
    assert BEGIN in doc and END in doc
    assert replace_section(doc, section) == doc, "run: python -m rootcause.fhir.docs docs/fhir.md"
    for fid in engine.kb.finding_ids:
        assert f"| `{fid}` |" in doc
