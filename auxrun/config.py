"""The structured schema of a run, and nothing else: dataclasses with their defaults. auxrun/hydra_setup.py
registers them in Hydra's ConfigStore, so a misspelt key or a value of the wrong type fails when the
config is composed, before anything is computed. Importing this module imports no method.

Method configs are subclasses of MethodConfig, one per method, defined in the method's own module
(auxrun/methods/*.py) and registered under the ``method`` group as ``<name>_schema``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass
class MethodConfig:
    name: str = MISSING


@dataclass
class BackboneConfig:
    name: str = MISSING  # the option's name (conf/backbone/<name>.yaml); results and reports group by it
    # "tiny": random-init BERT built from the fields below; "hub": AutoModel.from_pretrained(hub_id or path).
    kind: str = "hub"
    hub_id: str | None = None  # kind hub: the Hugging Face model id from_pretrained loads
    path: str | None = None  # a local model directory; wins over hub_id
    cased: bool = True  # false: the tokenizer lowercases and strips accents (hub: only with set_lowercase)
    set_lowercase: bool = (
        False  # hub tokenizers: force do_lower_case = not cased (else trust the tokenizer's own config)
    )
    fallback_package: str | None = None  # an installed package shipping the weights (get_model_path())
    lr: float = 2e-5  # the learning rate the backbone's papers fine-tune with; train.lr defaults to it
    # tiny only: the shape of the random-init BERT (a hub model brings its own config)
    hidden_size: int = 64
    num_layers: int = 2  # tiny only: Transformer layers
    num_heads: int = 4  # tiny only: attention heads per layer; hidden_size must divide by it
    intermediate_size: int = 128  # tiny only: width of each layer's feed-forward block
    vocab_size: int = 800  # tiny only: WordPiece pieces learnt from the pool's text, at most
    # Position embeddings (tiny) and the tokenizer's model_max_length; data.max_length may not exceed it
    max_position: int = 128


@dataclass
class TaskSetConfig:
    name: str = MISSING  # the pool's name (conf/task_set/<name>.yaml); in the run folder's name and reports
    tasks: list[str] = field(default_factory=list)  # the pool: task names (task files), primary included
    # The tasks this pool's experiments take as primaries; primary=null runs the first of them in tasks
    primaries: list[str] = field(default_factory=list)
    # Ground truth for the toy pool: {primary: {related: [...], unrelated: [...], noise: [...]}}
    planted: dict[str, Any] = field(default_factory=dict)
    # True: train only the primary and its planted auxiliaries (related, unrelated, noise in that order)
    # instead of every task listed; the planted check's pool (docs/reference/toy-pools.md).
    planted_group: bool = False
    # {task: metric}: the main (reported, best-epoch) metric of a task in this pool, overriding its
    # task file's main_metric; it must be one of the task's metrics (superglue5: accuracy for MRPC).
    main_metrics: dict[str, str] = field(default_factory=dict)
    # The tasks experiment=transfer_truth pairs with each primary (its grid is built from them before
    # each point sets ``tasks``); empty: ``tasks``. Narrows the measurement without a new task set.
    transfer_tasks: list[str] = field(default_factory=list)


@dataclass
class HardwareConfig:
    name: str = MISSING  # the option's name (conf/hardware/<name>.yaml), printed at the start of a run
    device: str = "cpu"  # cpu | cuda | auto
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast + gradient scaler) | auto (bf16 where supported)
    num_threads: int = 0  # torch intra-op threads on CPU; 0 leaves torch's default
    num_workers: int = 0  # DataLoader workers collating training batches ahead; 0 collates in-process
    pin_memory: bool = True  # pinned host batches + non-blocking copies (CUDA only)
    tf32: bool = True  # TF32 matmuls on CUDA (Ampere+)
    attn_implementation: str = "sdpa"  # sdpa (fused attention, eager where a model lacks it) | eager
    # auto | true | false: dropout masks from raw generator bits (auxrun/models/fast_dropout.py) for the
    # encoder's hidden states and attention probabilities; auto = on for CPU, off on CUDA (fused there).
    # Off by default: it draws other masks than torch's, so it would change every published CPU number.
    fast_dropout: str = "false"
    compile: bool = False  # torch.compile the encoder
    compile_backend: str = "inductor"  # torch.compile backend when compile=true (inductor | aot_eager | ...)
    distributed: bool = False  # data-parallel training across torchrun's processes (hardware=multi_gpu)
    requeue: bool = False  # a requeued job (Slurm preemption/timeout) continues its run folder: resume=auto


@dataclass
class TrainConfig:
    epochs: int = 3  # epochs of MTL training, each evaluated; the best dev epoch is reported (>= 1)
    batch_size: int = 32  # examples a training mini-batch, one task's; the global batch on several GPUs
    eval_batch_size: int = 128  # examples a forward pass when evaluating or scoring (speed, memory)
    lr: float | None = None  # None: the backbone's lr
    weight_decay: float = 0.01  # AdamW weight decay (>= 0); biases and LayerNorm weights get none
    adam_eps: float = 1e-8  # AdamW epsilon (torch's default; alpha-VIL section 4.2: 1e-6)
    warmup_ratio: float = 0.1  # share of optimizer steps in linear warm-up, then linear decay; [0, 1)
    max_grad_norm: float = 1.0  # clip the gradient's global L2 norm to this; 0: no clipping
    dropout: float = 0.1  # dropout probability of the encoder (hidden, attention) and the heads; [0, 1)
    # Task heads: linear (MT-DNN, FastMTL) | mlp (alpha-VIL 4.2: linear -> head_hidden, ReLU, linear).
    head: str = "linear"
    head_hidden: int = 256  # head=mlp: width of the hidden layer
    # size_proportional (MT-DNN: every batch of every task once per epoch, shuffled) or ratio
    # (AUTOSEM: eta_i batches of task i per cycle; cycles until the primary's batches are used).
    schedule: str = "auto"  # auto: ratio when the Selection has ratios, else size_proportional
    max_train_examples: int | None = None  # cap per task (quick runs); None = all
    # Each epoch trains a fresh sample of this fraction of every task's training data (a function of
    # seed, task, epoch), and evaluation follows every such epoch (alpha-VIL section 4.2: 25%).
    epoch_fraction: float = 1.0
    eval_every_epoch: bool = True  # read by nothing: the trainer evaluates after every epoch regardless
    # After MTL, fine-tune on the primary alone for this many epochs and report that stage's best dev
    # epoch (FastMTL 3.3, as MT-DNN). 0: none. method=fastmtl and random_sampling set 5 (Appendix A).
    finetune_primary_epochs: int = 0
    checkpoint: bool = True  # write checkpoints/<stage>.pt each epoch; false: a resume restarts the stage
    # Write the best epoch's predictions on the primary's unlabelled test splits (GLUE submission
    # files). Off for measurements that never submit (the transfer truth): RTE's test set alone is 3,000
    # forward passes a run.
    predict_test: bool = True
    group_by_length: bool = False  # batches of similar lengths (less padding); order still a function of seed


@dataclass
class DataConfig:
    root: str | None = None  # a folder with the official layouts (glue_data/, conll2003/, ...)
    source: str = "auto"  # auto | local | hub | toy
    toy_dir: str | None = None  # where the toy generator writes; default <cache>/toy/<seed>
    toy_seed: int = 1234  # the toy pools' lexicon; each task's examples follow from it and the task name
    toy_scale: float = 1.0  # multiplies the toy sizes (tests use small pools)
    task_dirs: list[str] = field(default_factory=list)  # extra folders of task YAML files
    max_length: int = 128  # tokens an example keeps (a pair's two texts together); [8, backbone.max_position]
    select_dev_fraction: float = 0.1  # GradTS protocol: 10% of train, seed 42
    select_dev_seed: int = 42  # the shuffle that picks which train examples the select_dev carve holds out
    # Use a task's own select_dev split where its source has one (the planted toy primaries': 300
    # examples generated by the same rule) instead of carving select_dev_fraction of its train.
    held_out_select_dev: bool = False
    # Per-task cap on the train split, {task: N}: the first N examples of the file, applied before
    # train.max_train_examples and the select_dev carve (the planted pool keeps toy_ner small enough
    # that it is not learnt alone). A key must name a known task; one outside the run's set is ignored.
    train_cap: dict[str, int] = field(default_factory=dict)
    # Which examples a train_cap keeps: "first" (the file's first N) or "random" (a subset of N drawn
    # with train_cap_seed, kept in file order). Files sorted by source (CoLA) or label need "random".
    train_cap_order: str = "first"
    train_cap_seed: int = 0  # the draw of train_cap_order=random
    hub_timeout_s: float = 2.0  # seconds the data hub has to answer before a task fails with a DataError


@dataclass
class LoggerConfig:
    name: str = "csv"  # csv | none | wandb: wandb logs each epoch; the run folder's files are always written
    project: str = "auxrun"  # logger=wandb: the wandb project runs log to
    # wandb: online | offline | disabled; None: wandb's own settings (WANDB_MODE, `wandb login`)
    mode: str | None = None
    group: str | None = None  # wandb group; None: the sweep folder of a multirun


@dataclass
class RunConfig:
    method: MethodConfig = MISSING
    backbone: BackboneConfig = MISSING
    task_set: TaskSetConfig = MISSING
    hardware: HardwareConfig = MISSING
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    primary: str | None = None  # None: the task set's first primary
    seed: int = 42  # initial weights, batch orders, dropout and methods' draws (not the data's splits)
    stage: str = "all"  # all | select | train | inspect
    selection: str | None = None  # stage=train: a selection.json to train from
    resume: Any = False  # true | false | auto (resume when the run folder holds a run, else start)
    cache_dir: str | None = (
        None  # artifact cache; default $AUXRUN_CACHE, <checkout>/.cache or ~/.cache/auxrun
    )
    quiet: bool = False  # true: no banner of choices and no progress bars; the final tables still print
    # Baselines trained after the run on the same pool, seed and budget, reported beside it
    # (results.json ``compare``): [single_task, no_sel] answers "what did the selection buy?".
    compare: list[str] = field(default_factory=list)
