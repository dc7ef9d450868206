"""The compiled-engine cache: the same scores as compiling afresh, and only when it would be.

A compiled engine is reused only for the same files' text, the same compiling code and the same
library versions; a damaged, foreign or hostile cache file is a miss, never an error; the
knowledge base itself is read only when something needs more than the scores.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rootcause import Engine, KnowledgeBaseError, load_engine
from rootcause.engine import compiled
from rootcause.engine.model import export_tables
from rootcause.knowledge.loader import default_data_dir, load_knowledge_base
from test_kb_cache import _Remove  # a pickle that would call os.remove

CASE = {
    "surgery": {"procedure": "discectomy"},
    "days_since_surgery": 9,
    "leg_pain": {"onset_days": 7, "onset_speed": "sudden"},
    "findings": {"fever": True, "wound_problem": True, "slr_positive": False},
}


@pytest.fixture()
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per engine compiled from a knowledge base from here on."""
    calls: list[int] = []
    real = Engine.__init__

    def counting(self: Engine, kb: object) -> None:
        calls.append(1)
        real(self, kb)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "__init__", counting)
    return calls


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("engine-*.pickle"))


def _same_results(a: Engine, b: Engine) -> None:
    assert export_tables(a.model) == export_tables(b.model)
    assert a.assess(CASE).to_dict() == b.assess(CASE).to_dict()


def test_a_cached_engine_scores_as_a_fresh_one_and_reads_the_kb_only_when_needed(
    cache: Path, compiles: list[int]
) -> None:
    first = load_engine()
    assert len(compiles) == 1 and len(_entries(cache)) == 1
    second = load_engine()
    assert len(compiles) == 1, "the second load must come from the cache"
    assert second._kb is None, "scoring needs only the compiled parts"
    assert compiled.identical((second.model, second.triage_model), (first.model, first.triage_model))
    batch = second.score([second.parse(CASE)] * 3)
    assert np.allclose(batch.posterior.sum(axis=1), 1.0) and second._kb is None
    fresh = Engine(load_knowledge_base(use_cache=False))
    _same_results(second, fresh)  # a report needs the wording: the knowledge base is read now
    assert second._kb is not None and second.kb.version == second.version == fresh.version


def test_the_batch_path_does_not_import_pydantic_once_compiled(cache: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.ndjson"
    cases.write_text('{"surgery": {"procedure": "fusion"}, "findings": {"fever": true}}\n')
    script = (
        "import sys\n"
        "from rootcause.cli.main import main\n"
        f"sys.argv = ['rootcause', 'batch', {str(cases)!r}, '--out', {str(tmp_path / 'out.ndjson')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'yaml')"
        " or m.startswith('rootcause.knowledge.schema')))\n"
    )
    env = {**os.environ, "ROOTCAUSE_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", script]
    runs = [subprocess.run(command, capture_output=True, text=True, env=env) for _ in "12"]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert runs[0].stdout.strip() != "[]", "the first run validates and compiles"
    assert runs[1].stdout.strip() == "[]", runs[1].stdout
    assert '"urgent"' in (tmp_path / "out.ndjson").read_text()


def test_changed_data_is_compiled_again(cache: Path, compiles: list[int], tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(default_data_dir(), data)
    before = load_engine(data).assess(CASE).probability("surgical_site_infection")
    path = data / "conditions" / "surgical_site_infection.yaml"
    text = path.read_text(encoding="utf-8")
    assert "fever: {p: 0.60," in text
    path.write_text(text.replace("fever: {p: 0.60,", "fever: {p: 0.10,", 1), encoding="utf-8")
    after = load_engine(data).assess(CASE).probability("surgical_site_infection")
    assert len(compiles) == 2 and len(_entries(cache)) == 2 and after < before
    path.write_text(text.replace("fever: {p: 0.60,", "fever: {p: 1.60,", 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="less than or equal to 1"):
        load_engine(data)
    assert len(_entries(cache)) == 2, "a knowledge base that fails validation is never compiled"


def test_changed_compiler_source_or_versions_compile_again(
    cache: Path, compiles: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_engine()
    edited = tmp_path / "model.py"
    edited.write_bytes(compiled.COMPILER_SOURCES[0].read_bytes() + b"\n# a change to the compiler\n")
    monkeypatch.setattr(compiled, "COMPILER_SOURCES", (edited, *compiled.COMPILER_SOURCES[1:]))
    load_engine()
    load_engine()
    assert len(compiles) == 2 and len(_entries(cache)) == 2
    monkeypatch.setattr(np, "__version__", np.__version__ + ".post1")
    load_engine()
    assert len(compiles) == 3
    monkeypatch.setattr(compiled, "COMPILER_SOURCES", (tmp_path / "missing.py",))
    load_engine()
    load_engine()
    assert len(compiles) == 5, "unreadable compiler source: no cache"


def test_installed_versions_are_read_without_importing_the_package() -> None:
    assert compiled._installed("pydantic").startswith("pydantic-")
    assert compiled._installed("no_such_distribution_here") == ""


def _rewrite(entry: Path, payload: bytes) -> None:
    key = entry.name.removeprefix("engine-").removesuffix(".pickle")
    header = compiled.CACHE_FORMAT + key.encode() + b"\n"
    entry.write_bytes(header + hashlib.sha256(payload).digest() + payload)


DAMAGE = ["truncated", "flipped byte", "garbage", "not an engine", "forbidden callable", "writable by others"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_cache_file_is_ignored_and_replaced(
    kind: str, cache: Path, compiles: list[int], tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    reference = load_engine()
    [entry] = _entries(cache)
    blob = entry.read_bytes()
    if kind == "truncated":
        entry.write_bytes(blob[: len(blob) // 2])
    elif kind == "flipped byte":
        entry.write_bytes(blob[:-100] + bytes([blob[-100] ^ 1]) + blob[-99:])
    elif kind == "garbage":
        entry.write_bytes(os.urandom(4096))
    elif kind == "not an engine":
        _rewrite(entry, pickle.dumps((reference.model, "not triage")))
    elif kind == "forbidden callable":
        _rewrite(entry, pickle.dumps(_Remove(canary)))
    else:
        entry.chmod(0o666)
    engine = load_engine()
    assert len(compiles) == 2, "a damaged entry is a miss"
    assert canary.exists(), "nothing but compiled types and arrays may be unpickled"
    assert entry.stat().st_mode & 0o777 == 0o600
    again = load_engine()
    assert len(compiles) == 2, "the entry was replaced by a good one"
    assert compiled.identical((again.model, again.triage_model), (engine.model, engine.triage_model))
    _same_results(again, reference)


def test_the_switch_turns_the_cache_off(
    cache: Path, compiles: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOTCAUSE_KB_CACHE", "0")
    load_engine()
    load_engine()
    assert len(compiles) == 2 and not _entries(cache)


def test_identical_compares_arrays_and_floats_bit_for_bit() -> None:
    a = np.array([0.0, 1.0])
    assert compiled.identical(a, a.copy())
    assert not compiled.identical(a, np.array([-0.0, 1.0]))
    assert not compiled.identical(a, a.astype(np.float32))
    assert not compiled.identical(a, a.reshape(2, 1))
    assert compiled.identical({"x": [1.5, "y"]}, {"x": [1.5, "y"]})
    assert not compiled.identical({"x": [1.5]}, {"x": (1.5,)})
