"""The trainer contract (auxrun/training/controller.py, ``TrainerHooks``): MTLTrainer implements every
hook, and no method module reaches past them (a private member, the model, the batch streams, the
config) or imports the trainer itself."""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import pytest

from tests.conftest import FAST, REPO, compose

METHOD_SIDE = sorted(
    [*(REPO / "auxrun" / "methods").glob("*.py"), *(REPO / "auxrun" / "importance").glob("*.py")]
)
TRAINER_NAMES = {"trainer", "tr"}  # what method code calls a trainer


def _trainer_names(tree: ast.AST) -> set[str]:
    """The usual names, plus any argument annotated as a trainer."""
    names = set(TRAINER_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            if any(k in ast.unparse(node.annotation) for k in ("TrainerHooks", "MTLTrainer")):
                names.add(node.arg)
    return names


def reaches_past(source: str, allowed: set[str]) -> list[str]:
    """Each ``<trainer>.<attr>`` (``self.trainer.<attr>``, ``getattr(trainer, "attr")``) whose attr
    is not a hook, as 'line: trainer.attr', and each import of auxrun.training.trainer."""
    tree = ast.parse(source)
    names = _trainer_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            is_trainer = (isinstance(base, ast.Name) and base.id in names) or (
                isinstance(base, ast.Attribute) and base.attr == "trainer"
            )
            if is_trainer and (node.attr.startswith("_") or node.attr not in allowed):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif (  # getattr(trainer, "name", ...)
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in names
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value not in allowed
        ):
            found.append(f"{node.lineno}: {node.func.id}({node.args[0].id}, {node.args[1].value!r})")
        elif isinstance(node, ast.ImportFrom) and node.module == "auxrun.training.trainer":
            found.append(f"{node.lineno}: from auxrun.training.trainer import ...")
        elif isinstance(node, ast.Import) and any(a.name == "auxrun.training.trainer" for a in node.names):
            found.append(f"{node.lineno}: import auxrun.training.trainer")
    return sorted(found, key=lambda f: (int(f.split(":")[0]), f))


def test_the_scan_flags_private_members_and_whatever_is_not_a_hook():
    from auxrun.training.controller import hook_names

    src = (
        "from auxrun.training.trainer import MTLTrainer\n"
        "def f(trainer, other: TrainerHooks):\n"
        "    with trainer._autocast():\n"
        "        trainer.model(trainer.pad_id)\n"
        "    other.batches\n"
        "    self.trainer._to_device(x)\n"
        "    trainer.train_batches('t', 1)\n"
        "    ctx.model\n"
        "    getattr(trainer, '_autocast', None)\n"
    )
    assert reaches_past(src, hook_names()) == [
        "1: from auxrun.training.trainer import ...",
        "3: trainer._autocast",
        "4: trainer.model",
        "4: trainer.pad_id",
        "5: other.batches",
        "6: self.trainer._to_device",
        "9: getattr(trainer, '_autocast')",
    ]


@pytest.mark.parametrize("path", METHOD_SIDE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_method_modules_use_only_the_trainer_hooks(path: Path):
    from auxrun.training.controller import hook_names

    found = reaches_past(path.read_text(), hook_names())
    assert not found, f"{path.relative_to(REPO)} reaches past TrainerHooks: {found}"


def test_mtl_trainer_implements_every_hook():
    from auxrun.run import build_context
    from auxrun.selection import Selection
    from auxrun.training.controller import TrainerHooks, hook_names
    from auxrun.training.cost import CostLedger
    from auxrun.validate import validate_run

    cfg = compose(["quiet=true", "task_set.tasks=[toy_sentiment,toy_rating]", "primary=toy_sentiment", *FAST])
    ctx = build_context(cfg, Path(tempfile.mkdtemp()), validate_run(cfg), CostLedger())
    pool = ctx.pool
    sel = Selection("t", pool.primary, pool.auxiliaries, pool.auxiliaries)
    tr = ctx.new_trainer(sel, "t", epochs=1, progress=False)
    assert isinstance(tr, TrainerHooks)
    assert not [n for n in sorted(hook_names()) if not hasattr(tr, n)]
    assert {"autocast", "batch", "forward", "train_indices", "lr", "epochs", "device"} <= hook_names()
    # the facts agree with what the trainer runs on
    assert tr.trained_tasks == ["toy_sentiment", "toy_rating"]
    assert tr.batch_size == 16 and tr.max_grad_norm == cfg.train.max_grad_norm
    n = len(tr.train_indices("toy_rating"))
    assert tr.sample_steps("toy_rating", 1.0) == -(-n // 16)
    shared, head = tr.shared_parameters(), tr.head_parameters("toy_rating")
    assert shared and head and not set(shared) & set(head)
    assert set(shared) | {k for t in tr.trained_tasks for k in tr.head_parameters(t)} == set(
        tr.trainable_parameters()
    )
    # forward: eval mode by default, the model's mode restored, the same output as the trainer's own
    batch = tr.batch("toy_sentiment", "select_dev", [0, 1, 2])
    tr.model.train()
    a = tr.forward("toy_sentiment", batch).losses.detach()
    assert tr.model.training
    b = tr.forward("toy_sentiment", batch, at=tr.param_copy()).losses.detach()
    assert a.tolist() == b.tolist()
    loss = tr.differentiable_loss("toy_sentiment", "select_dev", tr.param_copy(), [0, 1, 2])
    assert float(loss.detach()) == pytest.approx(float(a.float().mean()))
