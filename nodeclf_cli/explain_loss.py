"""``--explain`` under a loss convention (:mod:`conventions`): one node's targets, weighted
targets and loss, the weighted mean's denominator, ∂L/∂h for the chosen class, the L2
penalty R with its numbers, and the penalty's share in the chosen weight's gradient and
update. Lines in plain text or LaTeX (:class:`handwork.Notation`); :func:`handwork.explain`
puts them in place of the plain cross-entropy's.

The formulas (N nodes, C classes; :mod:`conventions` has them all)::

    t_i = (1 − ε) onehot(y_i) + ε/C,  a_i[c] = w_c t_i[c],  s_i = Σ_c a_i[c]
    ℓ_i = −Σ_c a_i[c] ln p_i[c],  L = Σ_i ℓ_i / Σ_i w_{y_i} (the mean) or Σ_i ℓ_i (the sum)
    ∂L/∂h_i[c] = scale (s_i p_i[c] − a_i[c])
    R = k Σ θ²,  ∂R/∂θ = 2k θ (weight decay: λθ added to the gradient, no R)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import conventions as conv
from .core import StepResult
from .problem import Problem
from .rounding import Precision, full


@dataclass(frozen=True)
class Symbols:
    """The convention's symbols in a notation: ε, λ, ½, a square, onehot, words."""

    eps: str
    lam: str
    half: str
    squared: str
    onehot: str
    latex: bool

    def words(self, text: str) -> str:
        return rf"\text{{{text}}}" if self.latex else text


TEXT_SYMBOLS = Symbols("ε", "λ", "½", "²", "onehot", latex=False)
LATEX_SYMBOLS = Symbols(r"\varepsilon", r"\lambda", r"\tfrac{1}{2}", "^2", r"\operatorname{onehot}", latex=True)


@dataclass(frozen=True)
class Place:
    """What an explanation is of, and how its numbers are written (see :func:`handwork.explain`)."""

    problem: Problem
    result: StepResult
    node: int  # i
    cls: int  # c
    feature: int  # j
    reduction: str
    n: Any  # handwork.Notation
    operand: Callable[..., str]  # an earlier result as the step before left it (loss=True: a loss)
    given: Callable[[float], str]  # an input, as given
    shown: Callable[[float, Precision], str]  # a result, and as rounded where that changes it
    z_text: Callable[[float], str]  # the layer's input
    Z: np.ndarray  # the layer's input (Z, or Ẑ on a graph)
    most: int | None

    @property
    def symbols(self) -> Symbols:
        return LATEX_SYMBOLS if self.n.latex else TEXT_SYMBOLS


def _vector(values: list[str], n: Any) -> str:
    """``(0.9, 0.05, 0.05)``; in LaTeX with a place to break the line after each comma."""
    return "(" + (r",\allowbreak " if n.latex else ", ").join(values) + ")"


def _scale_parts(place: Place) -> tuple[str, str]:
    """How the mean divides, as a formula and with its number: ``/ Σ_i w_{y_i}``, ``/7``;
    ``/N``, ``/5``; nothing for the sum."""
    convention, n = place.problem.convention, place.n
    if place.reduction == "sum":
        return "", ""
    if convention.class_weights is not None:
        total = conv.node_weights(place.problem.y, convention).sum()
        return f" / {n.sum}_i w_{{y_i}}", f"/{full(total)}"
    return " / N", f"/{len(place.problem.y)}"


