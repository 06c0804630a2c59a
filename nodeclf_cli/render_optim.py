"""The tables and JSON of an optimiser's step: one table per quantity of its state and the
update (W and b side by side: :mod:`quantities`' ``name_W`` and ``name_b``), each titled with
its registry formula and the optimiser's settings, then the new weights."""

from __future__ import annotations

from typing import Any

from .core import StepResult
from .handwork import latex_escape
from .optim import ADAM_FAMILY
from .problem import Problem
from .quantities import BY_NAME, new_weights_formula, present
from .render import Cells, Section, per_class_section
from .rounding import Precision

# column symbols of each table: of w_c[j], of b_c
SYMBOLS = {"velocity": ("b_c", "b_b"), "m": ("m_c", "m_b"), "v": ("v_c", "v_b"), "m_hat": ("m̂_c", "m̂_b"),
           "v_hat": ("v̂_c", "v̂_b"), "update": ("Δw_c", "Δb_c")}


def _settings_words(problem: Problem, key: str) -> tuple[str, str]:
    """The numbers a table's formula uses (text, LaTeX): ``(μ = 0.9, τ = 0, t = 1)``."""
    s, t = problem.optimiser.settings, problem.optimiser.state.t + 1
    values = {
        "velocity": [("μ", r"\mu", s.momentum), *([("τ", r"\tau", s.dampening)] if s.name == "momentum" else []),
                     ("t", "t", t)],
        "m": [("β1", r"\beta_1", s.beta1), ("t", "t", t)],
        "v": [("β2", r"\beta_2", s.beta2)],
        "m_hat": [("1 − β1^t", r"1 - \beta_1^t", 1 - s.beta1**t)],
        "v_hat": [("1 − β2^t", r"1 - \beta_2^t", 1 - s.beta2**t)],
        "update": [("α", r"\alpha", problem.learning_rate), *([("μ", r"\mu", s.momentum)] if s.name == "nesterov"
                                                              else []),
                   *([("ε", r"\epsilon", s.eps)] if s.name in ADAM_FAMILY else []),
                   *([("λ", r"\lambda", s.weight_decay)] if s.name == "adamw" else [])],
    }[key]
    return (", ".join(f"{a} = {x:g}" for a, _, x in values),
            r",\ ".join(f"{b} = {x:g}" for _, b, x in values))


def optimiser_sections(problem: Problem, result: StepResult, precision: Precision) -> list[Section]:
    """A table per quantity of the optimiser (rows classes, columns w_c[j] then b_c), then W_new and b_new."""
    name = problem.optimiser_name
    sections = []
    for q in present(False, False, name):
        if q.optimisers is None or not q.name.endswith("_W"):
            continue
        key, title = q.name[:-2], q.title.removesuffix(" of W")  # one table for W and b
        text, latex = q.formula_for(optimiser=name), q.latex_for(optimiser=name)
        words, words_latex = _settings_words(problem, key)
        sections.append(per_class_section(
            f"{title} ({name})  {text}  ({words})", problem, getattr(result, q.name),
            getattr(result, f"{key}_b"), SYMBOLS[key], Cells(precision),
            rf"{latex_escape(title)} ({name}) \quad ${latex} \quad ({words_latex})$",
        ))
    text, latex = new_weights_formula(name)
    sections.append(per_class_section(
        f"{BY_NAME['W_new'].title} ({name})  {text}", problem, result.W_new, result.b_new, ("w_c", "b_c"),
        Cells(precision), rf"{BY_NAME['W_new'].title} ({name}) \quad ${latex}$",
    ))
    return sections


def optimiser_json(problem: Problem) -> dict[str, Any]:
    """``optimizer``: its name, the step t and its settings (its quantities are the step's own keys)."""
    optimiser = problem.optimiser
    return {"name": optimiser.name, "t": optimiser.state.t + 1, "settings": optimiser.settings.as_dict()}
