"""stage=inspect: per task and split, size, labels and lengths; inspect.json written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import OmegaConf

from auxrun.data.inspect import run_inspect
from tests.conftest import wordpiece_tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"
FIXTURES = Path(__file__).parent / "fixtures" / "data"


def test_run_inspect_reports_every_task_and_split(tmp_path):
    cfg = OmegaConf.create(
        {
            "task_set": {"tasks": ["cola", "mnli", "stsb", "ner", "chunk", "copa", "meld"]},
            "data": {
                "root": str(FIXTURES),
                "source": "local",
                "task_dirs": [],
                "max_length": 16,
                "hub_timeout_s": 2.0,
            },
            "quiet": False,
        }
    )
    report = run_inspect(cfg, tmp_path, wordpiece_tokenizer())
    on_disk = json.loads((tmp_path / "inspect.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert not list(tmp_path.glob("*.tmp"))
    assert set(report) == {"cola", "mnli", "stsb", "ner", "chunk", "copa", "meld"}
    assert set(report["mnli"]) == {"train", "dev", "dev_mismatched", "test", "test_mismatched"}

    cola = report["cola"]["train"]
    assert cola["size"] == 4 and cola["labeled"] == 4 and cola["label_distribution"] == {"1": 2, "0": 2}
    assert cola["mean_words"] > 3 and cola["mean_tokens"] > cola["mean_words"]  # char-level pieces
    assert cola["truncated_share"] == 1.0  # every sentence is over 16 character pieces
    assert report["cola"]["test"]["labeled"] == 0 and report["cola"]["test"]["label_distribution"] == {}
    assert set(report["stsb"]["train"]["label_distribution"]) == {"mean", "std", "min", "max"}
    assert report["ner"]["train"]["label_distribution"]["O"] > 0
    assert report["copa"]["train"]["label_distribution"] == {"0": 3}
    assert "carved" in report["chunk"]["train"]["note"]


def test_token_statistics_on_a_sample_of_large_splits(tmp_path):
    cfg = OmegaConf.create(
        {
            "task_set": {"tasks": ["sst2"]},
            "data": {
                "root": str(FIXTURES),
                "source": "local",
                "task_dirs": [],
                "max_length": 512,
                "hub_timeout_s": 2.0,
            },
            "quiet": True,
        }
    )
    report = run_inspect(cfg, tmp_path, wordpiece_tokenizer(), length_sample=2)
    train = report["sst2"]["train"]
    assert train["size"] == 3 and train["length_sample"] == 2 and train["truncated_share"] == 0.0
