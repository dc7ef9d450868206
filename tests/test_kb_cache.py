"""The knowledge-base load cache: exactly what validation returns, and only when it would.

A validated knowledge base is reused only for the same files' text, the same validating code
and the same library versions; a damaged, foreign or hostile cache file is a miss, never an
error; `rootcause kb check` always validates in full.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import shutil
import time
from pathlib import Path

import pydantic
import pytest

from rootcause import KnowledgeBaseError
from rootcause.engine.model import compile_model, export_tables
from rootcause.knowledge import loader
from rootcause.knowledge.check import check_report
from rootcause.knowledge.loader import KnowledgeBase, default_data_dir, load_knowledge_base


@pytest.fixture()
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per full validation (schema and cross-file checks) from here on."""
    calls: list[int] = []
    real = loader._validate_texts

    def counting(texts: dict[str, str | None]) -> KnowledgeBase:
        calls.append(1)
        return real(texts)

    monkeypatch.setattr(loader, "_validate_texts", counting)
    return calls


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(default_data_dir(), root)
    return root


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("kb-*.pickle"))


def _fresh(root: Path | None = None) -> KnowledgeBase:
    return load_knowledge_base(root, use_cache=False)


def test_cached_load_is_identical_to_validation(cache: Path, validations: list[int]) -> None:
    first = load_knowledge_base()
    assert len(validations) == 1 and len(_entries(cache)) == 1
    second = load_knowledge_base()
    assert len(validations) == 1, "the second load must come from the cache"
    fresh = _fresh()
    assert second is not first and second == fresh
    assert loader._identical(second, fresh)  # types, order, fields given, floats bit for bit
    assert export_tables(compile_model(second)) == export_tables(compile_model(fresh))


def test_identical_is_stricter_than_equality() -> None:
    kb = _fresh()
    manifest = kb.manifest.model_copy(update={"leak_floor": -0.0})
    assert loader._identical(manifest, manifest.model_copy())
    assert not loader._identical(manifest, manifest.model_copy(update={"leak_floor": 0.0}))
    reordered = dataclasses.replace(kb, references=dict(reversed(kb.references.items())))
    assert reordered == kb and not loader._identical(reordered, kb)


