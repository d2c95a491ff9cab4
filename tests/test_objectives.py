"""Objectives as one concept (auxrun/objectives/): the registry, the metric defaults, the heads
(linear and alpha-VIL's MLP), and the task discriminator's outputs and losses."""

import math

import pytest
import torch

from auxrun.data.spec import TaskSpec
from auxrun.errors import ConfigError
from auxrun.objectives import OBJECTIVES, get_objective, objective_names
from auxrun.objectives.task_discrimination import TaskDiscrimination
from tests.conftest import compose, head_specs, small_mtl_model


def test_registry_has_one_module_per_objective():
    assert objective_names() == ["classification", "multiple_choice", "regression", "sequence_labeling"]
    assert "task_discrimination" in OBJECTIVES and "task_discrimination" not in objective_names()
    assert get_objective("regression") is get_objective("regression")  # one instance per name
    with pytest.raises(KeyError, match="objective 'nope' is not registered"):
        get_objective("nope")


def test_task_files_get_the_objectives_metric_defaults_and_checks():
    reg = TaskSpec(name="r", objective="regression", task_type="similarity")
    assert reg.metrics == ["pearson", "spearman"] and reg.main_metric == "pearson" and reg.num_labels == 1
    tag = TaskSpec(name="t", objective="sequence_labeling", task_type="tagging", labels=["O", "B-X"])
    assert tag.metrics == ["seqeval_f1"] and tag.num_labels == 2
    explicit = TaskSpec(name="c", labels=["a", "b"], metrics=["f1", "accuracy"])
    assert explicit.main_metric == "f1"
    with pytest.raises(ConfigError, match=r"x.yaml: objective 'task_discrimination' is not one of \["):
        TaskSpec(name="d", objective="task_discrimination", labels=["a", "b"]).validate("x.yaml")
    with pytest.raises(ConfigError, match="x.yaml: a classification task needs at least two labels"):
        TaskSpec(name="c", labels=["a"]).validate("x.yaml")


def test_prediction_labels_and_parsing_per_objective():
    cls, reg, tag, mc = (head_specs()[k] for k in ("cls", "reg", "tag", "mc"))
    assert get_objective("classification").prediction_label(cls, 2) == "c"
    assert get_objective("sequence_labeling").prediction_label(tag, ["O", "B-X"]) == "O B-X"
    assert get_objective("regression").prediction_label(reg, 2.5) == 2.5
    assert get_objective("multiple_choice").prediction_label(mc, 1) == 1
    assert get_objective("regression").parse_label(" 3.2 ", "f: line 2") == 3.2
    with pytest.raises(Exception, match="f: line 2: label 2 is not a choice index 0..1"):
        get_objective("multiple_choice").parse_label(2, "f: line 2", n_choices=2)


@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_head_kinds(head):
    from transformers import BertConfig, BertModel

    from auxrun.models.mtl import MultiTaskModel

    torch.manual_seed(0)
    enc = BertModel(
        BertConfig(
            vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64
        ),
        add_pooling_layer=False,
    )
    model = MultiTaskModel(enc, head_specs(), dropout=0.0, head=head, head_hidden=7).eval()
    out = model.heads["cls"].out
    x = torch.randint(5, 50, (4, 6))
    batch = {"input_ids": x, "attention_mask": torch.ones_like(x)}
    with torch.no_grad():
        logits = model("cls", batch).logits
        h = enc(**batch).last_hidden_state[:, 0]
    if head == "linear":
        assert isinstance(out, torch.nn.Linear) and out.weight.shape == (3, 32)
        expected = out(h)
    else:  # alpha-VIL 4.2: linear hidden -> head_hidden, ReLU, linear -> outputs
        first, relu, last = out
        assert (
            first.weight.shape == (7, 32) and isinstance(relu, torch.nn.ReLU) and last.weight.shape == (3, 7)
        )
        expected = h @ first.weight.T + first.bias
        expected = expected.clamp(min=0) @ last.weight.T + last.bias
    torch.testing.assert_close(logits, expected)
    assert model.heads["reg"].out(h).shape[-1] == 1


