"""Grading hand-worked answers, as a marker awarding error-carried-forward credit.

Each written number is read once (:class:`Written`) and judged at the precision it
was written with (its digits; a row's entries share the precision of its most
precise entry). :func:`judge` is the whole rule: a number is right when it lies within
half a unit of its last digit of the exact value, ties included; otherwise the first
*candidate* it lies that close to decides: a value worked another acceptable way
(carrying values rounded at the required precision, or from the student's own right
values), what follows from their earlier wrong values, or a mistake that recomputing
reproduces. The :class:`Grader` lists the candidates, in that order, from *worlds*:
the core's own step run with a carry that rounds (as by hand) and substitutes what
the student wrote (:class:`Substitute`), so every world is the textbook's formulas.

A number written coarser than the problem requires (its ``precision:``) is right
when it is right at the precision written, with a note; a value carried from such
numbers that misses the exact value is wrong, ``rounding_drift``; what follows from
that follows through.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Iterator

import numpy as np

from . import quantities
from .core import exact, gradient_step
from .mistakes import CAUSES, Context, mistakes_for
from .problem import Problem
from .quantities import BY_NAME, QUANTITIES, as_2d, from_2d, present, upstream
from .rounding import Precision, Requirement, coarser_than, round_array, round_value, snap, written_digits

ROUNDINGS = ("half-up", "half-even")


@dataclass(frozen=True)
class Written:
    """A number as the student wrote it: its text and its exact decimal value."""

    text: str
    value: Decimal

    @classmethod
    def parse(cls, text: str) -> Written:
        text = text.strip()
        return cls(text, Decimal(text))

    @property
    def decimals(self) -> int:
        exponent = self.value.as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0

    def __float__(self) -> float:
        return float(self.value)


@dataclass
class GivenRow:
    """One row of written answers: ``written[k]`` is column ``columns[k]`` of row ``row``
    of the quantity's 2-d array (see :func:`quantities.as_2d`)."""

    quantity: str
    row: int  # node or class position; 0 for the loss and per-class vectors
    key: Any  # node id or class name as written, None for the loss and b vectors
    columns: list[int]
    texts: list[str]
    line: int | None
    written: list[Written] = field(init=False)

    def __post_init__(self) -> None:
        self.written = [Written.parse(text) for text in self.texts]

    @property
    def decimals(self) -> int:
        """The row's precision: that of its most precise entry (0.4 among 0.47 is 0.40)."""
        return max(w.decimals for w in self.written)


@dataclass
class Entry:
    """The verdict on one written number, at its place (row, column) in the quantity."""

    quantity: str
    key: Any
    row: int
    column: int
    written: Written
    expected: float  # the exact value
    verdict: str  # correct, follows_through, wrong
    cause: str | None
    message: str
    decimals: int  # the precision it was judged at
    line: int | None
    coarse: bool = False  # written with fewer digits than the problem requires
    noted: bool = False  # a right answer whose expected value differs from what was written

    @property
    def given(self) -> str:
        """The number as the student wrote it."""
        return self.written.text

    @property
    def index(self) -> int | None:
        """The column as JSON names it: None for the loss and the per-node losses."""
        return None if BY_NAME[self.quantity].columns is None else self.column


@dataclass
class Grade:
    entries: list[Entry] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(entry.verdict == verdict for entry in self.entries)

    @property
    def first_wrong(self) -> Entry | None:
        return next((e for e in self.entries if e.verdict == "wrong"), None)


# --- the judgement of one number --------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A value the written number may match, and the verdict if it does."""

    value: float
    verdict: str
    cause: str | None
    message: str
    noted: bool = False  # a right answer that differs from the exact one: the table says why


def within(written: Written, value: float, decimals: int) -> bool:
    """Whether ``written`` lies within half a unit of its ``decimals``-th place of ``value``."""
    if not np.isfinite(value):
        return False
    try:
        return abs(written.value - snap(value)) <= Decimal(5).scaleb(-decimals - 1)
    except InvalidOperation:
        return False


def shown(value: float, decimals: int) -> str:
    return round_value(float(value), Precision(decimals=decimals)).text


