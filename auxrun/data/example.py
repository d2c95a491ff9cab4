"""The raw record every reader produces, whatever the file format (jiant's Example stage)."""

from __future__ import annotations

from dataclasses import dataclass

# classification: the label string as written in the file (mapped to an id through TaskSpec.labels);
# regression: a float; sequence labelling: one tag per word; multiple choice: the index of the
# correct choice. None marks an unlabeled example (GLUE/SuperGLUE test splits): loaded, never scored.
Label = str | float | int | list | None


@dataclass
class Example:
    uid: str
    text_a: str | None = None
    text_b: str | None = None
    tokens: list[str] | None = None  # sequence labelling: the words, one label each
    choices: list[str] | None = None  # multiple choice: each choice is paired with text_a
    label: Label = None

    @property
    def labeled(self) -> bool:
        return self.label is not None
