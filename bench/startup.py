"""Start-up of a glue8-sized pool (read the files + tokenize every split) with a cold against a warm
tokenized-data cache, in the same process, with the MiniLM-L6 tokenizer.

The GLUE files are generated: made-up sentences (words drawn from the tokenizer's vocabulary, with
each task's typical sentence lengths) in each task's official layout (MNLI with its parse columns,
CoLA without a header row, ...), ``--fraction`` of the official row counts of every split (train,
dev and test: MNLI 393k, QQP 364k + a 391k test, QNLI 105k, SST-2 67k, CoLA 8.5k, MRPC 3.7k,
RTE 2.5k, WNLI 635 training rows at 1.0). Cold: an empty cache, so every split is tokenized and
stored; warm: the same pool read again, every split found in the cache. Both include reading the
TSV files and loading the tokenizer. Prints both times and, last, ``ratio <cold / warm>``.

    python bench/startup.py [--fraction 0.1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from auxrun.data.pool import TaskPool, load_specs  # noqa: E402
from auxrun.hydra_setup import register_configs  # noqa: E402
from auxrun.models.backbone import load_tokenizer  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402

# task -> split -> official row count (GLUE download-script files)
ROWS = {
    "mnli": {
        "train": 392702,
        "dev": 9815,
        "dev_mismatched": 9832,
        "test": 9796,
        "test_mismatched": 9847,
    },
    "qqp": {"train": 363846, "dev": 40430, "test": 390965},
    "qnli": {"train": 104743, "dev": 5463, "test": 5463},
    "sst2": {"train": 67349, "dev": 872, "test": 1821},
    "cola": {"train": 8551, "dev": 1043, "test": 1063},
    "mrpc": {"train": 3668, "dev": 408, "test": 1725},
    "rte": {"train": 2490, "dev": 277, "test": 3000},
    "wnli": {"train": 635, "dev": 71, "test": 146},
}
# task -> mean words of text_a, text_b (roughly the official files')
LENGTHS = {
    "mnli": (22, 11),
    "qqp": (11, 12),
    "qnli": (10, 30),
    "sst2": (10, 0),
    "cola": (9, 0),
    "mrpc": (22, 22),
    "rte": (45, 9),
    "wnli": (22, 9),
}


def sentence(rng: random.Random, words: list[str], mean: int) -> str:
    n = max(2, int(rng.gauss(mean, mean / 3)))
    return " ".join(rng.choice(words) for _ in range(n)) + " ."


def write_glue(root: Path, fraction: float, words: list[str], specs) -> int:
    """The eight tasks' files under root/glue_data/; returns the number of rows written."""
    total = 0
    for task, splits in ROWS.items():
        spec = specs[task]
        local = spec.sources.local
        folder = root / local.dir
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(task)
        for split, count in splits.items():
            n = max(8, round(count * fraction))
            total += n
            labelled = not split.startswith("test")
            la, lb = LENGTHS[task]
            lines = []
            if task == "mnli":
                cols = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse"]
                cols += [
                    "sentence2_binary_parse",
                    "sentence1_parse",
                    "sentence2_parse",
                    "sentence1",
                    "sentence2",
                ]
                lines.append("\t".join(cols + (["label1", "gold_label"] if labelled else [])))
            elif task == "qqp":
                head = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
                lines.append("\t".join(head if labelled else ["id", "question1", "question2"]))
            elif task == "mrpc":
                head = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
                lines.append(
                    "\t".join(head if labelled else ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"])
                )
            elif task == "sst2":
                lines.append("sentence\tlabel" if labelled else "index\tsentence")
            elif task == "cola":
                lines += [] if labelled else ["index\tsentence"]
            else:
                a, b = ("question", "sentence") if task == "qnli" else ("sentence1", "sentence2")
                lines.append("\t".join(["index", a, b] + (["label"] if labelled else [])))
            for i in range(n):
                a = sentence(rng, words, la)
                b = sentence(rng, words, lb) if lb else ""
                y = rng.choice(spec.labels)
                if task == "mnli":
                    parse = [f"( {a} )", f"( {b} )", f"(ROOT {a})", f"(ROOT {b})"]
                    row = [str(i), str(i), f"{i}e", "fiction", *parse, a, b] + ([y, y] if labelled else [])
                elif task == "qqp":
                    row = [str(i), str(2 * i), str(2 * i + 1), a, b, y] if labelled else [str(i), a, b]
                elif task == "mrpc":
                    row = [y if labelled else str(i), str(i), str(i + 1), a, b]
                elif task == "sst2":
                    row = [a, y] if labelled else [str(i), a]
                elif task == "cola":
                    row = ["src1", y, "", a] if labelled else [str(i), a]
                else:
                    row = [str(i), a, b] + ([y] if labelled else [])
                lines.append("\t".join(row))
            (folder / local.files[split]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return total


def startup(cfg, specs, cache: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    pool = TaskPool.load(cfg, specs)
    tok = load_tokenizer(cfg.backbone, None, cache)
    status = pool.encode(tok, cfg.data.max_length, cache)
    return time.perf_counter() - start, status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fraction", type=float, default=0.1, help="share of the official row counts")
    ap.add_argument("--repeats", type=int, default=2, help="cold/warm pairs; the best of each counts")
    args = ap.parse_args()

    logging.getLogger("auxrun").setLevel(logging.ERROR)  # generated files: no partial-copy warnings
    work = Path(tempfile.mkdtemp(prefix="auxrun-startup-"))
    try:
        register_configs()
        overrides = ["task_set=glue8", "backbone=minilm_l6", f"data.root={work / 'data'}", "quiet=true"]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = OmegaConf.to_object(compose("config", overrides=overrides))
        specs = load_specs(cfg)
        tok = load_tokenizer(cfg.backbone, None, work)
        words = sorted(w for w in tok.get_vocab() if w.isalpha() and len(w) > 2)
        rows = write_glue(work / "data", args.fraction, words, specs)
        print(
            f"{rows} rows in 8 tasks ({args.fraction:g} of the official counts), max_length {cfg.data.max_length}"
        )
        cold, warm = [], []
        for r in range(args.repeats):
            cache = work / f"cache{r}"
            t, status = startup(cfg, specs, cache)
            assert {s for v in status.values() for s in v.values()} == {"miss"}
            cold.append(t)
            if os.environ.get("AUXRUN_BENCH_PROFILE"):
                import cProfile

                cProfile.runctx("startup(cfg, specs, cache)", globals(), locals(), sort="cumtime")
            t, status = startup(cfg, specs, cache)
            assert {s for v in status.values() for s in v.values()} == {"hit"}
            warm.append(t)
            size = sum(p.stat().st_size for p in (cache / "artifacts" / "encoded").glob("*.pt"))
            print(f"repeat {r}: cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s, cache {size / 2**20:.1f} MiB")
        print(f"cold {min(cold):.2f} s, warm {min(warm):.2f} s")
        print(f"ratio {min(cold) / min(warm):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
