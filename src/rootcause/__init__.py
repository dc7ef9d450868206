"""rootcause: decision support for leg pain after lumbar spine surgery.

Supports clinical decisions; does not make them.

    >>> import rootcause
    >>> engine = rootcause.load_engine()
    >>> result = engine.assess({"surgery": {"procedure": "discectomy"}, "findings": {"fever": True}})
    >>> result.triage.level
    'urgent'
"""

from rootcause.engine.assess import Assessment, Engine, load_engine
from rootcause.engine.case import Case, parse_case
from rootcause.errors import CaseError, FieldProblem, KnowledgeBaseError, RootcauseError
from rootcause.knowledge.loader import KnowledgeBase, load_knowledge_base

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
