"""Property tests: random valid problems never crash and obey the invariants; random
mutations of valid files either load or are refused in one line with status 2."""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from nodeclf_cli import core

from .conftest import EXAMPLE, ROOT
from .test_cli_step import runner
from nodeclf_cli.cli import app

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path(tempfile.mkdtemp(prefix="nodeclf-properties-"))
NAME = st.text(alphabet=string.ascii_letters + string.digits + "_- .", min_size=1, max_size=6)
VALUE = st.floats(-5, 5, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problems(draw) -> dict:
    n, d, c = draw(st.integers(1, 7)), draw(st.integers(1, 5)), draw(st.integers(2, 5))
    ids = draw(st.lists(st.integers(-1000, 1000) | NAME, min_size=n, max_size=n, unique_by=str))
    classes = draw(st.lists(st.integers(0, 99) | NAME, min_size=c, max_size=c, unique_by=str))
    return {
        "embeddings": {i: draw(st.lists(VALUE, min_size=d, max_size=d)) for i in ids},
        "labels": {i: draw(st.sampled_from(classes)) for i in ids},
        "classes": classes,
        "weights": {
            "W": [draw(st.lists(VALUE, min_size=d, max_size=d)) for _ in classes],
            "b": draw(st.lists(VALUE, min_size=c, max_size=c)),
        },
        "learning_rate": draw(st.floats(1e-3, 10)),
    }


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def _loss(Z, y, W, b, reduction):
    return core.reduce_loss(core.cross_entropy(core.logits(Z, W, b), y), reduction)


@SETTINGS
@given(problem=problems(), reduction=st.sampled_from(["mean", "sum"]))
def test_random_valid_problems_obey_the_invariants(problem, reduction):
    path = SCRATCH / "valid.yaml"
    path.write_text(yaml.safe_dump(problem, allow_unicode=True, sort_keys=False))
    result = invoke("step", str(path), "--format", "json", "--reduction", reduction)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["node_ids"] == list(problem["embeddings"]) and data["classes"] == problem["classes"]
    P = np.array(data["probabilities"])
    assert ((P >= 0) & (P <= 1)).all()
    assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert data["loss"] >= 0 and min(data["loss_per_node"]) >= 0
    assert abs(sum(data["grad_b"])) <= 1e-12 * max(1.0, len(P))
    Z = np.array(list(problem["embeddings"].values()))
    y = np.array([problem["classes"].index(problem["labels"][i]) for i in problem["embeddings"]])
    W, b = np.array(problem["weights"]["W"]), np.array(problem["weights"]["b"])
    eps, numeric = 1e-6, np.zeros_like(W)
    for index in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (_loss(Z, y, up, b, reduction) - _loss(Z, y, down, b, reduction)) / (2 * eps)
    assert_allclose(data["grad_W"], numeric, atol=2e-6 * max(1.0, len(P)), rtol=1e-5)
    assert invoke("step", str(path)).exit_code == 0  # and the tables render
    assert invoke("train", str(path), "--epochs", "3", "--quiet", "--no-plot").exit_code == 0


def mutations(text: str):
    """A few random edits of ``text``: deletions, insertions, repeated or swapped lines."""
    alphabet = ":{}[],-#!&*'\"\n\t 0123456789.eE+abcxyz;|>"
    edit = st.one_of(
        st.tuples(st.just("delete"), st.integers(0, len(text)), st.integers(1, 6)),
        st.tuples(st.just("insert"), st.integers(0, len(text)), st.text(alphabet=alphabet, min_size=1, max_size=4)),
        st.tuples(st.just("repeat line"), st.integers(0, 200), st.just(0)),
        st.tuples(st.just("swap lines"), st.integers(0, 200), st.integers(0, 200)),
        st.tuples(st.just("truncate"), st.integers(0, len(text)), st.just(0)),
    )
    return st.lists(edit, min_size=1, max_size=3)


def mutate(text: str, edits) -> str:
    for kind, a, b in edits:
        lines = text.split("\n")
        if kind == "delete":
            text = text[:a] + text[a + b :]
        elif kind == "insert":
            text = text[:a] + b + text[a:]
        elif kind == "repeat line" and lines:
            lines.insert(a % len(lines), lines[a % len(lines)])
            text = "\n".join(lines)
        elif kind == "swap lines" and lines:
            i, j = a % len(lines), b % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "truncate":
            text = text[:a]
    return text


def loads_or_one_line(result) -> None:
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nodeclf: error: "), result.stderr


GOOD_YAML = EXAMPLE.read_text(encoding="utf-8")
GOOD_CSV = (ROOT / "data" / "csv" / "embeddings.csv").read_text()
GOOD_ANSWERS = (ROOT / "data" / "article_answers.yaml").read_text().replace("problem: article", f"problem: {EXAMPLE}")


@settings(max_examples=150, deadline=None)
@given(edits=mutations(GOOD_YAML))
def test_mutated_problem_yaml_loads_or_is_refused_in_one_line(edits):
    path = SCRATCH / "mutated.yaml"
    path.write_text(mutate(GOOD_YAML, edits), encoding="utf-8")
    loads_or_one_line(invoke("step", str(path), "--format", "json"))


@settings(max_examples=100, deadline=None)
@given(edits=mutations(GOOD_CSV))
def test_mutated_csv_loads_or_is_refused_in_one_line(edits):
    path = SCRATCH / "mutated.csv"
    path.write_text(mutate(GOOD_CSV, edits))
    loads_or_one_line(invoke("step", str(EXAMPLE), "--embeddings", str(path), "--format", "json"))


@settings(max_examples=100, deadline=None)
@given(edits=mutations(GOOD_ANSWERS))
def test_mutated_answers_are_graded_or_refused_in_one_line(edits):
    path = SCRATCH / "answers.yaml"
    path.write_text(mutate(GOOD_ANSWERS, edits))
    result = invoke("check", str(path), "--format", "json")
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 2:
        loads_or_one_line(result)
    else:
        json.loads(result.stdout)


# a CSV cell: numbers of every spelling, and what only looks like one
CELL = st.one_of(
    st.sampled_from(["nan", "inf", "-infinity", "1_000", "1e400", "-1e151", "1,5", "", "0x1f", "٣", ".", "+"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**400), 10**400).map(str),
    st.from_regex(r"[+-]?(\d{1,3}\.?\d{0,3}|\.\d{1,3})([eE][+-]?\d{1,3})?", fullmatch=True),
    st.text(alphabet="0123456789.,eE+-_ naif", max_size=6),
)


@given(st.lists(CELL, max_size=6))
@settings(max_examples=400, deadline=None)
def test_a_rows_numbers_read_at_once_equal_those_read_cell_by_cell(cells):
    from nodeclf_cli.errors import NodeclfError
    from nodeclf_cli.sources import to_number, to_numbers

    def read(reader):
        try:
            return reader()
        except NodeclfError as error:
            return str(error)

    one_by_one = read(lambda: [to_number(cell, "t.csv", 3, "node 1") for cell in cells])
    at_once = read(lambda: to_numbers(cells, "t.csv", 3, "node 1"))
    assert at_once == one_by_one


@given(st.text(alphabet="0123456789+-_ abc٣²\t", max_size=5))
@example("007")  # read as 7
@example("0")
@example("٣")  # a digit, but not an ASCII one
def test_an_id_is_keyed_the_same_with_or_without_the_whole_number_shortcut(text):
    from nodeclf_cli.problem import _id_key, _key
    from nodeclf_cli.sources import parse_id

    assert _id_key(text) == _key(parse_id(text))


CSV_TEXT = st.text(alphabet='0123456789ab,;.\t "\n\xa0\x0b\x1f', max_size=40)


@given(CSV_TEXT)
@example("1\t,2\n3,4\t\t\n")  # tabs inside cells, not the delimiter
@example("1,\xa02\n")  # a space that is not ASCII
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_csv_cells_are_stripped_whenever_a_cell_has_something_to_strip(text):
    """read_csv_rows skips stripping where the file has no whitespace or quote at all;
    the cells must be those a strip of every cell gives."""
    import csv
    import io

    from nodeclf_cli.errors import NodeclfError
    from nodeclf_cli.sources import _DECIMAL_COMMA, _delimiter, read_csv_rows

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text(text, encoding="utf-8", newline="")
        try:
            rows = read_csv_rows(path, numeric=False)
        except NodeclfError:
            return
    lines = io.StringIO(text, newline="").readlines()  # line ends as the csv module reads a file: \n, \r\n, \r
    delimiter = _delimiter(lines[:50])
    expected = []
    for cells in csv.reader(lines, delimiter=delimiter):
        cells = [cell.strip() for cell in cells]
        if delimiter != ",":
            cells = [cell.replace(",", ".") if _DECIMAL_COMMA.fullmatch(cell) else cell for cell in cells]
        if any(cells):
            expected.append(cells)
    assert [cells for _, cells in rows] == expected
