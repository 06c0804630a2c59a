"""The optimiser of one step (``nodeclf step --optimizer``, a problem's ``optimizer:`` key): its
settings and the state before the step (:class:`Optimiser`), and the state as a file or a
mapping carries it from one step to the next (t and the buffers, per parameter W and b).

    momentum  b_t = μ b_{t−1} + (1 − τ) g  (b_1 = g);  Δθ = −α b_t                 (torch.optim.SGD)
    nesterov  b_t as momentum;                        Δθ = −α (g + μ b_t)
    adam      m_t, v_t, m̂_t, v̂_t;                     Δθ = −α m̂_t / (√v̂_t + ε)       (torch.optim.Adam)
    adamw     as adam;                                Δθ = −αλθ − α m̂_t / (√v̂_t + ε)  (torch.optim.AdamW)

The step itself is ``core.gradient_step`` (its formulas: :mod:`optim`, titled from :mod:`quantities`).
Pure: no files, no printing; :func:`state_from_mapping` validates a state's contents and raises
NodeclfError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import optim
from .errors import NodeclfError

STEP_OPTIMIZERS = optim.OPTIMIZERS
MOST_STEPS = 10**12  # steps a state may have taken (β^t is 0 in floats long before; t is a float's exponent)
BUFFERS = {**{name: ("velocity",) for name in optim.MOMENTUM_FAMILY},  # the state's buffers of each optimiser
           **{name: ("m", "v") for name in optim.ADAM_FAMILY}}
# the settings of each optimiser (the keys of a problem's optimizer:, the options without their --)
SETTINGS = {"sgd": (), "momentum": ("momentum", "dampening"), "nesterov": ("momentum",),
            "adam": ("beta1", "beta2", "eps"), "adamw": ("beta1", "beta2", "eps", "weight_decay")}


@dataclass(frozen=True)
class OptimiserSettings:
    """The optimiser and its hyper-parameters (PyTorch's defaults)."""

    name: str = "sgd"
    momentum: float = 0.9  # μ (momentum, nesterov)
    dampening: float = 0.0  # τ (momentum)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.01  # AdamW's decoupled λ (PyTorch's default)

    def as_dict(self) -> dict[str, float]:
        """The settings that belong to this optimiser, by name."""
        return {key: getattr(self, key) for key in SETTINGS[self.name]}


def empty_state(name: str) -> optim.MomentumState | optim.AdamState:
    return optim.AdamState() if name in optim.ADAM_FAMILY else optim.MomentumState()


@dataclass(frozen=True)
class Optimiser:
    """An optimiser's settings and its state before the step (t steps taken; zero: the first step)."""

    settings: OptimiserSettings = OptimiserSettings()
    state: Any = None  # optim.MomentumState or optim.AdamState (None: zero, the first step)

    def __post_init__(self) -> None:
        if self.state is None:
            object.__setattr__(self, "state", empty_state(self.settings.name))

    @property
    def name(self) -> str:
        return self.settings.name


PLAIN_SGD = Optimiser()


def state_json(name: str, state: Any) -> dict[str, Any]:
    """The state after a step (``core.StepResult.state``), as ``--save-state`` writes it and ``--state`` reads it."""
    data: dict[str, Any] = {"optimizer": name, "t": state.t}
    for key in BUFFERS.get(name, ()):
        W, b = getattr(state, key)
        data[key] = {"W": np.asarray(W).tolist(), "b": np.asarray(b).tolist()}
    return data


def state_from_mapping(
    data: Any, name: str, W: np.ndarray, b: np.ndarray, source: Any,
    line_of: Callable[[str], int | None] = lambda key: None, prefix: str = "", named: bool = True,
):
    """The state ``data`` holds for ``name`` (a state file's JSON object, or a problem's
    ``optimizer.state`` mapping), its buffers shaped as W and b. ``line_of(key)`` gives the
    line of a key (None: unknown), ``prefix`` goes before each place named (``optimizer.state.``);
    ``named``: the optimizer key is required (a file), else it may be left out (a problem's
    own key, whose optimiser it is). Raises NodeclfError."""
    if not isinstance(data, dict):
        raise NodeclfError("a state holds a mapping: optimizer, t and the buffers" if not named
                           else "a state file holds a JSON object: optimizer, t and the buffers", source,
                           line_of(""), prefix.rstrip(".") or None)
    written = data.get("optimizer", None if named else name)
    place = prefix + "optimizer"
    if written not in STEP_OPTIMIZERS:
        raise NodeclfError(f"expected the optimiser that wrote the state, one of {', '.join(STEP_OPTIMIZERS)}, "
                           f"found {written!r}", source, line_of("optimizer"), place)
    if written != name and not ({written, name} <= set(optim.MOMENTUM_FAMILY)):
        raise NodeclfError(f"a state of {written}, but the optimizer is {name}: a state goes on only with the "
                           "optimizer that wrote it", source, line_of("optimizer"), place)
    allowed = ("optimizer", "t", *BUFFERS.get(name, ()))
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise NodeclfError(f"unknown key {unknown[0]!r}: a state of {name} has {', '.join(allowed)}", source,
                           line_of(unknown[0]), prefix + str(unknown[0]))
    t = data.get("t")
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t <= MOST_STEPS:
        shown = f"{t!r}" if not isinstance(t, int) or len(str(t)) <= 20 else f"a whole number of {len(str(t))} digits"
        raise NodeclfError(f"expected the steps taken, a whole number from 0 to {MOST_STEPS:,}, found {shown}",
                           source, line_of("t"), prefix + "t")
    if t == 0:
        held = [key for key in BUFFERS.get(name, ()) if key in data]
        if held:  # before the first step there are no buffers: t or the buffers are wrong
            raise NodeclfError(f"t is 0 (no step taken), yet the state holds {held[0]}: give the steps taken, "
                               f"or leave the buffers out", source, line_of("t"), prefix + "t")
        return empty_state(name)
    buffers = {}
    for key in BUFFERS.get(name, ()):
        pair = data.get(key)
        if not isinstance(pair, dict):
            raise NodeclfError("expected {W: rows, b: numbers}", source, line_of(key), prefix + key)
        for part, like in (("W", W), ("b", b)):
            value = _buffer(pair.get(part), part, like.shape, key, source, line_of(key), f"{prefix}{key}.{part}")
            buffers.setdefault(key, []).append(value)
    if name in optim.ADAM_FAMILY:
        return optim.AdamState(t=t, m=tuple(buffers["m"]), v=tuple(buffers["v"]))
    return optim.MomentumState(t=t, velocity=tuple(buffers["velocity"]) if "velocity" in buffers else None)


def _buffer(given: Any, part: str, shape: tuple, key: str, source: Any, line: int | None, place: str) -> np.ndarray:
    """One buffer of W or b as a state holds it: finite numbers shaped as the parameter, and for Adam's
    v (a moving average of g²) none below 0. Raises NodeclfError saying what was found."""
    if given is None:
        raise NodeclfError(f"missing {part}: expected numbers shaped as {part} {shape}", source, line, place)
    try:
        value = np.array(given, dtype=np.float64)
    except (TypeError, ValueError):
        raise NodeclfError(f"expected numbers shaped as {part} {shape}, found {type(given).__name__}", source, line,
                           place) from None
    if value.shape != shape:
        raise NodeclfError(f"expected numbers shaped as {part} {shape}, found shape {value.shape}", source, line,
                           place)
    if not np.isfinite(value).all():
        raise NodeclfError(f"expected finite numbers, found {value[~np.isfinite(value)][0]}", source, line, place)
    if key == "v" and (value < 0).any():
        raise NodeclfError(f"v is a moving average of g², never below 0; found {value[value < 0][0]:g}", source,
                           line, place)
    return value
