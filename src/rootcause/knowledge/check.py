"""`rootcause kb check`: validation plus an account of where the numbers come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rootcause.knowledge.loader import iter_sourced, load_knowledge_base


def check_report(data_dir: Path | None = None) -> dict[str, Any]:
    """Load (raising on any schema or cross-file problem) and count sourced vs estimated numbers.

    Always a full validation: the load cache (loader.py) is neither read nor written.
    """
    kb = load_knowledge_base(data_dir, use_cache=False)
    sourced = estimated = 0
    unsourced: list[str] = []
    unverified_refs: set[str] = set()
    cited: set[str] = set()
    parts: list[tuple[str, Any]] = [(f"conditions/{c.id}", c) for c in kb.conditions]
    parts += [(f"findings/{f.id}", f) for f in kb.findings]
    parts += [("triage", kb.triage), ("timing", kb.timing)]
    for where, obj in parts:
        for path, item in iter_sourced(obj):
            if item.source:
                sourced += 1
                cited.update(item.source)
                unverified_refs.update(r for r in item.source if not kb.references[r].verified)
            elif item.estimate:
                estimated += 1
            else:  # pragma: no cover - the schema already forbids this
                unsourced.append(f"{where}.{path}")
    treatments = sum(len(c.treatments) for c in kb.conditions)
    return {
        "knowledge_base_version": kb.version,
        "counts": {
            "conditions": len(kb.conditions),
            "findings": len(kb.findings),
            "triage rules": len(kb.triage.rules),
            "treatments": treatments,
            "references": len(kb.references),
            "references cited": len(cited),
            "numbers with a source": sourced,
            "numbers that are estimates": estimated,
            "cited refs not yet verified": len(unverified_refs),
            "seed claims traced": len(kb.seed_claims),
        },
        "unsourced": unsourced,
    }
