"""Training throughput of auxrun's MTLTrainer against transformers' Trainer on MiniLM-L6, with a real
spread of lengths.

The data: three tasks with GLUE-like length profiles, as an MTL epoch sees them: short single
sentences (8-40 tokens, SST-2/CoLA), medium (16-80, QQP/MRPC) and sentence pairs (48-128, RTE/MNLI
pairs); token ids drawn at random (throughput does not depend on which ids). Every side trains one
epoch over the same examples from the same pretrained weights, batch 32, AdamW (fused), lr 5e-5 with
linear warm-up, grad-norm clip 1, dropout 0.1, SDPA attention, fp32:

- auxrun: one task per mini-batch (MT-DNN), ``train.group_by_length=true``;
- transformers ``Trainer`` with its defaults (random batches over the union of the tasks, one
  classification head over the union of the labels: the head's cost is negligible);
- the same with ``train_sampling_strategy="group_by_length"`` (what a careful user sets).

The sides alternate within each repeat, in one process, so machine load hits them alike; each side's
best repeat counts. The clock runs from the first training step to the end of the last (model and
data set-up excluded). Besides examples/s it prints each side's padding (tokens computed / tokens
real) for the timed epoch and for a GLUE-sized epoch (samplers only, no training), and, last,
``ratio <auxrun / best transformers setting>``.

    python bench/train_throughput.py [--per-task 128] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from auxrun.data.features import EncodedSplit  # noqa: E402
from auxrun.hydra_setup import register_configs  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402
from auxrun.run import build_context  # noqa: E402
from auxrun.selection import Selection  # noqa: E402
from auxrun.training.batching import TaskBatches, padding_ratio  # noqa: E402
from auxrun.training.cost import CostLedger  # noqa: E402
from auxrun.validate import validate_run  # noqa: E402

# task -> (min, max) tokens, [CLS] and [SEP] included
PROFILES = {"toy_sentiment": (8, 40), "toy_topic": (16, 80), "toy_pair": (48, 128)}
BATCH = 32


def synthetic_split(task: str, n: int, n_labels: int, seed: int) -> EncodedSplit:
    rng = random.Random(f"{seed}-{task}")
    lo, hi = PROFILES[task]
    ids, types = [], []
    for _ in range(n):
        length = rng.randint(lo, hi)
        ids.append([101] + [rng.randrange(1000, 29000) for _ in range(length - 2)] + [102])
        types.append([0] * length)
    labels = [rng.randrange(n_labels) for _ in range(n)]
    return EncodedSplit(task, "train", ids, types, labels, list(labels))


def load(threads: int, per_task: int):
    register_configs()
    tasks = list(PROFILES)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(
            compose(
                "config",
                overrides=[
                    "backbone=minilm_l6",
                    f"task_set.tasks=[{','.join(tasks)}]",
                    "primary=toy_sentiment",
                    "data.toy_scale=0.1",
                    f"train.batch_size={BATCH}",
                    "train.group_by_length=true",
                    "train.dropout=0.1",
                    "quiet=true",
                ],
            )
        )
    specs = validate_run(cfg)
    ctx = build_context(cfg, Path(tempfile.mkdtemp()), specs, CostLedger())
    for t in tasks:
        ctx.pool.encoded[t]["train"] = synthetic_split(t, per_task, len(specs[t].labels), cfg.seed)
    torch.set_num_threads(threads)
    return ctx, tasks


def auxrun_epoch(ctx, tasks) -> tuple[float, int, int, int]:
    """(seconds, examples, tokens computed, tokens real) of one MTL epoch."""
    sel = Selection("bench", tasks[0], tasks[1:], tasks[1:])
    trainer = ctx.new_trainer(sel, "bench", epochs=1, progress=False)
    schedule = trainer.epoch_tasks(0)
    for b in trainer.batches.values():
        b.reset(0)
    start = time.perf_counter()
    for task in schedule:
        trainer.train_batches(task, 1)
    elapsed = time.perf_counter() - start
    n = sum(len(trainer.batches[t].indices) for t in tasks)
    return elapsed, n, trainer.tokens["computed"], trainer.tokens["real"]


def hf_epoch(ctx, tasks, grouped: bool) -> tuple[float, int, int, int]:
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from auxrun.models.backbone import resolve_model_dir

    cfg = ctx.cfg
    splits = [ctx.pool.split(t, "train") for t in tasks]
    rows = {
        "input_ids": [x for s in splits for x in s.input_ids],
        "token_type_ids": [x for s in splits for x in s.token_type_ids],
        "labels": [y for s in splits for y in s.labels],
    }
    ds = Dataset.from_dict(rows)
    n_labels = max(len(ctx.pool.specs[t].labels) for t in tasks)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model_dir(cfg.backbone),
        num_labels=n_labels,
        hidden_dropout_prob=cfg.train.dropout,
        attention_probs_dropout_prob=cfg.train.dropout,
        attn_implementation="sdpa",
    )
    tokens = {"computed": 0, "real": 0}
    pad = DataCollatorWithPadding(ctx.pool.tokenizer)

    def collate(features):
        batch = pad(features)
        tokens["computed"] += batch["attention_mask"].numel()
        tokens["real"] += int(batch["attention_mask"].sum())
        return batch

    clock: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            clock["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            clock["end"] = time.perf_counter()

    steps = -(-len(ds) // BATCH)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=BATCH,
            num_train_epochs=1,
            learning_rate=cfg.backbone.lr,
            weight_decay=cfg.train.weight_decay,
            warmup_steps=int(cfg.train.warmup_ratio * steps),
            max_grad_norm=cfg.train.max_grad_norm,
            logging_strategy="no",
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            dataloader_num_workers=0,
            seed=cfg.seed,
            train_sampling_strategy="group_by_length" if grouped else "random",
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=ds,
            data_collator=collate,
            processing_class=ctx.pool.tokenizer,
            callbacks=[Clock()],
        )
        trainer.train()
    return clock["end"] - clock["start"], len(ds), tokens["computed"], tokens["real"]


def glue_sized_padding(ctx, tasks, per_task: int) -> dict[str, float]:
    """Padding of one epoch over ``per_task`` examples a task, from the samplers alone."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    splits = {t: synthetic_split(t, per_task, 2, 7) for t in tasks}
    out = {}
    computed = real = 0
    for s in splits.values():
        b = TaskBatches(s, list(range(per_task)), BATCH, seed=0, group_by_length=True)
        c, r = padding_ratio(s, [b.next() for _ in range(len(b))])
        computed, real = computed + c, real + r
    out["auxrun"] = computed / real
    union = EncodedSplit("union", "train", [], [], [], [])
    for s in splits.values():
        union.input_ids += s.input_ids
    lengths = union.lengths()
    g = torch.Generator().manual_seed(0)
    for name, order in (
        ("transformers", torch.randperm(len(lengths), generator=g).tolist()),
        ("transformers group_by_length", list(LengthGroupedSampler(BATCH, lengths=lengths, generator=g))),
    ):
        batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
        c, r = padding_ratio(union, batches)
        out[name] = c / r
    return out


