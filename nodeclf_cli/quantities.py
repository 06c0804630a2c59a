"""The registry of a gradient step's quantities: the one home of each one's facts.

For every quantity a step computes, in the order it is worked by hand: its name (the
key in JSON and in answers files, and the field of :class:`core.StepResult`), its
symbol, what messages call it, its table title and formula (as text and as LaTeX), its
shape (what its rows and columns are), the quantities it is computed from, and which
of the two required precisions it is written at. Tables, JSON, Markdown, LaTeX,
carrying, ``--explain``, ``check`` and ``generate`` read it; a new quantity is one
entry here plus its mathematics in :mod:`core`.

Shapes are given by axes: ``("node", "class")`` is a row per node and a column per
class; ``("class", "feature")`` a row per class; ``("node",)`` one number per node;
``("class",)`` one number per class; ``()`` a single number. Grading works on each
quantity as a 2-d array (:func:`as_2d`): a per-node vector is a column, a per-class
vector and a scalar are one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Quantity:
    """One quantity of the step (see the module notes)."""

    name: str  # JSON and answers key, StepResult field
    symbol: str  # h, p, ℓ, L, ∂L/∂h, ...: an entry is written symbol[column]
    called: str  # in messages: "your probabilities"
    title: str  # the table's title: "Softmax"
    formula: str  # as text, with Unicode symbols
    latex: str  # the same formula in LaTeX math
    axes: tuple[str, ...]  # rows (and columns): "node", "class", "feature"
    parents: tuple[str, ...]  # the quantities it is computed from; () the inputs alone
    row_by_row: bool = False  # each row rests on the same row of its parent only
    loss_precision: bool = False  # written at the loss's precision (finer), not the values'
    sum_formula: str | None = None  # the formula where the loss is the sum, not the mean (else the same)
    sum_latex: str | None = None

    @property
    def rows(self) -> str | None:
        """What a row of an answers mapping is keyed by: node, class, or None (a single
        number, or one list over the classes)."""
        return self.axes[0] if self.axes in (("node", "class"), ("class", "feature"), ("node",)) else None

    @property
    def columns(self) -> str | None:
        """What the numbers of one written row run over: class, feature, or None."""
        if len(self.axes) == 2:
            return self.axes[1]
        return "class" if self.axes == ("class",) else None

    def formula_for(self, reduction: str) -> str:
        """The formula as text, for a mean ("mean") or summed ("sum") loss."""
        return self.sum_formula if reduction == "sum" and self.sum_formula else self.formula

    def latex_for(self, reduction: str) -> str:
        return self.sum_latex if reduction == "sum" and self.sum_latex else self.latex

    def heading(self, reduction: str = "mean") -> str:
        """``Softmax  p_i[c] = exp(h_i[c]) / Σ_q exp(h_i[q])``."""
        return f"{self.title}  {self.formula_for(reduction)}"


QUANTITIES: tuple[Quantity, ...] = (
    Quantity(
        "logits", "h", "logits", "Logits", "H = Z Wᵀ + b   (h_i[c] = z_i · w_c + b_c)",
        r"H = Z W^{\top} + b \quad (h_i[c] = z_i \cdot w_c + b_c)", ("node", "class"), (),
    ),
    Quantity(
        "probabilities", "p", "probabilities", "Softmax", "p_i[c] = exp(h_i[c]) / Σ_q exp(h_i[q])",
        r"p_i[c] = \exp(h_i[c]) / \sum_q \exp(h_i[q])", ("node", "class"), ("logits",), row_by_row=True,
    ),
    Quantity(
        "loss_per_node", "ℓ", "per-node losses", "Cross-entropy", "ℓ_i = −ln p_i[y_i]",
        r"\ell_i = -\ln p_i[y_i]", ("node",), ("probabilities",), row_by_row=True, loss_precision=True,
    ),
    Quantity(
        "loss", "L", "loss", "Loss", "L = (1/N) Σ_i ℓ_i",
        r"L = \frac{1}{N} \sum_i \ell_i", (), ("loss_per_node",), loss_precision=True,
        sum_formula="L = Σ_i ℓ_i", sum_latex=r"L = \sum_i \ell_i",
    ),
    Quantity(
        "grad_logits", "∂L/∂h", "gradients at the logits", "Gradient at the logits", "∂L/∂H = (P − Y)/N",
        r"\partial L/\partial H = (P - Y)/N", ("node", "class"), ("probabilities",), row_by_row=True,
        sum_formula="∂L/∂H = P − Y", sum_latex=r"\partial L/\partial H = P - Y",
    ),
    Quantity(
        "grad_W", "∂L/∂w", "gradients of W", "Gradient of W", "∂L/∂W = (∂L/∂H)ᵀ Z",
        r"\partial L/\partial W = (\partial L/\partial H)^{\top} Z", ("class", "feature"), ("grad_logits",),
    ),
    Quantity(
        "grad_b", "∂L/∂b", "gradients of b", "Gradient of b", "∂L/∂b = Σ_i ∂L/∂h_i",
        r"\partial L/\partial b = \sum_i \partial L/\partial h_i", ("class",), ("grad_logits",),
    ),
    Quantity(
        "W_new", "w", "updated weights", "Updated weights", "W := W − α ∂L/∂W",
        r"W \leftarrow W - \alpha\, \partial L/\partial W", ("class", "feature"), ("grad_W",), row_by_row=True,
    ),
    Quantity(
        "b_new", "b", "updated biases", "Updated biases", "b := b − α ∂L/∂b",
        r"b \leftarrow b - \alpha\, \partial L/\partial b", ("class",), ("grad_b",),
    ),
)
BY_NAME: dict[str, Quantity] = {q.name: q for q in QUANTITIES}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def upstream(name: str) -> tuple[str, ...]:
    """Every quantity ``name`` is computed from, directly or not, nearest last."""
    found: list[str] = []
    for parent in BY_NAME[name].parents:
        for q in (*upstream(parent), parent):
            if q not in found:
                found.append(q)
    return tuple(found)


def as_2d(name: str, values: Any) -> np.ndarray:
    """A quantity's values as a 2-d float64 array: rows of nodes or classes; a per-node
    vector as a column, a per-class vector or a scalar as one row."""
    array = np.asarray(values, dtype=np.float64)
    axes = BY_NAME[name].axes
    if axes == ("node",):
        return array.reshape(-1, 1)
    if axes in ((), ("class",)):
        return array.reshape(1, -1)
    return array


def from_2d(name: str, values: np.ndarray) -> Any:
    """The inverse of :func:`as_2d`: the quantity in the shape the step computes it."""
    axes = BY_NAME[name].axes
    if axes == ():
        return values.reshape(())
    if len(axes) == 1:
        return values.reshape(-1)
    return values
