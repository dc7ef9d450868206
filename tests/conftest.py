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