def test_changed_data_is_validated_again(cache: Path, validations: list[int], data: Path) -> None:
    load_knowledge_base(data)
    path = data / "conditions" / "epidural_fibrosis.yaml"
    text = path.read_text(encoding="utf-8")
    name = load_knowledge_base(data).condition("epidural_fibrosis").name
    assert len(validations) == 1
    path.write_text(text.replace(f"name: {name}", "name: Scar tissue (edited)", 1), encoding="utf-8")
    assert load_knowledge_base(data).condition("epidural_fibrosis").name == "Scar tissue (edited)"
    assert len(validations) == 2
    path.write_text(text.replace("slr_positive: {p: 0.45,", "slr_positive: {p: 1.7,", 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="less than or equal to 1"):
        load_knowledge_base(data)
    assert len(validations) == 3 and len(_entries(cache)) == 2, "a failed load is never cached"
    path.write_text(text, encoding="utf-8")
    load_knowledge_base(data)
    assert len(validations) == 3, "the original text is still cached"


def test_a_renamed_file_is_validated_again(cache: Path, validations: list[int], data: Path) -> None:
    load_knowledge_base(data)
    (data / "conditions" / "epidural_fibrosis.yaml").rename(data / "conditions" / "scar.yaml")
    with pytest.raises(KnowledgeBaseError, match="must match the file name"):
        load_knowledge_base(data)
    assert len(validations) == 2


def test_changed_schema_source_is_validated_again(
    cache: Path, validations: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_knowledge_base()
    loader_source, schema_source = loader.VALIDATOR_SOURCES
    edited = tmp_path / "schema.py"
    edited.write_bytes(schema_source.read_bytes() + b"\n# a change to the validating code\n")
    monkeypatch.setattr(loader, "VALIDATOR_SOURCES", (loader_source, edited))
    load_knowledge_base()
    assert len(validations) == 2 and len(_entries(cache)) == 2
    load_knowledge_base()
    assert len(validations) == 2
    monkeypatch.setattr(loader, "VALIDATOR_SOURCES", (loader_source, tmp_path / "missing.py"))
    load_knowledge_base()
    assert len(validations) == 3, "unreadable validator source: no cache"


def test_other_library_versions_are_validated_again(
    cache: Path, validations: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_knowledge_base()
    monkeypatch.setattr(pydantic, "VERSION", pydantic.VERSION + ".post1")
    load_knowledge_base()
    assert len(validations) == 2


def _rewrite(entry: Path, payload: bytes) -> None:
    """A cache entry with a correct header and checksum around `payload`."""
    key = entry.name.removeprefix("kb-").removesuffix(".pickle")
    entry.write_bytes(loader.CACHE_FORMAT + key.encode() + b"\n" + hashlib.sha256(payload).digest() + payload)


class _Remove:
    """Unpickles into a call of os.remove: what a hostile cache file could try."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.remove, (self.target,)


def _damage(kind: str, entry: Path, tmp_path: Path) -> None:
    blob = entry.read_bytes()
    if kind == "truncated":
        entry.write_bytes(blob[: len(blob) // 2])
    elif kind == "flipped byte":
        entry.write_bytes(blob[:-100] + bytes([blob[-100] ^ 1]) + blob[-99:])
    elif kind == "other key":
        entry.write_bytes(blob.replace(entry.name[3:10].encode(), b"0000000", 1))
    elif kind == "empty":
        entry.write_bytes(b"")
    elif kind == "garbage":
        entry.write_bytes(os.urandom(4096))
    elif kind == "not a knowledge base":
        _rewrite(entry, pickle.dumps({"manifest": None}))
    elif kind == "bad pickle":
        _rewrite(entry, b"\x80\x05not a pickle at all")
    elif kind == "forbidden callable":
        _rewrite(entry, pickle.dumps(_Remove(tmp_path / "canary")))
    elif kind == "writable by others":
        entry.chmod(0o666)
    else:  # pragma: no cover
        raise AssertionError(kind)


DAMAGE = [
    "truncated",
    "flipped byte",
    "other key",
    "empty",
    "garbage",
    "not a knowledge base",
    "bad pickle",
    "forbidden callable",
    "writable by others",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_cache_file_is_ignored_and_replaced(
    kind: str, cache: Path, validations: list[int], tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    load_knowledge_base()
    [entry] = _entries(cache)
    _damage(kind, entry, tmp_path)
    kb = load_knowledge_base()
    assert len(validations) == 2, "a damaged entry is a miss"
    assert canary.exists(), "nothing but knowledge-base types may be unpickled"
    assert entry.stat().st_mode & 0o777 == 0o600
    again = load_knowledge_base()
    assert len(validations) == 2, "the entry was replaced by a good one"
    assert loader._identical(kb, _fresh()) and loader._identical(again, kb)


def test_an_unwritable_cache_is_not_used(
    tmp_path: Path, validations: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("ROOTCAUSE_CACHE_DIR", str(blocked))
    kb = load_knowledge_base()
    load_knowledge_base()
    assert len(validations) == 2
    assert loader._identical(kb, _fresh())


def test_kb_check_and_the_switch_always_validate_in_full(
    cache: Path, validations: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = load_knowledge_base()
    [entry] = _entries(cache)
    # The cache is trusted like the parse cache (a file of this user's, checksummed): an entry
    # rewritten by someone with this user's rights is served by a cached load...
    tampered = dataclasses.replace(kb, manifest=kb.manifest.model_copy(update={"version": "tampered"}))
    _rewrite(entry, pickle.dumps(tampered, protocol=pickle.HIGHEST_PROTOCOL))
    assert load_knowledge_base().version == "tampered"
    # ... but never by `rootcause kb check`, nor with ROOTCAUSE_KB_CACHE=0.
    assert check_report()["knowledge_base_version"] == kb.version
    monkeypatch.setenv("ROOTCAUSE_KB_CACHE", "0")
    assert load_knowledge_base().version == kb.version
    assert len(validations) == 3
    assert entry.read_bytes().count(b"tampered") == 1, "neither wrote the cache"


def test_old_entries_are_pruned(cache: Path) -> None:
    cache.mkdir(parents=True)
    old = time.time() - 3600
    for i in range(loader.KEEP_VALIDATED + 3):
        stale = cache / f"kb-{i:064x}.pickle"
        stale.write_bytes(b"stale")
        os.utime(stale, (old + i, old + i))
    load_knowledge_base()
    entries = _entries(cache)
    assert len(entries) == loader.KEEP_VALIDATED
    assert cache / f"kb-{0:064x}.pickle" not in entries
    assert any(e.read_bytes().startswith(loader.CACHE_FORMAT) for e in entries)
