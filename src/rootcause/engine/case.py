"""The case contract (spec/case-format.md §1): typed structure, cross-field rules, clear errors.

msgspec does the structural validation (types, enums, ranges, unknown keys) in C, for one case
or a whole batch at once; ``check_case`` adds the rules that span fields (dates, timeline
consistency, finding ids). Unknown is not absent: every field is optional except the procedure.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from msgspec import Meta

from rootcause.errors import CaseError, FieldProblem

ProcedureId = Literal["discectomy", "laminectomy", "fusion", "interspinous_spacer", "other"]
MAX_AGE = 120
Level = Annotated[str, Meta(pattern=r"^(T1[0-2]|L[1-5])-(L[1-5]|S1)$")]


class Surgery(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    procedure: ProcedureId
    levels: list[Level] | None = None
    approach: Literal["open", "minimally_invasive"] | None = None
    route: Literal["posterior", "anterior", "lateral", "combined"] | None = None
    instrumented: bool | None = None
    date: dt.date | None = None


class LegPain(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    side: Literal["left", "right", "both"] | None = None
    relief_after_surgery: Literal["none", "partial", "complete"] | None = None
    onset_days: Annotated[int, Meta(ge=0, le=36500)] | None = None
    onset_speed: Literal["sudden", "gradual"] | None = None
    trend: Literal["improving", "stable", "worsening"] | None = None


class PainScore(msgspec.Struct, forbid_unknown_fields=True):
    day: Annotated[int, Meta(ge=-3650, le=36500)]
    nrs: Annotated[float, Meta(ge=0, le=10)]


class Case(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    surgery: Surgery
    id: str | None = None
    age: Annotated[int, Meta(ge=0, le=MAX_AGE)] | None = None
    sex: Literal["female", "male", "other"] | None = None
    assessed_on: dt.date | None = None
    days_since_surgery: Annotated[int, Meta(ge=0, le=36500)] | None = None
    leg_pain: LegPain | None = None
    pain_scores: list[PainScore] | None = None
    findings: dict[str, bool] = msgspec.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


_CASE_FIELDS = [f.name for f in msgspec.structs.fields(Case)]
_NESTED_FIELDS = {
    "surgery": [f.name for f in msgspec.structs.fields(Surgery)],
    "leg_pain": [f.name for f in msgspec.structs.fields(LegPain)],
}


def _literal_values(tp: Any) -> list[str]:
    if get_origin(tp) is Literal:
        return [str(v) for v in get_args(tp)]
    for arg in get_args(tp):
        if get_origin(arg) is Literal:
            return [str(v) for v in get_args(arg)]
    return []


def _allowed_values() -> dict[str, list[str]]:
    """Dotted field path -> the values an enum field accepts, read from the Structs."""
    out: dict[str, list[str]] = {}
    for prefix, struct in (("", Case), ("surgery.", Surgery), ("leg_pain.", LegPain)):
        for f in msgspec.structs.fields(struct):
            values = _literal_values(f.type)
            if values:
                out[prefix + f.name] = values
    return out


_ALLOWED = _allowed_values()
_LOCATION = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]+)`")


def problem_from_msgspec(exc: msgspec.ValidationError | msgspec.DecodeError, raw: Any = None) -> FieldProblem:
    """Turn msgspec's message into a FieldProblem with a dotted field path and a hint.

    `raw` (the decoded object, when available) lets a bad finding value be named by its key,
    which msgspec reports only as `findings[...]`.
    """
    text = str(exc)
    match = _LOCATION.search(text)
    path = match.group("path") if match else ""
    message = _LOCATION.sub("", text)
    field = path.lstrip(".") or "(case)"
    if field == "findings[...]" and isinstance(raw, dict) and isinstance(raw.get("findings"), dict):
        bad = [k for k, v in raw["findings"].items() if not isinstance(v, bool)]
        field = f"findings.{bad[0]}" if bad else field
        message = f"{message}; finding values must be true or false"
    if message.startswith("Invalid enum value") and field in _ALLOWED:
        message = f"{message}; expected one of {', '.join(_ALLOWED[field])}"
    unknown = _UNKNOWN.search(message)
    if unknown:
        name = unknown.group("name")
        options = _NESTED_FIELDS.get(field, _CASE_FIELDS)
        where = f"{field}.{name}" if field != "(case)" else name
        return FieldProblem(
            where,
            f"unknown field; expected one of {', '.join(options)}",
            difflib.get_close_matches(name, options, n=3),
        )
    if not isinstance(exc, msgspec.ValidationError) and not match:
        return FieldProblem("(json)", f"malformed JSON: {message}")
    return FieldProblem(field, message)


def days_between(start: dt.date, end: dt.date) -> int:
    return (end - start).days


def check_case(case: Case, finding_ids: frozenset[str]) -> list[FieldProblem]:
    """Cross-field rules that msgspec cannot express. Returns every problem found."""
    problems: list[FieldProblem] = []
    unknown = [fid for fid in case.findings if fid not in finding_ids]
    for fid in unknown:
        problems.append(
            FieldProblem(
                f"findings.{fid}",
                "unknown finding id",
                difflib.get_close_matches(fid, sorted(finding_ids), n=3, cutoff=0.5),
            )
        )
    days = case.days_since_surgery
    date = case.surgery.date
    if date is not None and case.assessed_on is not None:
        from_dates = days_between(date, case.assessed_on)
        if from_dates < 0:
            problems.append(FieldProblem("assessed_on", f"is before surgery.date ({date.isoformat()})"))
        elif days is not None and days != from_dates:
            problems.append(
                FieldProblem(
                    "days_since_surgery",
                    f"is {days} but surgery.date and assessed_on are {from_dates} days apart",
                )
            )
        days = from_dates if days is None else days
    onset = case.leg_pain.onset_days if case.leg_pain is not None else None
    if onset is not None and days is not None and onset > days:
        problems.append(
            FieldProblem(
                "leg_pain.onset_days",
                f"is {onset}, after the assessment ({days} days since surgery)",
            )
        )
    if case.pain_scores and days is not None:
        for i, score in enumerate(case.pain_scores):
            if score.day > days:
                problems.append(
                    FieldProblem(
                        f"pain_scores[{i}].day",
                        f"is {score.day}, after the assessment ({days} days since surgery)",
                    )
                )
    return problems


def check_cases(cases: Sequence[Case], finding_ids: frozenset[str]) -> dict[int, list[FieldProblem]]:
    """`check_case` for a batch, by index, for the cases that have problems.

    One cheap pass picks the cases that could break a rule (an unknown finding id, dates,
    pain scores, an onset after the stated day count); only those get the full check.
    """
    unknown = set().union(*[c.findings for c in cases]) - finding_ids  # the dicts' keys, in C
    suspects = [
        i
        for i, c in enumerate(cases)
        if c.assessed_on is not None
        or c.pain_scores
        or (
            (pain := c.leg_pain) is not None
            and pain.onset_days is not None
            and c.days_since_surgery is not None
            and pain.onset_days > c.days_since_surgery
        )
        or (unknown and not unknown.isdisjoint(c.findings))
    ]
    return {i: problems for i in suspects if (problems := check_case(cases[i], finding_ids))}


def effective_days(case: Case) -> int | None:
    """Days since surgery from `days_since_surgery` or from the two dates."""
    if case.days_since_surgery is not None:
        return case.days_since_surgery
    if case.surgery.date is not None and case.assessed_on is not None:
        return days_between(case.surgery.date, case.assessed_on)
    return None


# msgspec builds a Struct type's decoding info lazily, on its first decode or convert, and two
# threads doing that first use at once can crash the interpreter (reproduced: 10 of 40 runs with
# 8 threads). Building a decoder builds the info for Case and every nested type now, at import,
# which the import lock serialises.
CASE_DECODER = msgspec.json.Decoder(Case)


def parse_case(obj: Any, finding_ids: Iterable[str] | None = None) -> Case:
    """Validate a decoded JSON object (or JSON bytes/str) as a case; raise ``CaseError``."""
    try:
        if isinstance(obj, bytes | str):
            case = CASE_DECODER.decode(obj)
        elif isinstance(obj, Case):
            case = obj
        else:
            if not isinstance(obj, dict):
                raise CaseError([FieldProblem("(case)", "expected a JSON object")])
            case = msgspec.convert(obj, Case)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        case_id = obj.get("id") if isinstance(obj, dict) else None
        raise CaseError(
            [problem_from_msgspec(exc, obj)], case_id if isinstance(case_id, str) else None
        ) from None
    if finding_ids is not None:
        problems = check_case(case, frozenset(finding_ids))
        if problems:
            raise CaseError(problems, case.id)
    return case
