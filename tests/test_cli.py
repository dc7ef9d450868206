"""The command line: contract JSON, exit codes, batch streaming and error lines."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from rootcause.cli.main import app

runner = CliRunner()
VIGNETTES = Path(__file__).parent / "data" / "vignettes"


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_assess_json_contract(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text(
        json.dumps({"id": "x1", "surgery": {"procedure": "discectomy"}, "findings": {"fever": True}})
    )
    result = run("assess", str(case), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["case_id"] == "x1"
    assert data["knowledge_base_version"]
    assert data["triage"]["level"] == "urgent"
    assert len(data["differential"]) >= 32
    assert abs(sum(d["probability"] for d in data["differential"]) - 1) < 1e-9
    assert {"finding", "kind"} <= set(data["next_steps"][0])


def test_assess_readable_report(tmp_path: Path) -> None:
    result = run("assess", str(VIGNETTES / "04-day-one-saddle-numbness.json"))
    assert result.exit_code == 0, result.output
    assert "EMERGENCY" in result.stdout
    assert "supports clinical decisions" in result.stdout


def test_assess_bad_inputs_exit_2(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"surgery": {"procedure": "discectomy"}, "age": 250}))
    for path, words in [
        (bad_json, "malformed JSON"),
        (wrong, "age"),
        (tmp_path / "missing.json", "no such file"),
    ]:
        result = run("assess", str(path), "--json")
        assert result.exit_code == 2
        assert words in result.stderr
        assert "Traceback" not in result.output


def test_batch_keeps_order_and_reports_bad_lines(tmp_path: Path) -> None:
    src = tmp_path / "in.ndjson"
    lines = [
        json.dumps({"id": "a", "surgery": {"procedure": "discectomy"}}),
        "{broken",
        "",
        json.dumps({"id": "c", "surgery": {"procedure": "fusion"}, "findings": {"fevr": True}}),
        json.dumps({"id": "d", "surgery": {"procedure": "fusion"}, "findings": {"fever": True}}),
    ]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.ndjson"
    result = run("batch", str(src), "--out", str(out), "--no-progress", "--chunk-size", "2")
    assert result.exit_code == 2
    assert "line 2" in result.stderr and "line 4" in result.stderr
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [r.get("case_id") for r in rows] == ["a", None, "c", "d"]
    assert rows[1]["line"] == 2 and rows[1]["error"]["problems"]
    assert rows[2]["error"]["problems"][0]["suggestions"] == ["fever"]
    assert rows[3]["triage"]["level"] == "urgent"


def test_batch_output_equals_assess(tmp_path: Path) -> None:
    cases = [json.loads((p).read_text())["case"] for p in sorted(VIGNETTES.glob("*.json"))]
    src = tmp_path / "in.ndjson"
    src.write_text("\n".join(json.dumps(c) for c in cases))
    out = tmp_path / "out.ndjson"
    assert run("batch", str(src), "--out", str(out), "--no-progress").exit_code == 0
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    for case, row in zip(cases, rows, strict=True):
        path = tmp_path / "one.json"
        path.write_text(json.dumps(case))
        single = json.loads(run("assess", str(path), "--json").stdout)
        assert [d["condition"] for d in row["differential"]][:5] == [
            d["condition"] for d in single["differential"]
        ][:5]
        for a, b in zip(row["differential"], single["differential"], strict=True):
            assert a["probability"] == pytest.approx(b["probability"], rel=0, abs=1e-12)  # 12 decimals
        assert row["triage"]["level"] == single["triage"]["level"]
        assert row["next_steps"] == [
            {"finding": s["finding"], "kind": s["kind"]} for s in single["next_steps"]
        ]


def test_kb_check_and_export() -> None:
    check = run("kb", "check")
    assert check.exit_code == 0, check.output
    assert "knowledge base OK" in check.stdout
    export = run("kb", "export", "--json")
    tables = json.loads(export.stdout)
    assert set(tables) >= {"knowledge_base_version", "conditions", "findings", "prior", "p_present"}


def test_validate_passes_public_vignettes_and_fails_on_under_triage(tmp_path: Path) -> None:
    ok = run("validate", str(VIGNETTES))
    assert ok.exit_code == 0, ok.output
    assert "top-1" in ok.stdout
    doctored = json.loads((VIGNETTES / "03-improving-first-fortnight.json").read_text())
    doctored["expected"]["triage"] = "emergency"
    (tmp_path / "x.json").write_text(json.dumps(doctored))
    under = run("validate", str(tmp_path))
    assert under.exit_code == 1
    assert "UNDER" in under.stdout


def test_validate_bad_directory_exit_2(tmp_path: Path) -> None:
    assert run("validate", str(tmp_path / "nope")).exit_code == 2
    (tmp_path / "v.json").write_text(json.dumps({"case": {"surgery": {"procedure": "x"}}, "expected": {}}))
    result = run("validate", str(tmp_path))
    assert result.exit_code == 2
    assert "v.json" in result.stderr


def test_demo_runs() -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "Differential" in result.stdout


def test_batch_with_worker_processes_matches_in_process(tmp_path: Path) -> None:
    cases = [json.loads(p.read_text())["case"] for p in sorted(VIGNETTES.glob("*.json"))] * 3
    src = tmp_path / "in.ndjson"
    src.write_text("\n".join(json.dumps(c) for c in cases) + "\n{bad\n")
    one, two = tmp_path / "one.ndjson", tmp_path / "two.ndjson"
    a = run("batch", str(src), "--out", str(one), "--no-progress", "--workers", "1", "--chunk-size", "7")
    b = run("batch", str(src), "--out", str(two), "--no-progress", "--workers", "2", "--chunk-size", "7")
    assert a.exit_code == b.exit_code == 2
    assert one.read_bytes() == two.read_bytes()
    assert len(one.read_bytes().splitlines()) == len(cases) + 1


def test_batch_keeps_freed_memory_on_glibc() -> None:
    import platform

    from rootcause.cli.main import keep_freed_memory

    # both mallopt settings must be accepted where glibc is the C library (this machine's)
    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_console_command_runs_batch_with_its_exit_status(tmp_path: Path) -> None:
    """The installed `rootcause` script (cli.main.main) in a fresh process, as users run it:
    its frozen final collection must not change the exit status or the output."""
    import subprocess
    import sys

    script = str(Path(sys.executable).with_name("rootcause"))
    cases = [json.loads(p.read_text())["case"] for p in sorted(VIGNETTES.glob("*.json"))]
    src, out = tmp_path / "in.ndjson", tmp_path / "out.ndjson"
    src.write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    ok = subprocess.run([script, "batch", str(src), "--out", str(out), "--no-progress"], capture_output=True)
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    lines = out.read_bytes().splitlines()
    assert [orjson.loads(line)["case_id"] for line in lines] == [c.get("id") for c in cases]
    src.write_text(src.read_text() + "{bad\n")
    bad = subprocess.run([script, "batch", str(src), "--out", str(out), "--no-progress"], capture_output=True)
    assert bad.returncode == 2
    assert f"line {len(cases) + 1}" in bad.stderr.decode()
