"""The multi-task model's heads and its attention-head gates."""

import pytest
import torch

from tests.conftest import small_mtl_model


@pytest.fixture(scope="module")
def model():
    return small_mtl_model("eager", dropout=0.0).eval()


def batch(b=5, length=9, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 50, (b, length), generator=g)
    mask = torch.ones(b, length, dtype=torch.long)
    mask[0, 6:] = 0  # one padded row
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


def test_head_shapes_and_losses(model):
    x = batch()
    out = model("cls", {**x, "labels": torch.tensor([0, 1, 2, 0, 1])})
    assert out.logits.shape == (5, 3) and out.losses.shape == (5,)
    out = model("reg", {**x, "labels": torch.rand(5)})
    assert out.logits.shape == (5,)
    tags = torch.full((5, 9), -100)
    tags[:, 1] = 1
    out = model("tag", {**x, "labels": tags})
    assert out.logits.shape == (5, 9, 2) and out.losses.shape == (5,)
    mc = {k: v.view(5, 1, 9).repeat(1, 2, 1) for k, v in x.items()}
    out = model("mc", {**mc, "labels": torch.tensor([0, 1, 0, 1, 0])})
    assert out.logits.shape == (5, 2)


def test_gates_are_free_by_default(model):
    assert all(len(m._forward_hooks) == 0 for m in model.gates.modules)


def test_all_ones_gates_leave_outputs_unchanged(model):
    x = batch()
    with torch.no_grad():
        ref = model("cls", x).logits
        with model.gates.applied(model.gates.ones(requires_grad=False)):
            shared = model("cls", x).logits
        with model.gates.applied(model.gates.ones(batch=5, requires_grad=False)):
            per_example = model("cls", x).logits
    torch.testing.assert_close(shared, ref, rtol=0, atol=0)
    torch.testing.assert_close(per_example, ref, rtol=0, atol=0)
    assert all(len(m._forward_hooks) == 0 for m in model.gates.modules)  # hooks removed afterwards


def test_zero_gate_changes_only_its_example(model):
    x = batch()
    g = model.gates.ones(batch=5, requires_grad=False)
    g[2, 1, :] = 0.0  # silence every head of layer 1 for example 2
    with torch.no_grad():
        ref = model("cls", x).logits
        with model.gates.applied(g):
            out = model("cls", x).logits
    assert not torch.allclose(out[2], ref[2])
    torch.testing.assert_close(out[[0, 1, 3, 4]], ref[[0, 1, 3, 4]])


@pytest.mark.parametrize("task", ["cls", "tag", "mc"])
def test_per_example_gate_gradients_equal_a_loop(model, task):
    x = batch(b=4, seed=3)
    if task == "mc":
        x = {k: v.view(2, 2, 9) for k, v in x.items()}
        x["labels"] = torch.tensor([1, 0])
    elif task == "tag":
        labels = torch.full((4, 9), -100)
        labels[:, 1:5] = torch.tensor([[0, 1, 0, 1]] * 4)
        x["labels"] = labels
    else:
        x["labels"] = torch.tensor([0, 2, 1, 1])
    n = x["input_ids"].shape[0]
    gates = model.gates.ones(batch=n)
    with model.gates.applied(gates):
        model(task, x).losses.sum().backward()
    batched = gates.grad.clone()
    for i in range(n):
        single = {k: v[i : i + 1] for k, v in x.items()}
        g = model.gates.ones()
        with model.gates.applied(g):
            model(task, single).losses.sum().backward()
        torch.testing.assert_close(batched[i], g.grad, rtol=1e-4, atol=1e-6)
    assert batched.abs().sum() > 0
