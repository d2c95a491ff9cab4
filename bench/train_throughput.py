"""Training throughput of auxrun's MTLTrainer against a plain transformers Trainer.

Both fine-tune the same tiny random-init BERT (same config, tokenizer and toy data) for one task,
in the same process, alternating runs so machine noise hits both alike; the best of the repeats
counts. Prints examples per second for each and, last, ``ratio <auxrun / transformers>``.

    python bench/train_throughput.py [--task toy_topic] [--repeats 3] [--batches 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from auxrun.config import register_configs  # noqa: E402
from auxrun.paths import CONF_DIR  # noqa: E402
from auxrun.run import build_context  # noqa: E402
from auxrun.selection import Selection  # noqa: E402
from auxrun.training.cost import CostLedger  # noqa: E402
from auxrun.validate import validate_run  # noqa: E402


def auxrun_run(ctx, task: str, n_batches: int) -> float:
    sel = Selection(method="bench", primary=task, candidates=[], selected_tasks=[])
    trainer = ctx.new_trainer(sel, "bench", epochs=1, progress=False)
    trainer.train_batches(task, 3)  # warm-up
    start = time.perf_counter()
    trainer.train_batches(task, n_batches)
    return n_batches * ctx.cfg.train.batch_size / (time.perf_counter() - start)


def hf_run(ctx, task: str, n_batches: int) -> float:
    from datasets import Dataset
    from transformers import (
        BertForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    split = ctx.pool.split(task, "train")
    cfg = ctx.cfg
    enc = ctx.new_model([task]).encoder
    config = enc.config.to_dict()
    config.pop("id2label", None)
    config.pop("label2id", None)
    model = BertForSequenceClassification(
        enc.config.__class__(**config, num_labels=len(ctx.pool.specs[task].labels))
    )
    model.bert.load_state_dict(enc.state_dict(), strict=False)
    n = n_batches * cfg.train.batch_size
    rows = {"input_ids": [], "token_type_ids": [], "labels": []}
    while len(rows["input_ids"]) < n + 3 * cfg.train.batch_size:
        rows["input_ids"] += split.input_ids
        rows["token_type_ids"] += split.token_type_ids
        rows["labels"] += split.labels
    ds = Dataset.from_dict({k: v[: n + 3 * cfg.train.batch_size] for k, v in rows.items()})
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=cfg.train.batch_size,
            num_train_epochs=1,
            learning_rate=cfg.backbone.lr,
            weight_decay=cfg.train.weight_decay,
            warmup_steps=int(cfg.train.warmup_ratio * (len(ds) // cfg.train.batch_size)),
            max_grad_norm=cfg.train.max_grad_norm,
            logging_strategy="no",
            save_strategy="no",
            report_to=[],
            disable_tqdm=True,
            use_cpu=True,
            dataloader_num_workers=0,
            seed=cfg.seed,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=ds,
            data_collator=DataCollatorWithPadding(ctx.pool.tokenizer),
        )
        start = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - start
    return len(ds) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="toy_topic")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", type=int, default=60)
    args = ap.parse_args()
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(compose("config", overrides=[f"primary={args.task}", "quiet=true"]))
    specs = validate_run(cfg)
    cfg.task_set.tasks = [args.task]
    ctx = build_context(cfg, Path(tempfile.mkdtemp()), {args.task: specs[args.task]}, CostLedger())
    print(
        f"torch threads {torch.get_num_threads()}, task {args.task}, batch {cfg.train.batch_size}, "
        f"{args.batches} batches x {args.repeats} repeats"
    )
    ours, theirs = [], []
    for r in range(args.repeats):
        ours.append(auxrun_run(ctx, args.task, args.batches))
        theirs.append(hf_run(ctx, args.task, args.batches))
        print(f"repeat {r + 1}: auxrun {ours[-1]:.0f} ex/s, transformers Trainer {theirs[-1]:.0f} ex/s")
    print(f"best: auxrun {max(ours):.0f} ex/s, transformers Trainer {max(theirs):.0f} ex/s")
    print(f"ratio {max(ours) / max(theirs):.2f}")


if __name__ == "__main__":
    main()
