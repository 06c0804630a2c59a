"""Grading hand-worked answers, as a marker awarding error-carried-forward credit.

Each written number is judged at the precision it was written with (the digits of
the YAML text; a vector's entries share the precision of its most precise entry). A
value is *correct* when it lies within half a unit of its last digit of the exact
value, ties included, or of the value that carrying rounded values gives. Otherwise
it *follows through* when it is right given the student's own earlier wrong values
(every later step is recomputed from what the student wrote). Otherwise it is
*wrong*, and a cause is named when recomputing with that mistake, from the
student's own earlier values or from the exact ones, reproduces the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from .core import StepResult, grad_logits, grad_params, gradient_step, loss_scale, sgd_update, softmax
from .handwork import rounded_carry
from .problem import Problem
from .rounding import Precision, round_value, snap

# Quantities in the order they are worked: (name, rows keyed by, symbol, called in messages)
QUANTITIES = {
    "logits": ("node", "h", "logits"),
    "probabilities": ("node", "p", "probabilities"),
    "loss_per_node": ("node", "ℓ", "per-node losses"),
    "loss": (None, "L", "loss"),
    "grad_logits": ("node", "∂L/∂h", "gradients at the logits"),
    "grad_W": ("class", "∂L/∂w", "gradients of W"),
    "grad_b": (None, "∂L/∂b", "gradients of b"),
    "W_new": ("class", "w", "updated weights"),
    "b_new": (None, "b", "updated biases"),
}
LOSSES = ("loss_per_node", "loss")
# the quantity each one is computed from (logits: from the inputs alone)
PARENT = {
    "probabilities": "logits",
    "loss_per_node": "probabilities",
    "loss": "loss_per_node",
    "grad_logits": "probabilities",
    "grad_W": "grad_logits",
    "grad_b": "grad_logits",
    "W_new": "grad_W",
    "b_new": "grad_b",
}
# each row of these rests on the same row of its parent (a node's, or W_new's class's);
# the others rest on all of it
ROW_BY_ROW = ("probabilities", "loss_per_node", "grad_logits", "W_new")


def _ancestors(name: str) -> tuple[str, ...]:
    parent = PARENT.get(name)
    return () if parent is None else (*_ancestors(parent), parent)


# the quantities each one is computed from, directly or not
UPSTREAM = {name: _ancestors(name) for name in QUANTITIES}
# Each cause, as it is named in reports.
CAUSES = {
    "sign": "sign flipped",
    "no_exp": "no exp",
    "wrong_axis": "over nodes",
    "log_base": "log base 10 or 2",
    "missing_mean": "sum, not mean",
    "p_minus_one": "Σ(p−1)x",
    "forgot_bias": "bias forgotten",
    "added_gradient": "gradient added",
    "forgot_lr": "α forgotten",
    "not_updated": "not updated",
    "swapped": "swapped",
    "rounding_drift": "rounding drift",
    "slip": "arithmetic slip",
}


@dataclass
class GivenRow:
    """One row of written answers: ``texts[k]`` is column ``columns[k]``."""

    quantity: str
    row: int  # row of the quantity's 2-d array (node or class position; 0 otherwise)
    key: Any  # node id or class name as written, None for the loss and b vectors
    columns: list[int]
    texts: list[str]
    line: int | None

    @property
    def decimals(self) -> int:
        """The row's precision: that of its most precise entry (0.4 among 0.47 is 0.40)."""
        return max(_decimals(text) for text in self.texts)


def _decimals(text: str) -> int:
    exponent = Decimal(text.strip()).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass
class Entry:
    """The verdict on one written number."""

    quantity: str
    key: Any
    index: int | None
    given: str
    expected: float
    verdict: str  # correct, follows_through, wrong
    cause: str | None
    message: str
    decimals: int
    line: int | None


@dataclass
class Grade:
    entries: list[Entry] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(entry.verdict == verdict for entry in self.entries)

    @property
    def first_wrong(self) -> Entry | None:
        return next((e for e in self.entries if e.verdict == "wrong"), None)


# --- the arrays every judgement compares against -------------------------------------


def as_2d(name: str, result: StepResult) -> np.ndarray:
    """A quantity of a step as a 2-d array (rows = nodes or classes)."""
    value = {
        "logits": result.logits,
        "probabilities": result.probabilities,
        "loss_per_node": result.loss_per_node[:, None],
        "loss": np.array([[result.loss]]),
        "grad_logits": result.grad_logits,
        "grad_W": result.grad_W,
        "grad_b": result.grad_b[None, :],
        "W_new": result.W_new,
        "b_new": result.b_new[None, :],
    }[name]
    return np.asarray(value, dtype=np.float64)


