"""One optimiser step as ``nodeclf step --optimizer`` shows it: every buffer of the state and
the update, for W and b, worked with :mod:`optim`'s rules; and the state file (JSON) that
carries t and the buffers from one step to the next.

    momentum  b_t = μ b_{t−1} + (1 − τ) g  (b_1 = g);  θ_new = θ − α b_t           (torch.optim.SGD)
    nesterov  b_t as momentum;                        θ_new = θ − α (g + μ b_t)
    adam      m_t, v_t, m̂_t, v̂_t;                     θ_new = θ − α m̂_t / (√v̂_t + ε)  (torch.optim.Adam)
    adamw     θ := θ − αλθ first, then as adam                                   (torch.optim.AdamW)

g is the step's gradient (an L2 penalty's share included). Pure: no files, no printing;
:func:`state_from_json` validates a state file's contents and raises NodeclfError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import optim
from .errors import NodeclfError

STEP_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
BUFFERS = {"momentum": ("velocity",), "nesterov": ("velocity",), "adam": ("m", "v"), "adamw": ("m", "v")}


@dataclass(frozen=True)
class OptimiserSettings:
    """The optimiser and its hyper-parameters (PyTorch's defaults)."""

    name: str = "sgd"
    momentum: float = 0.9  # μ (momentum, nesterov)
    dampening: float = 0.0  # τ (momentum)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0  # AdamW's decoupled λ


@dataclass(frozen=True)
class Shown:
    """One quantity of the step for W and b: its key (``m``), what it is, its formula."""

    key: str
    title: str
    formula: str
    W: np.ndarray
    b: np.ndarray
    latex: str = ""  # the formula in LaTeX math


@dataclass(frozen=True)
class OptimiserStep:
    """The state's quantities in the order they are worked, the new weights, and the new state."""

    settings: OptimiserSettings
    t: int
    shown: list[Shown]
    W_new: np.ndarray
    b_new: np.ndarray
    state: optim.MomentumState | optim.AdamState


def empty_state(name: str) -> optim.MomentumState | optim.AdamState:
    return optim.AdamState() if name in ("adam", "adamw") else optim.MomentumState()


def work(
    settings: OptimiserSettings, W: np.ndarray, b: np.ndarray, grad_W: np.ndarray, grad_b: np.ndarray,
    lr: float, state: optim.MomentumState | optim.AdamState,
) -> OptimiserStep:
    """The step of ``settings.name`` from ``state`` (t steps taken) with gradient g = (grad_W, grad_b)."""
    s, params, grads = settings, (W, b), (grad_W, grad_b)
    t = state.t + 1
    if s.name in ("sgd", "momentum", "nesterov"):
        mu = s.momentum if s.name != "sgd" else 0.0
        new, after = optim.sgd(params, grads, state, lr, momentum=mu, dampening=s.dampening,
                               nesterov=s.name == "nesterov")
        shown = []
        if mu:
            first = "  (t = 1: b_1 = g)" if t == 1 else ""
            first_latex = r"\quad (b_1 = g)" if t == 1 else ""
            shown.append(Shown("velocity", "Velocity", f"b_t = μ b_{{t−1}} + (1 − τ) g{first}  "
                               f"(μ = {s.momentum:g}, τ = {s.dampening:g}, t = {t})", *after.velocity,
                               latex=rf"b_t = \mu b_{{t-1}} + (1 - \tau) g{first_latex}"
                                     rf" \quad (\mu = {s.momentum:g},\ \tau = {s.dampening:g},\ t = {t})"))
        rule = {"sgd": "θ_new = θ − α g", "momentum": "θ_new = θ − α b_t", "nesterov": "θ_new = θ − α (g + μ b_t)"}
        rule_latex = {"sgd": r"\theta' = \theta - \alpha g", "momentum": r"\theta' = \theta - \alpha b_t",
                      "nesterov": r"\theta' = \theta - \alpha (g + \mu b_t)"}[s.name]
    else:
        rule_of = optim.adam if s.name == "adam" else optim.adamw
        new, after = rule_of(params, grads, state, lr, beta1=s.beta1, beta2=s.beta2, eps=s.eps,
                             weight_decay=s.weight_decay if s.name == "adamw" else 0.0)
        m_hat = [m / (1 - s.beta1**t) for m in after.m]
        v_hat = [v / (1 - s.beta2**t) for v in after.v]
        shown = [
            Shown("m", "First moment", f"m_t = β1 m_{{t−1}} + (1 − β1) g  (β1 = {s.beta1:g}, t = {t})", *after.m,
                  latex=rf"m_t = \beta_1 m_{{t-1}} + (1 - \beta_1) g \quad (\beta_1 = {s.beta1:g},\ t = {t})"),
            Shown("v", "Second moment", f"v_t = β2 v_{{t−1}} + (1 − β2) g²  (β2 = {s.beta2:g})", *after.v,
                  latex=rf"v_t = \beta_2 v_{{t-1}} + (1 - \beta_2) g^2 \quad (\beta_2 = {s.beta2:g})"),
            Shown("m_hat", "Bias-corrected first moment", f"m̂_t = m_t / (1 − β1^t)  (1 − β1^t = {1 - s.beta1**t:g})",
                  *m_hat, latex=rf"\hat m_t = m_t / (1 - \beta_1^t) \quad (1 - \beta_1^t = {1 - s.beta1**t:g})"),
            Shown("v_hat", "Bias-corrected second moment", f"v̂_t = v_t / (1 − β2^t)  (1 − β2^t = {1 - s.beta2**t:g})",
                  *v_hat, latex=rf"\hat v_t = v_t / (1 - \beta_2^t) \quad (1 - \beta_2^t = {1 - s.beta2**t:g})"),
        ]
        decay = f"θ := θ − αλθ first (λ = {s.weight_decay:g}), then " if s.name == "adamw" and s.weight_decay else ""
        rule = {s.name: f"{decay}θ_new = θ − α m̂_t / (√v̂_t + ε)  (ε = {s.eps:g})"}
        decay_latex = rf"\theta := \theta - \alpha\lambda\theta\ (\lambda = {s.weight_decay:g}),\ " if decay else ""
        rule_latex = decay_latex + rf"\theta' = \theta - \alpha \hat m_t / (\sqrt{{\hat v_t}} + \epsilon)" \
            rf"\ (\epsilon = {s.eps:g})"
    shown.append(Shown("update", "Update", f"Δθ = θ_new − θ  ({rule[s.name]})", new[0] - W, new[1] - b,
                       latex=rf"\Delta\theta = \theta' - \theta \quad ({rule_latex})"))
    return OptimiserStep(settings, t, shown, new[0], new[1], after)


def state_json(step: OptimiserStep) -> dict[str, Any]:
    """The state after ``step``, as ``--save-state`` writes it and ``--state`` reads it."""
    data: dict[str, Any] = {"optimizer": step.settings.name, "t": step.t}
    for key in BUFFERS.get(step.settings.name, ()):
        W, b = getattr(step.state, key)
        data[key] = {"W": W.tolist(), "b": b.tolist()}
    return data


def state_from_json(data: Any, name: str, W: np.ndarray, b: np.ndarray, source: Path):
    """The state a state file holds for ``name``, its buffers shaped as W and b. Raises NodeclfError."""
    if not isinstance(data, dict):
        raise NodeclfError("a state file holds a JSON object: optimizer, t and the buffers", source)
    written = data.get("optimizer")
    if written not in STEP_OPTIMIZERS:
        raise NodeclfError(f"expected the optimiser that wrote the state, one of {', '.join(STEP_OPTIMIZERS)}, "
                           f"found {written!r}", source, where="optimizer")
    if written != name and not ({written, name} <= {"momentum", "nesterov"}):
        raise NodeclfError(f"the state is {written!r}'s; this step's optimizer is {name}", source, where="optimizer")
    t = data.get("t")
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise NodeclfError(f"expected the steps taken, a whole number at least 0, found {t!r}", source, where="t")
    buffers = {}
    for key in BUFFERS.get(name, ()):
        if t == 0:
            break
        pair = data.get(key)
        if not isinstance(pair, dict):
            raise NodeclfError("expected {\"W\": rows, \"b\": numbers}", source, where=key)
        for part, like in (("W", W), ("b", b)):
            try:
                value = np.array(pair.get(part), dtype=np.float64)
            except (TypeError, ValueError):
                value = None
            if value is None or value.shape != like.shape or not all(math.isfinite(x) for x in value.flat):
                raise NodeclfError(f"expected finite numbers shaped as {part} {like.shape}", source,
                                   where=f"{key}.{part}")
            buffers.setdefault(key, []).append(value)
    if t == 0:
        return empty_state(name)
    if name in ("adam", "adamw"):
        return optim.AdamState(t=t, m=tuple(buffers["m"]), v=tuple(buffers["v"]))
    return optim.MomentumState(t=t, velocity=tuple(buffers["velocity"]) if "velocity" in buffers else None)
