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

from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Iterator

import numpy as np

from .core import exact, gradient_step
from .mistakes import Context, Mistake, cause_label, mistakes_for
from .problem import Problem
from .quantities import BY_NAME, QUANTITIES, as_2d, from_2d, present, upstream
from .rounding import (
    Precision,
    Requirement,
    at_least,
    coarser_than,
    digits_words,
    full,
    neighbours,
    round_array,
    round_value,
    snap,
    written_digits,
)

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
    requires: a right number written coarser says so."""
    coarse = is_coarse(written, decimals, exact_value, required)
    if coarse:
        as_written, asked = _written_words(written, decimals, required), _required_words(required)
    if within(written, exact_value, decimals):
        if coarse:
            return Candidate(exact_value, "correct", None,
                             f"right at the {as_written} written (exact: {full(exact_value)}); {asked} required",
                             noted=True)
        rounded = round_value(float(exact_value), Precision(decimals=decimals))
        if rounded.value != written.value:  # within half a unit, yet not the rounding: a tie
            low, high = neighbours(exact_value, decimals)
            return Candidate(exact_value, "correct", None,
                             f"right: the exact {format(rounded.snapped, 'f')} lies half-way, "
                             f"so {low} and {high} are both right", noted=True)
        return Candidate(exact_value, "correct", None, "right")
    for candidate in candidates:
        if within(written, candidate.value, decimals):
            if coarse and candidate.verdict == "correct":
                return replace(candidate, message=f"{candidate.message}; {as_written} written, {asked} required",
                               noted=True)
            return candidate
    slip = slip or f"an arithmetic slip; should be {shown(exact_value, decimals)}"
    return Candidate(exact_value, "wrong", "slip", slip)


def is_coarse(written: Written, decimals: int, exact_value: float, required: Precision | None) -> bool:
    """Whether ``written`` (read to ``decimals`` places) has fewer digits than ``required``
    (None: nothing is required), unless it is the exact value itself, digit for digit
    (0 or 0.5 is not coarse where 3 significant figures are required)."""
    if required is None or not coarser_than(written.text, decimals, required):
        return False
    return not (np.isfinite(exact_value) and written.value == snap(exact_value))


def _written_words(written: Written, decimals: int, required: Precision | None) -> str:
    """``1 decimal`` or ``2 significant figures``: how precisely a number was written."""
    if required is not None and required.decimals is None:
        return digits_words(Precision(decimals=None, sig_figs=written_digits(written.text, decimals)[1]))
    return digits_words(Precision(decimals=decimals))


def _required_words(required: Precision) -> str:
    """``2 decimals are``, ``1 significant figure is``."""
    words = digits_words(required)
    return words + (" is" if words.startswith("1 ") else " are")


# --- worlds: the step worked from rounded values and from the student's own -------------


class Substitute:
    """A carry for :func:`core.gradient_step`: keeps in ``follows[name]`` what follows for
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
        self.follows: dict[str, np.ndarray] = {}
        self.hops, self._hop = hops, 0

    def __call__(self, name: str, values: np.ndarray) -> np.ndarray:
        values2d = self.follows[name] = as_2d(name, values)
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
        # the step's quantities, in order
        self.quantities = present(problem.graph is not None, problem.convention.has_penalty_term,
                                  problem.optimiser_name)
        self.exact = self._world(substitute=False)
        self._arrays = _written_arrays({name: v.shape for name, v in self.exact.values.items()}, given)
        self.own = self._world(substitute=True)
        self._worlds: dict[tuple, World] = {}
        self.wrong_taint: dict[str, np.ndarray] = {}  # rows resting on a wrong written value
        self.coarse_taint: dict[str, np.ndarray] = {}  # rows resting on a too coarse written value
        self.named: dict[str, list[tuple[str, str]]] = {}  # (cause, message) of each wrong number, by quantity

    # -- worlds --

    def _world(self, substitute: bool, precision: Precision | None = None) -> World:
        """The step carried at ``precision`` (None: exactly), with the student's values
        put in when ``substitute``."""
        loss_precision = None if precision is None else precision.finer(self.requirement.loss_gap)
        hops = self.graph.propagation.hops if self.graph is not None else 1
        carry = Substitute(self._arrays if substitute else {}, precision, loss_precision, hops)
        result = gradient_step(*self.inputs, carry=carry if substitute or precision else exact, graph=self.graph,
                               convention=self.problem.convention, optimiser=self.problem.optimiser)
        values = {q.name: np.empty((0, 0)) for q in QUANTITIES}
        values.update((q.name, as_2d(q.name, getattr(result, q.name))) for q in self.quantities)
        return World(values, {**values, **carry.follows})

    def world(self, precision: Precision, own: bool) -> World:
        """The step carried at ``precision`` (cached), with the student's values put in
        when ``own``."""
        key = (precision, own)
        if key not in self._worlds:
            self._worlds[key] = self._world(own, precision)
        return self._worlds[key]

    def precisions(self, name: str, decimals: int) -> tuple[list[Precision], list[Precision]]:
        """The working precisions a number of ``name`` written to ``decimals`` places may
        have been carried at, each rounded half-up and half-even: (acceptable: the one it
        was written at when that is at least the required, then the required and one or
        two digits finer; too coarse: the one it was written at, when coarser)."""
        required = self.requirement.values
        candidates = [required, required.finer(1), required.finer(2)]
        if required.decimals is not None and decimals >= self._gap(name):
            candidates.insert(0, Precision(decimals=decimals - self._gap(name)))
        acceptable, too_coarse = [], []
        for precision in dict.fromkeys(candidates):
            for rounding in ROUNDINGS:
                (acceptable if at_least(precision, required) else too_coarse).append(
                    replace(precision, rounding=rounding)
                )
        return acceptable, too_coarse

    def by_hand(
        self, name: str, d: int, upstream_coarse: bool = False
    ) -> tuple[list[tuple[Precision, np.ndarray]], list[tuple[Precision, np.ndarray]]]:
        """The values of ``name`` (2-d) that working by hand at an acceptable precision
        gives, for a number written to ``d`` places: (at the places written or the
        required ones; at more places than written), each with its precision. Each
        precision gives what follows from the rounded values before it, and, for a
        number written to the required places resting on nothing too coarse, also that
        value kept to the precision's places and rounded again as it was written."""
        acceptable, _ = self.precisions(name, d)
        required = self._required(name).decimals
        kept = required is not None and d >= required and not upstream_coarse
        written_at = (d - self._gap(name)) if required is not None else None
        groups: tuple[list, list] = ([], [])
        for p in acceptable:
            world = self.world(p, own=False)
            group = groups[0] if written_at is None or (p.decimals or 0) <= written_at else groups[1]
            group.append((p, world.follows[name]))
            if kept and (p.decimals or 0) + self._gap(name) > d:
                group.append((p, world.values[name]))
        return groups

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
            judged: list[Entry] = []
            for row in (r for r in self.given if r.quantity == q.name):
                entries = [self._judge(row, k, bool(wrong[row.row]), bool(coarse[row.row]))
                           for k in range(len(row.columns))]
                self._one_cause(entries, {row.row: bool(wrong[row.row])})
                self._explain_slips(row, entries)
                judged += entries
                self.wrong_taint[q.name][row.row] = any(e.verdict != "correct" for e in entries)
                self.coarse_taint[q.name][row.row] = any(
                    e.coarse and not self._right_at_required(e) for e in entries
                )
            self._one_cause(judged, dict(enumerate(wrong.tolist())))  # then across its rows
            self.named[q.name] = [(e.cause, e.message) for e in judged if e.verdict == "wrong"]
            grade.entries += judged
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
        """The places entry k is read to. Where decimals are required, its own, filled
        with the zeros its row shows up to the required places (0.4 among 0.47 is 0.40,
        but 0.15 among 0.005 stays 0.15); where significant figures are, its own
        (-0.113 among -0.0675 has three)."""
        own = row.written[k].decimals
        required = self._required(row.quantity).decimals
        return own if required is None else max(own, min(row.decimals, required))

    def places(self, name: str, decimals: int, exact: float | None = None) -> int:
        """The places a value the student should have written is shown to: as they wrote,
        or the required places where they wrote fewer; a count that is whole (a degree
        of an unweighted graph, ``exact``) as a whole number."""
        required = self._required(name).decimals
        if BY_NAME[name].whole and exact is not None and float(exact).is_integer():
            return decimals
        return decimals if required is None else max(decimals, required)

    def _judge(self, row: GivenRow, k: int, upstream_wrong: bool, upstream_coarse: bool) -> Entry:
        name, r, c, written, d = row.quantity, row.row, row.columns[k], row.written[k], self._decimals(row, k)
        exact_value = float(self.exact.values[name][r, c])
        required = self.requirement.of(BY_NAME[name].loss_precision)
        # a count written as a whole number (a degree of 3 as 3, or as 2) is not coarse
        exact_count = (BY_NAME[name].whole and exact_value.is_integer()
                       and written.value == written.value.to_integral_value())
        required = None if exact_count else required
        verdict = judge(
            written, d, exact_value,
            self._candidates(row, k, upstream_wrong, upstream_coarse),
            required,
            slip="an arithmetic slip; " + self._target(name, r, c, d, upstream_wrong),
        )
        return Entry(
            name, row.key, r, c, written, exact_value, verdict.verdict, verdict.cause, verdict.message,
            d, row.line, is_coarse(written, d, exact_value, required), verdict.noted,
        )

    def _target(self, name: str, r: int, c: int, d: int, upstream_wrong: bool) -> str:
        """``should be X``: the exact value, or, where an earlier value was wrong, what
        follows from the student's own values (at the places of :meth:`_places`)."""
        exact_value = self.exact.values[name][r, c]
        d = self.places(name, d, exact_value)
        if upstream_wrong:
            follows = self.own.follows[name][r, c]
            if shown(follows, d) != shown(exact_value, d):
                return (f"should be {shown(follows, d)}, following from your {self._fed_by(name)} "
                        f"(exact: {shown(exact_value, d)})")
        return f"should be {shown(exact_value, d)}"

    def _fed_by(self, name: str) -> str:
        """What the messages call the nearest quantity ``name`` rests on that was written:
        the nearest one written wrong where there is one (L + R follows from a wrong L,
        not from the right R beside it)."""
        if not BY_NAME[name].parents:
            return ""
        wrong = next((q for q in reversed(upstream(name))
                      if q in self.written and self.wrong_taint.get(q, np.zeros(0, bool)).any()), None)
        return BY_NAME[wrong or self._nearest_written(name) or BY_NAME[name].parents[0]].called

    def _made_in_source(self, mistake: Mistake) -> bool:
        """Whether the student's own values that ``mistake`` is worked from already hold it (a mistake
        made on its source's value, :attr:`Mistake.on_source`, named with the same words in its source
        or before; for a convention, any convention): worked from them, it would be made twice, or on
        top of another convention (a λ/2 gradient given a share once more), so it is not."""
        if mistake.source is None or not mistake.on_source:
            return False
        what = mistake.message(self.context)
        return any(cause == mistake.cause and (cause == "convention" or message.startswith(what))
                   for q in (mistake.source, *upstream(mistake.source)) for cause, message in self.named.get(q, []))

    def _nearest_written(self, name: str) -> str | None:
        """The nearest quantity ``name`` is computed from that the student wrote any of."""
        return next((q for q in reversed(upstream(name)) if q in self.written), None)

    def _candidates(self, row: GivenRow, k: int, upstream_wrong: bool, upstream_coarse: bool) -> Iterator[Candidate]:
        """Every other value the number may match, in the order a marker considers them."""
        name, r, c, d = row.quantity, row.row, row.columns[k], self._decimals(row, k)
        exact_value = self.exact.values[name][r, c]
        target = self._target(name, r, c, d, upstream_wrong)
        exact_shown = shown(exact_value, self.places(name, d, exact_value))
        acceptable, too_coarse = self.precisions(name, d)
        fed_by = self._fed_by(name)
        rested_on = self._nearest_written(name) is not None
        written_group, finer_group = self.by_hand(name, d, upstream_coarse)

        def carried(group: list[tuple[Precision, np.ndarray]]) -> Iterator[Candidate]:
            """Worked another acceptable way: carrying values rounded as by hand."""
            for p, values in group:
                words = f"right for values carried at {digits_words(p)} as by hand (exact: {exact_shown})"
                yield Candidate(values[r, c], "correct", None, words, noted=True)

        yield from carried(written_group)  # at the places the student wrote (or the required ones)
        # from the student's own earlier values (exact, or carried as by hand)
        if rested_on:
            follows = [self.own.follows[name][r, c]] + [self.world(p, own=True).follows[name][r, c] for p in acceptable]
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
        yield from carried(finer_group)  # kept to more places than written: after what their own values give
        # carried at a precision coarser than required
        for p in too_coarse:
            for own in (False, True) if rested_on else (False,):
                value = self.world(p, own).follows[name][r, c]
                yield Candidate(value, "wrong", "rounding_drift",
                                f"carried at {digits_words(p)}, coarser than required ({target})")
        # a known mistake, recomputed from the student's own values, carried, or exact
        students = [p for p in acceptable + too_coarse if p.rounding == "half-up"][:2]  # as written; required
        # the mistake already named in a written value it rests on, made again here: penalised once (a marker's
        # error carried forward), whether carried from the written values or worked afresh; tried first, so that
        # where another mistake gives the same number, the one already named is taken
        named = [(q, self.named[q]) for q in reversed(upstream(name)) if q in self.named] if upstream_wrong else []
        bases = self._bases(name, students)
        computed: dict[tuple[int, int], np.ndarray] = {}

        def values_of(b: int, j: int, mistake: Mistake) -> np.ndarray:
            if (b, j) not in computed:
                computed[b, j] = mistake.compute(self.context, bases[b][1].basis(name))
            return computed[b, j]

        mistakes = mistakes_for(name, self.context)
        repeated: dict[int, str] = {}  # mistake -> the nearest quantity it was named in
        for j, mistake in enumerate(mistakes):
            what = mistake.message(self.context)
            found = (q for q, said in named if any(cause == mistake.cause and message.startswith(what)
                                                  for cause, message in said))
            if (q := next(found, None)) is not None:
                repeated[j] = q
        for b, (basis, _) in enumerate(bases):
            for j, mistake in enumerate(mistakes):
                if j in repeated and not (basis == "own" and self._made_in_source(mistake)):
                    value = values_of(b, j, mistake)[r, c]
                    where = BY_NAME[repeated[j]].called
                    same = "the same convention as in your " + where if mistake.cause == "convention" else \
                        f"the same mistake as in your {where} ({cause_label(mistake.cause, self.reduction)})"
                    yield Candidate(value, "follows_through", None,
                                    f"{same}, carried on: {shown(value, d)} (exact: {exact_shown})")
        for b, (basis, _) in enumerate(bases):
            for j, mistake in enumerate(mistakes):
                if j not in repeated and not (basis == "own" and self._made_in_source(mistake)):
                    yield Candidate(values_of(b, j, mistake)[r, c], "wrong", mistake.cause,
                                    self._mistake_message(mistake, basis, name, r, c, d, upstream_wrong))
        swapped = self._swapped(row, k)
        if swapped:
            yield Candidate(float(row.written[k]), "wrong", "swapped",
                            f"this is {swapped}: rows or columns swapped; {target}")
        required = self._required(name).decimals
        if name != "logits" and required is not None and d < required:
            for finer in (d + 1, d + 2):  # a coarse number: carried at more digits, then rounded again
                for rounding in ROUNDINGS:
                    value = self.world(self._value_precision(name, finer, rounding), own=False).values[name][r, c]
                    yield Candidate(value, "wrong", "rounding_drift", f"rounding drift (rounded twice); {target}")
        elif name == "logits":  # worked from the inputs: drift where each product was rounded before adding
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
        written = (source if source in self.written else self._nearest_written(source)) if basis == "own" else None
        if written:
            return f"your own {BY_NAME[written].called}"
        if basis == "carried":
            return f"{BY_NAME[source].called} rounded as by hand"
        return f"the exact {BY_NAME[source].called}"

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

    def _mistake_message(
        self, mistake: Mistake, basis: str, name: str, r: int, c: int, d: int, upstream_wrong: bool
    ) -> str:
        """What a mistake's verdict says: what was done, what it was reproduced from, and
        what the value should be on that basis."""
        where = f" (reproduced from {self._basis_words(mistake.source, basis)})" if mistake.source else ""
        aim = self._target(name, r, c, d, upstream_wrong and basis != "exact")
        return f"{mistake.message(self.context)}{where}; {aim}"

    def _one_cause(self, entries: list[Entry], upstream_wrong: dict[int, bool]) -> None:
        """Wrong numbers of one quantity that got different causes (or slips) one by one,
        where one mistake reproduces them all: that one cause for every one of them, as a
        marker writes it (a learning rate of 0.1 for 0.5 reproduces every updated weight,
        where one by one some look merely not updated). ``upstream_wrong``: by row."""
        wrong = [e for e in entries if e.verdict == "wrong" and e.cause != "swapped"]
        if len(wrong) < 2 or len({e.cause for e in wrong}) < 2:
            return
        name = wrong[0].quantity
        for basis, world in self._bases(name, [self.requirement.values]):
            for mistake in mistakes_for(name, self.context):
                if basis == "own" and self._made_in_source(mistake):
                    continue
                values = mistake.compute(self.context, world.basis(name))
                if all(within(e.written, values[e.row, e.column], e.decimals) for e in wrong):
                    for e in wrong:
                        e.cause = mistake.cause
                        e.message = self._mistake_message(
                            mistake, basis, name, e.row, e.column, e.decimals, upstream_wrong[e.row]
                        )
                    return

    def _explain_slips(self, row: GivenRow, entries: list[Entry]) -> None:
        """A slip beside entries explained by a cause: say what that cause (the one most of
        them share) gives here (the article's dL/dw_0: two entries Σ(p−1)x, two slips even
        under it)."""
        causes = Counter(e.cause for e in entries if e.cause not in (None, "slip", "swapped", "rounding_drift"))
        if not causes:
            return
        cause = causes.most_common(1)[0][0]
        explained = [(j, x) for j, x in enumerate(entries) if x.cause == cause]
        for k, e in enumerate(entries):
            if e.cause != "slip":
                continue
            for basis, world in self._bases(e.quantity, []):
                for mistake in mistakes_for(e.quantity, self.context):
                    if mistake.cause != cause or basis == "own" and self._made_in_source(mistake):
                        continue
                    values = mistake.compute(self.context, world.basis(e.quantity))
                    if any(within(row.written[j], values[row.row, row.columns[j]], x.decimals) for j, x in explained):
                        value = shown(values[row.row, row.columns[k]], e.decimals)
                        label = cause_label(cause, self.reduction)
                        e.message += f"; a slip even under the same mistake ({label}), which gives {value}"
                        break
                else:
                    continue
                break
