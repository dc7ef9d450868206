"""Bad input is rejected with the field named; nothing is half-processed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rootcause import CaseError, Engine

BASE = {"surgery": {"procedure": "discectomy"}}


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ({}, "(case)", "surgery"),
        ({"surgery": {"procedure": "spinal_tap"}}, "surgery.procedure", "discectomy"),
        ({**BASE, "age": 250}, "age", "<= 120"),
        ({**BASE, "age": "old"}, "age", "int"),
        ({**BASE, "pain_scores": [{"day": 3, "nrs": 11}]}, "pain_scores[0].nrs", "<= 10"),
        ({**BASE, "findings": {"fever": "yes"}}, "findings.fever", "bool"),
        (
            {**BASE, "findings": {"saddle_anesthesia": True}},
            "findings.saddle_anesthesia",
            "saddle_anaesthesia",
        ),
        ({**BASE, "leg_pain": {"side": "middle"}}, "leg_pain.side", "left"),
        (
            {**BASE, "days_since_surgery": 10, "leg_pain": {"onset_days": 20}},
            "leg_pain.onset_days",
            "after the assessment",
        ),
        (
            {"surgery": {"procedure": "fusion", "date": "2026-06-01"}, "assessed_on": "2026-05-01"},
            "assessed_on",
            "before",
        ),
        (
            {
                "surgery": {"procedure": "fusion", "date": "2026-06-01"},
                "assessed_on": "2026-06-11",
                "days_since_surgery": 3,
            },
            "days_since_surgery",
            "10 days apart",
        ),
        ({**BASE, "surgery": {"procedure": "fusion", "date": "June"}}, "surgery.date", "date"),
        ({**BASE, "findngs": {}}, "findngs", "findings"),
        ({**BASE, "days_since_surgery": -1}, "days_since_surgery", ">= 0"),
        (
            {**BASE, "days_since_surgery": 5, "pain_scores": [{"day": 9, "nrs": 3}]},
            "pain_scores[0].day",
            "after the assessment",
        ),
    ],
)
def test_bad_case_names_the_field(engine: Engine, case: dict, field: str, words: str) -> None:
    with pytest.raises(CaseError) as info:
        engine.assess(case)
    problem_fields = [p.field for p in info.value.problems]
    assert field in problem_fields, str(info.value)
    text = str(info.value)
    assert words in text


def test_unknown_finding_suggests_nearest(engine: Engine) -> None:
    with pytest.raises(CaseError) as info:
        engine.assess({**BASE, "findings": {"slr_postive": True}})
    assert "slr_positive" in info.value.problems[0].suggestions


def test_non_object_is_rejected(engine: Engine) -> None:
    with pytest.raises(CaseError):
        engine.assess([1, 2, 3])  # type: ignore[arg-type]


def test_dates_give_days_since_surgery(engine: Engine) -> None:
    result = engine.assess(
        {"surgery": {"procedure": "fusion", "date": "2026-06-01"}, "assessed_on": "2026-06-11"}
    )
    assert result.timeline.days_since_surgery == 10


FIRST_USE_FROM_THREADS = """
import json, sys, threading
sys.setswitchinterval(1e-6)  # switch threads as often as possible
from rootcause.engine.case import parse_case
case = json.loads(sys.argv[1])
start = threading.Barrier(8)
def parse():
    start.wait()
    for _ in range(3):
        parse_case(case)
threads = [threading.Thread(target=parse) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_first_parse_from_many_threads_does_not_crash() -> None:
    """msgspec builds a type's decoding info on first use; eight threads doing that at once
    crashed a fresh interpreter in about one run in four (a CDS Hooks worker's first calls) until
    the info was built at import."""
    case = json.dumps({"surgery": {"procedure": "discectomy"}, "leg_pain": {"onset_days": 3}})
    for _ in range(12):
        run = subprocess.run([sys.executable, "-c", FIRST_USE_FROM_THREADS, case], capture_output=True)
        assert run.returncode == 0, run.stderr.decode()[-2000:]
