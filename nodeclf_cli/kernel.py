"""The trainer's fast kernel: one chunk of nodes' losses and gradient share.

It computes the formulas of :mod:`core` (see its conventions), and a test holds it
equal to :func:`core.gradient_step`. Only speed differs; each trick is here because
an epoch over big data spends its time in these few passes:

- **Chunks.** An epoch runs over the nodes in cache-sized chunks (the trainer sizes
  them), so that a chunk's Z and logits stay in cache between the forward and the
  backward product, and cores can work on chunks side by side. Each chunk's gradient
  share is summed by the trainer. Scratch arrays (:func:`chunk_scratch`) are made
  once per worker and reused.
- **Classes x nodes.** The logits are kept as H^T (C, n): every reduction over the
  classes (max, sum) then runs along contiguous rows, and BLAS writes W Z^T without
  a transposing pass.
- **Base 2.** The logits are computed times log2(e), since 2^(H log2 e) = e^H and
  numpy's exp2 takes half the time of its exp; losses are still in nats.
- **In place.** The probabilities overwrite the logits, the scaled probabilities
  come out of the normalising pass (``times``), and the gradient overwrites them.
- **Flat positions.** Each node's true-class entry is reached by its flat position in
  the C-contiguous (C, n) array (:func:`true_class_positions`, computed once per
  chunk for every epoch): gathering and scattering so is about 3x faster than with
  (row, column) pairs.
- **A matrix-vector product for dL/db.** BLAS sums a chunk's (C, n) gradient over
  the nodes as (dL/dH^T) 1 about 3x faster than numpy's sum.

With class weights or label smoothing (:mod:`conventions`), a chunk takes
:func:`chunk_weighted`: the same layout, in natural logarithms, with the weighted
targets A^T (C, n) in place of the one-hot entries. An L2 penalty's R depends on W
and b alone, not on the nodes: :func:`penalty` works it out once an epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import conventions as conv

LN2, LOG2E = float(np.log(2.0)), float(1.0 / np.log(2.0))


def true_class_positions(y: np.ndarray) -> np.ndarray:
    """Flat positions of each node's true-class entry (row y_i, column i) in a
    C-contiguous (C, n) array, n = len(y)."""
    return y * len(y) + np.arange(len(y))


def _true_entries(A: np.ndarray, y: np.ndarray, positions: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
    """A flat view of the (C, n) array ``A`` and the positions of each node's
    true-class entry in it; (row, column) pairs where ``A`` is not contiguous."""
    if A.flags.c_contiguous:
        return A.reshape(-1), true_class_positions(y) if positions is None else positions
    return A, (y, np.arange(len(y)))


def _minus_one_hot(A: np.ndarray, y: np.ndarray, amount: float, positions: np.ndarray | None = None) -> np.ndarray:
    """A - amount * Y^T in place: ``amount`` off each node's true-class entry of (C, n) ``A``."""
    entries, index = _true_entries(A, y, positions)
    entries[index] -= amount
    return A


class SoftmaxCE(NamedTuple):
    """Softmax probabilities (C, n), and with labels each node's cross-entropy and
    whether its true class has the largest logit (the first largest, as argmax picks)."""

    probs: np.ndarray
    loss_per_node: np.ndarray | None
    true_is_top: np.ndarray | None