def loss_lines(place: Place, loss_precision: Precision) -> list[str]:
    """Node i's targets t_i, weighted targets a_i and ℓ_i; the weighted mean's denominator
    Σ_i w_{y_i}; and L, each with its numbers."""
    p, n, s = place.problem, place.n, place.symbols
    convention, i, result = p.convention, place.node, place.result
    node, C, true = p.node_ids[place.node], p.n_classes, p.y[place.node]
    weights = convention.class_weights
    eps = convention.label_smoothing
    ell = n.sub(n.ell, node)
    # each result as worked from the operands shown (when carrying, from the rounded ones before it)
    rows = slice(i, i + 1)
    worked_ell = float(conv.cross_entropy_from_probabilities(result.probabilities[rows], p.y[rows], convention)[0])
    prob = lambda k: n.sub("p", node) + f"[{n.name(p.classes[k])}]"  # noqa: E731
    lines = []
    if eps:
        T = conv.weighted_targets(p.y, C, conv.LossConvention(label_smoothing=eps))[i]
        A = conv.weighted_targets(p.y, C, convention)[i]
        t = n.sub("t", node)
        lines.append(
            f"{t} = (1 {n.minus} {s.eps}){n.times}{s.onehot}({n.sub('y', node)}) + {s.eps}/C = "
            f"(1 {n.minus} {full(eps)}){n.times}{s.onehot}({n.name(p.classes[true])}) + {full(eps)}/{C} = "
            + _vector([full(x) for x in T], n)
        )
        target = t
        if weights is not None:
            a = n.sub("a", node)
            lines.append(f"{a}[c] = w_c{n.times}{t}[c] = "
                         + _vector([f"{full(w)}{n.times}{full(x)}" for w, x in zip(weights, T)], n)
                         + " = " + _vector([full(x) for x in A], n))
            lines.append(f"{n.sub('s', node)} = {n.sum}_c {a}[c] = " + " + ".join(full(x) for x in A)
                         + f" = {full(A.sum())}")
            target = a
        terms = [f"{full(A[k])}{n.times}{n.ln} {place.operand(result.probabilities[i, k])}" for k in range(C)]
        lines.append(f"{ell} = {n.minus}{n.sum}_c {target}[c]{n.times}{n.ln} {n.sub('p', node)}[c] = "
                     f"{n.minus}({' + '.join(terms)}) = {place.shown(worked_ell, loss_precision)}")
    else:  # class weights alone
        w = full(weights[true])
        lines.append(f"{ell} = {n.minus}w_{{{n.sub('y', node)}}}{n.times}{n.ln} {prob(true)} = "
                     f"{n.minus}{w}{n.times}{n.ln} {place.operand(result.probabilities[i, true])} = "
                     f"{place.shown(worked_ell, loss_precision)}")
    losses = n.terms([place.operand(v, loss=True) for v in result.loss_per_node], place.most)
    scale = conv.loss_scale(p.y, place.reduction, convention)
    total = place.shown(scale * float(np.sum(result.loss_per_node)), loss_precision)
    if place.reduction == "sum":
        lines.append(f"L = {n.sum}_i {n.ell}_i = {losses} = {total}")
    elif weights is not None:
        node_weights = conv.node_weights(p.y, convention)
        lines.append(f"{n.sum}_i w_{{y_i}} = {n.terms([full(w) for w in node_weights], place.most)} = "
                     f"{full(node_weights.sum())}")
        lines.append(f"L = {n.sum}_i {n.ell}_i / {n.sum}_i w_{{y_i}} = ({losses})/{full(node_weights.sum())} = {total}")
    else:
        N = len(p.y)
        lines.append(f"L = (1/N) {n.sum}_i {n.ell}_i = (1/{N})({losses}) = {total}")
    return lines


def _coefficient(place: Place) -> tuple[str, str]:
    """k in R = k Σθ², as a formula and with its numbers: ``½λ``, ``½·0.1``; ``1/(2CN)``, ``1/(2·1·5)``."""
    convention, n, s = place.problem.convention, place.n, place.symbols
    lam = full(convention.l2)
    if convention.l2_form == "sum":
        return s.lam, lam
    if convention.l2_form == "half":
        return f"{s.half}{s.lam}", f"{s.half}{n.times}{lam}"
    if place.reduction == "sum":
        return "1/(2C)", f"1/(2{n.times}{lam})"
    if convention.class_weights is not None:
        total = full(conv.node_weights(place.problem.y, convention).sum())
        return f"1/(2C {n.sum}_i w_{{y_i}})", f"1/(2{n.times}{lam}{n.times}{total})"
    return "1/(2CN)", f"1/(2{n.times}{lam}{n.times}{len(place.problem.y)})"


