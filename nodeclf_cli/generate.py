"""Practice problems with "nice" numbers, and their answer keys in the check format.

A problem states the precision its answers must be written at (``precision:``); its
key writes every quantity of the registry at that precision. A loss convention
(:mod:`conventions`: class weights, label smoothing, an L2 penalty) is written as the
problem's ``loss:`` key, and the key then holds the penalty and the regularised loss. With an
optimiser (``optimizer:``, from ``generate --optimizer``), the key holds its state and update too.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import numpy as np

from .conventions import L2_FORMS, PLAIN, LossConvention, describe
from .core import StepResult, gradient_step
from .optim import ADAM_FAMILY
from .optimstep import OptimiserSettings
from .problem import problem_from_data
from .quantities import present
from .roster import Assignment, Roster, file_stems, manifest_csv, student_seed
from .rounding import LOSS_EXTRA_DIGITS, Requirement, round_value
from .sources import parse_yaml, yaml_scalar

LEARNING_RATES = (0.1, 0.2, 0.5)


def _nice(units: np.ndarray, decimals: int) -> list[str]:
    """Whole numbers of 10^-decimals written as decimals: 14, 2 -> "0.14"."""
    return [format(Decimal(int(u)).scaleb(-decimals).normalize(), "f") for u in units]


def connected_edges(nodes: int, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` distinct undirected edges joining all ``nodes`` (numbered from 1): a
    random spanning tree (each node after the first joined to an earlier one, in a
    random order), then edges drawn at random among those not yet there."""
    order = rng.permutation(nodes) + 1
    edges = {tuple(sorted((int(order[k]), int(order[rng.integers(k)])))) for k in range(1, nodes)}
    others = [(i, j) for i in range(1, nodes + 1) for j in range(i + 1, nodes + 1) if (i, j) not in edges]
    extra = rng.choice(len(others), size=count - len(edges), replace=False) if count > len(edges) else []
    return sorted(edges | {others[k] for k in extra})


def generate(nodes: int, dim: int, classes: int, seed: int, decimals: int = 2, edges: int | None = None) -> dict:
    """A random problem whose numbers have few decimals, as a textbook's do.

    Embeddings are tenths in [0.1, 0.9]; weights have ``decimals`` decimals in
    (-1, 1), biases in (-0.5, 0.5); every class has a node when there are enough
    nodes. With ``edges``, a connected random graph of that many edges (see
    :func:`connected_edges`; at least nodes - 1, at most all pairs). The same seed
    gives the same problem.
    """
    rng = np.random.default_rng(seed)
    scale = 10**decimals
    embeddings = rng.integers(1, 10, size=(nodes, dim))
    weights = rng.integers(-scale + 1, scale, size=(classes, dim))
    biases = rng.integers(-scale // 2 + 1, scale // 2, size=classes)
    labels = rng.permutation(np.resize(np.arange(classes), nodes))
    learning_rate = LEARNING_RATES[int(rng.integers(len(LEARNING_RATES)))]
    graph = {} if edges is None else {"edges": connected_edges(nodes, edges, rng)}  # last: the rest as without
    return {
        **graph,
        "embeddings": [_nice(row, 1) for row in embeddings],
        "labels": [int(c) for c in labels],
        "W": [_nice(row, decimals) for row in weights],
        "b": _nice(biases, decimals),
        "learning_rate": learning_rate,
        "precision": {"decimals": decimals, "loss_decimals": decimals + LOSS_EXTRA_DIGITS},
    }


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def loss_line(convention: LossConvention) -> list[str]:
    """The ``loss:`` key of a convention, with a comment saying it in words ([] for the plain loss)."""
    settings = convention.as_dict()
    if not settings:
        return []

    def text(value: object) -> str:  # a number as it reads back (2, not 2.0), a form's name, a list of numbers
        if isinstance(value, list):
            return _flow([text(v) for v in value])
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value) if value in L2_FORMS else yaml_scalar(value)

    written = ", ".join(f"{key}: {text(value)}" for key, value in settings.items())
    return [f"# The loss's convention: {describe(convention)}", f"loss: {{{written}}}"]


