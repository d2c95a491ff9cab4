"""The checks only a GPU can make, in one call of under five minutes on one GPU (``bench/gpu_check.sh``).

A BERT-base-size encoder (12 layers x 768, 12 heads, built from a config: no download) with one
classification head trains on random tokens through auxrun's trainer step path (``Precision``:
autocast, the gradient scaler for fp16, clipping, fused AdamW), and through a plain
``transformers.Trainer`` on the same data for a throughput reference. One figure per line,
``name value [unit]``:

    device, torch, bf16_supported, sdpa_flash
    bf16_train_step_ms / bf16_examples_per_s / bf16_loss_drop   (auxrun's step, bf16 autocast)
    fp16_train_step_ms / fp16_examples_per_s / fp16_loss_drop / fp16_scale   (fp16 + GradScaler)
    fused_adamw                                                   (the optimizer is the fused kernel)
    peak_memory_gib                                               (bf16 training, batch x length)
    hf_trainer_examples_per_s / auxrun_vs_hf_trainer              (same model, data, precision)
    compile_first_step_s / compile_train_step_ms / compile_speedup  (hardware.compile=true)

Without a CUDA device it prints one line and exits with status 2.

    python bench/gpu_check.py [--batch 32] [--length 128] [--steps 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def figure(name: str, value, unit: str = "") -> None:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"{name} {text}{(' ' + unit) if unit else ''}", flush=True)


def bert_base(num_labels: int = 2):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        num_labels=num_labels,
        attn_implementation="sdpa",
    )
    return BertForSequenceClassification(cfg)


def random_batches(n: int, batch: int, length: int, device):
    import torch

    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        ids = torch.randint(1000, 30000, (batch, length), generator=g)
        labels = (ids[:, 1] % 2).long()  # learnable: the label is a function of one token
        out.append({"input_ids": ids.to(device), "labels": labels.to(device)})
    return out


def timed_training(model, batches, precision: str, device, compile_model: bool = False):
    """auxrun's training step (auxrun.training.hardware.Precision) with fused AdamW, as the trainer
    builds it; (ms per step after warm-up, first step s, first loss, last loss, precision, optimizer)."""
    import torch

    from auxrun.training.hardware import Precision

    prec = Precision(precision, device)
    model.to(device).train()
    if compile_model:
        model.bert.compile(dynamic=True)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=True)
    params = [p for p in model.parameters() if p.requires_grad]
    times, losses = [], []
    for batch in batches:
        torch.cuda.synchronize()
        t = time.perf_counter()
        with prec.autocast():
            loss = model(**batch).loss
        prec.backward(loss)
        prec.step(opt, params, 1.0)
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        losses.append(float(loss))
    warm = times[3:] or times
    return sum(warm) / len(warm) * 1000, times[0], losses[0], sum(losses[-5:]) / 5, prec, opt


def hf_trainer_throughput(batches, precision: str, tmp: str) -> float:
    import torch
    from transformers import Trainer, TrainingArguments

    rows = [
        {"input_ids": b["input_ids"][i].cpu(), "labels": b["labels"][i].cpu()}
        for b in batches
        for i in range(len(b["labels"]))
    ]

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            return rows[i]

    batch = len(batches[0]["labels"])
    args = TrainingArguments(
        output_dir=tmp,
        per_device_train_batch_size=batch,
        num_train_epochs=1,
        learning_rate=5e-5,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        optim="adamw_torch_fused",
        logging_strategy="no",
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=bert_base(), args=args, train_dataset=Rows())
    out = trainer.train()
    return float(out.metrics["train_samples_per_second"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); run it on a GPU machine")
        sys.exit(2)
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    figure("device", torch.cuda.get_device_name(0).replace(" ", "_"))
    figure("torch", torch.__version__)
    figure("bf16_supported", torch.cuda.is_bf16_supported())

    # SDPA: does the flash kernel take BERT's attention shapes (bf16, head dim 64, no mask)?
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(args.batch, 12, args.length, 64, device=device, dtype=torch.bfloat16)
    try:
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            torch.nn.functional.scaled_dot_product_attention(q, q, q)
        figure("sdpa_flash", True)
    except RuntimeError as e:
        figure("sdpa_flash", False, f"({' '.join(str(e).split())[:80]})")

    batches = random_batches(args.steps, args.batch, args.length, device)
    torch.cuda.reset_peak_memory_stats()
    ms, _, first, last, _, opt = timed_training(bert_base(), batches, "bf16", device)
    figure("bf16_train_step_ms", ms, "ms")
    figure("bf16_examples_per_s", args.batch / ms * 1000, "ex/s")
    figure("bf16_loss_drop", first - last)
    figure("fused_adamw", bool(opt.defaults.get("fused")))
    figure("peak_memory_gib", torch.cuda.max_memory_allocated() / 2**30, "GiB")
    auxrun_rate = args.batch / ms * 1000

    ms16, _, first16, last16, prec16, _ = timed_training(bert_base(), batches, "fp16", device)
    figure("fp16_train_step_ms", ms16, "ms")
    figure("fp16_examples_per_s", args.batch / ms16 * 1000, "ex/s")
    figure("fp16_loss_drop", first16 - last16)
    figure("fp16_scale", float(prec16.scaler.get_scale()))

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        hf_rate = hf_trainer_throughput(batches, "bf16", tmp)
    figure("hf_trainer_examples_per_s", hf_rate, "ex/s")
    figure("auxrun_vs_hf_trainer", auxrun_rate / hf_rate, "x")

    ms_c, first_c, _, _, _, _ = timed_training(bert_base(), batches, "bf16", device, compile_model=True)
    figure("compile_first_step_s", first_c, "s")
    figure("compile_train_step_ms", ms_c, "ms")
    figure("compile_speedup", ms / ms_c, "x")


if __name__ == "__main__":
    main()