def penalty_group(place: Place, loss_precision: Precision) -> tuple[str, list[str]]:
    """The L2 penalty's heading and lines: Σ W² (and Σ b²) with the numbers, R = k Σθ², L + R;
    for weight decay, that it adds λθ to the gradient instead."""
    p, n, s = place.problem, place.n, place.symbols
    convention, result = p.convention, place.result
    form = convention.l2_form
    heading = f"L2 penalty ({form}: {conv.L2_SOURCES[form]})"
    if not convention.has_penalty_term:
        theta = r"\theta" if n.latex else "θ"
        on = " and b" if convention.bias_penalised else " only"
        return heading, [s.words("no loss term: ") + f"{s.lam}{theta}" + s.words(f" added to the gradient of W{on}")
                         + f" ({s.lam} = {full(convention.l2)})"]
    squares = [f"{n.num(place.given(x))}{s.squared}" for x in p.W.reshape(-1)]
    sum_W = float((p.W * p.W).sum())
    lines = [f"{n.sum} W{s.squared} = {n.terms(squares, place.most)} = {full(sum_W)}"]
    total_text, of = full(sum_W), f"{n.sum} W{s.squared}"
    if convention.bias_penalised:
        sum_b = float((p.b * p.b).sum())
        bias_squares = [f"{n.num(place.given(x))}{s.squared}" for x in p.b]
        lines.append(f"{n.sum} b{s.squared} = {n.terms(bias_squares, place.most)} = {full(sum_b)}")
        total_text = f"({full(sum_W)} + {full(sum_b)})"
        of = f"({n.sum} W{s.squared} + {n.sum} b{s.squared})"
    k, k_numbers = _coefficient(place)
    scale = conv.loss_scale(p.y, place.reduction, convention)
    R = conv.penalty(p.W, p.b, convention, scale)
    lines.append(f"R = {k}{n.times}{of} = {k_numbers}{n.times}{total_text} = {place.shown(R, loss_precision)}")
    lines.append(f"L + R = {place.operand(result.loss, loss=True)} + {place.operand(result.penalty, loss=True)} = "
                 f"{place.shown(result.loss + result.penalty, loss_precision)}")
    return heading, lines


def _share(place: Place, value: float, symbol: str) -> tuple[str, str, float]:
    """The penalty's share of one parameter's gradient: the formula, with its numbers, and its value."""
    convention, n, s = place.problem.convention, place.n, place.symbols
    scale = conv.loss_scale(place.problem.y, place.reduction, convention)
    factor = convention.l2 if convention.l2_form == "weight-decay" else 2 * conv.penalty_coefficient(convention, scale)
    lam = full(convention.l2)
    written = {
        "sum": (f"2{s.lam}{n.times}{symbol}", f"2{n.times}{lam}"),
        "half": (f"{s.lam}{n.times}{symbol}", lam),
        "weight-decay": (f"{s.lam}{n.times}{symbol}", lam),
    }
    if convention.l2_form == "sklearn":  # 2k: 1/C (the sum), 1/(CN), 1/(C Σ_i w_{y_i})
        if place.reduction == "sum":
            formula, numbers = "1/C", f"1/{lam}"
        elif convention.class_weights is not None:
            total = full(conv.node_weights(place.problem.y, convention).sum())
            formula, numbers = f"1/(C {n.sum}_i w_{{y_i}})", f"1/({lam}{n.times}{total})"
        else:
            formula, numbers = "1/(CN)", f"1/({lam}{n.times}{len(place.problem.y)})"
        return f"{formula}{n.times}{symbol}", f"{numbers}{n.times}{n.num(place.given(value))}", factor * value
    formula, numbers = written[convention.l2_form]
    return formula, f"{numbers}{n.times}{n.num(place.given(value))}", factor * value


