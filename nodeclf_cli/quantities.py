"""The registry of a gradient step's quantities: the one home of each one's facts.

For every quantity a step computes, in the order it is worked by hand: its name (the
key in JSON and in answers files, and the field of :class:`core.StepResult`), its
symbol, what messages call it, its table title and formula (as text and as LaTeX), its
shape (what its rows and columns are), the quantities it is computed from, and which
of the two required precisions it is written at, and whether it exists only with a
graph (``graph``: the degrees, Â and Ẑ; a problem without edges has none of them, and
a quantity's parents that a problem does not have are left out), and how its formula
reads for a summed loss or on a graph. Tables, JSON, Markdown, LaTeX, carrying,
``--explain``, ``check`` and ``generate`` read it; a new quantity is one entry here plus
its mathematics in :mod:`core`.

Shapes are given by axes: ``("node", "class")`` is a row per node and a column per
class; ``("class", "feature")`` a row per class; ``("node",)`` one number per node;
``("class",)`` one number per class; ``()`` a single number; ``("node", "node")`` a
node x node matrix (Â); ``("node", "feature")`` a row of features per node (Ẑ).
Grading works on each quantity as a 2-d array (:func:`as_2d`): a per-node vector is a column, a per-class
vector and a scalar are one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .optim import ADAM_FAMILY, MOMENTUM_FAMILY


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
    graph: bool = False  # exists only for a problem with a graph (edges)
    penalised: bool = False  # exists only when the loss has an L2 penalty term (conventions.LossConvention)
    whole: bool = False  # a count where whole (unweighted degrees): written as a whole number, it is exact
    # the formula (text, LaTeX) where it reads differently with a graph: the layer sees Ẑ, not Z
    on_graph: tuple[str, str] | None = None
    sum_formula: str | None = None  # the formula where the loss is the sum, not the mean (else the same)
    sum_latex: str | None = None
    # the optimisers whose step has it (optimstep.STEP_OPTIMIZERS); None: every optimiser's
    optimisers: tuple[str, ...] | None = None

    @property
    def rows(self) -> str | None:
        """What a row of an answers mapping is keyed by: node, class, or None (a single
        number, or one list over the classes)."""
        return self.axes[0] if self.axes[:1] == ("node",) or self.axes == ("class", "feature") else None

    @property
    def columns(self) -> str | None:
        """What the numbers of one written row run over: class, feature, or None."""
        if len(self.axes) == 2:
            return self.axes[1]
        return "class" if self.axes == ("class",) else None

    def formula_for(self, reduction: str = "mean", graph: bool = False, optimiser: str = "sgd") -> str:
        """The formula as text, for a mean or summed loss, with a graph or without, for an optimiser."""
        return self._forms(reduction, graph, optimiser)[0]

    def latex_for(self, reduction: str = "mean", graph: bool = False, optimiser: str = "sgd") -> str:
        return self._forms(reduction, graph, optimiser)[1]

    def heading(self, reduction: str = "mean", graph: bool = False, optimiser: str = "sgd") -> str:
        """``Softmax  p_i[c] = exp(h_i[c]) / Σ_q exp(h_i[q])``."""
        return f"{self.title}  {self.formula_for(reduction, graph, optimiser)}"

    def _forms(self, reduction: str, graph: bool, optimiser: str = "sgd") -> tuple[str, str]:
        if optimiser != "sgd" and self.name in ("W_new", "b_new"):  # θ_new = θ + Δθ
            return {"W_new": ("W_new = W + ΔW", r"W' = W + \Delta W"),
                    "b_new": ("b_new = b + Δb", r"b' = b + \Delta b")}[self.name]
        if optimiser in UPDATE_RULES and self.name.startswith("update_"):
            text, latex = UPDATE_RULES[optimiser]
            return f"{self.formula} = {text.split(' = ', 1)[1]}", f"{self.latex} = {latex.split(' = ', 1)[1]}"
        if graph and self.on_graph:
            return self.on_graph
        if reduction == "sum" and self.sum_formula:
            return self.sum_formula, self.sum_latex or self.latex
        return self.formula, self.latex


MOMENTUM, ADAM = MOMENTUM_FAMILY, ADAM_FAMILY
# (key, symbol ({p}: w or b), called, title, formula, LaTeX, parents, optimisers) of each optimiser
# quantity; θ is W or b, g its gradient, and each is one entry per parameter: key_W (class x feature),
# key_b (one per class)
_OPTIMISER = (
    ("velocity", "b_t({p})", "velocity", "Velocity", "b_t = μ b_{t−1} + (1 − τ) g   (b_1 = g)",
     r"b_t = \mu b_{t-1} + (1 - \tau) g \quad (b_1 = g)", ("grad",), MOMENTUM),
    ("m", "m({p})", "first moments m", "First moment", "m_t = β1 m_{t−1} + (1 − β1) g",
     r"m_t = \beta_1 m_{t-1} + (1 - \beta_1) g", ("grad",), ADAM),
    ("v", "v({p})", "second moments v", "Second moment", "v_t = β2 v_{t−1} + (1 − β2) g²",
     r"v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2", ("grad",), ADAM),
    ("m_hat", "m̂({p})", "bias-corrected first moments m̂", "Bias-corrected first moment", "m̂_t = m_t / (1 − β1^t)",
     r"\hat m_t = m_t / (1 - \beta_1^t)", ("m",), ADAM),
    ("v_hat", "v̂({p})", "bias-corrected second moments v̂", "Bias-corrected second moment", "v̂_t = v_t / (1 − β2^t)",
     r"\hat v_t = v_t / (1 - \beta_2^t)", ("v",), ADAM),
    ("update", "Δ{p}", "updates Δθ", "Update", "Δθ = θ_new − θ", r"\Delta\theta = \theta' - \theta",
     ("grad", "velocity", "m_hat", "v_hat"), MOMENTUM + ADAM),
)
# each optimiser's update Δθ (text, LaTeX), in the update's title after its formula
UPDATE_RULES = {
    "momentum": ("Δθ = −α b_t", r"\Delta\theta = -\alpha b_t"),
    "nesterov": ("Δθ = −α (g + μ b_t)", r"\Delta\theta = -\alpha (g + \mu b_t)"),
    "adam": ("Δθ = −α m̂_t / (√v̂_t + ε)", r"\Delta\theta = -\alpha \hat m_t / (\sqrt{\hat v_t} + \epsilon)"),
    "adamw": ("Δθ = −αλθ − α m̂_t / (√v̂_t + ε)",
              r"\Delta\theta = -\alpha\lambda\theta - \alpha \hat m_t / (\sqrt{\hat v_t} + \epsilon)"),
}


def _optimiser_quantities() -> list[Quantity]:
    """An optimiser's quantities, for W and for b (see ``_OPTIMISER``)."""
    found = []
    for key, symbol, called, title, formula, latex, parents, optimisers in _OPTIMISER:
        for part, axes in (("W", ("class", "feature")), ("b", ("class",))):
            found.append(Quantity(
                f"{key}_{part}", symbol.format(p=part.lower()), f"{called} of {part}", f"{title} of {part}", formula,
                latex, axes,
                tuple(f"{parent}_{part}" for parent in parents), row_by_row=part == "W", optimisers=optimisers,
            ))
    return found


