"""The mathematics of one fully connected layer with softmax and cross-entropy,
written as a student reads it: one function a formula, each derivative next to its step.

Pure numpy: no files, no printing. Every function takes arrays and returns arrays.
The trainer's fast version of the same formulas (chunks, classes x nodes, base-2
exponentials) is :mod:`kernel`; a test holds the two equal.

Conventions (N nodes, d features, C classes)::

    Z       (N, d)  node embeddings, one row per node
    y       (N,)    true class of each node, as a position 0..C-1
    Y       (N, C)  one-hot rows of y
    W       (C, d)  one row of weights per class
    b       (C,)    one bias per class
    logits  (N, C)  H = Z W^T + b
    probabilities (N, C)  P = softmax(H) along the classes
    loss    scalar  L = scale * sum_i -ln P[i, y_i],  scale = 1/N (mean) or 1 (sum)
    grad_logits (N, C)  dL/dH = scale * (P - Y)
    grad_W  (C, d)  dL/dW = (dL/dH)^T Z
    grad_b  (C,)    dL/db = sum over nodes of dL/dH

With a graph (:mod:`graph`), the layer sees the propagated embeddings instead of Z::

    degrees     (N,)    d̃_i = sum_j Ã[i, j],  Ã = A + I
    adjacency   (N, N)  Â = D̃^-1/2 Ã D̃^-1/2 (or D̃^-1 Ã, or Ã), kept by its non-zeros
    propagated  (N, d)  Ẑ = Â^K Z;  then H = Ẑ W^T + b and dL/dW = (dL/dH)^T Ẑ (Â is fixed)
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import conventions as conv

if TYPE_CHECKING:
    from . import graph as graphs

REDUCTIONS = ("mean", "sum")


def loss_scale(n_nodes: int, reduction: str) -> float:
    """The factor in front of the sum of node losses: 1/N for "mean", 1 for "sum"."""
    if reduction == "mean":
        return 1.0 / n_nodes
    if reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")


def logits(Z: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Class scores of a linear layer.

    Notes
    -----
    H[i, c] = z_i . w_c + b_c, that is H = Z W^T + b.
    Derivatives: dH[i,c]/dw_c = z_i, dH[i,c]/db_c = 1 (used in :func:`grad_params`).

    Z (N, d), W (C, d), b (C,) -> H (N, C).
    """
    return Z @ W.T + b


