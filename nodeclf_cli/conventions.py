"""The loss conventions of textbooks and libraries: class weights, label smoothing and
L2 penalties, as formulas. Pure numpy, like :mod:`core`, which calls them.

Conventions (N nodes, C classes; shapes as in :mod:`core`)::

    w       (C,)    class weights, as PyTorch's ``weight=`` (all 1: none)
    ε       scalar  label smoothing, as PyTorch's ``label_smoothing``
    T       (N, C)  targets  t_i = (1 − ε) onehot(y_i) + ε/C
    A       (N, C)  weighted targets  a_i[c] = w_c t_i[c],  s_i = Σ_c a_i[c]
    ℓ_i             −Σ_c a_i[c] ln p_i[c]   (ε = 0: −w_{y_i} ln p_i[y_i])
    L               scale Σ_i ℓ_i,  scale = 1 / Σ_i w_{y_i} (mean, PyTorch's) or 1 (sum)
    ∂ℓ_i/∂h_i       s_i p_i − a_i   (the softmax's rows sum to 1)

L2 penalties (``l2_form``), R added to L, ∂R/∂θ added to the gradient::

    sum           R = λ Σ W²           ∂R/∂W = 2λ W        CS231n, linear classification
    half          R = ½λ Σ W²          ∂R/∂W = λ W         CS231n, neural networks 2
    sklearn       R = scale Σ W² / 2C  ∂R/∂W = scale W / C scikit-learn's LogisticRegression(C)
    weight-decay  no R                 λ W added           PyTorch's SGD(weight_decay=λ)

The bias is penalised the same way where ``l2_bias`` says so; by default only
weight-decay penalises it (PyTorch decays every parameter; the others leave b alone).

scikit-learn minimises C Σ_i ℓ_i + ½‖W‖²; divided by C it is Σ_i ℓ_i + ‖W‖²/(2C), the
summed loss's R (scale 1); divided by C N it is the mean loss plus ‖W‖²/(2CN) (scale
1/N), and with class weights (sample weights w_{y_i}) by C Σ_i w_{y_i}: R = scale ‖W‖²/(2C)
in each case, the same optimum as ``LogisticRegression(C=C)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

L2_FORMS = ("sum", "half", "sklearn", "weight-decay")
# where each penalty form comes from
L2_SOURCES = {
    "sum": "CS231n, linear classification",
    "half": "CS231n, neural networks 2",
    "sklearn": "scikit-learn LogisticRegression(C)",
    "weight-decay": "PyTorch SGD(weight_decay)",
}


@dataclass(frozen=True)
class LossConvention:
    """How the loss is written (the defaults: the plain mean cross-entropy, no penalty)."""

    class_weights: tuple[float, ...] | None = None  # w_c per class, in the classes' order
    label_smoothing: float = 0.0  # ε in [0, 1)
    l2: float = 0.0  # λ (C for the sklearn form); 0: no penalty
    l2_form: str = "sum"  # one of L2_FORMS
    l2_bias: bool | None = None  # whether b is penalised; None: as the form's source does

    @property
    def plain(self) -> bool:
        """The plain cross-entropy: no weights, no smoothing (a penalty aside)."""
        return self.class_weights is None and self.label_smoothing == 0

    @property
    def penalised(self) -> bool:
        """An L2 penalty is set (of any form)."""
        return self.l2 > 0

    @property
    def has_penalty_term(self) -> bool:
        """The penalty adds a term R to the loss (weight-decay only adds to the gradient)."""
        return self.penalised and self.l2_form != "weight-decay"

    @property
    def bias_penalised(self) -> bool:
        return self.l2_form == "weight-decay" if self.l2_bias is None else self.l2_bias

    def as_dict(self) -> dict:
        """As the problem file's ``loss:`` writes it (only what differs from the plain loss)."""
        out: dict = {}
        if self.class_weights is not None:
            out["class_weights"] = list(self.class_weights)
        if self.label_smoothing:
            out["label_smoothing"] = self.label_smoothing
        if self.penalised:
            out.update(l2=self.l2, l2_form=self.l2_form, l2_bias=self.bias_penalised)
        return out