QUANTITIES: tuple[Quantity, ...] = (
    Quantity(
        "degrees", "d̃", "degrees", "Degrees", "d̃_i = Σ_j Ã_ij   (Ã = A + I)",
        r"\tilde d_i = \sum_j \tilde A_{ij} \quad (\tilde A = A + I)", ("node",), (), graph=True, whole=True,
    ),
    Quantity(
        "adjacency", "Â", "normalised adjacency", "Normalised adjacency",
        "Â = D̃^-1/2 Ã D̃^-1/2   (Â_ij = Ã_ij / √(d̃_i d̃_j))",
        r"\hat A = \tilde D^{-1/2} \tilde A \tilde D^{-1/2} \quad "
        r"(\hat A_{ij} = \tilde A_{ij} / \sqrt{\tilde d_i \tilde d_j})",
        ("node", "node"), ("degrees",), graph=True,
    ),
    Quantity(
        "propagated", "ẑ", "propagated embeddings", "Propagated embeddings", "Ẑ = Â Z   (ẑ_i = Σ_j Â_ij z_j)",
        r"\hat Z = \hat A Z \quad (\hat z_i = \sum_j \hat A_{ij} z_j)", ("node", "feature"), ("adjacency",),
        graph=True,
    ),
    Quantity(
        "logits", "h", "logits", "Logits", "H = Z Wᵀ + b   (h_i[c] = z_i · w_c + b_c)",
        r"H = Z W^{\top} + b \quad (h_i[c] = z_i \cdot w_c + b_c)", ("node", "class"), ("propagated",),
        row_by_row=True,
        on_graph=("H = Ẑ Wᵀ + b   (h_i[c] = ẑ_i · w_c + b_c)",
                  r"H = \hat Z W^{\top} + b \quad (h_i[c] = \hat z_i \cdot w_c + b_c)"),
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
        "penalty", "R", "penalty", "L2 penalty", "R = λ Σ W²", r"R = \lambda \sum W^2", (), (),
        loss_precision=True, penalised=True,
    ),
    Quantity(
        "regularized_loss", "L + R", "regularised loss", "Regularised loss", "L + R", r"L + R", (),
        ("loss", "penalty"), loss_precision=True, penalised=True,
    ),
    Quantity(
        "grad_logits", "∂L/∂h", "gradients at the logits", "Gradient at the logits", "∂L/∂H = (P − Y)/N",
        r"\partial L/\partial H = (P - Y)/N", ("node", "class"), ("probabilities",), row_by_row=True,
        sum_formula="∂L/∂H = P − Y", sum_latex=r"\partial L/\partial H = P - Y",
    ),
    Quantity(
        "grad_W", "∂L/∂w", "gradients of W", "Gradient of W", "∂L/∂W = (∂L/∂H)ᵀ Z",
        r"\partial L/\partial W = (\partial L/\partial H)^{\top} Z", ("class", "feature"), ("grad_logits",),
        on_graph=("∂L/∂W = (∂L/∂H)ᵀ Ẑ", r"\partial L/\partial W = (\partial L/\partial H)^{\top} \hat Z"),
    ),
    Quantity(
        "grad_b", "∂L/∂b", "gradients of b", "Gradient of b", "∂L/∂b = Σ_i ∂L/∂h_i",
        r"\partial L/\partial b = \sum_i \partial L/\partial h_i", ("class",), ("grad_logits",),
    ),
    *_optimiser_quantities(),
    Quantity(
        "W_new", "w", "updated weights", "Updated weights", "W := W − α ∂L/∂W",
        r"W \leftarrow W - \alpha\, \partial L/\partial W", ("class", "feature"), ("grad_W", "update_W"),
        row_by_row=True,
    ),
    Quantity(
        "b_new", "b", "updated biases", "Updated biases", "b := b − α ∂L/∂b",
        r"b \leftarrow b - \alpha\, \partial L/\partial b", ("class",), ("grad_b", "update_b"),
    ),
)
BY_NAME: dict[str, Quantity] = {q.name: q for q in QUANTITIES}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def present(graph: bool, penalised: bool = False, optimiser: str = "sgd") -> tuple[Quantity, ...]:
    """The quantities of a step: those of the graph only with a graph, the penalty and
    the regularised loss only with an L2 penalty term in the loss, an optimiser's state
    and update only with that optimiser (plain ``sgd`` has none)."""
    return tuple(q for q in QUANTITIES if (graph or not q.graph) and (penalised or not q.penalised)
                 and (q.optimisers is None or optimiser in q.optimisers))