def test_head_option_is_validated():
    from auxrun.validate import validate_run

    assert compose(["train.head=mlp", "train.head_hidden=16"]).train.head == "mlp"
    with pytest.raises(ConfigError, match=r"train.head='deep' is not one of \['linear', 'mlp'\]"):
        validate_run(compose(["train.head=deep"]))


# ---- the task discriminator -------------------------------------------------------------------------


def _bce(z, y):
    return -(y * math.log(1 / (1 + math.exp(-z))) + (1 - y) * math.log(1 - 1 / (1 + math.exp(-z))))


def test_discriminator_losses_by_hand():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    target = torch.tensor([0, 2])
    bce = TaskDiscrimination("bce").per_example_loss(logits, target)
    by_hand = [
        sum(_bce(z, float(j == t)) for j, z in enumerate(row)) / 3 for row, t in zip(logits.tolist(), [0, 2])
    ]
    assert bce.shape == (2,) and bce.tolist() == pytest.approx(by_hand, rel=1e-6)
    ce = TaskDiscrimination("ce").per_example_loss(logits, target)
    lse = [math.log(sum(math.exp(z) for z in row)) for row in logits.tolist()]
    assert ce.tolist() == pytest.approx([lse[0] - 2.0, lse[1] + 2.0], rel=1e-6)
    # scores: independent sigmoids (bce) vs a distribution over tasks (ce)
    s_bce = TaskDiscrimination("bce").scores(logits)
    s_ce = TaskDiscrimination("ce").scores(logits)
    assert s_bce[0, 0].item() == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert s_ce.sum(-1).tolist() == pytest.approx([1.0, 1.0]) and s_bce.sum(-1)[0] > 1.0
    with pytest.raises(ValueError, match="loss 'mse' is not one of"):
        TaskDiscrimination("mse")


@pytest.mark.parametrize("loss", ["bce", "ce"])
@pytest.mark.parametrize("multitask", [True, False])
def test_td_model_outputs_and_losses(loss, multitask):
    from auxrun.methods.fastmtl import TaskDiscriminativeModel
    from auxrun.models.mtl import TaskHead

    mtl = small_mtl_model("eager", dropout=0.0).eval()
    tasks = list(mtl.heads)  # cls, reg, tag, mc: 4 tasks -> 4 outputs
    spec = TaskSpec(name="td", objective="task_discrimination", labels=tasks)
    obj = TaskDiscrimination(loss)
    head = TaskHead(spec, 32, 0.0, objective=obj)
    model = TaskDiscriminativeModel(mtl, tasks, head, multitask=multitask).eval()
    ids = torch.randint(5, 50, (3, 7))
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.tensor([0.5, 1.0, 2.0]),
    }
    with torch.no_grad():
        out = model("reg", batch)
        hidden = mtl.encoder(input_ids=ids, attention_mask=batch["attention_mask"]).last_hidden_state
        d_logits = head.out(hidden[:, 0])
        expected = obj.per_example_loss(d_logits, torch.tensor([1, 1, 1]))  # "reg" is class 1
        if multitask:
            expected = expected + (mtl.heads["reg"](hidden) - batch["labels"]) ** 2
        scores = model.task_scores(batch)
    assert out.logits.shape == (3,) and out.losses.shape == (3,)
    torch.testing.assert_close(out.losses, expected)
    assert scores.shape == (3, 4)
    torch.testing.assert_close(scores, obj.scores(d_logits))
    mc = {k: v.view(3, 1, 7).repeat(1, 2, 1) for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        assert model.task_scores(mc).shape == (3, 4)  # one row per example, from its first choice
        torch.testing.assert_close(model.task_scores(mc), scores)
