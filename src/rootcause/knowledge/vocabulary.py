"""The case format's closed vocabularies that the engine compiles against.

Kept apart from ``schema.py`` so that code which only needs the names (the batch scorer, the
compiled engine read from its cache) does not import pydantic.
"""

from __future__ import annotations

from typing import Literal

TriageLevel = Literal["emergency", "urgent", "soon", "routine"]
TRIAGE_LEVELS: tuple[TriageLevel, ...] = ("routine", "soon", "urgent", "emergency")
"""Triage levels from least to most urgent; the index is the severity rank."""

Procedure = Literal["discectomy", "laminectomy", "fusion", "interspinous_spacer", "other"]
PROCEDURES: tuple[Procedure, ...] = (
    "discectomy",
    "laminectomy",
    "fusion",
    "interspinous_spacer",
    "other",
)
