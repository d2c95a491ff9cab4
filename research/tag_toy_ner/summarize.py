"""Summarise tag_diag.json files: python summarize.py RUN_DIR [RUN_DIR ...]"""

from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def corr(a, b):
    if len(a) < 3:
        return float("nan")
    ma, mb = mean(a), mean(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    den = (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5
    return num / den if den else float("nan")


def summarize(run: Path, detail: bool = True) -> dict:
    d = json.loads((run / "tag_diag.json").read_text())
    recs = d["records"]
    aux = list(recs[0]["z_method"])
    out = {"run": run.name, "n": len(recs), "aux": aux}
    print(f"\n=== {run}  lookaheads={len(recs)}  aux={aux}")
    print("history:", [{k: round(v, 3) for k, v in h.items() if isinstance(v, float)} for h in d["history"]])
    last = recs[-1]["trained"]
    print("batches trained over the pass:", last)
    dirs = aux + ["self", "zero"]
    # 1. mean Z per direction, rule, eval set
    print("mean Z x1e3 over the pass  (rule/eval: xp = method's batch, x2 = other batch, tr = all train, dev = select_dev)")
    cols = [(r, e) for r in ("adam", "sgd", "fresh") for e in ("xp", "x2", "tr", "dev")]
    print(f"{'dir':14s}" + "".join(f"{r[:5]}/{e:3s} " for r, e in cols))
    table = {}
    for dd in dirs:
        row = []
        for r, e in cols:
            vals = [x["z"][dd][r][e] for x in recs if r in x["z"][dd] and e in x["z"][dd][r]]
            row.append(mean(vals) * 1e3 if vals else float("nan"))
        table[dd] = dict(zip([f"{r}/{e}" for r, e in cols], row))
        print(f"{dd:14s}" + "".join(f"{v:9.3f} " for v in row))
    out["meanZ"] = table
    # 2. adam minus zero (aux-specific part), per eval set
    print("adam Z - adam Z(zero) x1e3 (the auxiliary's own share of the lookahead), mean over the pass:")
    spec = {}
    for dd in aux + ["self"]:
        spec[dd] = {e: mean([x["z"][dd]["adam"][e] - x["z"]["zero"]["adam"][e] for x in recs]) * 1e3 for e in recs[0]["z"]["zero"]["adam"]}
        print(f"  {dd:14s}", {e: round(v, 3) for e, v in spec[dd].items()})
    out["adam_minus_zero"] = spec
    print("|delta_a - delta_0| / |delta_0| (adam), mean:", {dd: round(mean([x["delta_ratio"][dd] for x in recs]), 3) for dd in aux + ["self"]})
    # 3. related minus noise difference: noise across primary batches
    rel, noise = aux[0], aux[2]
    for r in ("adam", "sgd", "fresh"):
        if r not in recs[0]["z"][rel] or "x2" not in recs[0]["z"][rel][r]:
            continue
        diffs = {e: [x["z"][rel][r][e] - x["z"][noise][r][e] for x in recs] for e in ("xp", "x2", "tr", "dev")}
        print(
            f"Z({rel})-Z({noise}) [{r}] x1e3: mean " + " ".join(f"{e}={mean(v)*1e3:.3f}" for e, v in diffs.items())
            + f" | sd xp={st.pstdev(diffs['xp'])*1e3:.3f} dev={st.pstdev(diffs['dev'])*1e3:.3f}"
            + f" | corr(xp,x2)={corr(diffs['xp'], diffs['x2']):.2f} corr(xp,dev)={corr(diffs['xp'], diffs['dev']):.2f}"
            + f" | frac>0 xp={mean([v > 0 for v in diffs['xp']]):.2f} dev={mean([v > 0 for v in diffs['dev']]):.2f}"
        )
    # common-mode vs spread of Z across aux (method's Z on xp)
    common = [mean([x["z_method"][a] for a in aux]) for x in recs]
    spread = [max(x["z_method"].values()) - min(x["z_method"].values()) for x in recs]
    zero = [x["z"]["zero"]["adam"]["xp"] for x in recs]
    print(f"method Z on xp: mean over aux (common) {mean(common)*1e3:.3f}e-3, Z(zero) {mean(zero)*1e3:.3f}e-3, corr(common, zero)={corr(common, zero):.3f}, mean spread across aux {mean(spread)*1e3:.3f}e-3")
    # 4. cosines
    print("mean cos(g_a, g_p) per block (g_p on xp) and with the dev gradient:")
    for a in aux:
        keys = list(recs[0]["cos"][a])
        print(f"  {a:14s}", {k: round(mean([x['cos'][a][k] for x in recs]), 3) for k in keys})
    print("  cos(g_p xp, g_p dev) mean:", round(mean([x["cos_p_xp_dev"] for x in recs]), 3))
    print("grad norms mean:", {k: round(mean([x["norms"][k] for x in recs]), 3) for k in recs[0]["norms"]})
    # 5. time course: thirds of the pass
    if detail:
        k = len(recs)
        parts = [recs[: k // 3], recs[k // 3 : 2 * k // 3], recs[2 * k // 3 :]]
        print("time course (thirds of the pass): steps, base loss xp/dev, Z adam xp per aux, Z(zero), aux-specific adam on dev, sgd on dev (x1e3), cos")
        for p in parts:
            print(
                f"  steps {p[0]['step']}-{p[-1]['step']}: L_xp {mean([x['base']['xp'] for x in p]):.3f} L_dev {mean([x['base']['dev'] for x in p]):.3f}"
                + " | Zadam " + " ".join(f"{a[4:9]}={mean([x['z_method'][a] for x in p])*1e3:.2f}" for a in aux)
                + f" zero={mean([x['z']['zero']['adam']['xp'] for x in p])*1e3:.2f}"
                + " | adam-zero dev " + " ".join(f"{a[4:9]}={mean([x['z'][a]['adam']['dev'] - x['z']['zero']['adam']['dev'] for x in p])*1e3:.3f}" for a in aux + ['self'])
                + (" | sgd dev " + " ".join(f"{a[4:9]}={mean([x['z'][a]['sgd']['dev'] for x in p])*1e3:.4f}" for a in aux + ['self']) if "sgd" in p[0]["z"][aux[0]] else "")
                + " | cos " + " ".join(f"{a[4:9]}={mean([x['cos'][a]['all'] for x in p]):.2f}" for a in aux)
            )
    return out


if __name__ == "__main__":
    for r in sys.argv[1:]:
        summarize(Path(r))


def adapt_table(run: Path):
    d = json.loads((run / "tag_diag.json").read_text())
    recs = [r for r in d["records"] if "adapt" in r]
    if not recs:
        return
    dirs = list(recs[0]["adapt"]["z"])
    ks = list(recs[0]["adapt"]["z"][dirs[0]])
    print("head-adapted Z x1e3 on dev (primary head refit k Adam steps on primary train at theta and theta'_a), mean over the pass; thirds")
    k3 = len(recs)
    parts = {"all": recs, "1st": recs[: k3 // 3], "2nd": recs[k3 // 3 : 2 * k3 // 3], "3rd": recs[2 * k3 // 3 :]}
    for pn, p in parts.items():
        print(f"  [{pn}] " + " | ".join(
            f"k={k}: " + " ".join(f"{dd[4:9] if dd.startswith('toy_') else dd}={mean([x['adapt']['z'][dd][k] for x in p])*1e3:.3f}" for dd in dirs)
            for k in ks))
    # aux-specific (minus zero) and rank of related
    for k in ks:
        wins = mean([x["adapt"]["z"][dirs[0]][k] > max(x["adapt"]["z"][a][k] for a in dirs[1:3]) for x in recs])
        print(f"  k={k}: fraction of lookaheads where {dirs[0]} has the highest adapted Z among the auxiliaries: {wins:.2f}; base dev loss {mean([x['adapt']['loss']['base'][k] for x in recs]):.4f}")


if __name__ == "__main__":
    for r in sys.argv[1:]:
        adapt_table(Path(r))
