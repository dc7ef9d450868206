"""The knowledge base loads, keeps every contract id, and rejects broken files."""

from __future__ import annotations

import ast
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rootcause import Engine, KnowledgeBaseError, load_knowledge_base
from rootcause.knowledge.check import check_report
from rootcause.knowledge.loader import default_data_dir

CONTRACT = json.loads((Path(__file__).parent / "data" / "contract_ids.json").read_text())
TESTS = Path(__file__).parent


def test_every_contract_condition_and_finding_exists(engine: Engine) -> None:
    assert set(CONTRACT["conditions"]) <= set(engine.model.conditions)
    assert set(CONTRACT["findings"]) <= set(engine.model.findings)


def test_every_seed_cause_is_a_condition(engine: Engine) -> None:
    seed_causes = {
        "epidural_fibrosis",
        "recurrent_disc_herniation",
        "adjacent_segment_disease",
        "nerve_root_injury",
        "postoperative_hematoma",
        "surgical_site_infection",
        "hardware_failure",
        "postoperative_fracture",
        "residual_compression",
        "interspinous_device_complication",
        "preexisting_nerve_damage",
        "other_level_pathology",
        "wrong_level_or_missed_generator",
        "piriformis_syndrome",
        "hip_osteoarthritis",
        "inflammatory_arthritis",
    }
    assert seed_causes <= set(engine.model.conditions)


def test_every_condition_has_treatments_urgency_and_codes(engine: Engine) -> None:
    for cond in engine.kb.conditions:
        assert cond.treatments, cond.id
        assert cond.codes.icd10cm, f"{cond.id} has no ICD-10-CM code"
        assert cond.patient_description.strip(), cond.id


def test_every_finding_has_wording_and_cost(engine: Engine) -> None:
    for f in engine.kb.findings:
        assert f.clinician_text and f.patient_text and f.clinician_question, f.id
        if f.category in ("symptom", "history", "risk_factor"):
            assert f.patient_question, f"{f.id} needs a patient question"


def test_every_seed_claim_is_traced(engine: Engine) -> None:
    ids = [c.id for c in engine.kb.seed_claims]
    assert ids == [f"S{i:02d}" for i in range(1, 30)]
    defined = _test_node_ids()
    data = default_data_dir()
    for claim in engine.kb.seed_claims:
        for entry in claim.carried_by:
            assert (data / entry).exists(), f"{claim.id}: {entry} does not exist"
        for test in claim.tests:
            assert test in defined, f"{claim.id}: test {test} does not exist"


def _test_node_ids() -> set[str]:
    out = set()
    for path in TESTS.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                out.add(f"tests/{path.name}::{node.name}")
    return out


def test_seed_treatment_corrections_are_recorded(engine: Engine) -> None:
    haematoma = engine.kb.condition("postoperative_hematoma")
    seed_advice = [t for t in haematoma.treatments if t.name.lower().startswith("anticoagulants")]
    assert seed_advice and all(t.evidence == "against" for t in seed_advice)
    assert any(t.kind == "emergency_surgery" for t in haematoma.treatments)
    fibrosis = engine.kb.condition("epidural_fibrosis")
    redo = [t for t in fibrosis.treatments if "decompression" in t.name.lower()]
    assert redo and all(t.evidence == "against" for t in redo)


def test_check_report_counts_sources_and_estimates() -> None:
    report = check_report()
    counts = report["counts"]
    assert counts["conditions"] >= 32
    assert counts["numbers with a source"] > 0
    assert counts["numbers that are estimates"] > 0
    assert report["unsourced"] == []


# ------------------------------------------------------------------ broken knowledge files

Mutation = Callable[[Path], None]


def _edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _unknown_finding(root: Path) -> None:
    _edit_yaml(
        root / "conditions" / "epidural_fibrosis.yaml",
        lambda d: d["likelihoods"].update({"slr_positve": {"p": 0.5, "estimate": "typo"}}),
    )


def _unknown_reference(root: Path) -> None:
    _edit_yaml(
        root / "conditions" / "epidural_fibrosis.yaml",
        lambda d: d["likelihoods"]["slr_positive"].update({"source": ["E9999"]}),
    )


def _no_source(root: Path) -> None:
    def change(d: Any) -> None:
        d["likelihoods"]["slr_positive"] = {"p": 0.5}

    _edit_yaml(root / "conditions" / "epidural_fibrosis.yaml", change)


def _bad_distribution(root: Path) -> None:
    _edit_yaml(
        root / "conditions" / "epidural_fibrosis.yaml",
        lambda d: d["timing"]["speed"]["values"].update({"sudden": 0.9}),
    )


def _extra_key(root: Path) -> None:
    _edit_yaml(root / "conditions" / "epidural_fibrosis.yaml", lambda d: d.update({"priors": {}}))


def _probability_out_of_range(root: Path) -> None:
    _edit_yaml(
        root / "conditions" / "epidural_fibrosis.yaml",
        lambda d: d["likelihoods"]["slr_positive"].update({"p": 1.7}),
    )


def _rule_unknown_finding(root: Path) -> None:
    _edit_yaml(root / "triage.yaml", lambda d: d["rules"][0]["when"].update({"any": ["sadle"]}))


def _missing_file(root: Path) -> None:
    (root / "findings.yaml").unlink()


BROKEN: dict[str, tuple[Mutation, str]] = {
    "unknown finding": (_unknown_finding, "unknown finding 'slr_positve'"),
    "unknown reference": (_unknown_reference, "unknown reference 'E9999'"),
    "number without source": (_no_source, "needs 'source'"),
    "distribution not summing to 1": (_bad_distribution, "must sum to 1"),
    "unknown key": (_extra_key, "priors"),
    "probability above 1": (_probability_out_of_range, "less than or equal to 1"),
    "rule names unknown finding": (_rule_unknown_finding, "unknown finding 'sadle'"),
    "missing file": (_missing_file, "findings.yaml: file is missing"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_knowledge_base_is_rejected_with_a_clear_message(name: str, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(default_data_dir(), root)
    mutate, expected = BROKEN[name]
    mutate(root)
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(root)
    assert expected in str(info.value)


def test_unbroken_copy_loads(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(default_data_dir(), root)
    assert load_knowledge_base(root).version
