"""The optimisers' update rules, written as PyTorch's ``torch.optim`` documents them.

One function a rule: :func:`sgd` (plain, with momentum, or Nesterov's), :func:`adam` and
:func:`adamw`. Each takes the parameters θ (a tuple of arrays: W, b), their gradients g
(of the loss, penalty included) and the optimiser's state, and returns the new parameters
and the new state; nothing is changed in place, nothing is printed. A state starts empty
(t = 0, no buffers): the first step fills its buffers.

Sources: the pseudocode of ``torch.optim.SGD``, ``torch.optim.Adam`` and
``torch.optim.AdamW`` (PyTorch 2 documentation); Kingma and Ba, "Adam" (2015), Algorithm 1;
Loshchilov and Hutter, "Decoupled Weight Decay Regularization" (2019), for AdamW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Arrays = tuple[np.ndarray, ...]

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass(frozen=True)
class MomentumState:
    """SGD's state: the steps taken t, and the momentum buffer b per parameter (None before the first step)."""

    t: int = 0
    velocity: Arrays | None = None


@dataclass(frozen=True)
class AdamState:
    """Adam's (and AdamW's) state: the steps taken t, and the moving averages m (of g) and v (of g²) per
    parameter (None before the first step)."""

    t: int = 0
    m: Arrays | None = None
    v: Arrays | None = None


def sgd(
    params: Arrays,
    grads: Arrays,
    state: MomentumState,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> tuple[Arrays, MomentumState]:
    """One step of ``torch.optim.SGD``, with μ = momentum, τ = dampening, λ = weight_decay:

        g   := g + λ θ                        (where λ ≠ 0)
        b_t := μ b_{t−1} + (1 − τ) g,   b_1 := g   (where μ ≠ 0)
        g   := g + μ b_t  (Nesterov),  else  g := b_t
        θ   := θ − lr g
    """
    if weight_decay:
        grads = tuple(g + weight_decay * p for g, p in zip(grads, params))
    velocity = state.velocity
    if momentum:
        if velocity is None:
            velocity = tuple(g.copy() for g in grads)
        else:
            velocity = tuple(momentum * v + (1 - dampening) * g for v, g in zip(velocity, grads))
        grads = tuple(g + momentum * v for g, v in zip(grads, velocity)) if nesterov else velocity
    params = tuple(p - lr * g for p, g in zip(params, grads))
    return params, MomentumState(t=state.t + 1, velocity=velocity)


def adam(
    params: Arrays,
    grads: Arrays,
    state: AdamState,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Arrays, AdamState]:
    """One step of ``torch.optim.Adam``, with α = lr, λ = weight_decay (an L2 term: it joins the gradient):

        g   := g + λ θ                        (where λ ≠ 0)
        m_t := β1 m_{t−1} + (1 − β1) g        (m_0 = 0)
        v_t := β2 v_{t−1} + (1 − β2) g²       (v_0 = 0)
        m̂_t := m_t / (1 − β1^t)
        v̂_t := v_t / (1 − β2^t)
        θ   := θ − α m̂_t / (√v̂_t + ε)
    """
    if weight_decay:
        grads = tuple(g + weight_decay * p for g, p in zip(grads, params))
    return _adam_step(params, grads, state, lr, beta1, beta2, eps)


def adamw(
    params: Arrays,
    grads: Arrays,
    state: AdamState,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> tuple[Arrays, AdamState]:
    """One step of ``torch.optim.AdamW``: the decay is decoupled from the gradient (α = lr, λ = weight_decay):

        θ   := θ − α λ θ                      (first, with the θ the gradient was taken at)
        then Adam's step without decay: m_t, v_t, m̂_t, v̂_t as in :func:`adam`,
        θ   := θ − α m̂_t / (√v̂_t + ε)

    PyTorch's default λ is 0.01 (Adam's is 0).
    """
    if weight_decay:
        params = tuple(p - lr * weight_decay * p for p in params)
    return _adam_step(params, grads, state, lr, beta1, beta2, eps)


def _adam_step(
    params: Arrays, grads: Arrays, state: AdamState, lr: float, beta1: float, beta2: float, eps: float
) -> tuple[Arrays, AdamState]:
    """The moments, their bias corrections and the step shared by :func:`adam` and :func:`adamw`."""
    t = state.t + 1
    m_prev = state.m if state.m is not None else tuple(np.zeros_like(g) for g in grads)
    v_prev = state.v if state.v is not None else tuple(np.zeros_like(g) for g in grads)
    m = tuple(beta1 * m0 + (1 - beta1) * g for m0, g in zip(m_prev, grads))
    v = tuple(beta2 * v0 + (1 - beta2) * g * g for v0, g in zip(v_prev, grads))
    m_hat = tuple(mt / (1 - beta1**t) for mt in m)
    v_hat = tuple(vt / (1 - beta2**t) for vt in v)
    params = tuple(p - lr * mh / (np.sqrt(vh) + eps) for p, mh, vh in zip(params, m_hat, v_hat))
    return params, AdamState(t=t, m=m, v=v)