def judge(
    written: Written, decimals: int, exact_value: float, candidates: Iterable[Candidate],
    required: Precision | None = None, slip: str | None = None,
) -> Candidate:
    """The verdict on ``written`` (read to ``decimals`` places) whose exact value is
    ``exact_value``: right when within half a unit of it; otherwise the first of
    ``candidates`` (taken lazily, in order) it lies within half a unit of; otherwise a
    slip (``slip`` is its message). ``required`` is the precision the problem
    requires, for the note on a number written coarser."""
    if within(written, exact_value, decimals):
        rounded = round_value(float(exact_value), Precision(decimals=decimals))
        coarse = required is not None and coarser_than(written.text, decimals, required)
        if coarse:
            digits = f"{decimals} decimal{'s' if decimals != 1 else ''}"
            return Candidate(exact_value, "correct", None,
                             f"right at the {digits} written (exact: {full_digits(exact_value)}); "
                             f"{_required_words(required)} required", noted=True)
        if rounded.value != written.value:  # within half a unit, yet not the rounding: a tie
            other = round_value(float(exact_value), Precision(decimals=decimals, rounding="half-even")).text
            pair = sorted({rounded.text, other, written.text})
            return Candidate(exact_value, "correct", None,
                             f"right: the exact {format(rounded.snapped, 'f')} lies half-way, "
                             f"so {' and '.join(pair)} are both right", noted=True)
        return Candidate(exact_value, "correct", None, "right")
    for candidate in candidates:
        if within(written, candidate.value, decimals):
            return candidate
    slip = slip or f"an arithmetic slip; should be {shown(exact_value, decimals)}"
    return Candidate(exact_value, "wrong", "slip", slip)


def full_digits(value: float) -> str:
    """A value to 6 significant digits, as worked out (0.330151)."""
    return format(Decimal(format(float(value), ".6g")), "f")


def _required_words(required: Precision) -> str:
    if required.decimals is not None:
        return f"{required.decimals} decimal{'s are' if required.decimals != 1 else ' is'}"
    return f"{required.sig_figs} significant figure{'s are' if required.sig_figs != 1 else ' is'}"


# --- worlds: the step worked from rounded values and from the student's own -------------


class Substitute:
    """A carry for :func:`core.gradient_step`: keeps in ``before[name]`` what follows for
    ``name`` from the values before it (2-d), then rounds it at ``precision`` (the
    losses at ``loss_precision``), as by hand, when given one, and puts in what the
    student wrote, for the steps after it to use. With K hops the propagated embeddings
    are carried at each hop, and the student's written Ẑ is put in at the last one
    (``hops``: K)."""

    def __init__(
        self, given: dict[str, tuple[np.ndarray, np.ndarray]],
        precision: Precision | None = None, loss_precision: Precision | None = None, hops: int = 1,
    ) -> None:
        self.given, self.precision, self.loss_precision = given, precision, loss_precision
        self.before: dict[str, np.ndarray] = {}
        self.hops, self._hop = hops, 0

    def __call__(self, name: str, values: np.ndarray) -> np.ndarray:
        values2d = self.before[name] = as_2d(name, values)
        if self.precision is not None:
            values2d = round_array(values2d, self.loss_precision if BY_NAME[name].loss_precision else self.precision)
        if name == "propagated":
            self._hop += 1
            if self._hop < self.hops:  # an earlier hop: rounded, never the written Ẑ
                return from_2d(name, values2d)
        if name in self.given:
            written, mask = self.given[name]
            values2d = np.where(mask, written, values2d)
        return from_2d(name, values2d)


