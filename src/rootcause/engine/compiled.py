"""The compiled-engine cache: the scoring model and triage rules, kept between processes.

Every command used to import pydantic and the knowledge-base schema, read the validated
knowledge base and compile it before its first case: a third of the start-up of
`rootcause batch`. The compiled parts are plain data (NumPy arrays, strings, numbers, small
dataclasses), so they are stored once, keyed like the validated knowledge base
(`knowledge.loader`, "Load cache" in docs/knowledge-base.md), and read back without importing
either. The knowledge base itself is then read on first use only (`Engine.kb`): a report's
wording, a treatment, an explanation's sources.

The key is the SHA-256 of every knowledge-base file's path and text, of the source of the code
that validates and compiles them, and of the Python, NumPy, pydantic and pydantic-core versions
(read from the installed distributions' names, so that pydantic is not imported). A stored
engine is used only after it was checked to read back identical; a file that is damaged, not
this user's or writable by others is a miss, never an error (`files.read_trusted`), and only
the compiled types and NumPy's array constructors may be unpickled. ``ROOTCAUSE_KB_CACHE=0``
switches this cache off along with the load cache.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rootcause.engine import model as model_module
from rootcause.engine import triage as triage_module
from rootcause.engine.assess import Engine
from rootcause.engine.model import Model
from rootcause.engine.triage import TriageModel
from rootcause.knowledge import files
from rootcause.knowledge.files import cache_dir, default_data_dir, read_texts

if TYPE_CHECKING:
    from rootcause.knowledge.loader import KnowledgeBase

CACHE_FORMAT = b"rootcause compiled engine 1\n"
KEEP_COMPILED = 8
"""How many compiled engines (code or data versions) to keep; older ones are removed."""

_KNOWLEDGE = Path(files.__file__).parent
COMPILER_SOURCES: tuple[Path, ...] = (
    Path(model_module.__file__),
    Path(triage_module.__file__),
    _KNOWLEDGE / "vocabulary.py",
    _KNOWLEDGE / "loader.py",
    _KNOWLEDGE / "schema.py",
)
"""The code that turns the files' text into the compiled parts: its source is part of the key."""

_NUMPY_CONSTRUCTORS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


def load_compiled_engine(data_dir: Path | str | None = None) -> Engine:
    """The engine for the knowledge base in `data_dir`, compiled once per code and data version.

    Raises ``KnowledgeBaseError`` when the files do not validate (they are then never cached).
    """
    texts = read_texts(Path(data_dir) if data_dir is not None else default_data_dir())

    def load_kb() -> KnowledgeBase:
        from rootcause.knowledge.loader import knowledge_base_from_texts

        return knowledge_base_from_texts(texts)

    key = _cache_key(texts) if os.environ.get("ROOTCAUSE_KB_CACHE", "1") != "0" else None
    if key is not None:
        parts = _read(key)
        if parts is not None:
            return Engine.compiled(*parts, load_kb)
    engine = Engine(load_kb())
    if key is not None:
        _write(key, engine.model, engine.triage_model)
    return engine


def _installed(distribution: str) -> str:
    """The installed distribution's metadata directory name (it holds its version), or ''.

    Found beside the package without importing it: importing pydantic is what the cache saves.
    """
    spec = importlib.util.find_spec(distribution)
    if spec is None or spec.origin is None:
        return ""
    site = Path(spec.origin).parent.parent
    return ",".join(sorted(p.name for p in site.glob(f"{distribution}-*.dist-info")))


def _cache_key(texts: dict[str, str | None]) -> str | None:
    """SHA-256 over everything the compiled parts depend on; None when not cacheable."""
    versions = (np.__version__, sys.version, _installed("pydantic"), _installed("pydantic_core"))
    return files.cache_key(CACHE_FORMAT, COMPILER_SOURCES, versions, texts)


def _path(key: str) -> Path:
    return cache_dir() / f"engine-{key}.pickle"


class _CompiledUnpickler(pickle.Unpickler):
    """Unpickles the compiled types and NumPy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_CONSTRUCTORS:
            return super().find_class(module, name)
        if module in (model_module.__name__, triage_module.__name__):
            found = getattr(sys.modules[module], name, None)
            if dataclasses.is_dataclass(found) and isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a compiled-engine type")


def _read(key: str) -> tuple[Model, TriageModel] | None:
    parts = files.read_pickled(_path(key), CACHE_FORMAT, key, _CompiledUnpickler)
    ok = (
        isinstance(parts, tuple)
        and len(parts) == 2
        and isinstance(parts[0], Model)
        and isinstance(parts[1], TriageModel)
    )
    return (parts[0], parts[1]) if ok else None


def _write(key: str, model: Model, triage_model: TriageModel) -> None:
    """Store the compiled parts, if they read back identical; an unwritable cache is skipped."""
    parts = (model, triage_model)
    files.write_pickled(_path(key), CACHE_FORMAT, key, parts, _CompiledUnpickler, identical, KEEP_COMPILED)


def identical(a: Any, b: Any) -> bool:
    """Same types all the way down, same values in the same order, arrays and floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return bool(a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes())
    if dataclasses.is_dataclass(a):
        return all(identical(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(identical, a, b))
    if isinstance(a, float):
        return a.hex() == b.hex() if a == a else bool(b != b)  # NaN matches NaN
    return bool(a == b) and isinstance(a, str | int | bool | frozenset | type(None))
