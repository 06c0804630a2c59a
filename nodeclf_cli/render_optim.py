"""The tables and JSON of an optimiser's step (:mod:`optimstep`): one table per buffer of its
state and the update, each titled with its formula, then the new weights."""

from __future__ import annotations

from typing import Any

from .handwork import latex_escape
from .optimstep import OptimiserStep
from .problem import Problem
from .render import Cells, Section, per_class_section
from .rounding import Precision

SYMBOLS = {"velocity": ("b_c", "b_b"), "m": ("m_c", "m_b"), "v": ("v_c", "v_b"), "m_hat": ("m̂_c", "m̂_b"),
           "v_hat": ("v̂_c", "v̂_b"), "update": ("Δw_c", "Δb_c")}  # column symbols: of w_c[j], of b_c


def optimiser_sections(problem: Problem, step: OptimiserStep, precision: Precision) -> list[Section]:
    """A table per quantity (rows classes, columns w_c[j] then b_c), then W_new and b_new."""
    name = step.settings.name
    sections = [
        per_class_section(f"{shown.title} ({name})  {shown.formula}", problem, shown.W, shown.b,
                          SYMBOLS[shown.key], Cells(precision),
                          rf"{latex_escape(shown.title)} ({name}) \quad ${shown.latex}$")
        for shown in step.shown
    ]
    alpha = f"{problem.learning_rate:g}"
    sections.append(per_class_section(
        f"Updated weights ({name})  W_new = W + ΔW,  b_new = b + Δb  (α = {alpha})",
        problem, step.W_new, step.b_new, ("w_c", "b_c"), Cells(precision),
        rf"Updated weights ({name}) \quad $W' = W + \Delta W,\ b' = b + \Delta b \quad (\alpha = {alpha})$",
    ))
    return sections


def optimiser_json(step: OptimiserStep) -> dict[str, Any]:
    """``optimizer``: its name, the step t, its settings and each quantity's W and b."""
    s = step.settings
    settings = {"momentum": {"momentum": s.momentum, "dampening": s.dampening}, "nesterov": {"momentum": s.momentum},
                "adam": {"beta1": s.beta1, "beta2": s.beta2, "eps": s.eps},
                "adamw": {"beta1": s.beta1, "beta2": s.beta2, "eps": s.eps, "weight_decay": s.weight_decay}}
    return {"name": s.name, "t": step.t, "settings": settings.get(s.name, {}),
            **{shown.key: {"W": shown.W, "b": shown.b} for shown in step.shown}}