def _given_values(rows: list[GivenRow], name: str, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The written values of a quantity on a NaN background, and a mask of them."""
    values = np.full(shape, np.nan)
    for row in rows:
        if row.quantity == name:
            for column, text in zip(row.columns, row.texts):
                values[row.row, column] = float(text)
    return values, ~np.isnan(values)


class World:
    """Every quantity recomputed from the student's own earlier values (exact where
    they wrote nothing): ``expected[name]`` is what follows from what they wrote
    before ``name``; ``used[name]`` is that with their own values of ``name`` put in."""

    def __init__(self, problem: Problem, exact: StepResult, given: list[GivenRow], reduction: str):
        N = len(problem.y)
        scale = loss_scale(N, reduction)
        self.expected: dict[str, np.ndarray] = {}
        self.used: dict[str, np.ndarray] = {}

        def settle(name: str, expected: np.ndarray) -> np.ndarray:
            self.expected[name] = expected
            values, mask = _given_values(given, name, expected.shape)
            self.used[name] = np.where(mask, values, expected)
            return self.used[name]

        H = settle("logits", as_2d("logits", exact))
        P = settle("probabilities", softmax(H))
        with np.errstate(divide="ignore", invalid="ignore"):
            losses = settle("loss_per_node", -np.log(P[np.arange(N), problem.y])[:, None])
        settle("loss", np.array([[scale * losses.sum()]]))
        # from here on with step's own functions, so that check expects to the last bit
        # what step shows (a twin formula could round a tie the other way)
        dH = settle("grad_logits", grad_logits(P, problem.y, scale))
        grad_W, grad_b = grad_params(dH, problem.Z)
        grad_W, grad_b = settle("grad_W", grad_W), settle("grad_b", grad_b[None, :])
        W_new, b_new = sgd_update(problem.W, problem.b[None, :], grad_W, grad_b, problem.learning_rate)
        settle("W_new", W_new)
        settle("b_new", b_new)


def _alternatives(
    name: str, world: dict[str, np.ndarray], problem: Problem, reduction: str
) -> list[tuple[str, str, np.ndarray, str | None]]:
    """(cause, what was done, values, the quantity they are computed from) for each
    mistake that applies to ``name``, recomputed from ``world`` (the student's own
    values, or the exact ones); None: from the problem's inputs alone. ``world[name]``
    itself is what follows for ``name`` from the quantity before it."""
    N = len(problem.y)
    Y = np.eye(problem.n_classes)[problem.y]
    scale = loss_scale(N, reduction)
    other_scale = 1.0 if reduction == "mean" else 1.0 / N
    mean_word = "a sum instead of the mean (the 1/N is missing)" if reduction == "mean" else (
        "the mean instead of the sum"
    )
    P = world["probabilities"]
    lr = problem.learning_rate
    with np.errstate(divide="ignore", invalid="ignore"):
        true_p = P[np.arange(N), problem.y][:, None]
        log10, log2 = -np.log10(true_p), -np.log2(true_p)
    residual, minus_one = P - Y, P - 1.0
    out: list[tuple[str, str, np.ndarray, str | None]] = []
    if name == "logits":
        out.append(("forgot_bias", "the bias b_c left out of z_i · w_c + b_c", problem.Z @ problem.W.T, None))
        out.append(("sign", "the sign flipped", -world["logits"], None))
    elif name == "probabilities":
        H = world["logits"]
        with np.errstate(divide="ignore", invalid="ignore"):
            normalised = H / H.sum(axis=1, keepdims=True)
            out.append(("no_exp", "the logits divided by their sum, without exp", normalised, "logits"))
        E = np.exp(H - H.max())
        out.append(("wrong_axis", "normalised over the nodes instead of over the classes", E / E.sum(axis=0), "logits"))
    elif name == "loss_per_node":
        never_negative = "the sign flipped: ℓ_i = −ln p_i[y_i] is never negative"
        out.append(("sign", never_negative, -world["loss_per_node"], "probabilities"))
        out.append(("log_base", "log base 10 instead of the natural log", log10, "probabilities"))
        out.append(("log_base", "log base 2 instead of the natural log", log2, "probabilities"))
    elif name == "loss":
        out.append(("sign", "the sign flipped: a cross-entropy is never negative", -world["loss"], "loss_per_node"))
        for base, losses in (("10", log10), ("2", log2)):
            values = np.array([[scale * losses.sum()]])
            out.append(("log_base", f"log base {base} instead of the natural log", values, "probabilities"))
        summed = world["loss_per_node"].sum(keepdims=True) * other_scale
        out.append(("missing_mean", mean_word, summed, "loss_per_node"))
    elif name in ("grad_logits", "grad_W", "grad_b"):
        def shaped(dH: np.ndarray) -> np.ndarray:
            if name == "grad_logits":
                return dH
            grad_W, grad_b = grad_params(dH, problem.Z)
            return grad_W if name == "grad_W" else grad_b[None, :]

        flipped_from = "probabilities" if name == "grad_logits" else "grad_logits"
        flipped = -shaped(world["grad_logits"])
        out.append(("sign", "the sign flipped (Y − P instead of P − Y)", flipped, flipped_from))
        out.append(("missing_mean", mean_word, shaped(other_scale * residual), "probabilities"))
        minus_one_mean = shaped(scale * minus_one)
        out.append(("p_minus_one", "written as Σ(p − 1)x instead of Σ(p − y)x", minus_one_mean, "probabilities"))
        if reduction == "mean":
            out.append(
                ("p_minus_one", "written as Σ(p − 1)x instead of (1/N) Σ(p − y)x: p − 1 for every "
                 "node and no 1/N", shaped(minus_one), "probabilities")
            )
    elif name in ("W_new", "b_new"):
        old, grad, symbol, what = (
            (problem.W, "grad_W", "w", "weight") if name == "W_new" else (problem.b[None, :], "grad_b", "b", "bias")
        )
        out.append(("added_gradient", "the gradient added instead of subtracted", old + lr * world[grad], grad))
        no_lr = f"the learning rate α left out of {symbol} − α ∂L/∂{symbol}"
        out.append(("forgot_lr", no_lr, old - world[grad], grad))
        out.append(("not_updated", f"the {what} before the update, not after it", old, None))
    return out


# --- judging --------------------------------------------------------------------------


def _within(text: str, value: float, decimals: int, units: float = 0.5) -> bool:
    """Whether the written ``text`` lies within ``units`` of its last digit of ``value``."""
    if not np.isfinite(value):
        return False
    try:
        gap = abs(Decimal(text.strip()) - snap(value))
    except InvalidOperation:
        return False
    return gap <= Decimal(str(units)).scaleb(-decimals)


class Grader:
    def __init__(self, problem: Problem, given: list[GivenRow], reduction: str = "mean"):
        self.problem, self.given, self.reduction = problem, given, reduction
        self.written = {row.quantity for row in given}  # the quantities the student wrote any of
        self._given_rows = {(row.quantity, row.row): row for row in given}
        inputs = (problem.Z, problem.y, problem.W, problem.b, problem.learning_rate, reduction)
        self.inputs = inputs
        self.exact = gradient_step(*inputs)
        self.world = World(problem, self.exact, given, reduction)
        self.exact_world = {name: as_2d(name, self.exact) for name in QUANTITIES}
        self._carried: dict[tuple[int, str], StepResult] = {}
        self.tainted: dict[str, np.ndarray] = {}  # rows resting on a wrong written value

    def carried(self, decimals: int, rounding: str) -> StepResult:
        """The step worked by hand at ``decimals`` (losses 2 more), cached."""
        key = (decimals, rounding)
        if key not in self._carried:
            vector = Precision(decimals=decimals, rounding=rounding)
            carry = rounded_carry(vector, vector.finer(2))
            self._carried[key] = gradient_step(*self.inputs, carry=carry)
        return self._carried[key]

    def _carried_values(self, name: str, decimals: int) -> list[np.ndarray]:
        vector_decimals = decimals - 2 if name in LOSSES else decimals
        if vector_decimals < 0:
            return []
        return [as_2d(name, self.carried(vector_decimals, r)) for r in ("half-up", "half-even")]

    def _upstream_taint(self, name: str, shape: tuple) -> np.ndarray:
        """Which rows of ``name`` rest on a wrong value the student wrote before it."""
        rows = shape[0]
        if name not in PARENT:
            return np.zeros(rows, bool)
        parent = self.tainted[PARENT[name]]
        return parent.copy() if name in ROW_BY_ROW else np.full(rows, parent.any())

    def grade(self) -> Grade:
        grade = Grade()
        for name in QUANTITIES:
            expected = self.world.expected[name]
            upstream = self._upstream_taint(name, expected.shape)
            taint = upstream.copy()
            rows = [row for row in self.given if row.quantity == name]
            for row in rows:
                entries = [self._judge(row, k, upstream[row.row]) for k in range(len(row.columns))]
                self._explain_slips(row, entries)
                grade.entries += entries
                taint[row.row] = any(e.verdict != "correct" for e in entries)
            self.tainted[name] = taint
        return grade

    def _judge(self, row: GivenRow, k: int, upstream_wrong: bool) -> Entry:
        name, r, c, text = row.quantity, row.row, row.columns[k], row.texts[k]
        d = row.decimals
        exact = self.exact_world[name][r, c]
        follows = self.world.expected[name][r, c]
        fed_by = self._called(self._nearest_written(PARENT.get(name)) or PARENT.get(name))

        def entry(verdict: str, cause: str | None, message: str) -> Entry:
            index = None if name == "loss" or name == "loss_per_node" else c
            return Entry(name, row.key, index, text, float(exact), verdict, cause, message, d, row.line)

        shown = self._shown(exact, d)
        if _within(text, exact, d):
            return entry("correct", None, f"right ({shown})")
        if any(_within(text, v[r, c], d) for v in self._carried_values(name, d)):
            return entry("correct", None, f"right, worked from rounded values as by hand (exact: {shown})")
        if _within(text, follows, d):
            if upstream_wrong:
                return entry(
                    "follows_through",
                    None,
                    f"follows from your {fed_by}: {self._shown(follows, d)} (exact: {shown})",
                )
            return entry("correct", None, f"right for your own rounded {fed_by} (exact: {shown})")
        yours = self._shown(follows, d)
        own_note = "" if _within(yours, exact, d) else f"; from your {fed_by}: {yours}"
        for own, world in self._bases(name):
            for cause, what, values, source in _alternatives(name, world, self.problem, self.reduction):
                if _within(text, values[r, c], d):
                    where = f" (reproduced from {self._basis(source, own)})" if source else ""
                    return entry("wrong", cause, f"{what}{where}; should be {shown}{own_note}")
        swapped = self._swapped(row, k)
        if swapped:
            return entry("wrong", "swapped", f"this is {swapped}: rows or columns swapped; should be {shown}")
        for finer in (d + 1, d + 2):  # carried at more digits, then rounded again
            if name != "logits" and any(_within(text, v[r, c], d) for v in self._carried_values(name, finer)):
                return entry("wrong", "rounding_drift", f"rounding drift (rounded twice); should be {shown}")
        if name == "logits":  # worked from the inputs: drift only where the products were rounded
            if any(_within(text, value, d) for value in self._logit_from_rounded_terms(r, c, d)):
                drift = "each product rounded before adding (rounding drift)"
                return entry("wrong", "rounding_drift", f"{drift}; should be {shown}")
        elif _within(text, exact, d, units=1.5) or _within(text, follows, d, units=1.5):
            return entry("wrong", "rounding_drift", f"off in the last digit (rounding drift); should be {shown}")
        return entry("wrong", "slip", f"an arithmetic slip; should be {shown}{own_note}")

    def _logit_from_rounded_terms(self, node: int, cls: int, decimals: int) -> list[float]:
        """h_i[c] with each product z_i[k] w_c[k] and b_c rounded to ``decimals`` before
        they are added, half-up and half-even."""
        terms = [*(self.problem.Z[node] * self.problem.W[cls]), self.problem.b[cls]]
        return [
            float(sum(round_value(float(t), Precision(decimals=decimals, rounding=r)).value for t in terms))
            for r in ("half-up", "half-even")
        ]

    def _bases(self, name: str) -> list[tuple[bool, dict[str, np.ndarray]]]:
        """The worlds a mistake is recomputed in, each with whether it is the student's:
        theirs (their written values before ``name``, and what follows from them for
        ``name`` itself), and the exact. Where they wrote nothing that ``name`` is
        computed from, theirs is the exact."""
        if not any(quantity in self.written for quantity in UPSTREAM[name]):
            return [(False, self.exact_world)]
        own = dict(self.world.used)
        own[name] = self.world.expected[name]
        return [(True, own), (False, self.exact_world)]

    def _nearest_written(self, name: str | None) -> str | None:
        """``name`` or the nearest quantity it is computed from that the student wrote
        any of: what a value recomputed from their ``name`` rests on first."""
        chain = () if name is None else (name, *reversed(UPSTREAM[name]))
        return next((q for q in chain if q in self.written), None)

    def _called(self, name: str | None) -> str:
        return "" if name is None else QUANTITIES[name][2]

    def _basis(self, source: str, own: bool) -> str:
        """What a mistake was recomputed from: the student's own values (named by the
        nearest they wrote), or the exact ones."""
        written = self._nearest_written(source) if own else None
        return f"your own {self._called(written)}" if written else f"the exact {self._called(source)}"

    def _shown(self, value: float, decimals: int) -> str:
        return round_value(float(value), Precision(decimals=decimals)).text

    def _swapped(self, row: GivenRow, k: int) -> str | None:
        """The entry this value belongs to, where the student swapped it: two entries of
        a row or of a column exchanged (each written where the other belongs), or the
        whole row worked out for another node or class. One number that merely equals
        some other entry is no evidence: in a big problem some entry always does."""
        name, r, c, text, d = row.quantity, row.row, row.columns[k], row.texts[k], row.decimals
        near = 0.5 * 10.0**-d * (1 + 1e-9) + 1e-12  # a float prefilter; _within decides
        for values in (self.exact_world[name], self.world.expected[name]):
            if _within(text, values[r, c], d):
                continue
            # exchanged: this value is (i, j)'s, and the student wrote (r, c)'s at (i, j)
            in_row = [(r, j) for j in range(values.shape[1]) if j != c]
            in_column = [(i, c) for i in np.flatnonzero(np.abs(values[:, c] - float(text)) <= near) if i != r]
            for i, j in in_row + in_column:
                there = self._written_at(name, i, j)
                if _within(text, values[i, j], d) and there is not None and _within(there, values[r, c], d):
                    return self.label(name, i, j)
            # the whole row is another row's (two numbers or more)
            if len(row.columns) > 1:
                written = np.array([float(t) for t in row.texts])
                close = np.all(np.abs(values[:, row.columns] - written) <= near, axis=1)
                for i in np.flatnonzero(close):
                    if i != r and all(_within(t, values[i, j], d) for t, j in zip(row.texts, row.columns)):
                        return self.label(name, i, c)
        return None

    def _written_at(self, name: str, r: int, c: int) -> str | None:
        """What the student wrote for entry (r, c) of ``name``, if anything."""
        row = self._given_rows.get((name, r))
        if row is None or c not in row.columns:
            return None
        return row.texts[row.columns.index(c)]

    def label(self, name: str, r: int, c: int) -> str:
        """``p[2] of node 5``-style name of one entry."""
        kind, symbol, _ = QUANTITIES[name]
        if name == "loss":
            return "L"
        if name == "loss_per_node":
            return f"ℓ of node {self.problem.node_ids[r]}"
        column = self.problem.classes[c] if kind in ("node", None) else c
        if kind == "node":
            return f"{symbol}[{column}] of node {self.problem.node_ids[r]}"
        if kind == "class":
            return f"{symbol}[{column}] of class {self.problem.classes[r]}"
        return f"{symbol}[{column}]"

    def _explain_slips(self, row: GivenRow, entries: list[Entry]) -> None:
        """A slip beside entries explained by a cause: say what that cause gives here
        (the article's dL/dw_0: two entries Σ(p−1)x, two slips even under it)."""
        causes = {e.cause for e in entries if e.cause not in (None, "slip", "swapped", "rounding_drift")}
        if not causes:
            return
        cause = sorted(causes)[0]
        for k, e in enumerate(entries):
            if e.cause != "slip":
                continue
            for _, world in self._bases(e.quantity):
                matches = [
                    values for c, _, values, _ in _alternatives(e.quantity, world, self.problem, self.reduction)
                    if c == cause and any(
                        _within(x.given, values[row.row, row.columns[j]], x.decimals)
                        for j, x in enumerate(entries) if x.cause == cause
                    )
                ]
                if matches:
                    value = self._shown(matches[0][row.row, row.columns[k]], e.decimals)
                    e.message += f"; a slip even under the same mistake ({CAUSES[cause]}), which gives {value}"
                    break
