"""The optimisers' update rules, written as PyTorch's ``torch.optim`` documents them.

One function a rule: :func:`sgd` (plain, with momentum, or Nesterov's), :func:`adam` and
:func:`adamw`, each composed of the one function of each of its quantities (:func:`momentum_buffer`,
:func:`first_moment`, :func:`second_moment`, :func:`bias_corrected`, the update Δθ), which
``core.gradient_step`` calls one by one to carry each value as by hand. Each rule takes the
parameters θ (a tuple of arrays: W, b), their gradients g (of the loss, penalty included) and
the optimiser's state, and returns the new parameters and the new state; nothing is changed in
place, nothing is printed. A state starts empty (t = 0, no buffers): the first step fills its buffers.

Sources: the pseudocode of ``torch.optim.SGD``, ``torch.optim.Adam`` and
``torch.optim.AdamW`` (PyTorch 2 documentation); Kingma and Ba, "Adam" (2015), Algorithm 1;
Loshchilov and Hutter, "Decoupled Weight Decay Regularization" (2019), for AdamW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Arrays = tuple[np.ndarray, ...]

# the optimisers by the state they keep: SGD's momentum buffer b (momentum, Nesterov's), Adam's moments m, v
MOMENTUM_FAMILY = ("momentum", "nesterov")
ADAM_FAMILY = ("adam", "adamw")
OPTIMIZERS = ("sgd", *MOMENTUM_FAMILY, *ADAM_FAMILY)  # as torch.optim works them: SGD, Adam, AdamW
TRAINER_RULES = ("sgd", *ADAM_FAMILY)  # the trainer's rules (momentum and Nesterov's are SGD's settings)


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


def momentum_buffer(previous: np.ndarray | None, g: np.ndarray, momentum: float, dampening: float) -> np.ndarray:
    """PyTorch's momentum buffer: b_t = μ b_{t−1} + (1 − τ) g, and b_1 = g (no buffer before)."""
    return g.copy() if previous is None else momentum * previous + (1 - dampening) * g


def momentum_update(g: np.ndarray, b_t: np.ndarray, lr: float, momentum: float, nesterov: bool) -> np.ndarray:
    """Δθ = −α b_t (momentum), or −α (g + μ b_t) (Nesterov)."""
    return -(lr * (g + momentum * b_t if nesterov else b_t))


def first_moment(previous: np.ndarray | None, g: np.ndarray, beta1: float) -> np.ndarray:
    """m_t = β1 m_{t−1} + (1 − β1) g  (m_0 = 0)."""
    return beta1 * (np.zeros_like(g) if previous is None else previous) + (1 - beta1) * g


def second_moment(previous: np.ndarray | None, g: np.ndarray, beta2: float) -> np.ndarray:
    """v_t = β2 v_{t−1} + (1 − β2) g²  (v_0 = 0)."""
    return beta2 * (np.zeros_like(g) if previous is None else previous) + (1 - beta2) * g * g


def bias_corrected(moment: np.ndarray, beta: float, t: int) -> np.ndarray:
    """m̂_t = m_t / (1 − β1^t), v̂_t = v_t / (1 − β2^t)."""
    return moment / (1 - beta**t)


def adam_update(
    theta: np.ndarray, m_hat: np.ndarray, v_hat: np.ndarray, lr: float, eps: float, decoupled_decay: float = 0.0
) -> np.ndarray:
    """Δθ = −α m̂_t / (√v̂_t + ε), and with AdamW's decoupled λ also −αλθ (θ the parameter the
    gradient was taken at)."""
    step = lr * m_hat / (np.sqrt(v_hat) + eps)
    return -(lr * decoupled_decay * theta + step) if decoupled_decay else -step


def with_weight_decay(grads: Arrays, params: Arrays, weight_decay: float) -> Arrays:
    """g := g + λ θ, PyTorch's (coupled) weight_decay of SGD and Adam (λ = 0: g as it is)."""
    return tuple(g + weight_decay * p for g, p in zip(grads, params)) if weight_decay else grads


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
        θ   := θ + Δθ,  Δθ = −α b_t,  or −α (g + μ b_t) (Nesterov),  or −α g (μ = 0)
    """
    grads = with_weight_decay(grads, params, weight_decay)
    if not momentum:
        return tuple(p - lr * g for p, g in zip(params, grads)), MomentumState(t=state.t + 1)
    previous = state.velocity or (None,) * len(grads)
    velocity = tuple(momentum_buffer(b, g, momentum, dampening) for b, g in zip(previous, grads))
    params = tuple(p + momentum_update(g, b, lr, momentum, nesterov) for p, g, b in zip(params, grads, velocity))
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
        θ   := θ + Δθ,  Δθ = −α m̂_t / (√v̂_t + ε)
    """
    grads = with_weight_decay(grads, params, weight_decay)
    return _adam_step(params, grads, state, lr, beta1, beta2, eps, 0.0)


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

        m_t, v_t, m̂_t, v̂_t as in :func:`adam` (g without decay),
        θ   := θ + Δθ,  Δθ = −αλθ − α m̂_t / (√v̂_t + ε)   (θ the one the gradient was taken at)

    PyTorch decays θ first, then takes Adam's step: the same, but for the order the two are added.
    PyTorch's default λ is 0.01 (Adam's is 0).
    """
    return _adam_step(params, grads, state, lr, beta1, beta2, eps, weight_decay)


def _adam_step(
    params: Arrays, grads: Arrays, state: AdamState, lr: float, beta1: float, beta2: float, eps: float,
    decoupled_decay: float,
) -> tuple[Arrays, AdamState]:
    """The moments, their bias corrections and the step shared by :func:`adam` and :func:`adamw`."""
    t = state.t + 1
    m = tuple(first_moment(m0, g, beta1) for m0, g in zip(state.m or (None,) * len(grads), grads))
    v = tuple(second_moment(v0, g, beta2) for v0, g in zip(state.v or (None,) * len(grads), grads))
    params = tuple(
        p + adam_update(p, bias_corrected(mt, beta1, t), bias_corrected(vt, beta2, t), lr, eps, decoupled_decay)
        for p, mt, vt in zip(params, m, v)
    )
    return params, AdamState(t=t, m=m, v=v)
