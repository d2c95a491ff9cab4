"""Per gold tag: mean over lookaheads of the change in the primary's summed token loss on select_dev
caused by each auxiliary's AdamW lookahead, minus the g=0 lookahead's (the auxiliary's own share), as
a fraction of the base total loss (x1e3, positive = the step lowers the loss, like Z)."""
import json, sys
def mean(x): return sum(x) / len(x)
T = json.load(open(sys.argv[1]))
aux = [k for k in T[0] if k not in ("step", "base", "zero")]
tags = list(T[0]["base"])
thirds = {"all": T, "1st": T[: len(T)//3], "2nd": T[len(T)//3: 2*len(T)//3], "3rd": T[2*len(T)//3:]}
print("tokens per tag on select_dev:", {t: T[0]["base"][t][1] for t in tags})
print("base mean token loss per tag (1st third / last third):", {t: (round(mean([r['base'][t][0]/max(1,r['base'][t][1]) for r in thirds['1st']]),3), round(mean([r['base'][t][0]/max(1,r['base'][t][1]) for r in thirds['3rd']]),3)) for t in tags})
for name, P in thirds.items():
    print(f"[{name}] aux-specific loss reduction by gold tag, x1e3 of the total base loss:")
    for a in aux:
        row = {}
        for t in tags:
            row[t] = mean([-(r[a][t][0] - r["zero"][t][0]) / sum(v[0] for v in r["base"].values()) for r in P]) * 1e3
        print(f"   {a:14s} " + " ".join(f"{t}={v:+.3f}" for t, v in row.items()) + f"  | total={sum(row.values()):+.3f}")
