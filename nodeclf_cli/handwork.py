"""Working by hand: carrying rounded values, and each formula with its numbers.

``rounded_carry`` makes :func:`core.gradient_step` work as a person with a pencil
does, from the rounded values of the step before. ``explain`` writes one node's and
one class's formulas with the numbers substituted, in plain text or LaTeX.
:func:`work_step` is what ``nodeclf step`` computes: both, as asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .core import Carry, StepResult, gradient_step
from .errors import NodeclfError, printable
from .problem import Problem, find_position
from .quantities import BY_NAME
from .rounding import Precision, Requirement, full, round_array, round_value, snap


def rounded_carry(precision: Precision, loss_precision: Precision) -> Carry:
    """A carry that rounds every result as it is shown (losses at ``loss_precision``)."""

    def carry(name: str, values: np.ndarray) -> np.ndarray:
        chosen = loss_precision if BY_NAME[name].loss_precision else precision
        if name == "adjacency":  # Â (graph.SparseRows): its non-zeros rounded as shown
            return values.with_values(round_array(values.values, chosen))
        return round_array(values, chosen)

    return carry


# --- notation -------------------------------------------------------------------


@dataclass(frozen=True)
class Notation:
    """How symbols are written: plain text (Unicode) or LaTeX math."""

    times: str
    minus: str
    approx: str
    sum: str
    partial: str
    exp: str
    ln: str
    assign: str
    ell: str
    latex: bool

    def sub(self, symbol: str, index: Any) -> str:
        """``h_1``, or ``h_{1}`` / ``h_{\\text{alice}}`` in LaTeX."""
        if not self.latex:
            return f"{symbol}_{index}"
        return f"{symbol}_{{{self.name(index)}}}"

    def name(self, name: Any) -> str:
        """A node id or class name inside a formula (``h_1[cat]``): in LaTeX a number or
        a single letter as it is, anything else as escaped text."""
        text = str(name)
        if not self.latex or text.lstrip("-").isdigit() or (len(text) == 1 and text.isascii() and text.isalpha()):
            return text
        return r"\text{" + latex_escape(text) + "}"

    def terms(self, terms: list[str], most: int | None) -> str:
        """``a + b + c``; beyond ``most`` terms, the first ``most`` and how many more."""
        if most is None or len(terms) <= most:
            return " + ".join(terms)
        more = len(terms) - most
        dots = rf"\ldots\ (\text{{{more} more}})" if self.latex else f"… ({more} more)"
        return " + ".join(terms[:most]) + " + " + dots

    def num(self, text: str) -> str:
        """A number, with its minus sign, in parentheses when negative."""
        if text.startswith("-"):
            return f"({self.minus}{text[1:]})"
        return text

    def signed(self, text: str) -> str:
        """A number standing alone: only the minus sign is changed."""
        return self.minus + text[1:] if text.startswith("-") else text


TEXT = Notation("·", "−", "≈", "Σ", "∂", "exp", "ln", ":=", "ℓ", latex=False)
LATEX = Notation(
    r" \cdot ", "-", r"\approx", r"\sum", r"\partial ", r"\exp", r"\ln", r"\leftarrow", r"\ell",
    latex=True,
)


def latex_escape(text: str) -> str:
    """Text safe inside LaTeX (outside math); control characters written as escapes."""
    text = printable(text)
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
               "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
               "^": r"\textasciicircum{}"}
    return "".join(special.get(ch, ch) for ch in text)


# --- explanation ------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """Formulas with numbers substituted, grouped under headings."""

    title: str
    groups: list[tuple[str, list[str]]]


def _result(x: float, precision: Precision, n: Notation) -> str:
    """``0.685 ≈ 0.69``: the value, then as rounded when that changes it."""
    worked = full(x)
    shown = round_value(x, precision).text
    if snap(float(worked)) == snap(float(shown)):
        return n.signed(shown)
    return f"{n.signed(worked)} {n.approx} {n.signed(shown)}"


def find_node(problem: Problem, node: str | None) -> int:
    """The position of the node ``--node`` names (the first node by default)."""
    return 0 if node is None else find_position(problem.node_ids, node, "node", "--node")


def find_class(problem: Problem, name: str | None) -> int:
    """The position of the class ``--class`` names (the first class by default)."""
    return 0 if name is None else find_position(problem.classes, name, "class", "--class")


def find_feature(problem: Problem, feature: int | None) -> int:
    """The feature ``--feature`` names, j in w_c[j] (0, the first, by default)."""
    d = problem.Z.shape[1]
    if feature is None:
        return 0
    if not 0 <= feature < d:
        raise NodeclfError(f"no feature {feature}: the embeddings have features 0..{d - 1}", "--feature")
    return feature


def explain(
    problem: Problem,
    result: StepResult,
    node: int,
    cls: int,
    precision: Precision,
    loss_precision: Precision,
    reduction: str,
    carried: bool = False,
    n: Notation = TEXT,
    feature: int = 0,
    most: int | None = None,
) -> Explanation:
    """Node ``node``'s and class ``cls``'s formulas with the numbers substituted; the
    weight gradient and update for feature ``feature`` (j in w_c[j]). Sums over the
    nodes write out their first ``most`` terms (all with None) and say how many more.

    Operands are shown as the step before left them: inputs as given (weights at the
    working precision where that loses nothing), earlier results to 4 more decimals
    than shown when carrying exactly, or as rounded when carrying rounded values.
    """
    i, c, j = node, cls, feature
    node_id, name = problem.node_ids[i], problem.classes[c]
    N = len(problem.node_ids)
    if carried:  # the values the step before left, as rounded

        def operand(x: float, loss: bool = False) -> str:
            return round_value(x, loss_precision if loss else precision).text

    else:

        def operand(x: float, loss: bool = False) -> str:
            return full(x)

    def given(x: float) -> str:
        shown = round_value(x, precision).text
        return shown if snap(float(shown)) == snap(x) else full(x)

    h = lambda k: n.sub("h", node_id) + f"[{n.name(problem.classes[k])}]"  # noqa: E731
    p = lambda k, m=i: n.sub("p", problem.node_ids[m]) + f"[{n.name(problem.classes[k])}]"  # noqa: E731
    graph = problem.graph
    # the layer's input: Z, or with a graph the propagated Ẑ (a result, shown as carried)
    Z, z_text = (problem.Z, full) if graph is None else (np.asarray(result.propagated), operand)
    z, w, b = Z[i], problem.W[c], problem.b[c]

    terms = " + ".join(f"{n.num(z_text(zj))}{n.times}{n.num(given(wj))}" for zj, wj in zip(z, w))
    logit = [f"{h(c)} = {terms} + {n.num(given(b))} = {_result(result.logits[i, c], precision, n)}"]

    exps = np.exp(result.logits[i])
    softmax = [
        f"{n.exp}({h(k)}) = {n.exp}({n.signed(operand(result.logits[i, k]))}) = {full(e)}"
        for k, e in enumerate(exps)
    ]
    softmax.append(
        f"{n.sum}_q {n.exp}({n.sub('h', node_id)}[q]) = "
        + " + ".join(full(e) for e in exps)
        + f" = {full(exps.sum())}"
    )
    softmax.append(
        f"{p(c)} = {full(exps[c])} / {full(exps.sum())} = {_result(result.probabilities[i, c], precision, n)}"
    )

    true = problem.y[i]
    mean = "(1/N) " if reduction == "mean" else ""
    scale = f"(1/{N})" if reduction == "mean" else ""
    loss = [
        f"{n.sub(n.ell, node_id)} = {n.minus}{n.ln} {p(true)} = "
        f"{n.minus}{n.ln} {operand(result.probabilities[i, true])} = "
        f"{_result(result.loss_per_node[i], loss_precision, n)}",
        f"L = {mean}{n.sum}_i {n.ell}_i = {scale}"
        + ("(" if scale else "")
        + n.terms([operand(v, loss=True) for v in result.loss_per_node], most)
        + (")" if scale else "")
        + f" = {_result(result.loss, loss_precision, n)}",
    ]

    d_w = n.partial + "L/" + n.partial + n.sub("w", name) + f"[{j}]"
    d_b = n.partial + "L/" + n.partial + n.sub("b", name)
    z_symbol = "z" if graph is None else (r"\hat z" if n.latex else "ẑ")
    p_n, y_n, z_n = (n.sub(symbol, "n") for symbol in ("p", "y", z_symbol))
    if carried:  # from the rounded dL/dh, as the table before this one left them
        d_h = n.partial + "L/" + n.partial + n.sub("h", "n") + f"[{n.name(name)}]"
        residual = [n.num(operand(result.grad_logits[m, c])) for m in range(N)]
        w_sum, b_sum = f"{n.sum}_n {d_h}{n.times}{z_n}[{j}]", f"{n.sum}_n {d_h}"
        open_, close = "", ""
    else:
        Y = [1 if problem.y[m] == c else 0 for m in range(N)]
        residual = [f"({operand(result.probabilities[m, c])} {n.minus} {Y[m]})" for m in range(N)]
        in_class = f"[{n.name(name)}]"
        w_sum = f"{mean}{n.sum}_n ({p_n}{in_class} {n.minus} {y_n}{in_class}){n.times}{z_n}[{j}]"
        b_sum = f"{mean}{n.sum}_n ({p_n}{in_class} {n.minus} {y_n}{in_class})"
        open_, close = (f"{scale}[", "]") if scale else ("", "")
    w_terms = n.terms([f"{r}{n.times}{n.num(z_text(Z[m, j]))}" for m, r in enumerate(residual)], most)
    gradient = [
        f"{d_w} = {w_sum} = {open_}{w_terms}{close} = {_result(result.grad_W[c, j], precision, n)}",
        f"{d_b} = {b_sum} = {open_}{n.terms(residual, most)}{close} = "
        f"{_result(result.grad_b[c], precision, n)}",
    ]

    lr = full(problem.learning_rate)
    update = [
        f"{n.sub('w', name)}[{j}] {n.assign} {n.num(given(w[j]))} {n.minus} {lr}{n.times}"
        f"{n.num(operand(result.grad_W[c, j]))} = {_result(result.W_new[c, j], precision, n)}",
        f"{n.sub('b', name)} {n.assign} {n.num(given(b))} {n.minus} {lr}{n.times}"
        f"{n.num(operand(result.grad_b[c]))} = {_result(result.b_new[c], precision, n)}",
    ]
    propagation = [] if graph is None else [
        (f"Propagation (node {node_id}, feature {j})",
         _propagation_lines(problem, result, i, j, operand, precision, n, most, carried))
    ]
    penalty: list[tuple[str, list[str]]] = []
    convention = problem.convention
    if not convention.plain or convention.penalised:  # the convention's loss, penalty and gradients
        from . import explain_loss

        place = explain_loss.Place(problem, result, i, c, j, reduction, n, operand, given,
                                   lambda x, shown_at: _result(x, shown_at, n), z_text, Z, most)
        if not convention.plain:
            loss = explain_loss.loss_lines(place, loss_precision)
        gradient = explain_loss.gradient_lines(place, precision)
        if convention.penalised:
            penalty = [explain_loss.penalty_group(place, loss_precision)]
            update += explain_loss.update_lines(place)
    return Explanation(
        f"Worked by hand for node {node_id} and class {name}",
        [
            *propagation,
            ("Logit", logit),
            ("Softmax", softmax),
            (f"Loss (node {node_id}'s true class is {problem.classes[true]})", loss),
            *penalty,
            (f"Gradient (feature {j} and bias)", gradient),
            ("Update", update),
        ],
    )


def _propagation_lines(
    problem: Problem, result: StepResult, i: int, j: int, operand: Any, precision: Precision, n: Notation,
    most: int | None, carried: bool,
) -> list[str]:
    """Node i's degree and its feature j aggregated over its neighbours (the last hop),
    with the numbers substituted: ``ẑ_1[0] = 0.5/√(3·3) + 0.3/√(3·2) = 0.351``. From the
    degrees for one hop worked exactly; from Â's entries as shown (Â_ij·z_j) where Â was
    carried rounded, or for the last of several hops."""
    graph = problem.graph
    p = graph.propagation
    from .graph import adjacency_entries, with_self_loops  # only for a problem with a graph

    rows, cols, weights = adjacency_entries(graph)
    if p.self_loops:
        rows, cols, weights = with_self_loops(rows, cols, weights, graph.n_nodes)
    order = np.lexsort((cols, rows))
    mine = order[rows[order] == i]  # row i of Ã, by column
    ids = problem.node_ids
    tex = n.latex
    A_tilde, z_hat = (r"\tilde A", r"\hat z") if tex else ("Ã", "ẑ")
    d_symbol = (r"\tilde d" if tex else "d̃") if p.self_loops else "d"
    degrees = np.asarray(result.degrees, dtype=np.float64)

    def degree(x: float) -> str:  # a count (unweighted) as a whole number
        return str(int(x)) if float(x).is_integer() else operand(x)

    def root(a: str, b: str) -> str:
        return rf"\sqrt{{{a}{n.times}{b}}}" if tex else f"√({a}{n.times}{b})"

    d_i = degree(degrees[i])
    lines = [
        f"{n.sub(d_symbol, ids[i])} = {n.sum}_j {A_tilde}[{n.name(ids[i])}, j] = "
        + (n.terms([full(weights[k]) for k in mine], most) if len(mine) else "0")
        + f" = {d_i}"
    ]
    K = p.hops
    if K == 0:
        return lines + [r"K = 0:\ \text{no propagation},\ \hat z = z" if tex else "K = 0: no propagation, ẑ = z"]
    before = problem.Z if K == 1 else np.asarray(result.hops[-2])
    shown_before = full if K == 1 else operand
    A_hat = result.adjacency
    dense_row = np.asarray(A_hat)[i] if not hasattr(A_hat, "rows") else None
    terms = []
    for k in mine:
        m = cols[k]
        x = n.num(shown_before(before[m, j]))
        weight = "" if weights[k] == 1 else f"{full(weights[k])}{n.times}"
        if K > 1 or carried or dense_row is not None:  # Â's entries as the step before left them
            a = dense_row[m] if dense_row is not None else A_hat.values[(A_hat.rows == i) & (A_hat.cols == m)][0]
            terms.append(f"{operand(a)}{n.times}{x}")
        elif p.norm == "sym":
            terms.append(f"{weight}{x}/{root(d_i, degree(degrees[m]))}")
        elif p.norm == "rw":
            terms.append(f"{weight}{x}/{d_i}")
        else:
            terms.append(f"{weight}{x}")
    symbol = z_hat if K == 1 else (rf"\hat z^{{({K})}}" if tex else f"ẑ⁽{K}⁾")
    target = n.sub(symbol, ids[i]) + f"[{j}]"
    value = np.asarray(result.propagated)[i, j]
    return lines + [f"{target} = " + (n.terms(terms, most) if terms else "0") + f" = {_result(value, precision, n)}"]


@dataclass(frozen=True)
class ExplainAt:
    """What ``--explain`` writes: node, class and feature positions, the notation, and
    how many terms of a sum over the nodes (None: all)."""

    node: int
    cls: int
    feature: int
    notation: Notation = TEXT
    most: int | None = None


@dataclass(frozen=True)
class Worked:
    """One step as ``nodeclf step`` shows it: exact, and as carried (the same when exact)."""

    problem: Problem
    exact: StepResult
    result: StepResult
    requirement: Requirement
    reduction: str
    carried: bool
    explanation: Explanation | None


def work_step(
    problem: Problem, requirement: Requirement, reduction: str, carried: bool, explain_at: ExplainAt | None = None
) -> Worked:
    """The exact step; the step carried at ``requirement`` when ``carried``; and the
    explanation ``explain_at`` asks for, of the step as shown."""
    inputs = (problem.Z, problem.y, problem.W, problem.b, problem.learning_rate, reduction)
    settings = {"graph": problem.graph, "convention": problem.convention, "optimiser": problem.optimiser}
    exact = gradient_step(*inputs, **settings)
    result = exact
    if carried:
        carry = rounded_carry(requirement.values, requirement.losses)
        result = gradient_step(*inputs, carry=carry, **settings)
    explanation = None
    if explain_at is not None:
        e = explain_at
        explanation = explain(
            problem, result, e.node, e.cls, requirement.values, requirement.losses, reduction, carried,
            e.notation, e.feature, e.most,
        )
    return Worked(problem, exact, result, requirement, reduction, carried, explanation)
