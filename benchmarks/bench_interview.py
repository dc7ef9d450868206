"""Interview benchmark: time to choose the next question with the whole knowledge base.

Run: `.venv/bin/python benchmarks/bench_interview.py`. Target: under 5 ms per choice.
"""

from __future__ import annotations

import statistics
import time

from rootcause import load_engine
from rootcause.engine.interview import Interviewer, Session


def main() -> None:
    engine = load_engine()
    iv = Interviewer(engine)
    # never stop on value, so every call runs the full information-gain choice
    iv.settings = iv.settings.model_copy(update={"min_value_per_cost": 0.0, "stop_probability": 1.0})
    s = Session("clinician")
    for qid, value in [
        ("surgery.procedure", "discectomy"),
        ("days_since_surgery", 63),
        ("leg_pain.relief_after_surgery", "complete"),
        ("leg_pain.onset_days", 30),
        ("leg_pain.onset_speed", "gradual"),
        ("leg_pain.trend", "worsening"),
        ("red_flags", []),
        ("leg_symptoms", None),
    ]:
        s = iv.answer(s, qid, value)
    for _ in range(20):
        iv.status(s)
    times = []
    for _ in range(300):
        t0 = time.perf_counter()
        status = iv.status(s)
        times.append((time.perf_counter() - t0) * 1e3)
    assert status.question is not None
    times.sort()
    print(
        f"next question ({status.question.id}): median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(len(times) * 0.95)]:.2f} ms  (target < 5 ms)"
    )


if __name__ == "__main__":
    main()
