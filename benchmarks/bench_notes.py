"""Note reader throughput on one core: notes per second for ~200-word notes.

    .venv/bin/python benchmarks/bench_notes.py [--seconds 5] [--json]

The notes are the annotated notes in tests/data/notes and tests/data/notes_extra, each padded or trimmed
to about 200 words by appending sentences of another note (so the text stays clinical). The pipeline is
built once before timing (its build time is reported separately), and the process is pinned to one CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_WORDS = 200


def corpus() -> list[tuple[str, str | None]]:
    notes = []
    for folder in ("notes", "notes_extra"):
        for path in sorted((ROOT / "tests" / "data" / folder).glob("*.json")):
            raw = json.loads(path.read_text(encoding="utf-8"))
            notes.append((raw["text"], raw.get("note_date")))
    out = []
    for i, (text, note_date) in enumerate(notes):
        words = text.split()
        j = i + 1
        while len(words) < TARGET_WORDS:
            words += notes[j % len(notes)][0].split()
            j += 1
        out.append((" ".join(words[:TARGET_WORDS]), note_date))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to time (default 5)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from rootcause.adapters.notes.pipeline import get_pipeline
    from rootcause.adapters.notes.reader import read_note

    t0 = time.perf_counter()
    get_pipeline()
    build = time.perf_counter() - t0
    notes = corpus()
    for text, note_date in notes[:5]:
        read_note(text, note_date)
    rates = []
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        t = time.perf_counter()
        for text, note_date in notes:
            read_note(text, note_date)
        rates.append(len(notes) / (time.perf_counter() - t))
        done += len(notes)
    result = {
        "notes_per_second": round(statistics.median(rates), 1),
        "best_round_notes_per_second": round(max(rates), 1),
        "words_per_note": TARGET_WORDS,
        "notes_read": done,
        "pipeline_build_seconds": round(build, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"note reader: {result['notes_per_second']} notes/s (median of {len(rates)} rounds, best "
            f"{result['best_round_notes_per_second']}) on one core, {TARGET_WORDS}-word notes; "
            f"pipeline built in {result['pipeline_build_seconds']} s"
        )


if __name__ == "__main__":
    main()