def new_weights_formula(optimiser: str) -> tuple[str, str]:
    """W_new's and b_new's formula side by side (text, LaTeX) for an optimiser other than plain SGD."""
    W_new, b_new = BY_NAME["W_new"], BY_NAME["b_new"]
    return (f"{W_new.formula_for(optimiser=optimiser)},  {b_new.formula_for(optimiser=optimiser)}",
            rf"{W_new.latex_for(optimiser=optimiser)},\ {b_new.latex_for(optimiser=optimiser)}")


def degrees_formula(self_loops: bool) -> tuple[str, str]:
    """The degrees' formula (text, LaTeX), with self-loops (the registry's) or without."""
    if self_loops:
        return BY_NAME["degrees"].formula, BY_NAME["degrees"].latex
    return "d_i = Σ_j A_ij   (no self-loops: Ã = A)", r"d_i = \sum_j A_{ij} \quad (\text{no self-loops: } \tilde A = A)"


def adjacency_formula(norm: str) -> tuple[str, str]:
    """Â's formula (text, LaTeX) for a normalisation: sym (the registry's), rw or none."""
    return {
        "sym": (BY_NAME["adjacency"].formula, BY_NAME["adjacency"].latex),
        "rw": ("Â = D̃^-1 Ã   (Â_ij = Ã_ij / d̃_i)",
               r"\hat A = \tilde D^{-1} \tilde A \quad (\hat A_{ij} = \tilde A_{ij} / \tilde d_i)"),
        "none": ("Â = Ã   (not normalised)", r"\hat A = \tilde A \quad (\text{not normalised})"),
    }[norm]


def propagated_formula(hops: int) -> tuple[str, str]:
    """Ẑ's formula (text, LaTeX) for K hops (K = 1: the registry's)."""
    if hops == 1:
        return BY_NAME["propagated"].formula, BY_NAME["propagated"].latex
    return (f"Ẑ = Â^{hops} Z   (Ẑ⁽ᵏ⁾ = Â Ẑ⁽ᵏ⁻¹⁾, Ẑ⁽⁰⁾ = Z)",
            rf"\hat Z = \hat A^{{{hops}}} Z \quad (\hat Z^{{(k)}} = \hat A \hat Z^{{(k-1)}},\ \hat Z^{{(0)}} = Z)")


def hop_formula(k: int) -> tuple[str, str]:
    """One hop's formula (text, LaTeX): Ẑ⁽ᵏ⁾ = Â Ẑ⁽ᵏ⁻¹⁾ (Â Z for the first)."""
    before, before_tex = ("Z", "Z") if k == 1 else (f"Ẑ⁽{k - 1}⁾", rf"\hat Z^{{({k - 1})}}")
    return f"Ẑ⁽{k}⁾ = Â {before}", rf"\hat Z^{{({k})}} = \hat A {before_tex}"


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
