"""The mathematics of one fully connected layer with softmax and cross-entropy.

Pure numpy: no files, no printing. Every function takes arrays and returns arrays.

Conventions (N nodes, d features, C classes)::

    Z       (N, d)  node embeddings, one row per node
    y       (N,)    true class of each node, as a position 0..C-1
    Y       (N, C)  one-hot rows of y
    W       (C, d)  one row of weights per class
    b       (C,)    one bias per class
    logits  (N, C)  H = Z W^T + b
    probs   (N, C)  P = softmax(H) along the classes
    loss    scalar  L = scale * sum_i -ln P[i, y_i],  scale = 1/N (mean) or 1 (sum)
    grad_logits (N, C)  dL/dH = scale * (P - Y)
    grad_W  (C, d)  dL/dW = (dL/dH)^T Z
    grad_b  (C,)    dL/db = sum over nodes of dL/dH

Each step's derivative sits next to the step. ``class_axis`` lets the trainer keep
logits as classes x nodes (``class_axis=0``) so that the reductions over classes run
along contiguous memory; the formulas are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

REDUCTIONS = ("mean", "sum")
LN2, LOG2E = float(np.log(2.0)), float(1.0 / np.log(2.0))


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


def true_class_positions(y: np.ndarray, n_classes: int, class_axis: int = -1) -> np.ndarray:
    """Flat positions of each node's true-class entry in a C-contiguous (N, C) array,
    or (C, N) with ``class_axis=0``. A trainer computes them once for every epoch."""
    nodes = np.arange(len(y))
    return y * len(y) + nodes if class_axis == 0 else nodes * n_classes + y


def _true_entries(
    A: np.ndarray, y: np.ndarray, axis: int, positions: np.ndarray | None = None
) -> tuple[np.ndarray, Any]:
    """A flat view of ``A`` and the positions of each node's true-class entry in it
    (flat positions gather and scatter about 3x faster than (row, column) pairs)."""
    if A.flags.c_contiguous:
        if positions is None:
            positions = true_class_positions(y, A.shape[axis], axis)
        return A.reshape(-1), positions
    nodes = np.arange(len(y))
    return A, ((y, nodes) if axis == 0 else (nodes, y))


class SoftmaxCE(NamedTuple):
    """Softmax probabilities, and with labels each node's cross-entropy and whether
    its true class has the largest logit (the first largest, as argmax picks)."""

    probs: np.ndarray
    loss_per_node: np.ndarray | None
    true_is_top: np.ndarray | None


def softmax_cross_entropy(
    H: np.ndarray,
    y: np.ndarray | None = None,
    class_axis: int = -1,
    overwrite: bool = False,
    positions: np.ndarray | None = None,
    times: float = 1.0,
    base2: bool = False,
) -> SoftmaxCE:
    """Softmax along the classes and the cross-entropy of the true classes, stably.

    Notes
    -----
    m_i = max_q H[i, q],  s_i = sum_q exp(H[i, q] - m_i),
    P[i, c] = exp(H[i, c] - m_i) / s_i,  loss_i = -ln P[i, y_i] = ln s_i - (H[i, y_i] - m_i).
    Subtracting the maximum changes nothing mathematically and keeps every
    exponential in (0, 1], so logits of +-1000 give finite, exact results.
    Derivative: d loss_i / dH[i, c] = P[i, c] - Y[i, c] (see :func:`grad_logits`).

    H (N, C), or (C, N) with ``class_axis=0``; y (N,). With ``overwrite`` the
    probabilities are written into H (saves memory and time on big chunks);
    ``positions`` are y's :func:`true_class_positions`, when already known;
    ``times`` multiplies the probabilities in the normalising pass (the gradient's
    scale, saving a pass over big chunks). With ``base2``, H holds the logits times
    log2(e): 2^(H log2 e) = e^H, and numpy's exp2 takes half the time of its exp; the
    loss is still in nats, ln s_i - (H[i, y_i] - m_i) ln 2.
    """
    axis = class_axis % H.ndim
    shifted = np.subtract(H, H.max(axis=axis, keepdims=True), out=H if overwrite else None)
    loss = top = None
    if y is not None:
        entries, index = _true_entries(shifted, y, axis, positions)
        true_shifted = entries[index]
        top = true_shifted == 0
        is_max = shifted == 0
        if np.count_nonzero(is_max) != len(y):  # some largest logit is tied (or NaN)
            tied = is_max.sum(axis=axis) > 1  # argmax picks the first of the largest
            first = is_max.argmax(axis=axis)
            top[tied] = first[tied] == y[tied]
    probs = (np.exp2 if base2 else np.exp)(shifted, out=shifted)
    total = probs.sum(axis=axis, keepdims=True)
    probs *= times / total  # a multiplication is much faster than a division, same to 1 ulp
    if y is not None:
        loss = np.log(total.reshape(-1)) - (true_shifted * LN2 if base2 else true_shifted)
    return SoftmaxCE(probs, loss, top)


def softmax(H: np.ndarray, class_axis: int = -1) -> np.ndarray:
    """Probabilities P[i, c] = exp(H[i, c]) / sum_q exp(H[i, q]), computed stably."""
    return softmax_cross_entropy(H, class_axis=class_axis).probs


def reduce_loss(loss_per_node: np.ndarray, reduction: str) -> float:
    """L = scale * sum_i loss_i with scale = 1/N ("mean") or 1 ("sum")."""
    return float(loss_scale(len(loss_per_node), reduction) * loss_per_node.sum())


def grad_logits(
    probs: np.ndarray,
    y: np.ndarray,
    scale: float,
    class_axis: int = -1,
    overwrite: bool = False,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient of the loss with respect to the logits.

    Notes
    -----
    dL/dH[i, c] = scale * (P[i, c] - Y[i, c]), Y the one-hot matrix of y: the
    derivative of -ln softmax(h)[y] is softmax(h) - onehot(y).

    probs (N, C) (or (C, N) with ``class_axis=0``), y (N,) -> same shape as probs
    (written into probs with ``overwrite``); ``positions`` as in
    :func:`softmax_cross_entropy`.
    """
    grad = np.multiply(probs, scale, out=probs if overwrite else None)
    return _minus_one_hot(grad, y, scale, class_axis % grad.ndim, positions)