def softmax_cross_entropy(
    H_T: np.ndarray,
    y: np.ndarray | None = None,
    overwrite: bool = False,
    positions: np.ndarray | None = None,
    times: float = 1.0,
    base2: bool = False,
) -> SoftmaxCE:
    """:func:`core.softmax` and :func:`core.cross_entropy` in one pass, on logits
    kept as classes x nodes.

    Notes
    -----
    m_i = max_q H[i, q],  s_i = sum_q exp(H[i, q] - m_i),
    P[i, c] = exp(H[i, c] - m_i) / s_i,  loss_i = ln s_i - (H[i, y_i] - m_i).
    With ``base2``, H^T holds the logits times log2(e): P is the same with exp2,
    and loss_i = ln s_i - (H[i, y_i] - m_i) ln 2, in nats.

    H_T (C, n), y (n,). With ``overwrite`` the probabilities are written into H_T;
    ``positions`` are y's :func:`true_class_positions`, when already known;
    ``times`` multiplies the probabilities in the normalising pass (the gradient's
    scale, saving a pass).
    """
    shifted = np.subtract(H_T, H_T.max(axis=0, keepdims=True), out=H_T if overwrite else None)
    loss = top = None
    if y is not None:
        entries, index = _true_entries(shifted, y, positions)
        true_shifted = entries[index]
        top = true_shifted == 0
        is_max = shifted == 0
        if np.count_nonzero(is_max) != len(y):  # some largest logit is tied (or NaN)
            tied = is_max.sum(axis=0) > 1  # argmax picks the first of the largest
            first = is_max.argmax(axis=0)
            top[tied] = first[tied] == y[tied]
    probs = (np.exp2 if base2 else np.exp)(shifted, out=shifted)
    total = probs.sum(axis=0, keepdims=True)
    probs *= times / total  # a multiplication is much faster than a division, same to 1 ulp
    if y is not None:
        loss = np.log(total.reshape(-1)) - (true_shifted * LN2 if base2 else true_shifted)
    return SoftmaxCE(probs, loss, top)


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
    convention: conv.LossConvention = conv.PLAIN,
) -> ChunkResult:
    """Forward pass, loss and gradient share for one chunk of nodes.

    The formulas of :func:`core.gradient_step`: H = Z W^T + b, P = softmax(H),
    loss_i = -ln P[i, y_i], dL/dH = scale (P - Y), dL/dW = (dL/dH)^T Z,
    dL/db = (dL/dH)^T 1. Summing ``grad_W``/``grad_b`` over all chunks gives dL/dW
    and dL/db. Only nodes where ``trains`` is 1 (all when None) contribute to the
    gradient; every node's loss and correctness are returned.

    ``work`` is :func:`chunk_scratch`, reused between chunks. Z is first copied into
    its first array, in W's dtype: a plain copy streams Z from memory at full speed
    and leaves it in cache for both products, where BLAS reading a chunk not yet in
    cache is memory-bound (about 10% faster per epoch on big data). ``positions`` are
    ``true_class_positions(y)``, when already known.

    With class weights or label smoothing in ``convention``, :func:`chunk_weighted`
    (the data loss only: a penalty's share is the trainer's).

    Z (n, d), y (n,), W (C, d), b (C,), trains (n,) -> ChunkResult.
    """
    Z_buffer, H_T = chunk_scratch(len(y), W) if work is None else work
    if not convention.plain:
        return chunk_weighted(Z, y, W, b, scale, trains, (Z_buffer, H_T), convention)
    np.copyto(Z_buffer, Z, casting="same_kind")
    Z = Z_buffer
    W2, b2 = W * LOG2E, b * LOG2E  # so that H^T below is the logits times log2(e)
    np.matmul(W2, Z.T, out=H_T)  # H^T = W Z^T straight from BLAS: no transposing pass
    H_T += b2[:, None]
    # scale * P comes out of the softmax's normalising pass; then dL/dH^T = scale * (P - Y)^T
    scaled, loss, correct = softmax_cross_entropy(H_T, y, overwrite=True, positions=positions, times=scale, base2=True)
    grad_H_T = _minus_one_hot(scaled, y, scale, positions)
    if trains is not None:
        grad_H_T *= trains
    grad_W = grad_H_T @ Z  # (C, n) (n, d)
    grad_b = grad_H_T @ np.ones(len(y), grad_H_T.dtype)  # a BLAS matrix-vector product: 3x numpy's sum
    return ChunkResult(loss, correct, grad_W, grad_b)


def chunk_weighted(
    Z: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    scale: float,
    trains: np.ndarray | None,
    work: tuple[np.ndarray, np.ndarray],
    convention: conv.LossConvention,
) -> ChunkResult:
    """:func:`chunk_loss_and_grad` with class weights and label smoothing.

    Notes
    -----
    ln P^T = H^T − m − ln Σ_q exp(H^T[q] − m),  loss_i = −Σ_c a_i[c] ln p_i[c],
    dL/dH^T = scale (s_i P^T − A^T),  A^T[c, i] = w_c t_i[c],  s_i = Σ_c a_i[c]
    (:func:`conventions.grad_logits`). Nodes without a label (y = -1) get a
    meaningless loss; the trainer leaves them out, as ``trains`` does of the gradient.
    """
    Z_buffer, H_T = work
    np.copyto(Z_buffer, Z, casting="same_kind")
    Z = Z_buffer
    np.matmul(W, Z.T, out=H_T)
    H_T += b[:, None]
    top = H_T.argmax(axis=0)
    H_T -= H_T.max(axis=0, keepdims=True)
    H_T -= np.log(np.exp(H_T).sum(axis=0, keepdims=True))  # ln P^T
    A_T = conv.weighted_targets(y, len(W), convention).T.astype(W.dtype)
    loss = -(A_T * H_T).sum(axis=0)
    probs = np.exp(H_T, out=H_T)
    grad_H_T = probs
    grad_H_T *= A_T.sum(axis=0, keepdims=True) * scale
    grad_H_T -= scale * A_T
    if trains is not None:
        grad_H_T *= trains
    return ChunkResult(loss, top == y, grad_H_T @ Z, grad_H_T @ np.ones(len(y), grad_H_T.dtype))


def penalty(W: np.ndarray, b: np.ndarray, convention: conv.LossConvention, scale: float) -> float:
    """:func:`conventions.penalty` without a temporary array: R = k (w · w + b · b where b is
    penalised), two dot products over W and b accumulated in float64 (W may be float32).

    W (C, d), b (C,) -> R (0 where the convention has no penalty term).
    """
    if not convention.has_penalty_term:
        return 0.0
    w = W.reshape(-1).astype(np.float64, copy=False)
    total = float(np.dot(w, w))
    if convention.bias_penalised:
        bias = b.astype(np.float64, copy=False)
        total += float(np.dot(bias, bias))
    return conv.penalty_coefficient(convention, scale) * total
