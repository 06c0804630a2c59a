"""Reading an answers file for ``nodeclf check``, keeping every number's written digits.

``yaml.safe_load`` turns 0.50 into 0.5; a student who wrote 0.50 claimed two
decimals, so numbers are read as subclasses of int and float that keep their text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NodeclfError, counted, unknown
from .grading import GivenRow
from .problem import (
    Positions,
    Problem,
    bundled_example,
    find_file,
    find_problem,
    load_problem,
    load_requirement,
    problem_from_data,
)
from .quantities import BY_NAME, NAMES
from .rounding import Requirement
from .sources import (
    Mapping,
    Sequence,
    _LocatingLoader,
    check_keys,
    is_number_text,
    load_yaml_or_name,
    to_number,
)

ANSWER_FILE_KEYS = ("problem", "student", "precision", "answers")

# answers shipped inside the package, by the name that picks them on the command line
ANSWER_EXAMPLES = {"article": "article_answers"}


def find_answers(path: Path) -> Path:
    """The answers file ``path``, or the bundled answers it names (``article``: the
    answers the article printed) where no such file exists."""
    return find_file(path, ANSWER_EXAMPLES)


class WrittenInt(int):
    text: str


class WrittenFloat(float):
    text: str


class _AnswerLoader(_LocatingLoader):
    """The locating loader, with numbers that remember how they were written."""


def _written(kind: type, construct: Any) -> Any:
    """A constructor of ``kind`` (WrittenInt, WrittenFloat): the number as the problem
    loader reads it, keeping the digits written where they spell it in decimal
    (``0.50``, ``1_000``); other YAML 1.1 spellings (``0x1F``, ``0b101``, ``1:30``, the
    octal ``017``) keep the decimal digits of the number they stand for."""

    def constructor(loader: _AnswerLoader, node: Any) -> Any:
        number = construct(loader, node)
        value = kind(number)
        text = node.value.replace("_", "")
        value.text = text if is_number_text(text) and float(text) == number else str(number)
        return value

    return constructor


_AnswerLoader.add_constructor(
    "tag:yaml.org,2002:int", _written(WrittenInt, _LocatingLoader.construct_yaml_int)
)
_AnswerLoader.add_constructor(
    "tag:yaml.org,2002:float", _written(WrittenFloat, _LocatingLoader.construct_yaml_float)
)


def _text(value: Any, source: str, line: int | None, where: str) -> str:
    """The number as written, after checking that it is one."""
    to_number(value, source, line, where)
    return getattr(value, "text", None) or str(value).strip()


def _vector(value: Any, length: int, what: str, source: str, line: int | None, where: str) -> list:
    if not isinstance(value, Sequence):
        raise NodeclfError(f"expected a list of {counted(length, 'number')} ({what})", source, line, where)
    if len(value) != length:
        raise NodeclfError(
            f"expected {counted(length, 'number')} ({what}), found {len(value)}", source, line, where
        )
    return [_text(v, source, line, where) for v in value]


def _rows(name: str, value: Any, problem: Problem, source: str, line: int | None) -> list[GivenRow]:
    """The written rows of quantity ``name``, shaped as the registry says."""
    quantity = BY_NAME[name]
    kind = quantity.rows
    C, d = problem.n_classes, problem.Z.shape[1]
    if quantity.axes == ():
        return [GivenRow(name, 0, None, [0], [_text(value, source, line, name)], line)]
    if kind is None:  # grad_b, b_new: a list over the classes, or class -> number
        if isinstance(value, Mapping):
            classes, first, texts = Positions(problem.classes, "class"), {}, []
            for cls, number in value.items():
                place = value.key_lines[cls]
                _find_once(classes, cls, first, value, source, place, f"{name}[{cls}]")
                texts.append(_text(number, source, place, f"{name}[{cls}]"))
            return [GivenRow(name, 0, None, list(first), texts, line)]
        return [GivenRow(name, 0, None, list(range(C)), _vector(value, C, "one per class", source, line, name), line)]
    if not isinstance(value, Mapping):
        raise NodeclfError(f"expected a mapping of {kind} to its values", source, line, name)
    rows, first = [], {}
    positions = Positions(problem.node_ids if kind == "node" else problem.classes, kind)
    for key, entry in value.items():
        place, where = value.key_lines[key], f"{name}[{key}]"
        index = _find_once(positions, key, first, value, source, place, where)
        if quantity.columns is None:  # one number per node
            rows.append(GivenRow(name, index, key, [0], [_text(entry, source, place, where)], place))
            continue
        length, what = {"class": (C, "one per class"), "feature": (d, "one per feature"),
                        "node": (len(problem.node_ids), "one per node")}[quantity.columns]
        values = _vector(entry, length, what, source, place, where)
        rows.append(GivenRow(name, index, key, list(range(length)), values, place))
    return rows


def _find_once(
    positions: Positions, key: Any, first: dict[int, Any], value: Mapping, source: str, line: int | None, where: str
) -> int:
    """The position of ``key``, or an error where it is unknown or was given already
    (as 1 and "1", say); ``first`` keeps the key each position was first given as."""
    position = positions.find(key, source, line, where)
    if position in first:
        earlier = first[position]
        raise NodeclfError(f"given twice (first as {earlier!r}, line {value.key_lines[earlier]})", source, line, where)
    first[position] = key
    return position


@dataclass(frozen=True)
class AnswerSheet:
    """A student's answers: the problem they answer, the rows they wrote, and the
    precision they must be written at (the answers file's, else the problem's)."""

    problem: Problem
    rows: list[GivenRow]
    requirement: Requirement
    student: str | None = None  # the sheet's student:, when it names one


def load_answers(
    path: Path, problems: dict[tuple, Problem] | None = None, loss: dict | None = None, optimizer: dict | None = None
) -> AnswerSheet:
    """The problem an answers file refers to, the rows of answers it gives and the
    precision required; ``path`` may also name bundled answers (see :func:`find_answers`).
    ``problems`` caches the problem files loaded, by resolved path and options, for a class's sheets;
    ``loss`` (the loss options, as :func:`problem.load_loss` takes them) overrides the problem's ``loss:``;
    ``optimizer``: the optimiser's options, overriding the problem's key (see :func:`problem.load_optimiser`)."""
    path = find_answers(path)
    data = load_yaml_or_name(path, f"the bundled answers: {', '.join(ANSWER_EXAMPLES)}", _AnswerLoader)
    source = str(path)
    check_keys(data, ANSWER_FILE_KEYS, path, "a mapping with problem: and answers:", "problem: and answers:")
    spec = data.get("problem")
    needs = ("weights", "learning_rate")  # to be checked against; check has no --weights or --lr to give them
    if spec is None:
        problem = load_problem(bundled_example(), require=needs, options=False, loss=loss, optimizer=optimizer)
    elif isinstance(spec, Mapping):
        problem = problem_from_data(spec, source, path.parent, require=needs, options=False, loss=loss,
                                    optimizer=optimizer)
    elif isinstance(spec, str):
        problem_path = find_problem(Path(spec), path.parent)
        if problems is None:
            problem = load_problem(problem_path, require=needs, options=False, loss=loss, optimizer=optimizer)
        else:
            problem = _cached_problem(problem_path, problems, needs, loss, optimizer)
    else:
        raise NodeclfError(
            "expected a problem file's path or the problem itself", path, data.key_lines["problem"], "problem"
        )
    student = data.get("student")
    if student is not None and (not isinstance(student, (str, int)) or isinstance(student, bool) or not str(student)):
        raise NodeclfError("expected the student's identifier (text)", path, data.key_lines["student"], "student")
    requirement = problem.requirement or Requirement()
    if data.get("precision") is not None:
        requirement = load_requirement(data["precision"], source, data.key_lines["precision"])
    answers = data.get("answers")
    if not isinstance(answers, Mapping) or not answers:
        raise NodeclfError(
            "expected answers: with at least one of " + ", ".join(NAMES),
            path,
            data.key_lines.get("answers"),
        )
    rows: list[GivenRow] = []
    for name, value in answers.items():
        if name not in BY_NAME:
            raise unknown("quantity", name, NAMES, path, answers.key_lines[name], "answers")
        if BY_NAME[name].graph and problem.graph is None:
            raise NodeclfError("the problem has no graph (no edges:), so no " + BY_NAME[name].called,
                               path, answers.key_lines[name], name)
        optimisers = BY_NAME[name].optimisers
        if optimisers is not None and problem.optimiser_name not in optimisers:
            raise NodeclfError(f"the problem's optimizer is {problem.optimiser_name}, which has no {name} "
                               f"(it is {' or '.join(optimisers)}'s)", path, answers.key_lines[name], name)
        if BY_NAME[name].penalised and not problem.convention.has_penalty_term:
            raise NodeclfError("the problem's loss has no L2 penalty term (loss: l2 with a form other than "
                               "weight-decay), so no " + BY_NAME[name].called, path, answers.key_lines[name], name)
        rows += _rows(name, value, problem, source, answers.key_lines[name])
    return AnswerSheet(problem, rows, requirement, None if student is None else str(getattr(student, "text", student)))


def _cached_problem(
    path: Path, problems: dict[tuple, Problem], needs: tuple[str, ...], loss: dict | None, optimizer: dict | None
) -> Problem:
    """The problem file ``path`` under the options given, loaded once for all the sheets that name it:
    the cache is keyed by the resolved path and the options (the same file under other options is
    another problem)."""
    key = (path.resolve(), _options_key(loss), _options_key(optimizer))
    if key not in problems:
        problems[key] = load_problem(path, require=needs, options=False, loss=loss, optimizer=optimizer)
    return problems[key]


def _options_key(options: dict | None) -> tuple:
    """The options given (None values left out) as a hashable key; a state file by its resolved path."""
    given = {name: value for name, value in (options or {}).items() if value is not None}
    return tuple(sorted((name, str(Path(value).resolve()) if isinstance(value, Path) else repr(value))
                        for name, value in given.items()))
