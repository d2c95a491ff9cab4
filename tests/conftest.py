import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one worker per core: each keeps to one thread (and so do the runs it starts), or the workers'
    # threads outnumber the cores and every test slows down many times over
    os.environ["OMP_NUM_THREADS"] = "1"

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Every test session gets its own artifact cache (toy data, tokenizers, head matrices)."""
    os.environ["AUXRUN_CACHE"] = str(tmp_path_factory.mktemp("auxrun-cache"))
    yield


def compose(overrides: list[str]):
    """The RunConfig the CLI would build from these overrides (validated)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from auxrun.hydra_setup import register_configs
    from auxrun.paths import CONF_DIR

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        dcfg = hydra_compose("config", overrides=overrides)
    return OmegaConf.to_object(dcfg)


def run_auxrun(overrides: list[str], run_dir: Path) -> dict:
    """Compose, validate and run in-process (what `auxrun` does, minus Hydra's job plumbing)."""
    from auxrun.run import load_saved_config, run, save_config
    from auxrun.validate import validate_run

    if "resume=true" in overrides:  # as the CLI: the run folder's saved config wins
        cfg = load_saved_config(run_dir)
    else:
        cfg = compose(["quiet=true", *overrides])
    specs = validate_run(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.resume:
        save_config(cfg, run_dir)
    return run(cfg, run_dir, specs)


# Small and fast: toy pool at 30% size, 2 epochs.
FAST = ["data.toy_scale=0.3", "train.epochs=2", "train.batch_size=16"]


def wordpiece_tokenizer():
    """A small cased WordPiece tokenizer built offline: every word splits into several pieces."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-!?\""))
    pieces = specials + ["the", "The", "##s"] + chars + [f"##{c}" for c in chars]
    vocab = {p: i for i, p in enumerate(dict.fromkeys(pieces))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


# The sixteen real tasks of issue 3 (conf/task/*.yaml without the toy ones).
REAL_TASKS = [
    "cola",
    "mrpc",
    "mnli",
    "qnli",
    "qqp",
    "rte",
    "sst2",
    "wnli",
    "stsb",
    "pos",
    "ner",
    "chunk",
    "meld",
    "dmeld",
    "cb",
    "copa",
]


def head_specs() -> dict:
    """One task spec of each objective, for model-level tests."""
    from auxrun.data.spec import TaskSpec

    return {
        "cls": TaskSpec(name="cls", labels=["a", "b", "c"]),
        "reg": TaskSpec(
            name="reg",
            objective="regression",
            task_type="similarity",
            metrics=["pearson"],
            main_metric="pearson",
        ),
        "tag": TaskSpec(
            name="tag",
            objective="sequence_labeling",
            task_type="tagging",
            labels=["O", "B-X"],
            input_fields=["tokens"],
            metrics=["seqeval_f1"],
            main_metric="seqeval_f1",
        ),
        "mc": TaskSpec(name="mc", objective="multiple_choice", task_type="choice"),
    }


def small_mtl_model(attn: str = "sdpa", dropout: float = 0.1):
    """A 3-layer x 4-head random-init BERT with one head per objective (seeded)."""
    import torch
    from transformers import BertConfig, BertModel

    from auxrun.models.mtl import MultiTaskModel

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        attn_implementation=attn,
    )
    return MultiTaskModel(BertModel(cfg, add_pooling_layer=False), head_specs(), dropout=dropout)