PLAIN = LossConvention()


def node_weights(y: np.ndarray, convention: LossConvention) -> np.ndarray:
    """w_{y_i} for each node (all 1 without class weights). y (N,) -> (N,)."""
    if convention.class_weights is None:
        return np.ones(len(y))
    return np.asarray(convention.class_weights, dtype=np.float64)[y]


def loss_scale(y: np.ndarray, reduction: str, convention: LossConvention) -> float:
    """1 / Σ_i w_{y_i} for the mean (1/N without weights, PyTorch's weighted mean), 1 for the sum."""
    if reduction == "sum":
        return 1.0
    return 1.0 / float(node_weights(y, convention).sum())


def weighted_targets(y: np.ndarray, n_classes: int, convention: LossConvention) -> np.ndarray:
    """A: a_i[c] = w_c t_i[c],  t_i = (1 − ε) onehot(y_i) + ε/C.  y (N,) -> (N, C)."""
    eps = convention.label_smoothing
    T = (1.0 - eps) * np.eye(n_classes)[y] + eps / n_classes
    if convention.class_weights is not None:
        T = T * np.asarray(convention.class_weights, dtype=np.float64)
    return T


def cross_entropy(H: np.ndarray, y: np.ndarray, convention: LossConvention) -> np.ndarray:
    """Each node's loss with weights and smoothing, from the logits (stable).

    Notes
    -----
    ℓ_i = −Σ_c a_i[c] ln p_i[c],  ln p_i[c] = (h_i[c] − m_i) − ln Σ_q exp(h_i[q] − m_i).
    Derivative: ∂ℓ_i/∂h_i[c] = s_i p_i[c] − a_i[c] (see :func:`grad_logits`).

    H (N, C), y (N,) -> (N,).
    """
    shifted = H - H.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(weighted_targets(y, H.shape[1], convention) * log_p).sum(axis=1)


def cross_entropy_from_probabilities(P: np.ndarray, y: np.ndarray, convention: LossConvention) -> np.ndarray:
    """ℓ_i = −Σ_c a_i[c] ln p_i[c] from (possibly rounded) probabilities, as by hand."""
    A = weighted_targets(y, P.shape[1], convention)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(A != 0, A * np.log(P), 0.0)
    return -terms.sum(axis=1)


def grad_logits(P: np.ndarray, y: np.ndarray, scale: float, convention: LossConvention) -> np.ndarray:
    """dL/dH[i, c] = scale (s_i p_i[c] − a_i[c]),  s_i = Σ_c a_i[c].  P (N, C) -> (N, C)."""
    A = weighted_targets(y, P.shape[1], convention)
    return scale * (A.sum(axis=1, keepdims=True) * P - A)


def penalty_coefficient(convention: LossConvention, scale: float) -> float:
    """k in R = k Σ θ²: λ (sum), λ/2 (half), scale/(2C) (sklearn, C = ``l2``); 0 for weight-decay."""
    lam = convention.l2
    return {"sum": lam, "half": lam / 2, "sklearn": scale / (2 * lam) if lam else 0.0,
            "weight-decay": 0.0}[convention.l2_form]


def penalty(W: np.ndarray, b: np.ndarray, convention: LossConvention, scale: float) -> float:
    """R = k (Σ W² + Σ b² where b is penalised), k from :func:`penalty_coefficient`."""
    if not convention.has_penalty_term:
        return 0.0
    total = float((W * W).sum()) + (float((b * b).sum()) if convention.bias_penalised else 0.0)
    return penalty_coefficient(convention, scale) * total


