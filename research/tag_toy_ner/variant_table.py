"""Z and cosine per auxiliary for TAG sweeps: python variant_table.py SWEEP_DIR..."""
import json, glob, sys, yaml
for sw in sys.argv[1:]:
    rows = []
    for d in sorted(glob.glob(sw + '/*_toy_planted_tag_*')):
        ov = dict(x.split('=', 1) for x in yaml.safe_load(open(d + '/.hydra/overrides.yaml')))
        s = json.load(open(d + '/selection.json'))
        aux = s['candidates']
        z, c = s['scores'], s['scores_cosine']
        rows.append((ov['seed'], [z[a] for a in aux], [c[a] for a in aux], s['selected_tasks'], s['lookaheads'],
                     [ {a[4:9]: round(v*1e3, 2) for a, v in h['tag_z'].items()} for h in s['tag_history']]))
    rel_z = sum(r[1][0] > r[1][2] for r in rows); rel_c = sum(r[2][0] > r[2][2] for r in rows)
    top_z = sum(r[1][0] == max(r[1]) for r in rows)
    print(f"== {sw.rstrip('/').split('/')[-1]}: related>noise by Z {rel_z}/{len(rows)}, by cosine {rel_c}/{len(rows)}, related top by Z {top_z}/{len(rows)}")
    for r in sorted(rows):
        print(f"  seed {r[0]}: Z x1e3 rel/unrel/noise {'/'.join(f'{v*1e3:+.2f}' for v in r[1])}  cos {'/'.join(f'{v:+.3f}' for v in r[2])}  n={r[4]}  selected={r[3]}  per-epoch Z={r[5]}")
