"""An optimiser's update of one weight w_c[j] and one bias b_c, written with the numbers substituted.

``nodeclf step --optimizer NAME --explain`` writes these in place of plain SGD's update:

    momentum  b_t = μ·b_{t−1} + (1 − τ)·g  (b_1 = g);   θ_new = θ − α·b_t
    nesterov  b_t as momentum;                          θ_new = θ − α·(g + μ·b_t)
    adam      m_t = β1·m_{t−1} + (1 − β1)·g,  v_t = β2·v_{t−1} + (1 − β2)·g²,
              m̂_t = m_t / (1 − β1^t),  v̂_t = v_t / (1 − β2^t);  θ_new = θ − α·m̂_t / (√v̂_t + ε)
    adamw     θ' = θ − α·λ·θ first; then as adam from θ'
    and       Δθ = θ_new − θ

Every number comes from :func:`optimstep.work` (that is, :mod:`optim`'s rules; :func:`step_numbers`);
:func:`write_update` only writes them, as :class:`handwork.Explanation` groups, in plain text or LaTeX
(:class:`handwork.Notation`), from any :class:`StepNumbers`. Pure: no files, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .handwork import TEXT, Explanation, Notation, _result
from .optim import MOMENTUM_FAMILY
from .optimstep import OptimiserSettings
from .rounding import Precision, full

NAMES = {"momentum": "Momentum", "nesterov": "Nesterov momentum", "adam": "Adam", "adamw": "AdamW"}

# the symbols the formulas use: plain text, LaTeX
_SYMBOLS = {
    "alpha": ("α", r"\alpha"), "mu": ("μ", r"\mu"), "tau": ("τ", r"\tau"), "beta1": ("β1", r"\beta_1"),
    "beta2": ("β2", r"\beta_2"), "eps": ("ε", r"\epsilon"), "lambda": ("λ", r"\lambda"),
    "theta": ("θ", r"\theta"), "theta_decayed": ("θ'", r"\theta'"), "theta_new": ("θ_new", r"\theta_{\text{new}}"),
    "delta": ("Δθ", r"\Delta\theta"), "m_hat": ("m̂_t", r"\hat m_t"), "v_hat": ("v̂_t", r"\hat v_t"),
    "previous": ("{}_{{t−1}}", "{}_{{t-1}}"), "one_minus": ("(1 − {})", "(1 - {})"),
}


Pair = tuple[np.ndarray, np.ndarray]  # a quantity's values for W (C, d) and for b (C,)


@dataclass(frozen=True)
class StepNumbers:
    """One optimiser step's numbers, each a :data:`Pair`: the parameters θ and the gradient g, each buffer of the
    state before (None: zero, before the first step) and after (``velocity``, or ``m``, ``v``, ``m_hat``,
    ``v_hat``; and ``update``, Δθ), and the new parameters; t counts this step."""

    t: int
    theta: Pair
    grad: Pair
    before: dict[str, Pair | None]
    after: dict[str, Pair]
    new: Pair


def write_update(
    settings: OptimiserSettings, numbers: StepNumbers, lr: float, cls: int, feature: int, class_name: Any,
    precision: Precision, n: Notation = TEXT,
) -> Explanation:
    """:func:`explain_update` from the step's numbers, however they were worked out."""
    c, j, t = cls, feature, numbers.t
    places = [  # the parameter's symbol in the formulas, in the heading (c named apart), and where it is in a Pair
        (n.sub("w", class_name) + f"[{j}]", f"w_c[{j}]", lambda pair: pair[0][c, j]),
        (n.sub("b", class_name), "b_c", lambda pair: pair[1][c]),
    ]
    groups = []
    for symbol, heading, at in places:
        values = {key: at(pair) for key, pair in numbers.after.items()}
        previous = {key: None if pair is None else at(pair) for key, pair in numbers.before.items()}
        lines = _lines(settings, t, at(numbers.theta), at(numbers.grad), at(numbers.new), lr, values, previous,
                       symbol, precision, n)
        groups.append((f"{NAMES[settings.name]}'s update of {heading} (class {class_name}, t = {t})", lines))
    return Explanation(f"{NAMES[settings.name]}'s update, worked by hand for class {class_name}", groups)


