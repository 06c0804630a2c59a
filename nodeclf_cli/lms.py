"""A problem as a practice quiz for a learning platform: Moodle XML and GIFT.

Every quantity of the registry is asked, each number with the exact value as its
answer and a tolerance of half a unit of the precision the problem requires (the
losses at theirs): Moodle accepts a response r when |r − exact| ≤ tolerance, which is
how ``check`` judges a number written at the required precision (ties included).
Where the grader also accepts a value worked from values rounded as by hand (the
loss from two-decimal probabilities), that value is a second full-marks answer.

- Moodle XML: one cloze question per quantity, a ``{1:NUMERICAL:=value:tolerance}``
  blank per number (``~=other:tolerance`` for a second answer), under a table of the
  problem's inputs.
- GIFT: one numerical question per number, ``{#value:tolerance}`` (``{#=value:tolerance
  =other:tolerance}`` for two), each stating the problem in plain text.

Under a loss convention or an optimiser (the problem's ``loss:`` and ``optimizer:``), the statement
says it (:func:`conditions`: the class weights, the smoothing, the penalty's form and λ, the
optimiser, its settings and its state before the step), each question gives its quantity's formula
as the problem uses it (:func:`render_loss.quantity_formula`), and the answers are the key's.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .conventions import L2_SOURCES, penalty_formula
from .grading import Grader
from .optimstep import BUFFERS
from .problem import Problem, problem_from_data
from .quantities import BY_NAME, UPDATE_RULES
from .render import plain
from .render_loss import convention_notes, quantity_formula, share_formula, total_formula
from .rounding import Precision, Requirement, snap
from .sources import parse_yaml


@dataclass(frozen=True)
class Blank:
    """One number asked: where it is (``h[0] of node 1``), the values accepted (the
    exact one first, as the decimal the float stands for, then those the grader
    accepts as worked from values rounded as by hand) and the tolerance."""

    label: str
    values: tuple[Decimal, ...]
    tolerance: Decimal

    @property
    def value(self) -> Decimal:
        return self.values[0]


def tolerance(value: Decimal, precision: Precision) -> Decimal:
    """Half a unit of the last digit ``precision`` keeps of ``value``: 0.005 for 2
    decimals; for 3 significant figures of 0.0675, 0.00005."""
    if precision.decimals is not None:
        return Decimal(5).scaleb(-precision.decimals - 1)
    last = (value.adjusted() if value else 0) - precision.sig_figs + 1
    return Decimal(5).scaleb(last - 1)


def blanks(problem: Problem, requirement: Requirement) -> dict[str, list[Blank]]:
    """Every number of one exact step, by quantity, in the registry's order; each with
    the values :class:`grading.Grader` accepts as right for a number written at the
    required precision: the exact value, and what working by hand at an acceptable
    precision gives (:meth:`grading.Grader.by_hand`), each a full-marks answer."""
    grader = Grader(problem, [], "mean", requirement)
    asked = {}
    for q in grader.quantities:
        exact = grader.exact.values[q.name]
        precision = requirement.of(q.loss_precision)
        decimals = precision.decimals if precision.decimals is not None else 0
        carried = [values for group in grader.by_hand(q.name, decimals) for _, values in group]
        group = []
        for r in range(exact.shape[0]):
            for c in range(exact.shape[1]):
                value = snap(exact[r, c])
                tol = tolerance(value, precision)
                values = [value]
                for world in carried:  # every value check accepts around
                    other = snap(world[r, c])
                    if other not in values:
                        values.append(other)
                for k in range(len(values) - 1, 0, -1):  # then those accepting nothing the others do not
                    if _covered(values[k] - tol, values[k] + tol, values[:k] + values[k + 1:], tol):
                        del values[k]
                group.append(Blank(grader.label(q.name, r, c), tuple(values), tol))
        asked[q.name] = group
    return asked


def _covered(low: Decimal, high: Decimal, values: list[Decimal], tol: Decimal) -> bool:
    """Whether [low, high] lies within the union of the intervals [v − tol, v + tol]:
    an answer accepting nothing the others do not is left out."""
    reach = low
    for value in sorted(values):
        if value - tol > reach:
            break
        reach = max(reach, value + tol)
        if reach >= high:
            return True
    return False


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def cloze_answers(blank: Blank) -> str:
    """``=0.69:0.005`` (or ``=0.69:0.005~=0.7:0.005``): each accepted value, full marks."""
    return "~".join(f"={_number(v)}:{_number(blank.tolerance)}" for v in blank.values)


def gift_answers(blank: Blank) -> str:
    """``0.69:0.005``, or ``=0.69:0.005 =0.7:0.005`` where more than one value is accepted."""
    if len(blank.values) == 1:
        return f"{_number(blank.value)}:{_number(blank.tolerance)}"
    return " ".join(f"={_number(v)}:{_number(blank.tolerance)}" for v in blank.values)


def inputs_html(problem: Problem) -> str:
    """The problem's inputs as HTML tables: embeddings and labels, then W and b."""
    e = html.escape
    d = problem.Z.shape[1]
    nodes = "".join(
        f"<tr><td>{e(str(node))}</td>" + "".join(f"<td>{plain(x)}</td>" for x in problem.Z[i])
        + f"<td>{e(str(problem.classes[problem.y[i]]))}</td></tr>"
        for i, node in enumerate(problem.node_ids)
    )
    classes = "".join(
        f"<tr><td>{e(str(name))}</td>" + "".join(f"<td>{plain(x)}</td>" for x in problem.W[c])
        + f"<td>{plain(problem.b[c])}</td></tr>"
        for c, name in enumerate(problem.classes)
    )
    head = "".join(f"<th>z[{j}]</th>" for j in range(d))
    graph = graph_text(problem)
    return (
        f"<table border=\"1\"><tr><th>node</th>{head}<th>label y</th></tr>{nodes}</table>"
        f"<table border=\"1\"><tr><th>class</th>{''.join(f'<th>w[{j}]</th>' for j in range(d))}<th>b</th></tr>"
        f"{classes}</table>" + (f"<p>{e(graph)}</p>" if graph else "")
        + "".join(f"<p>{e(sentence)}</p>" for sentence in conditions(problem))
    )


