"""The Objective contract; the defaults are those of single-label classification over [CLS]."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from auxrun.data.example import Example
    from auxrun.data.features import EncodedSplit
    from auxrun.data.spec import TaskSpec


class Objective:
    name: ClassVar[str] = ""
    task_file: ClassVar[bool] = (
        True  # may a task YAML name it (False: built by a method, e.g. a discriminator)
    )
    default_metrics: ClassVar[tuple[str, ...]] = ("accuracy",)  # the first is the default main metric
    named_labels: ClassVar[bool] = True  # labels are strings from spec.labels (checked when read)

    # ---- the task file ------------------------------------------------------------------------

    def validate_spec(self, spec: TaskSpec, where: str) -> None:
        from auxrun.errors import ConfigError

        if self.named_labels and len(spec.labels) < 2:
            raise ConfigError(f"{where}: a {self.name} task needs at least two labels")

    def num_outputs(self, spec: TaskSpec) -> int:
        return len(spec.labels)

    # ---- the head ------------------------------------------------------------------------------

    def head_input(self, hidden: torch.Tensor) -> torch.Tensor:
        """What the head reads of the encoder's last hidden states [B, L, D]: the first token."""
        return hidden[:, 0]

    def shape_logits(self, logits: torch.Tensor, n_choices: int | None) -> torch.Tensor:
        return logits

    def per_example_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One loss per example, [B], in fp32."""
        return F.cross_entropy(logits.float(), labels, reduction="none")

    # ---- examples -> features -> batches --------------------------------------------------------

    def encode(
        self, spec: TaskSpec, split: str, examples: list[Example], tokenizer: Any, max_length: int
    ) -> EncodedSplit:
        from auxrun.data.features import EncodedSplit, encode_texts

        ids, types = encode_texts(spec, examples, tokenizer, max_length)
        where = f"task '{spec.name}' split '{split}'"
        gold = [
            None if e.label is None else self.label_id(spec, e.label, f"{where}, example {e.uid}")
            for e in examples
        ]
        return EncodedSplit(spec.name, split, ids, types, list(gold), gold, uids=[e.uid for e in examples])

    def label_id(self, spec: TaskSpec, value: Any, where: str) -> Any:
        """An Example's label -> the id the loss and the metrics see."""
        from auxrun.errors import DataError

        try:
            return spec.labels.index(str(value))
        except ValueError:
            raise DataError(f"{where}: unknown label '{value}'; allowed: {spec.labels}") from None

    def collate_inputs(self, split: EncodedSplit, indices: list[int], pad_id: int) -> dict[str, torch.Tensor]:
        from auxrun.data.features import pad_rows

        return pad_rows(
            [split.input_ids[i] for i in indices], [split.token_type_ids[i] for i in indices], pad_id
        )

    def label_tensor(self, labels: list[Any], width: int) -> torch.Tensor:
        """A batch's labels; ``width`` is the padded sequence length."""
        return torch.tensor(labels, dtype=torch.long)

    # ---- logits -> predictions ------------------------------------------------------------------

    def decode(self, spec: TaskSpec, data: EncodedSplit, ex: int, logits: torch.Tensor) -> Any:
        """One example's logits -> its native prediction (what the metrics compare with ``gold``)."""
        return int(logits.argmax(-1))

    def prediction_label(self, spec: TaskSpec, pred: Any) -> Any:
        """A native prediction as written into a prediction file."""
        return spec.labels[pred]

    # ---- reading labels ---------------------------------------------------------------------------

    def parse_label(self, value: Any, where: str, n_choices: int | None = None) -> Any:
        """A label as a data file writes it -> the Example's label; ``where`` names file and line."""
        return str(value).strip()

    def hub_label(self, value: Any, names: list[str], labels: list[str], where: str) -> Any:
        """A hub column's value -> the Example's label: integer ids through ``names`` (checked against
        the task's ``labels`` when it has any); negative ids (GLUE test) = None."""
        from auxrun.errors import DataError

        if isinstance(value, str):
            tag = value
        elif value is None or value < 0:
            return None
        elif value >= len(names):
            raise DataError(f"{where}: label id {value} has no name; names: {names}")
        else:
            tag = names[value]
        if labels and tag not in labels:
            raise DataError(f"{where}: unknown label '{tag}'; allowed: {labels}")
        return tag

    # ---- stage=inspect ----------------------------------------------------------------------------

    def label_distribution(self, labels: list[Any]) -> dict[str, Any]:
        counts = Counter(str(label) for label in labels)
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