def _lines(
    s: OptimiserSettings, t: int, theta: float, g: float, theta_new: float, lr: float, values: dict,
    previous: dict, symbol: str, precision: Precision, n: Notation,
) -> list[str]:
    """One parameter's lines: g, the state's buffers, the new value and the update."""
    sym = {key: pair[1 if n.latex else 0] for key, pair in _SYMBOLS.items()}
    prev = sym["previous"].format
    minus_of = sym["one_minus"].format
    x, num = n.times, n.num

    def result(value: float) -> str:
        return _result(value, precision, n)

    def known(value: float | None) -> str:  # an operand: as worked out (0 for an empty buffer)
        return num(full(0.0 if value is None else value))

    lines = [f"g = {n.partial}L/{n.partial}{symbol} = {n.signed(full(g))}"]
    alpha = full(lr)
    if s.name in MOMENTUM_FAMILY:
        mu, tau = full(s.momentum), full(s.dampening)
        velocity = values["velocity"]
        if t == 1:
            lines.append(f"b_1 = g = {result(velocity)}   (the first step: no dampening)" if not n.latex
                         else rf"b_1 = g = {result(velocity)} \quad (\text{{the first step: no dampening}})")
        else:
            lines.append(f"b_t = {sym['mu']}{x}{prev('b')} + {minus_of(sym['tau'])}{x}g = {mu}{x}"
                         f"{known(previous['velocity'])} + {minus_of(tau)}{x}{num(full(g))} = {result(velocity)}")
        if s.name == "momentum":
            lines.append(f"{sym['theta_new']} = {sym['theta']} {n.minus} {sym['alpha']}{x}b_t = {num(full(theta))} "
                         f"{n.minus} {alpha}{x}{num(full(velocity))} = {result(theta_new)}")
        else:
            step = f"({n.signed(full(g))} + {mu}{x}{num(full(velocity))})"
            lines.append(f"{sym['theta_new']} = {sym['theta']} {n.minus} {sym['alpha']}{x}(g + {sym['mu']}{x}b_t) = "
                         f"{num(full(theta))} {n.minus} {alpha}{x}{step} = {result(theta_new)}")
    else:
        start, start_symbol = theta, sym["theta"]
        if s.name == "adamw" and s.weight_decay:
            start, start_symbol = theta - lr * s.weight_decay * theta, sym["theta_decayed"]  # as optim.adamw
            lines.append(f"{start_symbol} = {sym['theta']} {n.minus} {sym['alpha']}{x}{sym['lambda']}{x}"
                         f"{sym['theta']} = {num(full(theta))} {n.minus} {alpha}{x}{full(s.weight_decay)}{x}"
                         f"{num(full(theta))} = {result(start)}")
        b1, b2 = full(s.beta1), full(s.beta2)
        power = (lambda base: f"{base}^{{{t}}}") if n.latex else (lambda base: f"{base}^{t}")
        m, v, m_hat, v_hat = values["m"], values["v"], values["m_hat"], values["v_hat"]
        square = f"{num(full(g))}^2" if n.latex else f"{num(full(g))}²"
        lines += [
            f"m_t = {sym['beta1']}{x}{prev('m')} + {minus_of(sym['beta1'])}{x}g = {b1}{x}{known(previous['m'])} + "
            f"{full(1 - s.beta1)}{x}{num(full(g))} = {result(m)}",
            f"v_t = {sym['beta2']}{x}{prev('v')} + {minus_of(sym['beta2'])}{x}g{'^2' if n.latex else '²'} = "
            f"{b2}{x}{known(previous['v'])} + {full(1 - s.beta2)}{x}{square} = {result(v)}",
            f"{sym['m_hat']} = m_t / {minus_of(sym['beta1'] + '^t')} = {num(full(m))} / {minus_of(power(b1))}"
            f" = {result(m_hat)}",
            f"{sym['v_hat']} = v_t / {minus_of(sym['beta2'] + '^t')} = {num(full(v))} / {minus_of(power(b2))}"
            f" = {result(v_hat)}",
        ]
        root = (lambda a: rf"\sqrt{{{a}}}") if n.latex else (lambda a: f"√{a}")
        lines.append(
            f"{sym['theta_new']} = {start_symbol} {n.minus} {sym['alpha']}{x}{sym['m_hat']} / "
            f"({root(sym['v_hat'])} + {sym['eps']}) = {num(full(start))} {n.minus} {alpha}{x}{num(full(m_hat))} / "
            f"({root(full(v_hat))} + {full(s.eps)}) = {result(theta_new)}"
        )
    lines.append(f"{sym['delta']} = {sym['theta_new']} {n.minus} {sym['theta']} = {num(full(theta_new))} {n.minus} "
                 f"{num(full(theta))} = {result(values['update'])}")
    return lines
