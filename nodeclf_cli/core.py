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

With an optimiser other than plain SGD (:mod:`optim`'s rules, PyTorch's), per parameter θ
(W (C, d) and b (C,), g its gradient), before the new weights::

    velocity_W, velocity_b  b_t = mu b_{t-1} + (1 - tau) g, b_1 = g         (momentum, nesterov)
    m_W, v_W, m_hat_W, v_hat_W (and _b)  Adam's moments and their corrections (adam, adamw)
    update_W, update_b      the update: W_new = W + update_W, b_new = b + update_b

With a graph (:mod:`graph`), the layer sees the propagated embeddings instead of Z::

    degrees     (N,)    d̃_i = sum_j Ã[i, j],  Ã = A + I
    adjacency   (N, N)  Â = D̃^-1/2 Ã D̃^-1/2 (or D̃^-1 Ã, or Ã), kept by its non-zeros
    propagated  (N, d)  Ẑ = Â^K Z;  then H = Ẑ W^T + b and dL/dW = (dL/dH)^T Ẑ (Â is fixed)
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import conventions as conv
from . import optim

if TYPE_CHECKING:
    from . import graph as graphs
    from .optimstep import Optimiser

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


def _none() -> np.ndarray:
    """A quantity the step has not: an empty array."""
    return np.empty((0, 0))


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
    # with an optimiser other than plain SGD: its quantities (as in the module notes); else empty arrays
    velocity_W: np.ndarray = field(default_factory=_none)
    velocity_b: np.ndarray = field(default_factory=_none)
    m_W: np.ndarray = field(default_factory=_none)
    m_b: np.ndarray = field(default_factory=_none)
    v_W: np.ndarray = field(default_factory=_none)
    v_b: np.ndarray = field(default_factory=_none)
    m_hat_W: np.ndarray = field(default_factory=_none)
    m_hat_b: np.ndarray = field(default_factory=_none)
    v_hat_W: np.ndarray = field(default_factory=_none)
    v_hat_b: np.ndarray = field(default_factory=_none)
    update_W: np.ndarray = field(default_factory=_none)
    update_b: np.ndarray = field(default_factory=_none)
    W_new: np.ndarray = field(default_factory=_none)  # always given
    b_new: np.ndarray = field(default_factory=_none)
    # the optimiser's state after the step (optim.MomentumState or optim.AdamState; plain SGD's: t alone)
    state: Any = None
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
    optimiser: Optimiser | None = None,
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

    An ``optimiser`` (:class:`optimstep.Optimiser`: settings and the state before the step)
    other than plain SGD works the update with :func:`optimiser_step`, each of its
    quantities carried (velocity, m, v, m̂, v̂, the update, then W_new and b_new); with
    :func:`exact` it equals :mod:`optim`'s rule exactly.
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
    worked: dict[str, Any] = {}
    if optimiser is None or optimiser.settings.name == "sgd":
        W_new, b_new = sgd_update(W, b, grad_W, grad_b, learning_rate)
        worked["state"] = optim.MomentumState(t=(0 if optimiser is None else optimiser.state.t) + 1)  # steps taken
    else:
        worked = optimiser_step(optimiser, W, b, grad_W, grad_b, learning_rate, carry)
        W_new, b_new = W + worked["update_W"], b + worked["update_b"]
    return StepResult(
        **worked,
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


def optimiser_step(
    optimiser: Optimiser, W: np.ndarray, b: np.ndarray, grad_W: np.ndarray, grad_b: np.ndarray,
    learning_rate: float, carry: Carry = exact,
) -> dict[str, Any]:
    """An optimiser's quantities for W and b (names as in :mod:`quantities`) and the state
    after the step (``state``), each carried before the next uses it, by :mod:`optim`'s rules.

    Notes
    -----
    momentum, nesterov:  b_t = μ b_{t−1} + (1 − τ) g (b_1 = g);  Δθ = −α b_t, or −α (g + μ b_t).
    adam, adamw:  m_t = β1 m_{t−1} + (1 − β1) g,  v_t = β2 v_{t−1} + (1 − β2) g²,
    m̂_t = m_t / (1 − β1^t),  v̂_t = v_t / (1 − β2^t),  Δθ = −α m̂_t / (√v̂_t + ε)  (adamw: also −αλθ).
    Then θ_new = θ + Δθ.
    """
    s, state = optimiser.settings, optimiser.state
    t = state.t + 1
    out: dict[str, Any] = {}
    for part, theta, g in (("W", W, grad_W), ("b", b, grad_b)):
        k = 0 if part == "W" else 1
        if s.name in optim.MOMENTUM_FAMILY:
            previous = state.velocity[k] if state.velocity is not None else None
            dampening = s.dampening if s.name == "momentum" else 0.0
            b_t = out[f"velocity_{part}"] = carry(f"velocity_{part}",
                                                  optim.momentum_buffer(previous, g, s.momentum, dampening))
            update = optim.momentum_update(g, b_t, learning_rate, s.momentum, s.name == "nesterov")
        else:
            m = out[f"m_{part}"] = carry(f"m_{part}", optim.first_moment(state.m[k] if state.m else None, g, s.beta1))
            v = out[f"v_{part}"] = carry(f"v_{part}", optim.second_moment(state.v[k] if state.v else None, g, s.beta2))
            m_hat = out[f"m_hat_{part}"] = carry(f"m_hat_{part}", optim.bias_corrected(m, s.beta1, t))
            v_hat = out[f"v_hat_{part}"] = carry(f"v_hat_{part}", optim.bias_corrected(v, s.beta2, t))
            decay = s.weight_decay if s.name == "adamw" else 0.0
            update = optim.adam_update(theta, m_hat, v_hat, learning_rate, s.eps, decay)
        out[f"update_{part}"] = carry(f"update_{part}", update)
    if s.name in optim.MOMENTUM_FAMILY:
        out["state"] = optim.MomentumState(t=t, velocity=(out["velocity_W"], out["velocity_b"]))
    else:
        out["state"] = optim.AdamState(t=t, m=(out["m_W"], out["m_b"]), v=(out["v_W"], out["v_b"]))
    return out
