"""Transfer table from a no_sel sweep over task_set.tasks and seeds: python transfer_table.py SWEEP_DIR"""
import collections, csv, glob, json, sys
import yaml
res = collections.defaultdict(dict)
for d in sorted(glob.glob(sys.argv[1] + '/*_toy_planted*')):
    ov = dict(x.split('=', 1) for x in yaml.safe_load(open(d + '/.hydra/overrides.yaml')))
    r = json.load(open(d + '/results.json'))
    rows = list(csv.DictReader(open(d + '/metrics.csv')))
    last = rows[-1]
    p = r['primary']
    res[ov['task_set.tasks']][ov['seed']] = (
        r['best']['select_dev']['seqeval_f1'] if 'seqeval_f1' in r['best']['select_dev'] else r['best']['select_dev'],
        r['best']['dev'].get('seqeval_f1'), float(last[f'dev/{p}/seqeval_f1']), float(last[f'dev/{p}/loss']))
print(f"{'tasks':28s} {'seeds':6s} best-sel_dev F1 | best-epoch dev F1 | last-epoch dev F1 | last dev loss   (means; per seed)")
for k, v in res.items():
    m = lambda i: sum(x[i] for x in v.values()) / len(v)
    print(f"{k:28s} {len(v):<6d} {m(0):6.1f} | {m(1):6.1f} | {m(2):6.1f} | {m(3):.4f}   ", {s: tuple(round(y, 1) for y in x[:3]) for s, x in sorted(v.items())})
