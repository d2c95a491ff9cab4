"""Same command, same numbers on a cold cache (issue 13 §1), and one computation per cache entry when
jobs share a cache (issue 11 item 3): real `auxrun` processes, GradTS on a small toy pool, so the
run builds the tiny tokenizer, the toy data, the tokenized splits and the head-importance matrices
on first use."""

import json
import os
import subprocess
import sys
from collections import Counter

from tests.conftest import REPO

TASKS = ["toy_sentiment", "toy_rating", "toy_noise"]
ARGS = [
    "method=gradts_thres",
    f"task_set.tasks=[{','.join(TASKS)}]",
    "data.toy_scale=0.3",
    "train.epochs=1",
    "method.warmup_epochs=1",
    "method.figures=false",
    "hardware.num_threads=1",
    "quiet=true",
]


def _start(run_dir, cache, hash_seed):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AUXRUN_CACHE": str(cache),
        "PYTHONHASHSEED": str(hash_seed),  # a set-order dependence would show as a difference
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-m", "auxrun.cli", *ARGS, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(
        cmd, env=env, cwd=run_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _comparable(run_dir):
    """selection.json without the cost (timings) and the per-task cache status (hit in the job
    that reused what the other computed), and results.json's scores."""
    sel = json.loads((run_dir / "selection.json").read_text())
    sel.pop("cost")
    for rec in sel["head_importance"].values():
        rec.pop("cache")
    results = json.loads((run_dir / "results.json").read_text())
    return json.dumps(sel, indent=1), results["best"], results["training_tasks"]


def test_cold_caches_and_concurrent_jobs_give_identical_selections_and_scores(tmp_path):
    # job a alone on one empty cache; jobs b and c at the same time on another empty cache
    runs = {"a": tmp_path / "cache1", "b": tmp_path / "cache2", "c": tmp_path / "cache2"}
    procs = {
        name: _start(tmp_path / name, cache, hash_seed)
        for (name, cache), hash_seed in zip(runs.items(), (1, 2, 3))
    }
    for name, p in procs.items():
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, f"job {name} failed:\n{out.decode()[-3000:]}"

    a, b, c = (_comparable(tmp_path / n) for n in "abc")
    assert a[0] == b[0]  # two machines with empty caches: the same selection, byte for byte
    assert b[0] == c[0]  # two jobs started together on one cache
    assert a[1:] == b[1:] == c[1:]  # and the same scores
    # the same cache keys on both machines (tokenizer and data fingerprints do not depend on the process)
    entries = [sorted(p.relative_to(runs[n]) for p in (runs[n] / "artifacts").rglob("*.pt")) for n in "ab"]
    # per task: its encoded splits (3), and GradTS's head matrices, instance scores and fine-tuned encoder
    assert entries[0] == entries[1] and len(entries[0]) == 3 * len(TASKS) + 3 * len(TASKS)
    tok = [sorted((runs[n] / "tokenizers").rglob("tokenizer.json")) for n in "ab"]
    assert len(tok[0]) == 1 and tok[0][0].read_bytes() == tok[1][0].read_bytes()

    # the two concurrent jobs computed each shared artifact once: one says computed, the other reused
    notes = [json.loads((tmp_path / n / "results.json").read_text())["cost_notes"] for n in "bc"]
    per_task = Counter(line.split(" (")[0] for n in notes for line in n["select/head_importance"])
    assert per_task == Counter({f"{t}: computed": 1 for t in TASKS} | {f"{t}: reused": 1 for t in TASKS})
    tokenized = Counter()  # lines like "toy_noise: computed (train, dev, select_dev)"
    for n in notes:
        for line in n["data/tokenized"]:
            head, splits = line.rstrip(")").split(" (")
            tokenized.update(f"{head} {s}" for s in splits.split(", "))
    splits = ["train", "select_dev", "dev"]
    assert tokenized == Counter(
        {f"{t}: {word} {s}": 1 for t in TASKS for s in splits for word in ("computed", "reused")}
    )
    # and every job reads what is on disk: one entry per task, no leftovers
    entries = sorted((runs["b"] / "artifacts" / "head_importance").glob("*.pt"))
    assert len(entries) == len(TASKS)
    assert not [p for p in runs["b"].rglob("*") if p.name.endswith(".tmp")]