def load_avg() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-task", type=int, default=128, help="training examples per task")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args()
    ctx, tasks = load(args.threads, args.per_task)
    print(f"MiniLM-L6, tasks {tasks} x {args.per_task} examples, batch {BATCH}, torch threads {args.threads}")
    print(f"load at start: {load_avg()}")
    sides = {
        "auxrun": lambda: auxrun_epoch(ctx, tasks),
        "transformers": lambda: hf_epoch(ctx, tasks, False),
        "transformers group_by_length": lambda: hf_epoch(ctx, tasks, True),
    }
    best: dict[str, float] = {}
    padding: dict[str, float] = {}
    for r in range(args.repeats):
        line = []
        for name, fn in sides.items():
            secs, n, computed, real = fn()
            best[name] = max(best.get(name, 0.0), n / secs)
            padding[name] = computed / real
            line.append(f"{name} {n / secs:.2f} ex/s")
        print(f"repeat {r + 1}: " + ", ".join(line))
    print(f"load at end: {load_avg()}")
    glue = glue_sized_padding(ctx, tasks, 20_000)
    print("padding (tokens computed / tokens real), timed epoch | GLUE-sized epoch (20k a task):")
    for name in sides:
        print(f"  {name:30s} {padding[name]:.3f} | {glue[name]:.3f}")
    for name in sides:
        print(f"best {name}: {best[name]:.2f} ex/s")
    theirs = max(best["transformers"], best["transformers group_by_length"])
    print(f"ratio {best['auxrun'] / theirs:.2f}")


if __name__ == "__main__":
    main()