def graph_text(problem: Problem) -> str:
    """A graph problem's edges and how it propagates, in words ("" without a graph)."""
    graph = problem.graph
    if graph is None:
        return ""
    ids = problem.node_ids
    weighted = bool((graph.weight != 1).any())
    edges = ", ".join(
        f"{ids[i]}{'→' if graph.propagation.directed else '–'}{ids[j]}" + (f" ({plain(w)})" if weighted else "")
        for i, j, w in zip(graph.source, graph.target, graph.weight)
    )
    p = graph.propagation
    loops = "with self-loops (Ã = A + I)" if p.self_loops else "without self-loops (Ã = A)"
    norm = {"sym": "Â = D̃^-1/2 Ã D̃^-1/2", "rw": "Â = D̃^-1 Ã", "none": "Â = Ã"}[p.norm]
    return f"Edges: {edges}. Propagation: {loops}, {norm}, Ẑ = Â^{p.hops} Z; the layer sees Ẑ."


def inputs_text(problem: Problem) -> str:
    """The problem's inputs on one line, for GIFT."""
    nodes = "; ".join(
        f"node {n}: z = ({', '.join(plain(x) for x in problem.Z[i])}), y = {problem.classes[problem.y[i]]}"
        for i, n in enumerate(problem.node_ids)
    )
    classes = "; ".join(f"class {name}: w = ({', '.join(plain(x) for x in problem.W[c])}), b = {plain(problem.b[c])}"
                        for c, name in enumerate(problem.classes))
    graph = graph_text(problem)
    return f"{nodes}. {classes}. " + (f"{graph} " if graph else "") + " ".join(conditions(problem))


# torch.optim's class of each optimiser
TORCH_CLASSES = {"momentum": "SGD(momentum)", "nesterov": "SGD(nesterov=True)", "adam": "Adam", "adamw": "AdamW"}
SETTING_SYMBOLS = {"momentum": "μ", "dampening": "τ", "beta1": "β1", "beta2": "β2", "eps": "ε", "weight_decay": "λ"}


def conditions(problem: Problem) -> list[str]:
    """The step's conditions as sentences: the learning rate; the loss (the mean, or PyTorch's
    weighted mean, with the class weights, the smoothing and the L2 penalty's form, λ or C, and
    share); the optimiser, its settings and its state before the step."""
    convention = problem.convention
    alpha = f"Learning rate α = {plain(problem.learning_rate)}."
    if convention.class_weights is None:
        loss = "The loss: the mean cross-entropy over the nodes"
    else:
        loss = f"The loss: the weighted mean over the nodes, {total_formula(convention, 'mean')}"
    sentences = [alpha, f"{loss}; each node's {quantity_formula('loss_per_node', convention)}."]
    sentences += [f"{note[0].upper()}{note[1:]}." for note in convention_notes(convention)]
    if convention.penalised:
        form = convention.l2_form
        sentences.append(f"L2 penalty ({form}: {L2_SOURCES[form]}): {penalty_formula(convention)}; "
                         f"{share_formula(convention)}; b is {'' if convention.bias_penalised else 'not '}penalised.")
    optimiser = problem.optimiser
    if optimiser is not None and optimiser.name != "sgd":
        settings = ", ".join(f"{SETTING_SYMBOLS[key]} = {value:g}"
                             for key, value in optimiser.settings.as_dict().items())
        sentences.append(f"Optimiser: {optimiser.name}, as torch.optim.{TORCH_CLASSES[optimiser.name]} ({settings}); "
                         f"the update {UPDATE_RULES[optimiser.name][0]}, then θ_new = θ + Δθ.")
        sentences.append(state_text(problem))
    return sentences


