"""Many records about one finding → one value: time window first, then latest (or any positive)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rootcause.fhir.mapping import FhirMapping


@dataclass
class Evidence:
    finding: str
    value: bool
    date: dt.date | None
    reference: str


def resolve(
    mapping: FhirMapping, evidence: list[Evidence], surgery_date: dt.date | None
) -> tuple[dict[str, bool], list[str], list[str]]:
    """Findings, the references used, and notes.

    Evidence for a ``post_op`` finding dated before surgery is dropped. Then the latest record wins
    (undated counts as oldest), or for ``any_true`` findings ("since surgery") any positive record.
    """
    notes: list[str] = []
    by_finding: dict[str, list[Evidence]] = {}
    for ev in evidence:
        if (
            mapping.window(ev.finding) == "post_op"
            and surgery_date is not None
            and ev.date is not None
            and ev.date < surgery_date
        ):
            notes.append(f"{ev.reference}: {ev.finding} dated {ev.date}, before surgery; not used")
            continue
        by_finding.setdefault(ev.finding, []).append(ev)
    findings: dict[str, bool] = {}
    used: list[str] = []
    for fid, items in by_finding.items():
        if mapping.findings[fid].resolve == "any_true" and any(e.value for e in items):
            chosen = [e for e in items if e.value]
        else:
            last = max(items, key=lambda e: e.date or dt.date.min)
            chosen = [last]
            if len({e.value for e in items}) > 1:
                notes.append(f"{fid}: conflicting records; the latest ({last.reference}) was used")
        findings[fid] = chosen[0].value
        used += [e.reference for e in chosen if e.reference not in used]
    return findings, used, notes