def problem_yaml(problem: dict, command: str, convention: LossConvention = PLAIN) -> str:
    """The problem file's text, commented as ``data/example.yaml`` is; with the
    ``loss:`` key of ``convention`` where it is not the plain loss."""
    lines = [
        f"# A practice problem made by: {command}",
        "# Work one gradient step by hand, then check it with: nodeclf check ANSWERS.yaml",
        "embeddings:",
        *(f"  {i + 1}: {_flow(row)}" for i, row in enumerate(problem["embeddings"])),
        "labels: {" + ", ".join(f"{i + 1}: {c}" for i, c in enumerate(problem["labels"])) + "}",
        f"classes: {_flow([str(c) for c in range(len(problem['W']))])}",
        "weights:",
        "  W:",
        *(f"    - {_flow(row)}  # w_{c}" for c, row in enumerate(problem["W"])),
        f"  b: {_flow(problem['b'])}",
        f"learning_rate: {problem['learning_rate']}",
        *(["# The graph: Ẑ = D̃^-1/2 (A + I) D̃^-1/2 Z feeds the layer (one hop, GCN's normalisation)",
           "edges: [" + ", ".join(f"[{i}, {j}]" for i, j in problem["edges"]) + "]"] if "edges" in problem else []),
        *loss_line(convention),
        *optimiser_lines(problem.get("optimizer")),
        "# Answers are marked at this precision (a number written coarser is noted):",
        "precision: {" + ", ".join(f"{k}: {v}" for k, v in problem["precision"].items()) + "}",
    ]
    return "\n".join(lines) + "\n"


def _yaml_number(x: float) -> str:
    """A number as YAML reads it back as one: 1.0e-08, not 1e-08 (which YAML 1.1 reads as text)."""
    text = format(x, "g")
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}{'' if '.' in mantissa else '.0'}e{exponent}" if exponent else text


def optimiser_lines(settings: OptimiserSettings | None) -> list[str]:
    """The problem's ``optimizer:`` key: the name and every setting of it, the state zero (the first step)."""
    if settings is None:
        return []
    values = ", ".join(f"{key}: {_yaml_number(value)}" for key, value in settings.as_dict().items())
    return ["# The update: as torch.optim's optimiser of this name, from a state of zero (t = 1)",
            f"optimizer: {{name: {settings.name}{', ' + values if values else ''}}}"]


# Adam's second moment, (1 − β2) g², is about 10⁻⁵: at a few decimals it is 0 and the step α m̂ / ε,
# so Adam's answers are worked at significant figures (the losses 2 more)
ADAM_PRECISION = {"sig_figs": 3, "loss_sig_figs": 5}


def with_optimiser(problem: dict, settings: OptimiserSettings | None) -> dict:
    """The problem with its ``optimizer`` (None: none) and, for Adam, answers worked at significant figures."""
    if settings is None:
        return problem
    precision = ADAM_PRECISION if settings.name in ADAM_FAMILY else problem["precision"]
    return {**problem, "optimizer": settings, "precision": precision}


def optimiser_options(settings: OptimiserSettings | None) -> str:
    """``generate``'s options that give this optimiser (for the problem's first comment)."""
    if settings is None:
        return ""
    return f" --optimizer {settings.name}" + "".join(
        f" --{key.replace('_', '-')} {value:g}" for key, value in settings.as_dict().items())


def answers_yaml(
    result: StepResult, problem_ref: str, node_ids: tuple, classes: tuple, requirement: Requirement,
    penalised: bool = False, optimiser: str = "sgd",
) -> str:
    """The answer key in the ``nodeclf check`` format, every quantity of the registry
    at the precision the problem requires; ``problem_ref`` is the text after
    ``problem:`` (a relative path, or an indented inline problem); ``penalised``: the
    loss has an L2 penalty term (the penalty and the regularised loss are asked); ``optimiser``:
    the optimiser's name (its state and update are asked, as the registry has them)."""
    lines = [
        "# The answer key: every value of one exact gradient step, written rounded",
        f"# (half-up) to the {requirement.describe()} the problem requires.",
        "# Grade a hand-worked sheet in this format with: nodeclf check FILE",
        "problem:" + ("" if problem_ref.startswith("\n") else " ") + problem_ref,
        "answers:",
    ]
    keys = {"node": node_ids, "class": classes}
    for q in present(result.hops is not None, penalised, optimiser):
        precision = requirement.of(q.loss_precision)
        values = np.asarray(getattr(result, q.name))  # Â as a node x node matrix

        def text(x: float) -> str:
            return round_value(float(x), precision).text

        if q.rows is None and q.columns is None:  # a single number
            lines.append(f"  {q.name}: {text(values)}")
        elif q.rows is None:  # one list over the classes
            lines.append(f"  {q.name}: {_flow([text(v) for v in values])}")
        elif q.columns is None:  # one number per node
            lines.append(f"  {q.name}: {{" + ", ".join(f"{k}: {text(v)}" for k, v in zip(keys[q.rows], values)) + "}")
        else:
            lines.append(f"  {q.name}:")
            lines += [f"    {k}: {_flow([text(v) for v in row])}" for k, row in zip(keys[q.rows], values)]
    return "\n".join(lines) + "\n"