def state_text(problem: Problem) -> str:
    """The optimiser's state before the step, in words: zero (this is step 1), or t and each buffer."""
    state = problem.optimiser.state
    if state.t == 0:
        return "Its state before this step is zero (t = 0, every buffer 0): this is step t = 1."
    buffers = []
    for key in BUFFERS[problem.optimiser.name]:
        values = getattr(state, key)
        if values is None:  # momentum's buffer before its first step with momentum
            continue
        W, b = values
        rows = "; ".join(f"class {name}: ({', '.join(plain(x) for x in row)})" for name, row in zip(problem.classes, W))
        buffers.append(f"{key} of W: {rows}; {key} of b: ({', '.join(plain(x) for x in b)})")
    return f"Its state before this step: t = {state.t} steps taken" + "".join(f"; {text}" for text in buffers) \
        + f". This is step t = {state.t + 1}."


def formula(problem: Problem, name: str) -> str:
    """The quantity's formula as this problem uses it (its convention, graph and optimiser)."""
    return quantity_formula(name, problem.convention, "mean", problem.graph is not None, problem.optimiser_name)


def moodle_xml(problem: Problem, requirement: Requirement, category: str = "nodeclf") -> str:
    """The quiz as Moodle XML: a category, then a cloze question per quantity."""
    quiz = ET.Element("quiz")
    head = ET.SubElement(ET.SubElement(quiz, "question", type="category"), "category")
    ET.SubElement(head, "text").text = f"$course$/top/{category}"
    statement = inputs_html(problem)
    for name, asked in blanks(problem, requirement).items():
        q = BY_NAME[name]
        precision = requirement.of(q.loss_precision).describe()
        cells = "".join(
            f"<tr><td>{html.escape(b.label)}</td>"
            f"<td>{{1:NUMERICAL:{cloze_answers(b)}}}</td></tr>" for b in asked
        )
        text = (f"<p>One gradient step on this problem.</p>{statement}"
                f"<p><b>{html.escape(q.title)}</b>: {html.escape(formula(problem, name))}. "
                f"Give each number to {html.escape(precision)}.</p><table border=\"1\">{cells}</table>")
        question = ET.SubElement(quiz, "question", type="cloze")
        ET.SubElement(ET.SubElement(question, "name"), "text").text = q.title
        ET.SubElement(ET.SubElement(question, "questiontext", format="html"), "text").text = text
        ET.SubElement(ET.SubElement(question, "generalfeedback", format="html"), "text").text = ""
        ET.SubElement(question, "penalty").text = "0.3333333"
        ET.SubElement(question, "hidden").text = "0"
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"


def gift_escape(text: str) -> str:
    """Text as GIFT reads it literally: its special characters escaped."""
    for special in "\\~=#{}:":
        text = text.replace(special, "\\" + special)
    return text


def gift(problem: Problem, requirement: Requirement, category: str = "nodeclf") -> str:
    """The quiz as GIFT: a numerical question per number."""
    lines = [f"$CATEGORY: $course$/top/{category}", ""]
    statement = gift_escape(inputs_text(problem))
    for name, asked in blanks(problem, requirement).items():
        q = BY_NAME[name]
        precision = requirement.of(q.loss_precision).describe()
        for b in asked:
            title = gift_escape(f"{q.title}: {b.label}")
            lines += [
                f"::{title}::One gradient step on this problem. {statement} "
                f"{gift_escape(formula(problem, name))}. What is {gift_escape(b.label)}, to {gift_escape(precision)}? "
                f"{{#{gift_answers(b)}}}",
                "",
            ]
    return "\n".join(lines)



def quiz_files(problem_text: str, moodle: Path | None, gift_path: Path | None) -> list[tuple[Path, str]]:
    """The quizzes asked for, of the problem written as ``problem_text`` (YAML)."""
    problem = problem_from_data(parse_yaml(problem_text, "generated problem"), "generated problem", Path.cwd())
    requirement = problem.requirement or Requirement()
    files = []
    if moodle is not None:
        files.append((moodle, moodle_xml(problem, requirement)))
    if gift_path is not None:
        files.append((gift_path, gift(problem, requirement)))
    return files