def penalty_gradients(
    W: np.ndarray, b: np.ndarray, convention: LossConvention, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The penalty's share of the gradient: ∂R/∂W = 2k W (λ W for weight-decay), and the
    same for b where it is penalised (else zeros). W (C, d), b (C,)."""
    if not convention.penalised:
        return np.zeros_like(W), np.zeros_like(b)
    factor = convention.l2 if convention.l2_form == "weight-decay" else 2 * penalty_coefficient(convention, scale)
    return factor * W, (factor * b if convention.bias_penalised else np.zeros_like(b))


def sklearn_denominator(convention: LossConvention, reduction: str = "mean") -> str:
    """The sklearn form's denominator as text: ``2C`` (sum), ``2CN`` (mean), ``2C Σw_{y_i}`` (weighted mean)."""
    if reduction == "sum":
        return "2C"
    return "2C Σw_{y_i}" if convention.class_weights is not None else "2CN"


def penalty_formula(convention: LossConvention, reduction: str = "mean") -> str:
    """R's formula as text, e.g. ``R = ½λ Σ W²  (λ = 0.1)``; scikit-learn's reads
    ``R = Σ W² / (2C N)`` for the mean loss and ``R = Σ W² / (2C)`` for the sum."""
    lam = convention.l2
    squares = "(Σ W² + Σ b²)" if convention.bias_penalised else "Σ W²"
    written = {
        "sum": f"R = λ {squares}  (λ = {lam:g})",
        "half": f"R = ½λ {squares}  (λ = {lam:g})",
        "sklearn": f"R = {squares} / ({sklearn_denominator(convention, reduction)})  (C = {lam:g})",
        "weight-decay": f"no loss term; λθ added to the gradient  (λ = {lam:g})",
    }
    return written[convention.l2_form]


def share_terms(convention: LossConvention, reduction: str = "mean") -> str:
    """The penalty's share of the gradients as text: ``2λ W`` or ``λ W, λ b``
    (scikit-learn's ``1/(C N) · W``, ``1/C · W`` for the summed loss)."""
    sklearn = "1/C ·" if reduction == "sum" else f"1/({sklearn_denominator(convention, reduction)[1:]}) ·"
    share = {"sum": "2λ", "half": "λ", "sklearn": sklearn, "weight-decay": "λ"}[convention.l2_form]
    return ",  ".join([f"{share} W"] + ([f"{share} b"] if convention.bias_penalised else []))


def share_formula(convention: LossConvention, reduction: str = "mean") -> str:
    """A note saying the penalty's share, e.g. ``penalty's share added to the gradients: λ W``."""
    return "penalty's share added to the gradients: " + share_terms(convention, reduction)


def penalty_name(convention: LossConvention, reduction: str = "mean") -> str:
    """A penalty's convention in a few symbols: ``½λΣW²``, ``λΣ(W² + b²)``, ``ΣW²/(2CN)``
    (``ΣW²/(2C)`` for the summed loss), ``weight decay λθ``."""
    squares = "(W² + b²)" if convention.bias_penalised else "W²"
    if convention.l2_form == "weight-decay":
        return "weight decay λθ" + (" on W and b" if convention.bias_penalised else " on W only")
    sklearn = f"Σ{squares}/({sklearn_denominator(convention, reduction).replace(' ', '')})"
    return {"sum": f"λΣ{squares}", "half": f"½λΣ{squares}", "sklearn": sklearn}[convention.l2_form]


def describe(convention: LossConvention, reduction: str = "mean") -> str:
    """The convention in a few words (empty for the plain loss):
    ``class weights (6, 4), label smoothing 0.1, L2 ½λΣW² (λ 0.01)``."""
    parts = []
    if convention.class_weights is not None:
        parts.append("class weights (" + ", ".join(f"{w:g}" for w in convention.class_weights) + ")")
    if convention.label_smoothing:
        parts.append(f"label smoothing {convention.label_smoothing:g}")
    if convention.penalised:
        number = "C" if convention.l2_form == "sklearn" else "λ"
        parts.append(f"L2 {penalty_name(convention, reduction)} ({number} {convention.l2:g})")
    return ", ".join(parts)
