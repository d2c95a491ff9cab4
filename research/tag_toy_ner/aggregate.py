"""Per-seed table for tag_diag runs: python aggregate.py RUN_DIR..."""
import json, sys
from pathlib import Path

def mean(x): return sum(x) / len(x) if x else float("nan")

print("run | method Z (xp) rel/unrel/noise | Z(zero) | adam-zero on dev rel/unrel/noise | head-adapted Z - Z(zero) k=30 all / 1st third, rel/unrel/noise | k=100 all | cos rel/unrel/noise | primary steps")
for r in sys.argv[1:]:
    d = json.loads((Path(r) / "tag_diag.json").read_text())
    R = d["records"]; aux = list(R[0]["z_method"])
    first = R[: len(R) // 3]
    f = lambda v: "/".join(f"{x*1e3:+.2f}" for x in v)
    zm = [mean([x["z_method"][a] for x in R]) for a in aux]
    z0 = mean([x["z"]["zero"]["adam"]["xp"] for x in R])
    spec = [mean([x["z"][a]["adam"]["dev"] - x["z"]["zero"]["adam"]["dev"] for x in R]) for a in aux]
    ad = lambda P, k: [mean([x["adapt"]["z"][a][k] - x["adapt"]["z"]["zero"][k] for x in P]) for a in aux]
    cos = [mean([x["cos"][a]["all"] for x in R]) for a in aux]
    steps = R[-1]["trained"].get(R[0].get("primary", ""), None)
    prim = [t for t in R[-1]["trained"] if t not in aux][0]
    print(f"{Path(r).name} | {f(zm)} | {z0*1e3:+.2f} | {f(spec)} | {f(ad(R,'30'))} / {f(ad(first,'30'))} | {f(ad(R,'100'))} | {'/'.join(f'{c:+.2f}' for c in cos)} | {R[-1]['trained'][prim]}")
