"""Score the note reader against annotated notes (shared/notes/README.md "Scoring").

Findings are compared by polarity: present (true) and absent (false) each get precision, recall and F1,
per finding and overall (micro-averaged). A red flag read with the wrong polarity, or read at all where
the gold case has none, is a red-flag polarity error. Surgery fields are compared where the gold case has
them; ``days_since_surgery`` and ``onset_days`` count as right within 10 % (or 2 days when small).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootcause.errors import CaseError, FieldProblem

RED_FLAGS = (
    "saddle_anaesthesia",
    "bladder_dysfunction",
    "bowel_dysfunction",
    "progressive_weakness",
    "fever",
    "wound_problem",
    "calf_swelling_or_tenderness",
    "chest_pain_or_breathlessness",
)
TIMED = ("days_since_surgery", "leg_pain.onset_days")


@dataclass(frozen=True)
class AnnotatedNote:
    name: str
    text: str
    expected: dict[str, Any]
    note_date: str | None = None


def load_notes(directory: Path) -> list[AnnotatedNote]:
    """Every *.json note in directory (README file format); a malformed file is a CaseError naming it."""
    notes = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CaseError([FieldProblem(path.name, f"unreadable note file ({exc})")]) from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise CaseError(
                [FieldProblem(f"{path.name}: text", "expected a note object with a 'text' string")]
            )
        expected = raw.get("expected_case")
        if not isinstance(expected, dict):
            raise CaseError([FieldProblem(f"{path.name}: expected_case", "expected an object")])
        note_date = raw.get("note_date")
        if note_date is not None:
            try:
                dt.date.fromisoformat(str(note_date))
            except ValueError as exc:
                raise CaseError([FieldProblem(f"{path.name}: note_date", "expected YYYY-MM-DD")]) from exc
        notes.append(AnnotatedNote(str(raw.get("id") or path.stem), raw["text"], expected, note_date))
    return notes


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def to_dict(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": p, "recall": r, "f1": f1}


@dataclass
class FieldScore:
    correct: int = 0
    total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        acc = self.correct / self.total if self.total else 1.0
        return {"correct": self.correct, "total": self.total, "accuracy": acc, "errors": self.errors}


def close_enough(got: Any, want: int) -> bool:
    return isinstance(got, int) and abs(got - want) <= max(2.0, 0.1 * abs(want))


def _get(case: dict[str, Any], dotted: str) -> Any:
    obj: Any = case
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


@dataclass
class Report:
    notes: int = 0
    present: Counts = field(default_factory=Counts)
    absent: Counts = field(default_factory=Counts)
    per_finding: dict[str, dict[str, Counts]] = field(default_factory=dict)
    red_flag_errors: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, FieldScore] = field(default_factory=dict)
    per_note: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "notes": self.notes,
            "findings_present": self.present.to_dict(),
            "findings_absent": self.absent.to_dict(),
            "red_flag_polarity_errors": len(self.red_flag_errors),
            "fields": {
                k: {kk: vv for kk, vv in v.to_dict().items() if kk != "errors"}
                for k, v in self.fields.items()
            },
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "per_finding": {
                fid: {pol: c.to_dict() for pol, c in by.items()}
                for fid, by in sorted(self.per_finding.items())
            },
            "red_flag_errors": self.red_flag_errors,
            "field_errors": {k: v.errors for k, v in self.fields.items() if v.errors},
            "per_note": self.per_note,
        }


def score_note(report: Report, name: str, gold: dict[str, Any], got: dict[str, Any]) -> None:
    report.notes += 1
    gf: dict[str, bool] = gold.get("findings", {}) or {}
    pf: dict[str, bool] = got.get("findings", {}) or {}
    wrong: list[str] = []
    for fid in sorted(set(gf) | set(pf)):
        g, p = gf.get(fid), pf.get(fid)
        by = report.per_finding.setdefault(fid, {"present": Counts(), "absent": Counts()})
        for pol, counts, total in (
            (True, by["present"], report.present),
            (False, by["absent"], report.absent),
        ):
            for c in (counts, total):
                if g is pol and p is pol:
                    c.tp += 1
                elif p is pol:
                    c.fp += 1
                elif g is pol:
                    c.fn += 1
        if g != p:
            wrong.append(f"{fid}: expected {g}, read {p}")
        if fid in RED_FLAGS and p is not None and p != g:
            report.red_flag_errors.append({"note": name, "finding": fid, "expected": g, "read": p})
    fields = [
        "age",
        "sex",
        *(f"surgery.{k}" for k in ("procedure", "levels", "approach", "route", "instrumented")),
    ]
    fields += [
        "days_since_surgery",
        *(f"leg_pain.{k}" for k in ("side", "relief_after_surgery", "onset_days")),
    ]
    fields += ["leg_pain.onset_speed", "leg_pain.trend", "pain_scores"]
    for fld in fields:
        want = _get(gold, fld)
        if want is None:
            continue
        have = _get(got, fld)
        score = report.fields.setdefault(fld, FieldScore())
        score.total += 1
        if fld in TIMED:
            ok = close_enough(have, want)
        elif fld == "surgery.levels":
            ok = sorted(have or []) == sorted(want)
        elif fld == "pain_scores":
            ok = _scores_match(want, have or [])
        else:
            ok = have == want
        if ok:
            score.correct += 1
        else:
            score.errors.append({"note": name, "expected": want, "read": have})
            wrong.append(f"{fld}: expected {want!r}, read {have!r}")
    report.per_note.append({"note": name, "differences": wrong})


def _scores_match(want: list[dict[str, Any]], have: list[dict[str, Any]]) -> bool:
    if len(want) != len(have):
        return False
    remaining = list(have)
    for w in want:
        hit = next(
            (h for h in remaining if close_enough(h.get("day"), int(w["day"])) and h.get("nrs") == w["nrs"]),
            None,
        )
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def evaluate(notes: Iterable[AnnotatedNote], read: Callable[[str, str | None], dict[str, Any]]) -> Report:
    report = Report()
    for note in notes:
        score_note(report, note.name, note.expected, read(note.text, note.note_date))
    return report