def _written_arrays(shapes: dict[str, tuple], rows: list[GivenRow]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each answered quantity's written values on a NaN background, and their mask
    (``shapes``: each quantity's 2-d shape)."""
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for row in rows:
        if row.quantity not in arrays:
            shape = shapes[row.quantity]
            arrays[row.quantity] = (np.full(shape, np.nan), np.zeros(shape, bool))
        values, mask = arrays[row.quantity]
        for column, written in zip(row.columns, row.written):
            values[row.row, column] = float(written)
            mask[row.row, column] = True
    return arrays


@dataclass
class World:
    """One way of working the step: ``values`` each quantity as used later (2-d:
    rounded, or the student's own where they are put in); ``follows`` what follows
    for each from the values before it, not yet rounded. A quantity the problem has
    not (a graph's, without edges) is an empty array in both."""

    values: dict[str, np.ndarray]
    follows: dict[str, np.ndarray]

    def basis(self, name: str) -> dict[str, np.ndarray]:
        """The values a mistake in ``name`` is worked from: everything as used, and
        ``name`` itself as what follows from before it."""
        return {**self.values, name: self.follows[name]}


class Grader:
    def __init__(
        self, problem: Problem, given: list[GivenRow], reduction: str = "mean",
        requirement: Requirement = Requirement(),
    ):
        self.problem, self.given, self.reduction, self.requirement = problem, given, reduction, requirement
        self.context = Context(problem, reduction)
        self.written = {row.quantity for row in given}  # the quantities the student wrote any of
        self._rows = {(row.quantity, row.row): row for row in given}
        self.inputs = (problem.Z, problem.y, problem.W, problem.b, problem.learning_rate, reduction)
        self.graph = problem.graph
        self.quantities = present(problem.graph is not None)  # the step's quantities, in order
        self.exact = self._world(substitute=False)
        self._arrays = _written_arrays({name: v.shape for name, v in self.exact.values.items()}, given)
        self.own = self._world(substitute=True)
        self._worlds: dict[tuple, World] = {}
        self.wrong_taint: dict[str, np.ndarray] = {}  # rows resting on a wrong written value
        self.coarse_taint: dict[str, np.ndarray] = {}  # rows resting on a too coarse written value

    # -- worlds --

    def _world(self, substitute: bool, precision: Precision | None = None) -> World:
        """The step carried at ``precision`` (None: exactly), with the student's values
        put in when ``substitute``."""
        loss_precision = None if precision is None else precision.finer(self.requirement.loss_gap)
        hops = self.graph.propagation.hops if self.graph is not None else 1
        carry = Substitute(self._arrays if substitute else {}, precision, loss_precision, hops)
        result = gradient_step(*self.inputs, carry=carry if substitute or precision else exact, graph=self.graph)
        values = {q.name: np.empty((0, 0)) for q in QUANTITIES}
        values.update((q.name, as_2d(q.name, quantities.value(result, q.name))) for q in self.quantities)
        return World(values, {**values, **carry.before})

    def world(self, precision: Precision, own: bool) -> World:
        """The step carried at ``precision`` (cached), with the student's values put in
        when ``own``."""
        key = (precision, own)
        if key not in self._worlds:
            self._worlds[key] = self._world(own, precision)
        return self._worlds[key]

    def precisions(self, name: str, decimals: int) -> tuple[list[Precision], list[Precision]]:
        """The working precisions a number of ``name`` written to ``decimals`` places may
        have been carried at: the required one and the one it was written at (acceptable
        when at least the required), each rounded half-up and half-even."""
        required = self.requirement.values
        candidates = [required]
        if required.decimals is not None and decimals >= self._gap(name):
            candidates.append(Precision(decimals=decimals - self._gap(name)))
        good, coarse = [], []
        for precision in dict.fromkeys(candidates):
            acceptable = precision == required or (precision.decimals or 0) >= (required.decimals or 0)
            for rounding in ROUNDINGS:
                (good if acceptable else coarse).append(replace(precision, rounding=rounding))
        return good, coarse

    def _gap(self, name: str) -> int:
        """How many more digits ``name`` is written at than the values it is worked from."""
        return self.requirement.loss_gap if BY_NAME[name].loss_precision else 0

    # -- grading --

    def grade(self) -> Grade:
        grade = Grade()
        for q in self.quantities:
            shape = self.exact.values[q.name].shape
            wrong, coarse = self._upstream(q.name, shape[0])
            self.wrong_taint[q.name], self.coarse_taint[q.name] = wrong.copy(), coarse.copy()
            for row in (r for r in self.given if r.quantity == q.name):
                entries = [self._judge(row, k, bool(wrong[row.row]), bool(coarse[row.row]))
                           for k in range(len(row.columns))]
                self._explain_slips(row, entries)
                grade.entries += entries
                self.wrong_taint[q.name][row.row] = any(e.verdict != "correct" for e in entries)
                self.coarse_taint[q.name][row.row] = any(
                    e.coarse and not self._right_at_required(e) for e in entries
                )
        return grade

    def _upstream(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Which rows of ``name`` rest on a wrong, or on a too coarse, value written before it."""
        out = []
        for taints in (self.wrong_taint, self.coarse_taint):
            taint = np.zeros(rows, bool)
            for parent in BY_NAME[name].parents:
                if parent not in taints:  # a graph's quantity, in a problem without one
                    continue
                if BY_NAME[name].row_by_row:
                    taint |= taints[parent]
                else:
                    taint |= taints[parent].any()
            out.append(taint)
        return out[0], out[1]

    def _required(self, name: str) -> Precision:
        return self.requirement.of(BY_NAME[name].loss_precision)

    def _coarse_words(self, name: str, r: int) -> str:
        """``1-decimal``: the precision of the coarsest written row that row ``r`` of
        ``name`` rests on, in the nearest quantity the student wrote before it."""
        nearest = self._nearest_written(name)
        after = upstream(name)[upstream(name).index(nearest) + 1:]
        same_row = all(BY_NAME[q].row_by_row for q in (*after, name))
        rows = [row for row in self.given if row.quantity == nearest and (row.row == r or not same_row)]
        if self._required(nearest).decimals is None:
            figures = min((written_digits(w.text, w.decimals)[1] for row in rows for w in row.written), default=1)
            return f"{figures}-significant-figure"
        return f"{min((row.decimals for row in rows), default=0)}-decimal"

    def _right_at_required(self, entry: Entry) -> bool:
        """A coarse number that, read at the required precision, is still right (0.3 for
        0.2973 is 0.30): carrying it does no harm."""
        required = round_value(entry.expected, self._required(entry.quantity)).text
        return within(entry.written, entry.expected, Written.parse(required).decimals)

    def _decimals(self, row: GivenRow, k: int) -> int:
        """The places entry k is read to: its row's (0.4 among 0.47 is 0.40) where
        decimals are required; its own where significant figures are (-0.113 among
        -0.0675 has three)."""
        return row.decimals if self.requirement.values.decimals is not None else row.written[k].decimals

    def _judge(self, row: GivenRow, k: int, upstream_wrong: bool, upstream_coarse: bool) -> Entry:
        name, r, c, written, d = row.quantity, row.row, row.columns[k], row.written[k], self._decimals(row, k)
        exact_value = float(self.exact.values[name][r, c])
        required = self.requirement.of(BY_NAME[name].loss_precision)
        # a count written as a whole number (a degree of 3 as 3, or as 2) is not coarse
        exact_count = (BY_NAME[name].whole and exact_value.is_integer()
                       and written.value == written.value.to_integral_value())
        verdict = judge(
            written, d, exact_value,
            self._candidates(row, k, upstream_wrong, upstream_coarse),
            None if exact_count else required,
            slip="an arithmetic slip; " + self._target(name, r, c, d, upstream_wrong),
        )
        return Entry(
            name, row.key, r, c, written, exact_value, verdict.verdict, verdict.cause, verdict.message,
            d, row.line, not exact_count and coarser_than(written.text, d, required), verdict.noted,
        )

    def _target(self, name: str, r: int, c: int, d: int, upstream_wrong: bool) -> str:
        """``should be X``: the exact value, or, where an earlier value was wrong, what
        follows from the student's own values."""
        exact_value = self.exact.values[name][r, c]
        if upstream_wrong:
            follows = self.own.follows[name][r, c]
            if shown(follows, d) != shown(exact_value, d):
                return (f"should be {shown(follows, d)}, following from your {self._fed_by(name)} "
                        f"(exact: {shown(exact_value, d)})")
        return f"should be {shown(exact_value, d)}"

    def _fed_by(self, name: str) -> str:
        """What the messages call the nearest quantity ``name`` rests on that was written."""
        nearest = self._nearest_written(name)
        return BY_NAME[nearest or BY_NAME[name].parents[0]].called if BY_NAME[name].parents else ""

    def _nearest_written(self, name: str) -> str | None:
        """The nearest quantity ``name`` is computed from that the student wrote any of."""
        return next((q for q in reversed(upstream(name)) if q in self.written), None)

    def _candidates(self, row: GivenRow, k: int, upstream_wrong: bool, upstream_coarse: bool) -> Iterator[Candidate]:
        """Every other value the number may match, in the order a marker considers them."""
        name, r, c, d = row.quantity, row.row, row.columns[k], self._decimals(row, k)
        exact_value = self.exact.values[name][r, c]
        target = self._target(name, r, c, d, upstream_wrong)
        exact_shown = shown(exact_value, d)
        good, coarse = self.precisions(name, d)
        fed_by = self._fed_by(name)
        rested_on = self._nearest_written(name) is not None
        # worked another acceptable way: carrying values rounded as by hand
        for p in good:
            value = self.world(p, own=False).follows[name][r, c]
            yield Candidate(value, "correct", None,
                            f"right for values carried at {_precision_words(p)} as by hand "
                            f"(exact: {exact_shown})", noted=True)
        # from the student's own earlier values (exact, or carried as by hand)
        if rested_on:
            follows = [self.own.follows[name][r, c]] + [self.world(p, own=True).follows[name][r, c] for p in good]
            for value in follows:
                if upstream_wrong:
                    yield Candidate(value, "follows_through", None,
                                    f"follows from your {fed_by}: {shown(value, d)} (exact: {exact_shown})")
                elif upstream_coarse:
                    yield Candidate(value, "wrong", "rounding_drift",
                                    f"carried from your {self._coarse_words(name, r)} {fed_by} "
                                    f"({_required_words(self._required(self._nearest_written(name)))} required); "
                                    f"{target}")
                else:
                    yield Candidate(value, "correct", None,
                                    f"right for your own rounded {fed_by} (exact: {exact_shown})", noted=True)
        # carried at a precision coarser than required
        for p in coarse:
            for own in (False, True) if rested_on else (False,):
                value = self.world(p, own).follows[name][r, c]
                yield Candidate(value, "wrong", "rounding_drift",
                                f"carried at {_precision_words(p)}, coarser than required ({target})")
        # a known mistake, recomputed from the student's own values, carried, or exact
        for basis, world in self._bases(name, [p for p in good + coarse if p.rounding == "half-up"]):
            for mistake in mistakes_for(name, self.context):
                values = mistake.compute(self.context, world.basis(name))
                where = f" (reproduced from {self._basis_words(mistake.source, basis)})" if mistake.source else ""
                yield Candidate(values[r, c], "wrong", mistake.cause, f"{mistake.what}{where}; {target}")
        swapped = self._swapped(row, k)
        if swapped:
            yield Candidate(float(row.written[k]), "wrong", "swapped",
                            f"this is {swapped}: rows or columns swapped; {target}")
        if name != "logits":
            for finer in (d + 1, d + 2):  # carried at more digits, then rounded again
                for rounding in ROUNDINGS:
                    value = self.world(self._value_precision(name, finer, rounding), own=False).values[name][r, c]
                    yield Candidate(value, "wrong", "rounding_drift", f"rounding drift (rounded twice); {target}")
        else:  # worked from the inputs: drift where each product was rounded before adding
            for value in self._logit_from_rounded_terms(r, c, d):
                yield Candidate(value, "wrong", "rounding_drift",
                                f"each product rounded before adding (rounding drift); {target}")

    def _value_precision(self, name: str, decimals: int, rounding: str) -> Precision:
        """The values' precision of a chain whose ``name`` is written to ``decimals``."""
        return Precision(decimals=max(decimals - self._gap(name), 0), rounding=rounding)

    def _bases(self, name: str, precisions: list[Precision]) -> list[tuple[str, World]]:
        """The worlds a mistake is recomputed in, each named: the student's own values
        (where they wrote anything ``name`` is computed from), carried at their precision,
        and the exact."""
        if self._nearest_written(name) is None:
            return [("carried", self.world(p, own=False)) for p in precisions] + [("exact", self.exact)]
        return [("own", self.own)] + [("own", self.world(p, own=True)) for p in precisions] + [("exact", self.exact)]

    def _basis_words(self, source: str, basis: str) -> str:
        written = self._nearest_written_from(source) if basis == "own" else None
        if written:
            return f"your own {BY_NAME[written].called}"
        if basis == "carried":
            return f"{BY_NAME[source].called} rounded as by hand"
        return f"the exact {BY_NAME[source].called}"

    def _nearest_written_from(self, source: str) -> str | None:
        chain = (source, *reversed(upstream(source)))
        return next((q for q in chain if q in self.written), None)

    def _logit_from_rounded_terms(self, node: int, cls: int, decimals: int) -> list[float]:
        """h_i[c] with each product z_i[k] w_c[k] and b_c rounded to ``decimals`` before
        they are added, half-up and half-even."""
        Z = self.problem.Z if self.graph is None else self.exact.values["propagated"]
        terms = [*(Z[node] * self.problem.W[cls]), self.problem.b[cls]]
        return [
            float(sum(round_value(float(t), Precision(decimals=decimals, rounding=r)).value for t in terms))
            for r in ROUNDINGS
        ]

    def _swapped(self, row: GivenRow, k: int) -> str | None:
        """The entry this value belongs to, where the student swapped it: two entries of
        a row or of a column exchanged (each written where the other belongs), or the
        whole row worked out for another node or class. One number that merely equals
        some other entry is no evidence: in a big problem some entry always does."""
        name, r, c, written, d = row.quantity, row.row, row.columns[k], row.written[k], self._decimals(row, k)
        near = 0.5 * 10.0**-d * (1 + 1e-9) + 1e-12  # a float prefilter; within decides
        for values in (self.exact.values[name], self.own.follows[name]):
            if within(written, values[r, c], d):
                continue
            # exchanged: this value is (i, j)'s, and the student wrote (r, c)'s at (i, j)
            in_row = [(r, j) for j in range(values.shape[1]) if j != c]
            in_column = [(i, c) for i in np.flatnonzero(np.abs(values[:, c] - float(written)) <= near) if i != r]
            for i, j in in_row + in_column:
                there = self._written_at(name, i, j)
                if within(written, values[i, j], d) and there is not None and within(there, values[r, c], d):
                    return self.label(name, i, j)
            # the whole row is another row's (two numbers or more)
            if len(row.columns) > 1:
                numbers = np.array([float(w) for w in row.written])
                close = np.all(np.abs(values[:, row.columns] - numbers) <= near, axis=1)
                for i in np.flatnonzero(close):
                    if i != r and all(within(w, values[i, j], d) for w, j in zip(row.written, row.columns)):
                        return self.label(name, i, c)
        return None

    def _written_at(self, name: str, r: int, c: int) -> Written | None:
        """What the student wrote for entry (r, c) of ``name``, if anything."""
        row = self._rows.get((name, r))
        if row is None or c not in row.columns:
            return None
        return row.written[row.columns.index(c)]

    def label(self, name: str, r: int, c: int) -> str:
        """``p[2] of node 5``-style name of one entry."""
        q = BY_NAME[name]
        if q.axes == ():
            return q.symbol
        if q.axes == ("node",):
            return f"{q.symbol} of node {self.problem.node_ids[r]}"
        column = {"class": self.problem.classes, "node": self.problem.node_ids}.get(q.columns, range(c + 1))[c]
        if q.rows == "node":
            return f"{q.symbol}[{column}] of node {self.problem.node_ids[r]}"
        if q.rows == "class":
            return f"{q.symbol}[{column}] of class {self.problem.classes[r]}"
        return f"{q.symbol}[{column}]"

    def _explain_slips(self, row: GivenRow, entries: list[Entry]) -> None:
        """A slip beside entries explained by a cause: say what that cause gives here
        (the article's dL/dw_0: two entries Σ(p−1)x, two slips even under it)."""
        causes = {e.cause for e in entries if e.cause not in (None, "slip", "swapped", "rounding_drift")}
        if not causes:
            return
        cause = sorted(causes)[0]
        explained = [(j, x) for j, x in enumerate(entries) if x.cause == cause]
        for k, e in enumerate(entries):
            if e.cause != "slip":
                continue
            for _, world in self._bases(e.quantity, []):
                for mistake in mistakes_for(e.quantity, self.context):
                    if mistake.cause != cause:
                        continue
                    values = mistake.compute(self.context, world.basis(e.quantity))
                    if any(within(row.written[j], values[row.row, row.columns[j]], x.decimals) for j, x in explained):
                        value = shown(values[row.row, row.columns[k]], e.decimals)
                        e.message += f"; a slip even under the same mistake ({CAUSES[cause]}), which gives {value}"
                        break
                else:
                    continue
                break


def _precision_words(p: Precision) -> str:
    if p.decimals is not None:
        return f"{p.decimals} decimal{'s' if p.decimals != 1 else ''}"
    return f"{p.sig_figs} significant figure{'s' if p.sig_figs != 1 else ''}"
