"""Presentation: Rich tables and JSON built from results. Nothing here prints."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from . import render_loss
from .conventions import share_terms
from .core import StepResult
from .errors import counted, printable
from .handwork import latex_escape
from .problem import Problem
from .quantities import (
    BY_NAME,
    adjacency_formula,
    degrees_formula,
    hop_formula,
    present,
    propagated_formula,
)
from .rounding import Precision, round_value

TIE_MARK = "*"
CARRY_MARK = "†"
MISPREDICTED_MARK = "✗"


@dataclass(frozen=True)
class Cell:
    """One table cell: a number as rounded (``text``), or a name; with its marks. Each
    output format writes it (the terminal and Markdown as ``0.69*†``, LaTeX with the
    number in math), so nothing is parsed back from text."""

    text: str
    number: bool = True
    tie: bool = False  # lay exactly half-way before rounding
    changed: bool = False  # carrying rounded values changed it
    mispredicted: bool = False  # a predicted class that is not the true one

    def __str__(self) -> str:
        marks = (TIE_MARK if self.tie else "") + (CARRY_MARK if self.changed else "")
        return self.text + marks + (f"  {MISPREDICTED_MARK}" if self.mispredicted else "")


class Cells:
    """Turns numbers into table cells at one precision and remembers the ties."""

    def __init__(self, precision: Precision) -> None:
        self.precision = precision
        self.ties: list[tuple[str, str]] = []

    def __call__(self, x: float) -> Cell:
        rounded = round_value(float(x), self.precision)
        if rounded.tie:
            self.ties.append((format(rounded.snapped, "f"), rounded.text))
        return Cell(rounded.text, tie=rounded.tie)

    def row(self, values: Iterable[float]) -> list[Cell]:
        return [self(v) for v in values]

    def footnote(self) -> str | None:
        """"* exactly half-way, rounded half-up: 0.685 -> 0.69", or None."""
        if not self.ties:
            return None
        pairs = ", ".join(f"{exact} → {text}" for exact, text in dict(self.ties).items())
        return f"{TIE_MARK} exactly half-way, rounded {self.precision.rounding}: {pairs}"


def name_cell(name: Any) -> Cell:
    """A node id or class name as a cell: text, never a number to typeset."""
    return Cell(str(name), number=False)


def plain(x: Any) -> str:
    """An input number as given (0.17, not 0.17000000000000001)."""
    if isinstance(x, (float, np.floating)):
        return format(float(x), ".12g")
    return str(x)


def _longest_word(cell: str | Cell) -> int:
    return max((len(word) for word in str(cell).split()), default=0)


@dataclass
class Section:
    """One step of the working: its formula, a table (headers and rows of text), and
    notes under the table. Plain data, so it can be written as Rich, Markdown or LaTeX.
    """

    formula: str
    headers: list[str]
    rows: list[list[str | Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    latex: str | None = None  # the formula as LaTeX, where it is known (else made from the text)
    total: tuple[str, Cell] | None = None  # a formula's value shown in a note (the loss), for carrying's marks

    def add_row(self, *cells: str | Cell) -> None:
        self.rows.append(list(cells))

    def add_notes(self, *notes: str | None) -> Section:
        self.notes += [note for note in notes if note]
        return self

    def _table(self, columns: list[int]) -> Table:
        table = Table(highlight=False)
        for i in columns:
            # a number is never cut short: its column is at least as wide as it is
            # (cells of several words may wrap between them)
            widest = max((_longest_word(row[i]) for row in self.rows), default=0)
            table.add_column(
                Text(printable(self.headers[i]), overflow="fold"),
                justify="right",
                style="bold" if i == 0 else None,
                min_width=widest,
                overflow="fold",
            )
        for row in self.rows:
            table.add_row(*(Text(printable(str(row[i]))) for i in columns))
        return table

    def _width(self, columns: list[int]) -> int:
        """The least width the table of ``columns`` takes with no number cut."""
        return 1 + sum(self._need(i) for i in columns)

    def _need(self, i: int) -> int:  # the widest word of column i plus padding and a border
        return max([len(self.headers[i])] + [_longest_word(row[i]) for row in self.rows]) + 3

    def column_groups(self, width: int) -> list[list[int]]:
        """Columns split into groups that fit ``width``, each led by the first column."""
        need = self._need
        groups, current, used = [], [0], 1 + need(0)
        for i in range(1, len(self.headers)):
            if used + need(i) > width and len(current) > 1:
                groups.append(current)
                current, used = [0], 1 + need(0)
            current.append(i)
            used += need(i)
        return groups + [current]

    def __rich_console__(self, console: Any, options: Any):
        """The formula on its own line (never squeezed to the table's width), the table
        with a bold first column and right-aligned numbers, then the notes. A table too
        wide for the terminal is split into several, as numpy wraps a wide array; on a
        terminal too narrow for even one column beside the first, the table keeps the
        width its numbers need (the terminal wraps it) rather than cut them. Characters a
        terminal would act on (escape codes in a node's name) are shown escaped."""
        yield Text(printable(self.formula), style="bold")
        for columns in self.column_groups(options.max_width):
            table = self._table(columns)
            width = self._width(columns)
            if width > options.max_width:
                yield from console.render(table, options.update(width=width, max_width=width))
            else:
                yield table
        for note in self.notes:
            yield Text(printable(note), style="dim")
        yield Text("")


def nodes_left_out(shown: int, n: int) -> str | None:
    """The note under a per-node table that shows only its first ``shown`` of n nodes."""
    if shown >= n:
        return None
    return f"… and {n - shown} more nodes, not shown (--show-nodes 0 shows all; --format json gives every value)"


def input_sections(problem: Problem, shown: int | None = None) -> list[Section]:
    """The embeddings with their true classes (the first ``shown`` nodes), and the
    layer's W and b, as given."""
    features = range(problem.Z.shape[1])
    n = len(problem.node_ids)
    shown = n if shown is None else min(shown, n)
    embeddings = Section(
        "Inputs: embeddings z_i and true class y_i", ["node", *(f"x_{j}" for j in features), "y"]
    )
    for node_id, z, label in zip(problem.node_ids[:shown], problem.Z[:shown], problem.y[:shown]):
        true = problem.classes[label] if label >= 0 else "—"
        embeddings.add_row(name_cell(node_id), *(Cell(plain(x)) for x in z), name_cell(true))
    embeddings.add_notes(nodes_left_out(shown, n))
    layer = Section(
        "Layer: W (one row w_c per class) and b",
        ["class", *(f"w_c[{j}]" for j in features), "b_c"],
        notes=[f"learning rate α = {plain(problem.learning_rate)}"],
    )
    for name, w, bias in zip(problem.classes, problem.W, problem.b):
        layer.add_row(name_cell(name), *(Cell(plain(x)) for x in w), Cell(plain(bias)))
    return [embeddings, layer]


def per_node_section(
    formula: str, problem: Problem, values: np.ndarray, symbol: str, cells: Cells, shown: int,
    latex: str | None = None,
) -> Section:
    """Rows = the first ``shown`` nodes, columns = classes."""
    section = Section(formula, ["node", *(f"{symbol}[{c}]" for c in problem.classes)], latex=latex)
    for node_id, row in zip(problem.node_ids[:shown], values[:shown]):
        section.add_row(name_cell(node_id), *cells.row(row))
    return section.add_notes(nodes_left_out(shown, len(values)), cells.footnote())


def per_class_section(
    formula: str, problem: Problem, W: np.ndarray, b: np.ndarray, symbols: tuple, cells: Cells,
    latex: str | None = None,
) -> Section:
    """Rows = classes, columns = features then the bias."""
    w_symbol, b_symbol = symbols
    features = (f"{w_symbol}[{j}]" for j in range(W.shape[1]))
    section = Section(formula, ["class", *features, b_symbol], latex=latex)
    for name, w, bias in zip(problem.classes, W, b):
        section.add_row(name_cell(name), *cells.row(w), cells(bias))
    return section.add_notes(cells.footnote())


def _heading(
    *names: str, title: str | None = None, reduction: str = "mean", graph: bool = False
) -> tuple[str, str]:
    """A table's title from the registry: its quantities' formulas side by side, as
    text and as LaTeX ("Gradients  ∂L/∂W = ...,  ∂L/∂b = ..."), as they read with a
    graph (the layer sees Ẑ) or without."""
    found = [BY_NAME[name] for name in names]
    text = [q.formula_for(reduction, graph) for q in found]
    latex = [q.latex_for(reduction, graph) for q in found]
    title = title or found[0].title
    return f"{title}  " + ",  ".join(text), rf"{latex_escape(title)} \quad $" + r",\quad ".join(latex) + "$"


def _class_symbols(weights: str, biases: str) -> tuple[str, str]:
    """Column symbols of a per-class table: ``∂L/∂w_c`` and ``∂L/∂b_c``."""
    return f"{BY_NAME[weights].symbol}_c", f"{BY_NAME[biases].symbol}_c"


def step_sections(
    problem: Problem,
    result: StepResult,
    precision: Precision,
    loss_precision: Precision,
    reduction: str,
    show_nodes: int | None = None,
) -> list[Section]:
    """The whole gradient step, one section per formula, in the order it is worked;
    per-node tables show the first ``show_nodes`` nodes (None: all). Sums, counts and
    the loss are over all nodes. Titles and formulas come from the quantity registry."""
    classes, n = problem.classes, len(problem.node_ids)
    shown = n if show_nodes is None else min(show_nodes, n)
    ids = problem.node_ids[:shown]
    left_out = nodes_left_out(shown, n)
    sections = input_sections(problem, shown)
    on_graph = problem.graph is not None
    if on_graph:
        sections += graph_sections(problem, result, precision, shown)
    text, latex = _heading("logits", graph=on_graph)
    symbol = BY_NAME["logits"].symbol
    sections.append(per_node_section(text, problem, result.logits, symbol, Cells(precision), shown, latex))

    cells = Cells(precision)
    text, latex = _heading("probabilities")
    p = BY_NAME["probabilities"].symbol
    softmax = Section(text, ["node", *(f"{p}[{c}]" for c in classes), "predicted", "true"], latex=latex)
    for node_id, row, pred, true in zip(ids, result.probabilities, result.predicted, problem.y):
        predicted = Cell(str(classes[pred]), number=False, mispredicted=pred != true)
        softmax.add_row(name_cell(node_id), *cells.row(row), predicted, name_cell(classes[true]))
    correct = int((result.predicted == problem.y).sum())
    sections.append(
        softmax.add_notes(left_out, f"{correct} of {counted(n, 'node')} predicted correctly", cells.footnote())
    )

    cells, loss_cells = Cells(precision), Cells(loss_precision)
    convention = problem.convention
    text, latex = _heading("loss_per_node")
    if not convention.plain:
        text, latex = f"{BY_NAME['loss_per_node'].title}  {render_loss.loss_formula(convention)}", None
    loss = Section(text, ["node", "y_i", "p_i[y_i]", "ℓ_i"], latex=latex)
    true_probs = result.probabilities[np.arange(shown), problem.y[:shown]]
    for node_id, true, p, ell in zip(ids, problem.y, true_probs, result.loss_per_node):
        loss.add_row(name_cell(node_id), name_cell(classes[true]), cells(p), loss_cells(ell))
    loss.total = (render_loss.total_formula(convention, reduction), loss_cells(result.loss))
    loss.add_notes(left_out, f"{loss.total[0]} = {loss.total[1]}  (N = {n})", *render_loss.convention_notes(convention))
    sections.append(loss.add_notes(cells.footnote(), loss_cells.footnote()))
    if convention.penalised:
        sections.append(penalty_section(convention, result, loss_precision, reduction))

    text, latex = _heading("grad_logits", reduction=reduction)
    if not convention.plain:
        text, latex = f"{BY_NAME['grad_logits'].title}  {render_loss.grad_logits_formula(convention, reduction)}", None
    sections.append(
        per_node_section(text, problem, result.grad_logits, BY_NAME["grad_logits"].symbol, Cells(precision), shown,
                         latex)
        .add_notes("Y: one-hot rows of the true classes" if convention.plain
                   else "t_i: the targets, w_c: the class weights")
    )
    text, latex = _heading("grad_W", "grad_b", title="Gradients", graph=on_graph)
    if convention.penalised:
        text, latex = f"{text},  plus the penalty's share {share_terms(convention, reduction)}", None
    gradients = per_class_section(text, problem, result.grad_W, result.grad_b, _class_symbols("grad_W", "grad_b"),
                                  Cells(precision), latex)
    sections.append(gradients)
    text, latex = _heading("W_new", "b_new")
    alpha = plain(problem.learning_rate)
    sections.append(
        per_class_section(f"{text}  (α = {alpha})", problem, result.W_new, result.b_new,
                          _class_symbols("W_new", "b_new"), Cells(precision), latex + rf" \quad ($\alpha = {alpha}$)")
    )
    return sections


MATRIX_NODES = 12  # Â is shown as a matrix up to this many nodes, else its non-zeros row by row


def penalty_section(convention: Any, result: StepResult, loss_precision: Precision, reduction: str = "mean") -> Section:
    """The L2 penalty: the data loss, the penalty and their sum, and the gradient's share."""
    cells = Cells(loss_precision)
    title, rows, notes = render_loss.penalty_rows(convention, result.loss, result.penalty, result.regularized_loss,
                                                  reduction)
    section = Section(title, ["", "value"])
    for name, value in rows:
        section.add_row(name_cell(name), cells(value))
    return section.add_notes(*notes, cells.footnote())


def graph_sections(problem: Problem, result: StepResult, precision: Precision, shown: int) -> list[Section]:
    """The degrees, Â (a matrix for a small graph, else its non-zeros summarised per
    node) and Ẑ (each hop for K ≤ 3), for the first ``shown`` nodes, titled from the registry."""
    graph, ids, n = problem.graph, problem.node_ids, len(problem.node_ids)
    p = graph.propagation
    A_hat = result.adjacency
    left_out = nodes_left_out(shown, n)
    kind = "directed" if p.directed else "undirected"
    merged = f"; {counted(graph.merged, 'listing')} merged (an edge listed twice, or both ways)" if graph.merged else ""
    edges_note = f"{counted(len(graph.source), f'{kind} edge')}{merged}"
    cells = Cells(precision)
    text, latex = degrees_formula(p.self_loops)
    degree = Section(f"{BY_NAME['degrees'].title}  {text}",
                     ["node", "neighbours j (Ã_ij ≠ 0)", "d̃_i" if p.self_loops else "d_i"],
                     latex=rf"{BY_NAME['degrees'].title} \quad ${latex}$")
    neighbours = np.split(A_hat.cols, np.searchsorted(A_hat.rows, np.arange(1, n)))
    for node_id, cols, d in zip(ids[:shown], neighbours, result.degrees):
        listed = ", ".join(str(ids[m]) for m in cols[:8]) + (f" … ({len(cols) - 8} more)" if len(cols) > 8 else "")
        shown_degree = Cell(str(int(d))) if float(d).is_integer() else cells(d)  # unweighted: a count
        degree.add_row(name_cell(node_id), Cell(listed or "—", number=False), shown_degree)
    sections = [degree.add_notes(left_out, edges_note, cells.footnote())]

    text, latex = adjacency_formula(p.norm)
    title, latex = f"{BY_NAME['adjacency'].title}  {text}", rf"{BY_NAME['adjacency'].title} \quad ${latex}$"
    cells = Cells(precision)
    if n <= MATRIX_NODES:
        matrix = np.asarray(A_hat)
        adjacency = Section(title, ["node", *(str(i) for i in ids)], latex=latex)
        for node_id, row in zip(ids[:shown], matrix):
            adjacency.add_row(name_cell(node_id), *(cells(x) if x else Cell("0") for x in row))
    else:
        adjacency = Section(title, ["node", "non-zeros", "Â_ii", "Σ_j Â_ij", "largest Â_ij"], latex=latex)
        values = np.split(A_hat.values, np.searchsorted(A_hat.rows, np.arange(1, n)))
        for i, (node_id, cols, row) in enumerate(zip(ids[:shown], neighbours, values)):
            diagonal = row[cols == i].sum()
            adjacency.add_row(name_cell(node_id), str(len(row)), cells(diagonal), cells(row.sum()),
                              cells(row.max(initial=0.0)))
        adjacency.add_notes(f"Â has {len(A_hat.values)} non-zeros (--format json lists them all)")
    sections.append(adjacency.add_notes(left_out, cells.footnote()))

    hops = result.hops if 1 < p.hops <= 3 else []
    for k, values in enumerate(hops[:-1], start=1):
        text, latex = hop_formula(k)
        sections.append(_feature_section(f"Hop {k}  {text}", ids, values, f"ẑ⁽{k}⁾", Cells(precision), shown,
                                         left_out, rf"Hop {k} \quad ${latex}$"))
    text, latex = propagated_formula(p.hops)
    title = BY_NAME["propagated"].title
    sections.append(_feature_section(f"{title}  {text}", ids, result.propagated, "ẑ", Cells(precision), shown,
                                     left_out, rf"{title} \quad ${latex}$"))
    return sections


def _feature_section(formula: str, ids: Any, values: np.ndarray, symbol: str, cells: Cells, shown: int,
                     left_out: str | None, latex: str | None = None) -> Section:
    section = Section(formula, ["node", *(f"{symbol}[{j}]" for j in range(values.shape[1]))], latex=latex)
    for node_id, row in zip(ids[:shown], values[:shown]):
        section.add_row(name_cell(node_id), *cells.row(row))
    return section.add_notes(left_out, cells.footnote())


def mark_carry_changes(carried: list[Section], exact: list[Section]) -> None:
    """Mark (†) each shown value that carrying rounded values changed, and say what
    exact carrying gives instead, under its table."""
    for ours, theirs in zip(carried, exact):
        changes = []
        for row, exact_row in zip(ours.rows, theirs.rows):
            for j in range(1, len(row)):
                mine, other = row[j], exact_row[j]
                if isinstance(mine, Cell) and mine.number and isinstance(other, Cell) and mine.text != other.text:
                    row[j] = replace(mine, changed=True)
                    changes.append(f"{ours.headers[0]} {row[0]} {ours.headers[j]}: {mine.text} (exact: {other.text})")
        if ours.total and theirs.total and ours.total[1].text != theirs.total[1].text:
            changes.append(f"with exact carrying {theirs.total[0]} = {theirs.total[1].text}")
        if changes:
            ours.add_notes(f"{CARRY_MARK} changed by carrying rounded values: " + "; ".join(changes))


def _json_value(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def step_json(problem: Problem, result: StepResult, reduction: str) -> dict:
    """The step at full precision, every quantity under its registry name (arrays as
    numpy arrays, for :mod:`jsonout` to write row by row); rows follow ``node_ids`` or
    ``classes``."""
    names = [_json_value(c) for c in problem.classes]
    data: dict[str, Any] = {
        "node_ids": [_json_value(i) for i in problem.node_ids],
        "classes": names,
        "labels": [names[i] for i in problem.y],
        "W": problem.W,
        "b": problem.b,
        "learning_rate": problem.learning_rate,
        "reduction": reduction,
    }
    if problem.loss is not None:
        data["loss_convention"] = problem.loss.as_dict()
    if problem.graph is not None:
        data.update(graph_json(problem, result))
    for q in present(problem.graph is not None, problem.convention.has_penalty_term, problem.optimiser_name):
        value = getattr(result, q.name)
        if q.name == "adjacency":  # its non-zeros, [row_id, col_id, value]
            ids = data["node_ids"]
            data[q.name] = [[ids[i], ids[j], float(x)] for i, j, x in zip(value.rows, value.cols, value.values)]
        else:
            data[q.name] = value
    if problem.graph is not None and problem.graph.propagation.hops > 1:
        data["hops"] = [np.asarray(hop) for hop in result.hops]
    data["predicted"] = [names[i] for i in result.predicted]
    return data


def graph_json(problem: Problem, result: StepResult) -> dict:
    """The graph's edges as merged, ``[source_id, target_id, weight]``, and the propagation settings."""
    graph = problem.graph
    ids = [_json_value(i) for i in problem.node_ids]
    edges = [[ids[s], ids[t], float(w)] for s, t, w in zip(graph.source, graph.target, graph.weight)]
    return {"edges": edges, "propagation": {**graph.propagation.as_dict(), "merged": graph.merged}}


def heading(title: str) -> Text:
    return Text(printable(title) + "\n", style="bold underline")


def explanation(explained: Any) -> Group:
    """A :class:`handwork.Explanation` for the terminal."""
    lines: list = [Text(printable(explained.title), style="bold underline")]
    for group, formulas in explained.groups:
        lines.append(Text(printable(group), style="bold"))
        lines += [Text("  " + printable(formula)) for formula in formulas]
    return Group(*lines, Text(""))