def answer_key(problem_text: str, problem_path: Path | None, key_path: Path) -> str:
    """The answer key for a generated problem. Its ``problem:`` is the problem file's
    path relative to the key, or the problem itself when it has no file."""
    problem = problem_from_data(parse_yaml(problem_text, "generated problem"), "generated problem", Path.cwd())
    result = gradient_step(problem.Z, problem.y, problem.W, problem.b, problem.learning_rate, graph=problem.graph,
                           convention=problem.convention, optimiser=problem.optimiser)
    if problem_path is not None:
        ref = Path(os.path.relpath(problem_path.resolve(), key_path.resolve().parent)).as_posix()
    else:
        body = [line for line in problem_text.splitlines() if not line.startswith("#")]
        ref = "".join(f"\n  {line}" for line in body)
    return answers_yaml(result, ref, problem.node_ids, problem.classes, problem.requirement or Requirement(),
                        problem.convention.has_penalty_term, problem.optimiser_name)


def command_line(nodes: int, dim: int, classes: int, seed: int, decimals: int, edges: int | None = None,
                 convention: LossConvention = PLAIN) -> str:
    """The ``nodeclf generate`` command that makes this problem again on its own."""
    graph = f" --edges {edges}" if edges is not None else ""
    return (f"nodeclf generate --nodes {nodes} --dim {dim} --classes {classes} --seed {seed} "
            f"--decimals {decimals}{graph}{loss_options(convention)}")


def loss_options(convention: LossConvention) -> str:
    """The options that give ``convention``: `` --class-weights 2,1,1 --l2 0.01 --l2-form half --no-l2-bias``."""
    c = convention
    number = lambda x: str(int(x)) if float(x).is_integer() else repr(float(x))  # noqa: E731
    weights = "" if c.class_weights is None else " --class-weights " + ",".join(map(number, c.class_weights))
    smoothing = f" --label-smoothing {number(c.label_smoothing)}" if c.label_smoothing else ""
    l2 = (f" --l2 {number(c.l2)} --l2-form {c.l2_form} --{'' if c.bias_penalised else 'no-'}l2-bias"
          if c.penalised else "")
    return weights + smoothing + l2


def class_set(
    roster: Roster, course_seed: int, out_dir: Path, nodes: int, dim: int, classes: int, decimals: int,
    edges: int | None = None, convention: LossConvention = PLAIN, optimiser: OptimiserSettings | None = None,
) -> list[tuple[Path, str]]:
    """A class's files: for each student of ``roster``, a problem made from their own
    seed (:func:`roster.student_seed`) at ``out_dir/problems/STUDENT.yaml`` and its key
    at ``out_dir/keys/STUDENT.yaml``; then ``out_dir/manifest.csv`` listing them. Each
    problem has the loss's ``convention`` and the ``optimiser`` (None: plain SGD, no
    ``optimizer:`` key), Adam's at significant figures as :func:`with_optimiser` asks."""
    stems = file_stems(roster)
    files: list[tuple[Path, str]] = []
    assignments = []
    for student in roster.students:
        seed = student_seed(course_seed, student)
        problem_path = out_dir / "problems" / f"{stems[student]}.yaml"
        key_path = out_dir / "keys" / f"{stems[student]}.yaml"
        text = problem_yaml(with_optimiser(generate(nodes, dim, classes, seed, decimals, edges), optimiser),
                            command_line(nodes, dim, classes, seed, decimals, edges, convention)
                            + optimiser_options(optimiser), convention)
        text = text.replace("\n", f"\n# For {roster.id_column} {' '.join(student.split())}\n", 1)
        files += [(problem_path, text), (key_path, answer_key(text, problem_path, key_path))]
        assignments.append(Assignment(student, seed, problem_path.resolve(), key_path.resolve()))
    files.append((out_dir / "manifest.csv", manifest_csv(roster.id_column, assignments, out_dir.resolve())))
    return files
