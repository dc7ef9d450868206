from __future__ import annotations

from pathlib import Path

import pytest

from rootcause import Engine, load_engine

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return load_engine()


@pytest.fixture()
def data_dir() -> Path:
    return DATA


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty cache directory for the load and compiled-engine caches, both switched on."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("ROOTCAUSE_CACHE_DIR", str(directory))
    monkeypatch.delenv("ROOTCAUSE_KB_CACHE", raising=False)
    return directory
