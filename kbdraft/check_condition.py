"""Draft-time check of condition YAML files: python kbdraft/check_condition.py FILE..."""
import sys, yaml
sys.path.insert(0, "src")
from rootcause.knowledge.schema import Condition
fids = set(open("kbdraft/finding_ids.txt").read().split())
cids = set(open("kbdraft/condition_ids.txt").read().split())
refs = {r["id"] for r in yaml.safe_load(open("src/rootcause/knowledge/data/references.yaml"))["references"]}
timing = yaml.safe_load(open("src/rootcause/knowledge/data/timing.yaml"))
onset = [b["id"] for b in timing["onset_bins"]]; assessed = [b["id"] for b in timing["assessed_bins"]]
ok = True
def refs_in(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "source" and isinstance(v, list):
                yield from v
            else:
                yield from refs_in(v)
    elif isinstance(obj, list):
        for v in obj: yield from refs_in(v)
for path in sys.argv[1:]:
    raw = yaml.safe_load(open(path))
    errs = []
    try:
        c = Condition.model_validate(raw)
    except Exception as e:
        print(f"{path}: SCHEMA ERROR\n{e}"); ok = False; continue
    if c.id not in cids: errs.append(f"unknown condition id {c.id}")
    for f in c.likelihoods:
        if f not in fids: errs.append(f"unknown finding {f}")
    for r in refs_in(raw):
        if r not in refs: errs.append(f"unknown reference {r}")
    if set(c.timing.onset.values) != set(onset): errs.append(f"onset bins must be exactly {onset}")
    for p, d in c.timing.onset_by_procedure.items():
        if set(d.values) != set(onset): errs.append(f"onset_by_procedure.{p} bins must be exactly {onset}")
    if c.timing.assessed and set(c.timing.assessed.values) != set(assessed): errs.append(f"assessed bins must be {assessed}")
    for name, states in [("relief", ["none","partial","complete"]), ("speed", ["sudden","gradual"]), ("trend", ["improving","stable","worsening"])]:
        if set(getattr(c.timing, name).values) != set(states): errs.append(f"{name} states must be {states}")
    print(path, "OK" if not errs else "ERRORS:\n  " + "\n  ".join(errs))
    ok = ok and not errs
sys.exit(0 if ok else 1)