def gradient_lines(place: Place, precision: Precision) -> list[str]:
    """∂L/∂h_i[c] as scale (s_i p_i[c] − a_i[c]); the data's ∂L/∂w_c[j] and ∂L/∂b_c from every
    node's ∂L/∂h_n[c]; then, with a penalty, its share and the sum ∂(L + R)/∂θ."""
    p, n = place.problem, place.n
    convention, result, i, c, j = p.convention, place.result, place.node, place.cls, place.feature
    node, name = p.node_ids[i], p.classes[c]
    in_class = f"[{n.name(name)}]"
    A = conv.weighted_targets(p.y, p.n_classes, convention)
    divide, divide_numbers = _scale_parts(place)
    d_h_i = f"{n.partial}L/{n.partial}{n.sub('h', node)}{in_class}"
    if convention.plain:
        inside = f"{n.sub('p', node)}{in_class} {n.minus} {n.sub('y', node)}{in_class}"
        numbers = f"{place.operand(result.probabilities[i, c])} {n.minus} {full(A[i, c])}"
    else:
        inside = f"{n.sub('s', node)}{n.times}{n.sub('p', node)}{in_class} {n.minus} {n.sub('a', node)}{in_class}"
        numbers = (f"{full(A[i].sum())}{n.times}{place.operand(result.probabilities[i, c])} {n.minus} "
                   f"{full(A[i, c])}")
    scale = conv.loss_scale(p.y, place.reduction, convention)
    worked = scale * (A[i].sum() * result.probabilities[i, c] - A[i, c])  # from p as the table before left it
    lines = [f"{d_h_i} = ({inside}){divide} = ({numbers}){divide_numbers} = {place.shown(worked, precision)}"]
    d_h_n = f"{n.partial}L/{n.partial}{n.sub('h', 'n')}{in_class}"
    z_n = n.sub("z" if p.graph is None else (r"\hat z" if n.latex else "ẑ"), "n")
    residual = [n.num(place.operand(x)) for x in result.grad_logits[:, c]]
    data_W = float(np.asarray(result.grad_logits[:, c]) @ place.Z[:, j])
    data_b = float(np.asarray(result.grad_logits[:, c]).sum())
    w_terms = n.terms([f"{r}{n.times}{n.num(place.z_text(place.Z[m, j]))}" for m, r in enumerate(residual)],
                      place.most)
    b_terms = n.terms(residual, place.most)
    w_symbol, b_symbol = n.sub("w", name) + f"[{j}]", n.sub("b", name)
    if not convention.penalised:
        return lines + [
            f"{n.partial}L/{n.partial}{w_symbol} = {n.sum}_n {d_h_n}{n.times}{z_n}[{j}] = {w_terms} = "
            f"{place.shown(data_W, precision)}",
            f"{n.partial}L/{n.partial}{b_symbol} = {n.sum}_n {d_h_n} = {b_terms} = "
            f"{place.shown(data_b, precision)}",
        ]
    lines.append(f"{n.partial}L/{n.partial}{w_symbol} = {n.sum}_n {d_h_n}{n.times}{z_n}[{j}] = {w_terms} = "
                 f"{n.signed(full(data_W))}")
    lines += _with_share(place, w_symbol, p.W[c, j], data_W, precision)
    lines.append(f"{n.partial}L/{n.partial}{b_symbol} = {n.sum}_n {d_h_n} = {b_terms} = {n.signed(full(data_b))}")
    if convention.bias_penalised:
        lines += _with_share(place, b_symbol, p.b[c], data_b, precision)
    else:
        lines.append(place.symbols.words("b is not penalised: ") + f"{n.partial}(L + R)/{n.partial}{b_symbol} = "
                     f"{n.partial}L/{n.partial}{b_symbol} = {place.shown(data_b, precision)}")
    return lines


def _with_share(place: Place, symbol: str, value: float, data: float, precision: Precision) -> list[str]:
    """The penalty's share of one parameter's gradient, and the gradient with it (data + share)."""
    n = place.n
    formula, numbers, share = _share(place, value, symbol)
    decay = place.problem.convention.l2_form == "weight-decay"
    d_R = f"{place.symbols.lam}{n.times}{symbol}" if decay else f"{n.partial}R/{n.partial}{symbol}"
    whole = f"{n.partial}L/{n.partial}{symbol} + {place.symbols.lam}{n.times}{symbol}" if decay \
        else f"{n.partial}(L + R)/{n.partial}{symbol}"
    share_text = n.signed(full(share))
    first = f"{d_R} = {numbers} = {share_text}" if decay else f"{d_R} = {formula} = {numbers} = {share_text}"
    return [first, f"{whole} = {n.signed(full(data))} + {n.num(full(share))} = {place.shown(data + share, precision)}"]


def update_lines(place: Place) -> list[str]:
    """The penalty's share of the chosen weight's (and a penalised bias's) update: −α ∂R/∂θ."""
    p, n, s = place.problem, place.n, place.symbols
    convention, c, j = p.convention, place.cls, place.feature
    name = p.classes[c]
    alpha = r"\alpha" if n.latex else "α"
    parameters = [(n.sub("w", name) + f"[{j}]", p.W[c, j])]
    if convention.bias_penalised:
        parameters.append((n.sub("b", name), p.b[c]))
    lines = []
    for symbol, value in parameters:
        _, _, share = _share(place, value, symbol)
        decay = convention.l2_form == "weight-decay"
        d_R = f"{s.lam}{n.times}{symbol}" if decay else f"{n.partial}R/{n.partial}{symbol}"
        lines.append(s.words("the penalty's share of the update: ")
                     + f"{n.minus}{alpha}{n.times}{d_R} = {n.minus}{full(p.learning_rate)}{n.times}"
                     f"{n.num(full(share))} = {n.signed(full(-p.learning_rate * share))}")
    return lines
