"""Every error rootcause raises on purpose.

    RootcauseError
    ├── KnowledgeBaseError   a knowledge-base file is missing, malformed or inconsistent
    └── CaseError            a case (or batch line) is invalid; names the field and what was expected

Interfaces map ``CaseError`` to exit status 2 (CLI) or HTTP 422 (API) and never show a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field


class RootcauseError(Exception):
    """Base of every deliberate rootcause error."""


class KnowledgeBaseError(RootcauseError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid knowledge base:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a case: where (dotted path), and what was expected."""

    field: str
    message: str
    suggestions: list[str] = dataclass_field(default_factory=list)

    def __str__(self) -> str:
        hint = f" (did you mean: {', '.join(self.suggestions)}?)" if self.suggestions else ""
        return f"{self.field}: {self.message}{hint}"


class CaseError(RootcauseError):
    def __init__(self, problems: list[FieldProblem], case_id: str | None = None) -> None:
        self.problems = problems
        self.case_id = case_id
        prefix = f"case {case_id!r}: " if case_id else ""
        super().__init__(prefix + "; ".join(str(p) for p in problems))
