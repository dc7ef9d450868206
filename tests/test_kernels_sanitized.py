"""The C kernels built with AddressSanitizer and UndefinedBehaviorSanitizer, then run on a batch.

`pip install` builds them optimised and unchecked; a buffer overrun in the renderer's size
arithmetic or a bad index in the gain kernel would corrupt memory silently. Here every kernel
is rebuilt with the sanitizers into a copy of the package, and a subprocess scores and renders
cases with edge-case ids (escapes, non-ASCII, None), certainty and nothing left to ask. Any
report makes the subprocess exit non-zero.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import rootcause

SOURCES = sorted(Path(rootcause.__file__).parent.glob("*/_*.c"))

SCRIPT = r"""
import json, random, sys
import numpy as np
from rootcause import load_engine
from rootcause.adapters import _render
from rootcause.adapters.ndjson import Chunk, ContractRenderer, process_chunk
from rootcause.engine.next_steps import gain_per_cost
assert _render.__file__.startswith(sys.argv[1]), _render.__file__  # the sanitized build
engine = load_engine()
findings = engine.model.findings
rng = random.Random(3)
ids = ['plain', 'quote " and \\ slash', "tab\tnew\nline\x01", "één ✓", None, "x" * 300]
lines = []
for k in range(600):
    case = {"surgery": {"procedure": rng.choice(["discectomy", "fusion", "other"])},
            "days_since_surgery": rng.randint(0, 900),
            "findings": {f: rng.random() < 0.5
                         for f in rng.sample(findings, rng.choice([0, 3, len(findings) - 1]))}}
    if ids[k % len(ids)] is not None:
        case["id"] = ids[k % len(ids)]
    lines.append(json.dumps(case).encode() + b"\n")
lines.insert(7, b"{not json\n")
pieces, errors = process_chunk(engine, Chunk(1, b"".join(lines)), ContractRenderer(engine))
out = b"".join(bytes(p) for p in pieces)
assert len(errors) == 1 and out.count(b"\n") == len(lines), (len(errors), out.count(b"\n"))
for line in out.splitlines():
    json.loads(line)
post = np.eye(engine.model.n_conditions)[np.arange(50) % engine.model.n_conditions]
known = np.zeros((50, engine.model.n_findings), dtype=bool)
known[::7] = True
gains = gain_per_cost(engine.model, post, known, np.arange(50) % 4)
assert np.isneginf(gains[::7]).all() and np.isfinite(gains[1]).all()
print("clean")
"""


def _runtime(name: str) -> str:
    path = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True, check=True)
    return path.stdout.strip()


def test_kernels_under_address_and_undefined_behaviour_sanitizers(tmp_path: Path) -> None:
    package = Path(rootcause.__file__).parent
    copy = tmp_path / "src" / "rootcause"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert len(SOURCES) == 3, SOURCES  # _gain, _findings, _render: a new kernel must be listed
    for source in SOURCES:
        target = copy / source.parent.name / (source.stem + suffix)
        sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
        build = ["-O1", "-g", "-fno-trapping-math", "-std=c11", "-shared", "-fPIC", f"-I{include}"]
        subprocess.run(["gcc", *sanitize, *build, str(source), "-o", str(target)], check=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(copy.parent),
        "LD_PRELOAD": f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",  # Python itself keeps memory at exit
        "ROOTCAUSE_KB_CACHE": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(copy)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "clean"