def _minus_one_hot(
    A: np.ndarray, y: np.ndarray, amount: float, axis: int, positions: np.ndarray | None = None
) -> np.ndarray:
    """A - amount * Y in place: ``amount`` off each node's true-class entry."""
    entries, index = _true_entries(A, y, axis, positions)
    entries[index] -= amount
    return A


def grad_params(grad_H: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the loss with respect to W and b, by the chain rule through H.

    Notes
    -----
    dL/dw_c = sum_i dL/dH[i, c] z_i, that is dL/dW = (dL/dH)^T Z;
    dL/db_c = sum_i dL/dH[i, c], that is dL/db = (dL/dH)^T 1: BLAS sums a
    chunk's (C, n) gradient as a matrix-vector product 3x faster than numpy's sum.

    grad_H (N, C), Z (N, d) -> grad_W (C, d), grad_b (C,).
    """
    return grad_H.T @ Z, grad_H.T @ np.ones(len(grad_H), grad_H.dtype)


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
    """Every intermediate value of one gradient step (shapes as in the module notes)."""

    logits: np.ndarray
    probabilities: np.ndarray
    predicted: np.ndarray  # (N,) class position of the largest probability
    loss_per_node: np.ndarray
    loss: float
    grad_logits: np.ndarray
    grad_W: np.ndarray
    grad_b: np.ndarray
    W_new: np.ndarray
    b_new: np.ndarray


def gradient_step(
    Z: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    learning_rate: float,
    reduction: str = "mean",
    carry: Carry = exact,
) -> StepResult:
    """Forward pass, loss, backward pass and update, keeping every intermediate.

    ``carry(name, values)`` is applied to each result before the next step uses it
    (names as in :mod:`quantities`: logits, probabilities, loss_per_node, loss,
    grad_logits, grad_W, grad_b, W_new, b_new): rounding it works as by hand, and
    substituting what a student wrote gives what follows from their values. With
    :func:`exact` the loss comes from the stable softmax-cross-entropy; with any other
    carry it comes from the carried probabilities, -ln p, as by hand.
    """
    scale = loss_scale(len(y), reduction)
    H = carry("logits", logits(Z, W, b))
    P, per_node, _ = softmax_cross_entropy(H, y)
    P = carry("probabilities", P)
    if carry is not exact:  # by hand the loss comes from the (carried) probabilities
        with np.errstate(divide="ignore", invalid="ignore"):
            per_node = -np.log(P[np.arange(len(y)), y])
    per_node = carry("loss_per_node", per_node)
    loss = float(carry("loss", np.array(reduce_loss(per_node, reduction))))
    grad_H = carry("grad_logits", grad_logits(P, y, scale))
    grad_W, grad_b = grad_params(grad_H, Z)
    grad_W, grad_b = carry("grad_W", grad_W), carry("grad_b", grad_b)
    W_new, b_new = sgd_update(W, b, grad_W, grad_b, learning_rate)
    return StepResult(
        logits=H,
        probabilities=P,
        predicted=P.argmax(axis=1),
        loss_per_node=per_node,
        loss=loss,
        grad_logits=grad_H,
        grad_W=grad_W,
        grad_b=grad_b,
        W_new=carry("W_new", W_new),
        b_new=carry("b_new", b_new),
    )


@dataclass(frozen=True)
class ChunkResult:
    """One chunk's share of an epoch: its nodes' losses, whether each was predicted
    right, and its share of the gradient (sums over its nodes, already scaled)."""

    loss_per_node: np.ndarray  # (n,)
    correct: np.ndarray  # (n,) bool
    grad_W: np.ndarray  # (C, d)
    grad_b: np.ndarray  # (C,)


def chunk_scratch(
    n: int, W: np.ndarray, within: tuple[np.ndarray, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scratch for :func:`chunk_loss_and_grad` on chunks of n nodes: arrays of W's
    dtype shaped (n, d) for Z and (C, n) for H^T (W is (C, d)), new or, ``within``
    the scratch of a larger chunk, contiguous views of its memory."""
    C, d = W.shape
    shapes = ((n, d), (C, n))
    if within is None:
        return tuple(np.empty(shape, W.dtype) for shape in shapes)  # type: ignore[return-value]
    return tuple(  # type: ignore[return-value]
        big.reshape(-1)[: rows * columns].reshape(rows, columns) for big, (rows, columns) in zip(within, shapes)
    )


def chunk_loss_and_grad(
    Z: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    scale: float,
    trains: np.ndarray | None = None,
    work: tuple[np.ndarray, np.ndarray] | None = None,
    positions: np.ndarray | None = None,
) -> ChunkResult:
    """Forward pass, loss and gradient share for one chunk of nodes.

    The same formulas as :func:`gradient_step`, with the logits kept as classes x
    nodes (``H^T``) so that every reduction over the classes runs along contiguous
    rows. Summing ``grad_W``/``grad_b`` over all chunks gives dL/dW and dL/db. Only
    nodes where ``trains`` is 1 (all when None) contribute to the gradient.

    ``work`` is :func:`chunk_scratch`, reused between chunks. Z is first copied into
    its first array, in W's dtype: a plain copy streams Z from memory at full speed
    and leaves it in cache for both products, where BLAS reading a chunk not yet in
    cache is memory-bound (about 10% faster per epoch on big data). The logits are
    kept in base 2 (times log2 e), for the softmax's faster exp2; losses are in nats.
    ``positions`` are ``true_class_positions(y, C, class_axis=0)``, when already known.

    Z (n, d), y (n,), W (C, d), b (C,) -> ChunkResult.
    """
    Z_buffer, H_T = chunk_scratch(len(y), W) if work is None else work
    np.copyto(Z_buffer, Z, casting="same_kind")
    Z = Z_buffer
    W2, b2 = W * LOG2E, b * LOG2E  # so that H^T below is the logits times log2(e)
    np.matmul(W2, Z.T, out=H_T)  # H^T = W Z^T straight from BLAS: no transposing pass
    H_T += b2[:, None]
    # scale * P comes out of the softmax's normalising pass; then dL/dH^T = scale * (P - Y)
    scaled, loss, correct = softmax_cross_entropy(
        H_T, y, 0, overwrite=True, positions=positions, times=scale, base2=True
    )
    grad_H_T = _minus_one_hot(scaled, y, scale, 0, positions)
    if trains is not None:
        grad_H_T *= trains
    grad_W, grad_b = grad_params(grad_H_T.T, Z)
    return ChunkResult(loss, correct, grad_W, grad_b)
