"""Public vignettes (a copy of shared/vignettes/public): the issue's accuracy bar."""

from __future__ import annotations

from pathlib import Path

from rootcause import Engine
from rootcause.evaluation import evaluate, load_vignettes

VIGNETTES = Path(__file__).parent / "data" / "vignettes"


def test_public_vignettes_meet_the_bar(engine: Engine) -> None:
    report = evaluate(engine, load_vignettes(VIGNETTES, engine))
    summary = report.summary()
    misses = [(r.name, r.expected, r.predicted, r.rank) for r in report.results if not r.top1]
    assert summary["cases"] == 15
    assert summary["top3"] == 15, misses
    assert summary["top1"] >= 13, misses
    assert report.under_triaged == [], [(r.name, r.expected_triage, r.triage) for r in report.under_triaged]
