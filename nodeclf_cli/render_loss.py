"""How the loss conventions (:mod:`conventions`) read in the step's tables: the
cross-entropy's and the gradient's formulas with class weights and label smoothing,
and the L2 penalty's table (the data loss, the penalty, their sum, the gradient's
share). Builds :class:`render.Section` data; prints nothing."""

from __future__ import annotations

from .conventions import L2_SOURCES, LossConvention, penalty_formula, share_formula, share_terms
from .quantities import BY_NAME


def loss_formula(convention: LossConvention) -> str:
    """ℓ_i's formula under the convention (the registry's for the plain loss)."""
    if convention.plain:
        return BY_NAME["loss_per_node"].formula
    w = "w_{y_i} " if convention.class_weights is not None else ""
    if convention.label_smoothing == 0:
        return f"ℓ_i = −{w}ln p_i[y_i]"
    weighted = "w_c " if convention.class_weights is not None else ""
    eps = convention.label_smoothing
    return f"ℓ_i = −Σ_c {weighted}t_i[c] ln p_i[c],  t_i = (1 − ε) onehot(y_i) + ε/C  (ε = {eps:g})"


def total_formula(convention: LossConvention, reduction: str) -> str:
    """L's formula: the registry's, or the weighted mean Σ_i ℓ_i / Σ_i w_{y_i} (PyTorch's)."""
    if convention.class_weights is None or reduction == "sum":
        return BY_NAME["loss"].formula_for(reduction)
    return "L = Σ_i ℓ_i / Σ_i w_{y_i}"


def grad_logits_formula(convention: LossConvention, reduction: str) -> str:
    """∂L/∂H's formula: the registry's, or scale (s_i p_i − a_i) with weights or smoothing."""
    if convention.plain:
        return BY_NAME["grad_logits"].formula_for(reduction)
    scale = {"sum": "", "mean": "/Σ_i w_{y_i}" if convention.class_weights is not None else "/N"}[reduction]
    return f"∂L/∂h_i = (s_i p_i − a_i){scale},  a_i[c] = w_c t_i[c],  s_i = Σ_c a_i[c]"


def convention_notes(convention: LossConvention) -> list[str]:
    """Notes under the cross-entropy's table: the class weights and the smoothing used."""
    notes = []
    if convention.class_weights is not None:
        notes.append("class weights w = (" + ", ".join(f"{w:g}" for w in convention.class_weights) + "), "
                     "as PyTorch's weight=")
    if convention.label_smoothing:
        notes.append(f"label smoothing ε = {convention.label_smoothing:g}, as PyTorch's label_smoothing")
    return notes


def penalty_rows(
    convention: LossConvention, loss: float, penalty: float, regularized: float, reduction: str = "mean"
) -> tuple[str, list[tuple[str, float]], list[str]]:
    """The penalty table's title, its rows (name, value) and notes: the data loss L, the
    penalty R and L + R, with where the form comes from and the gradient's share."""
    form = convention.l2_form
    title = f"L2 penalty ({form}: {L2_SOURCES[form]})  {penalty_formula(convention, reduction)}"
    rows = [("L  (data loss)", loss)]
    if convention.has_penalty_term:
        rows += [("R  (penalty)", penalty), ("L + R  (regularised loss)", regularized)]
    notes = [share_formula(convention, reduction),
             "b is penalised too" if convention.bias_penalised else "b is not penalised"]
    return title, rows, notes


def quantity_formula(name: str, convention: LossConvention, reduction: str = "mean", graph: bool = False,
                     optimiser: str = "sgd") -> str:
    """A quantity's formula as text as a problem uses it: the registry's (for the reduction, the graph
    and the optimiser), with the loss's, the loss gradient's and the penalty's under ``convention``, and
    the gradients with the penalty's share added."""
    q = BY_NAME[name]
    if name == "loss_per_node":
        return loss_formula(convention)
    if name == "loss":
        return total_formula(convention, reduction)
    if name == "penalty":
        return penalty_formula(convention, reduction)
    if name == "grad_logits":
        return grad_logits_formula(convention, reduction)
    text = q.formula_for(reduction, graph, optimiser)
    if name in ("grad_W", "grad_b") and convention.penalised:
        w_share, *b_share = share_terms(convention, reduction).split(",  ")  # "2λ W", and "2λ b" where b is
        if name == "grad_W":
            return f"{text},  plus the penalty's share {w_share}"
        return f"{text},  plus the penalty's share {b_share[0]}" if b_share else f"{text}  (b is not penalised)"
    return text
