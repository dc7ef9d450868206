"""rootcause: decision support for leg pain after lumbar spine surgery.

Supports clinical decisions; does not make them.

    >>> import rootcause
    >>> engine = rootcause.load_engine()
    >>> result = engine.assess({"surgery": {"procedure": "discectomy"}, "findings": {"fever": True}})
    >>> result.triage.level
    'urgent'

The names below load on first use (PEP 562): importing a subpackage such as `rootcause.cli`
does not import NumPy and the knowledge-base schema before the command that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rootcause.engine.assess import Assessment, Engine, load_engine
    from rootcause.engine.case import Case, parse_case
    from rootcause.errors import CaseError, FieldProblem, KnowledgeBaseError, RootcauseError
    from rootcause.knowledge.loader import KnowledgeBase, load_knowledge_base

_HOMES = {
    "Assessment": "rootcause.engine.assess",
    "Engine": "rootcause.engine.assess",
    "load_engine": "rootcause.engine.assess",
    "Case": "rootcause.engine.case",
    "parse_case": "rootcause.engine.case",
    "CaseError": "rootcause.errors",
    "FieldProblem": "rootcause.errors",
    "KnowledgeBaseError": "rootcause.errors",
    "RootcauseError": "rootcause.errors",
    "KnowledgeBase": "rootcause.knowledge.loader",
    "load_knowledge_base": "rootcause.knowledge.loader",
}

__all__ = [
    "Assessment",
    "Case",
    "CaseError",
    "Engine",
    "FieldProblem",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "RootcauseError",
    "load_engine",
    "load_knowledge_base",
    "parse_case",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rootcause' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