def softmax(H: np.ndarray) -> np.ndarray:
    """Probabilities of the classes, row by row, computed stably.

    Notes
    -----
    m_i = max_q H[i, q],  P[i, c] = exp(H[i, c] - m_i) / sum_q exp(H[i, q] - m_i).
    Subtracting the maximum changes nothing mathematically (it cancels between the
    numerator and the denominator) and keeps every exponential in (0, 1], so logits
    of +-1000 give finite, exact results.

    H (N, C) -> P (N, C), each row summing to 1.
    """
    exps = np.exp(H - H.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


def cross_entropy(H: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each node's cross-entropy: minus the log of its true class's probability.

    Notes
    -----
    loss_i = -ln P[i, y_i] = ln sum_q exp(H[i, q] - m_i) - (H[i, y_i] - m_i),
    m_i = max_q H[i, q]: written with the logits, it stays finite even where P[i, y_i]
    is too small for a float (logits of +-1000).
    Derivative: d loss_i / dH[i, c] = P[i, c] - Y[i, c] (see :func:`grad_logits`).

    H (N, C), y (N,) -> loss (N,).
    """
    shifted = H - H.max(axis=1, keepdims=True)
    return np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]


def reduce_loss(loss_per_node: np.ndarray, reduction: str) -> float:
    """L = scale * sum_i loss_i with scale = 1/N ("mean") or 1 ("sum")."""
    return float(loss_scale(len(loss_per_node), reduction) * loss_per_node.sum())


def grad_logits(probabilities: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """Gradient of the loss with respect to the logits.

    Notes
    -----
    dL/dH[i, c] = scale * (P[i, c] - Y[i, c]), Y the one-hot matrix of y: the
    derivative of -ln softmax(h)[y] is softmax(h) - onehot(y).

    probabilities (N, C), y (N,) -> dL/dH (N, C).
    """
    Y = np.eye(probabilities.shape[1])[y]
    return scale * (probabilities - Y)


def grad_params(grad_H: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the loss with respect to W and b, by the chain rule through H.

    Notes
    -----
    dL/dw_c = sum_i dL/dH[i, c] z_i, that is dL/dW = (dL/dH)^T Z;
    dL/db_c = sum_i dL/dH[i, c] (dH[i, c]/db_c = 1).

    grad_H (N, C), Z (N, d) -> grad_W (C, d), grad_b (C,).
    """
    return grad_H.T @ Z, grad_H.sum(axis=0)


def sgd_update(
    W: np.ndarray, b: np.ndarray, grad_W: np.ndarray, grad_b: np.ndarray, learning_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """One step of gradient descent: W := W - lr dL/dW, b := b - lr dL/db."""
    return W - learning_rate * grad_W, b - learning_rate * grad_b


# A "carry" turns each intermediate result into the value the next step works from:
# the identity keeps full precision; rounding mimics working with a pencil.
Carry = Callable[[str, np.ndarray], np.ndarray]


def exact(name: str, values: np.ndarray) -> np.ndarray:
    """The carry that keeps every value at full precision."""
    return values


@dataclass(frozen=True)
class StepResult:
    """Every intermediate value of one gradient step (shapes as in the module notes).

    Without a graph the graph's quantities are empty arrays: degrees (0,), adjacency
    and propagated (0, 0)."""

    # with a graph: d̃ (N,), Â (a graph.SparseRows, or dense where a carry made it so), Ẑ (N, d)
    degrees: np.ndarray
    adjacency: graphs.SparseRows | np.ndarray
    propagated: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray
    predicted: np.ndarray  # (N,) class position of the largest probability
    loss_per_node: np.ndarray
    loss: float
    # with an L2 penalty in the loss (conventions.LossConvention): R and L + R; else 0 and the loss
    penalty: float
    regularized_loss: float
    grad_logits: np.ndarray
    grad_W: np.ndarray
    grad_b: np.ndarray
    W_new: np.ndarray
    b_new: np.ndarray
    # each hop's Ẑ⁽ᵏ⁾ for k = 1..K (the last is Ẑ), kept as the attribute ``hops`` (not a
    # quantity of its own: the fields are exactly the registry's, and ``predicted``)
    hops: InitVar[list | None] = None

    def __post_init__(self, hops: list | None) -> None:
        object.__setattr__(self, "hops", hops)


def propagate_step(Z: np.ndarray, graph: graphs.Graph, carry: Carry = exact) -> tuple:
    """The degrees, Â, each hop and Ẑ, each carried before the next uses it (as by hand).

    Notes
    -----
    d̃_i = Σ_j Ã[i, j];  Â[i, j] = Ã[i, j] / sqrt(d̃_i d̃_j) (sym), Ã[i, j] / d̃_i (rw) or
    Ã[i, j] (none);  Ẑ⁽ᵏ⁾ = Â Ẑ⁽ᵏ⁻¹⁾ for k = 1..K, Ẑ⁽⁰⁾ = Z.  Â comes from the carried
    degrees; each hop from the carried Â and the carried hop before it. With K = 0, Ẑ = Z.
    Returns (degrees, adjacency, hops, Ẑ).
    """
    p = graph.propagation
    from . import graph as graphs  # only for a problem with a graph

    rows, cols, weights = graphs.adjacency_entries(graph)
    if p.self_loops:
        rows, cols, weights = graphs.with_self_loops(rows, cols, weights, graph.n_nodes)
    d = carry("degrees", graphs.degrees(rows, weights, graph.n_nodes))
    values = graphs.normalized_values(rows, cols, weights, np.asarray(d, dtype=np.float64), p.norm)
    A_hat = carry("adjacency", graphs.sorted_by_row(rows, cols, values, graph.n_nodes))
    hops, current = [], Z
    for _ in range(p.hops):
        current = carry("propagated", A_hat @ current)
        hops.append(current)
    return d, A_hat, hops, current


def gradient_step(
    Z: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    learning_rate: float,
    reduction: str = "mean",
    carry: Carry = exact,
    graph: graphs.Graph | None = None,
    convention: conv.LossConvention = conv.PLAIN,
) -> StepResult:
    """Forward pass, loss, backward pass and update, keeping every intermediate.

    Notes
    -----
    Forward:   H = Z W^T + b,  P = softmax(H),  loss_i = -ln P[i, y_i],  L = scale sum_i loss_i.
    Backward:  dL/dH = scale (P - Y),  dL/dW = (dL/dH)^T Z,  dL/db = sum_i dL/dH[i, :].
    Update:    W_new = W - lr dL/dW,  b_new = b - lr dL/db.

    ``carry(name, values)`` is applied to each result before the next step uses it
    (names as in :mod:`quantities`: logits, probabilities, loss_per_node, loss,
    grad_logits, grad_W, grad_b, W_new, b_new): rounding it works as by hand, and
    substituting what a student wrote gives what follows from their values. With
    :func:`exact` the loss is :func:`cross_entropy` of the logits; with any other
    carry it comes from the carried probabilities, -ln p, as by hand.

    With a ``graph``, :func:`propagate_step` first gives Ẑ (carrying the degrees, the
    adjacency and each hop as ``propagated``), and the layer works on Ẑ instead of Z.

    A ``convention`` (:mod:`conventions`) gives class weights, label smoothing and an L2
    penalty: ℓ_i = −Σ_c a_i[c] ln p_i[c], dL/dH = scale (s_i p_i − a_i), R and its share
    ∂R/∂W, ∂R/∂b added to the gradients (so to the update). The plain convention is the
    formulas above, computed by the same functions as without one.
    """
    plain = convention.plain
    scale = loss_scale(len(y), reduction) if plain else conv.loss_scale(y, reduction, convention)
    propagation: tuple = (np.empty(0), np.empty((0, 0)), None)
    if graph is not None:
        d, A_hat, hops, Z = propagate_step(Z, graph, carry)
        propagation = (d, A_hat, hops)
    H = carry("logits", logits(Z, W, b))
    P = carry("probabilities", softmax(H))
    if not plain:
        per_node = conv.cross_entropy(H, y, convention) if carry is exact else \
            conv.cross_entropy_from_probabilities(P, y, convention)
    elif carry is exact:
        per_node = cross_entropy(H, y)
    else:  # by hand the loss comes from the (carried) probabilities
        with np.errstate(divide="ignore", invalid="ignore"):
            per_node = -np.log(P[np.arange(len(y)), y])
    per_node = carry("loss_per_node", per_node)
    summed = reduce_loss(per_node, reduction) if plain else scale * float(per_node.sum())
    loss = float(carry("loss", np.array(summed)))
    penalty, regularized = 0.0, loss  # carried only where they are quantities of the step
    if convention.has_penalty_term:
        penalty = float(carry("penalty", np.array(conv.penalty(W, b, convention, scale))))
        regularized = float(carry("regularized_loss", np.array(loss + penalty)))
    grad_H = carry("grad_logits", grad_logits(P, y, scale) if plain else conv.grad_logits(P, y, scale, convention))
    grad_W, grad_b = grad_params(grad_H, Z)
    if convention.penalised:  # ∂(L + R)/∂θ: the data's share plus the penalty's
        share_W, share_b = conv.penalty_gradients(W, b, convention, scale)
        grad_W, grad_b = grad_W + share_W, grad_b + share_b
    grad_W, grad_b = carry("grad_W", grad_W), carry("grad_b", grad_b)
    W_new, b_new = sgd_update(W, b, grad_W, grad_b, learning_rate)
    return StepResult(
        logits=H,
        probabilities=P,
        predicted=P.argmax(axis=1),
        loss_per_node=per_node,
        loss=loss,
        penalty=penalty,
        regularized_loss=regularized,
        grad_logits=grad_H,
        grad_W=grad_W,
        grad_b=grad_b,
        W_new=carry("W_new", W_new),
        b_new=carry("b_new", b_new),
        degrees=propagation[0],
        adjacency=propagation[1],
        propagated=np.empty((0, 0)) if graph is None else Z,
        hops=propagation[2],
    )
