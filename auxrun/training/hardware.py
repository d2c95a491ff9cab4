"""Device, precision and compilation settings of a trainer (``hardware.*``), kept out of the training loop.

Precision: ``fp32``; ``bf16`` (autocast to bfloat16, no scaler needed: same exponent range as fp32);
``fp16`` (autocast to float16 with a dynamic gradient scaler, so small gradients do not underflow to
zero); ``auto`` (bf16 on a CUDA device that supports it, fp16 with the scaler on one that does not,
fp32 on CPU). Asking for bf16 where the device has none is refused with a ConfigError rather than
silently running something else. Autocast and the scaler work on CPU too, which is how the tests
exercise both paths.

Choice: plain ``torch.amp`` rather than accelerate's ``Accelerator``. The trainer needs exact resume
(batch positions, RNG, scaler state in its own checkpoint), snapshot/restore of weights and
optimizer for controllers, and forward hooks on the encoder's modules for head gates; accelerate's
wrapped model, optimizer and scheduler objects change all three, and what it would save us here is
about thirty lines.
"""

from __future__ import annotations

import logging
import signal
from contextlib import contextmanager, nullcontext

import torch

from auxrun.config import HardwareConfig
from auxrun.errors import ConfigError

log = logging.getLogger("auxrun")

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
FAST_DROPOUT = ("auto", "true", "false")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision a run uses on this device: 'fp32', 'bf16' or 'fp16'."""
    if precision not in PRECISIONS:
        raise ConfigError(f"hardware.precision='{precision}' is not one of {list(PRECISIONS)}")
    if precision == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if bf16_supported(device) else "fp16"
    if precision == "bf16" and not bf16_supported(device):
        raise ConfigError(
            f"hardware.precision=bf16 but {device} has no bf16 support; use hardware.precision=fp16 "
            "(autocast with a gradient scaler), auto, or fp32"
        )
    return precision


class Precision:
    """Autocast for forward passes and the scaled backward/clip/step for training steps."""

    def __init__(self, precision: str, device: torch.device):
        self.device = device
        self.name = resolve_precision(precision, device)
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)
        self.scaler = torch.amp.GradScaler(device.type) if self.name == "fp16" else None

    def autocast(self):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, params, max_grad_norm: float) -> bool:
        """Unscale (fp16), clip, step; False when the scaler skipped the step (inf/nan gradients)."""
        if self.scaler is None:
            if max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            return True
        self.scaler.unscale_(optimizer)
        if max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        scale = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        return self.scaler.get_scale() >= scale  # the scale drops exactly when the step was skipped

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def configure_backends(hw: HardwareConfig, device: torch.device) -> None:
    """TF32 matmuls and convolutions on CUDA (Ampere and later): fp32 inputs, tensor-core speed,
    10-bit mantissa products with fp32 accumulation. Nothing changes on CPU."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = hw.tf32
        torch.backends.cudnn.allow_tf32 = hw.tf32


def fast_dropout_on(hw: HardwareConfig) -> bool:
    """``hardware.fast_dropout``: ``auto`` is on where the device is the CPU (torch's bernoulli mask
    costs about twice a uniform draw there) and off on CUDA, whose fused dropout kernels are fast."""
    value = str(hw.fast_dropout).lower()  # Hydra hands a bare true/false over as 'True'/'False'
    if value not in FAST_DROPOUT:
        raise ConfigError(f"hardware.fast_dropout='{hw.fast_dropout}' is not one of {list(FAST_DROPOUT)}")
    if value == "auto":
        return pick_device(hw.device).type == "cpu"
    return value == "true"


def pin_memory(hw: HardwareConfig, device: torch.device) -> bool:
    """Pinned host memory only helps (and only works) when batches are copied to a CUDA device."""
    return hw.pin_memory and device.type == "cuda"


def maybe_compile(model: torch.nn.Module, hw: HardwareConfig) -> None:
    """``hardware.compile``: compile the encoder in place (``nn.Module.compile``), so parameter names,
    state dicts and forward hooks stay those of the eager module. Shapes vary from batch to batch
    (dynamic padding), so dynamic shapes are on."""
    if not hw.compile:
        return
    encoder = getattr(model, "encoder", model)
    encoder.compile(backend=hw.compile_backend, dynamic=True)
    log.info("torch.compile: encoder compiled (backend %s)", hw.compile_backend)


# Signals a DataLoader worker leaves to its training process. Slurm signals every process of a job:
# SIGTERM on a requeue, a preemption or scancel, which torch's worker handler turns into the worker's
# death ("DataLoader worker ... is killed by signal: Terminated") while submitit has the training
# process carry on; USR2 before a time limit, whose handler (submitit's checkpoint-and-requeue) a
# forked worker inherits and would run.
WORKER_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2) if hasattr(signal, "SIGUSR2") else ()


@contextmanager
def signals_held():
    """Hold WORKER_SIGNALS while DataLoader workers are forked: a worker inherits the held mask, so a
    signal that arrives before ``dataloader_worker_init`` waits, and is then ignored; one meant for
    the training process reaches it when the block ends."""
    if not WORKER_SIGNALS:
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def dataloader_worker_init(_worker_id: int) -> None:
    """In each DataLoader worker: WORKER_SIGNALS ignored, then let through (see ``signals_held``).
    The workers end with their parent as usual."""
    for sig in WORKER_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if WORKER_SIGNALS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS)
