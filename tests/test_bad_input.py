"""Bad input never crashes nodeclf: one clear line naming the place, exit status 2,
and nothing the user had is lost. Every case runs through the real commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from .conftest import EXAMPLE, ROOT
from .test_cli_step import run

GOOD = EXAMPLE.read_text(encoding="utf-8")


def one_line_error(result, *fragments: str) -> str:
    """The single stderr line of a refused command, checked for ``fragments``."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nodeclf: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def answers_for(problem: Path) -> Path:
    path = problem.parent / "answers.yaml"
    path.write_text(f"problem: {problem.name}\nanswers:\n  loss: 1.1465\n")
    return path


def commands(path: Path) -> list[list[str]]:
    """The three commands that read a problem file, each reading ``path``."""
    return [["step", str(path)], ["train", str(path), "--epochs", "2", "--quiet"], ["check", str(answers_for(path))]]


def write(tmp_path: Path, text: str | bytes, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else textwrap.dedent(text).lstrip().encode())
    return path


# --- files --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["step", "train", "check"])
def test_missing_file(tmp_path, command):
    one_line_error(run(command, str(tmp_path / "nope.yaml"), code=2), "nope.yaml: no such file")


@pytest.mark.parametrize("command", ["step", "train", "check"])
def test_directory_instead_of_file(tmp_path, command):
    one_line_error(run(command, str(tmp_path), code=2), "is a directory, expected a file")


def test_unreadable_file(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    for args in commands(path):
        one_line_error(run(*args, code=2), "cannot read the file: permission denied")


@pytest.mark.parametrize("content", [b"", b"   \n\n"])
def test_empty_file(tmp_path, content):
    path = write(tmp_path, content)
    for args in commands(path)[:2]:
        one_line_error(run(*args, code=2), "p.yaml: the file is empty")


def test_not_utf8(tmp_path):
    path = write(tmp_path, GOOD.encode("utf-8").replace("交叉熵".encode(), "交叉熵".encode("gb18030")))
    for args in commands(path):
        one_line_error(run(*args, code=2), "p.yaml:1: not UTF-8 text")


def test_byte_order_mark_and_windows_line_endings_are_accepted(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode("utf-8"))
    assert run("step", str(path), "--format", "json").stdout == run("step", "--format", "json").stdout.replace(
        str(EXAMPLE), str(path)
    )
    run("train", str(path), "--epochs", "2", "--quiet")
    run("check", str(answers_for(path)), code=0)


def test_spreadsheet_csv_with_semicolons_and_decimal_commas(tmp_path):
    lines = (ROOT / "data" / "csv" / "embeddings.csv").read_text().splitlines()
    semicolons = "\r\n".join(line.replace(",", ";").replace(".", ",") for line in lines) + "\r\n"
    csv = write(tmp_path, b"\xef\xbb\xbf" + semicolons.encode(), "emb.csv")
    expected = run("step", "--format", "json").stdout
    assert run("step", str(EXAMPLE), "--embeddings", str(csv), "--format", "json").stdout == expected


def test_thousands_separators_are_refused_clearly(tmp_path):
    csv = write(tmp_path, "id;x_0\n1;1.234,5\n2;2\n3;3\n4;4\n5;5\n", "emb.csv")
    one_line_error(run("step", str(EXAMPLE), "--embeddings", str(csv), code=2), "emb.csv:2", "'1.234,5'")


# --- YAML ---------------------------------------------------------------------------


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, GOOD.replace("labels: {1: 0, 2: 1, 3: 0, 4: 1, 5: 2}", "labels: {1: 0, 2: 1"))
    for args in commands(path):
        one_line_error(run(*args, code=2), "p.yaml:18: YAML error at column", "starts on line 15")


@pytest.mark.parametrize(
    "text, found", [("- 1\n- 2\n", "found a list"), ("just words\n", "found text 'just words'"), ("42\n", "found the number 42")]
)
def test_top_level_list_or_scalar(tmp_path, text, found):
    path = write(tmp_path, text)
    for args in commands(path):
        one_line_error(run(*args, code=2), "expected a mapping", found)


@pytest.mark.parametrize("key", ["embeddings", "labels", "weights", "learning_rate"])
def test_a_key_with_no_value(tmp_path, key):
    lines = GOOD.splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next((i for i in range(number + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    path = write(tmp_path, "".join(lines[:number] + [f"{key}:\n"] + lines[end:]))  # its value and block gone
    for args in commands(path):
        one_line_error(run(*args, code=2), f"p.yaml:{number + 1}: {key}: has no value")


def test_options_alone_name_what_is_missing(tmp_path):
    np.save(tmp_path / "z.npy", np.ones((4, 2)))
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1]))
    z, y = str(tmp_path / "z.npy"), str(tmp_path / "y.npy")
    line = one_line_error(run("train", "--embeddings", z, code=2))
    assert line == "nodeclf: error: no labels: pass --labels, or give a problem file that has labels:"
    line = one_line_error(run("step", "--embeddings", z, "--labels", y, code=2))
    assert line == "nodeclf: error: no weights: pass --weights, or give a problem file that has weights:"


def test_npy_weights_are_refused_clearly(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((3, 4)))
    one_line_error(
        run("step", "--weights", str(tmp_path / "w.npy"), code=2),
        "w.npy: weights are read from a CSV (class,b,w_0,...) or a YAML file with W: and b:, not .npy",
    )


def test_unknown_key_suggests_the_close_match(tmp_path):
    path = write(tmp_path, GOOD.replace("learning_rate:", "learnig_rate:"))
    for args in commands(path):
        one_line_error(run(*args, code=2), "p.yaml:30: unknown key 'learnig_rate'", "did you mean 'learning_rate'?")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("learning_rate: 0.2", "learning_rate: fast", "learning_rate: expected a number, found 'fast'"),
        ("labels: {1: 0, 2: 1, 3: 0, 4: 1, 5: 2}", "labels: [0, 1, 0, 1, 2]", "expected a mapping of node id to class"),
        ("  1: [0.5, 0.6, 0.7, 0.8]", "  1: 0.5", "embeddings[1]: expected a list of numbers, found 0.5"),
        ("  b: [0.05, -0.11, -0.32]", "  b: 0.05", "weights.b: expected a list of numbers"),
        ("classes: [0, 1, 2]", "classes: [0, 1, [2]]", "classes: a class name must be a whole number or a name"),
        ("  1: [0.5, 0.6, 0.7, 0.8]", "  1: [0.5, 0.6, true, 0.8]", "embeddings[1]: expected a number, found True"),
    ],
)
def test_wrong_types(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    one_line_error(run("step", str(path), code=2), message)


def test_object_tags_are_refused(tmp_path):
    path = write(tmp_path, GOOD.replace("learning_rate: 0.2", "learning_rate: !!python/object/apply:os.getcwd []"))
    for args in commands(path):
        one_line_error(run(*args, code=2), "p.yaml:30:", "is not allowed (plain data only)")


# --- shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("  2: [0.3, 0.8, 0.3, 0.4]", "  2: [0.3, 0.8, 0.3]", "p.yaml:9: embeddings[2]: has 3 numbers, but the first embedding has 4"),
        ("classes: [0, 1, 2]", "classes: [0, 1, 2, 3]", "W has 3 rows but classes lists 4 classes"),
        ("    - [0.53, -0.04, 0.4, 0.77]    # w_2", "", "W has 2 rows but classes lists 3 classes"),
        ("[0.17, 0.4, -0.14, 0.51]", "[0.17, 0.4, -0.14]", "p.yaml:24: weights.W row 1: has 3 numbers, expected 4 (the embedding size)"),
        ("[0.75, -0.04, 0.67, -0.18]", "[0.75, -0.04, 0.67, -0.18, 1]", "weights.W row 2: has 5 numbers, expected 4"),
        ("  b: [0.05, -0.11, -0.32]", "  b: [0.05, -0.11]", "b has 2 numbers but W has 3 rows"),
    ],
)
def test_shapes_name_which_is_which(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    for args in commands(path):
        one_line_error(run(*args, code=2), message)


def test_w_columns_differ_from_the_embedding_size(tmp_path):
    text = GOOD
    for row in ("[0.17, 0.4, -0.14, 0.51]", "[0.75, -0.04, 0.67, -0.18]", "[0.53, -0.04, 0.4, 0.77]"):
        text = text.replace(row, row[:-1] + ", 0.1]")
    path = write(tmp_path, text)
    for args in commands(path):
        one_line_error(run(*args, code=2), "weights.W row 1: has 5 numbers, expected 4 (the embedding size)")


# --- ids and labels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, message",
    [
        ("{1: 0, 2: 1, 3: 0, 4: 1, 5: 2, 1: 2}", "duplicate key 1"),
        ("{1: 0, 2: 1, 3: 0, 4: 1, 5: 2, 6: 0}", "label for node 6, which has no embedding"),
        ("{1: 0, 2: 1, 3: 0, 4: 1}", "node 5 has no label"),
        ("{1: 0, 2: 1, 3: 0, 4: 1, 5: 3}", "class 3 is not one of the classes [0, 1, 2]"),
        ("{1: 0, 2: 1, 3: 0, 4: 1, 5: -1}", "class -1 is not one of the classes"),
        ("{1: 0, 2: 1, 3: 0, 4: 1, 5: 1.5}", "class 1.5 is not one of the classes"),
    ],
)
def test_labels(tmp_path, labels, message):
    path = write(tmp_path, GOOD.replace("{1: 0, 2: 1, 3: 0, 4: 1, 5: 2}", labels))
    for args in commands(path):
        one_line_error(run(*args, code=2), message)


@pytest.mark.parametrize(
    "label, message",
    [
        ("-1", "class numbers start at 0, found -1"),
        ("1.5", "expected a class number 0..2, found 1.5"),
        ("3", "class 3 is out of range: the weights have 3 classes, numbered 0..2"),
    ],
)
def test_class_numbers_without_a_classes_list(tmp_path, label, message):
    text = GOOD.replace("classes: [0, 1, 2]\n", "").replace("5: 2}", f"5: {label}}}")
    one_line_error(run("step", str(write(tmp_path, text)), code=2), message)


def test_duplicate_node_ids_in_csv(tmp_path):
    csv = write(tmp_path, "1,0.5,0.6,0.7,0.8\n2,0.3,0.8,0.3,0.4\n2,0.7,0.9,0.6,0.9\n", "emb.csv")
    one_line_error(run("step", str(EXAMPLE), "--embeddings", str(csv), code=2), "emb.csv:3: duplicate node id 2 (first at line 2)")


def test_fewer_than_two_classes(tmp_path):
    text = GOOD.replace("classes: [0, 1, 2]", "classes: [0]")
    one_line_error(run("step", str(write(tmp_path, text)), code=2), "W has 3 rows but classes lists 1 class [0]")
    one_line_error(
        run("train", "--embeddings", str(ROOT / "data/csv/embeddings.csv"), "--labels",
            str(write(tmp_path, "1,0\n2,0\n", "y.csv")), "--quiet", code=2),
        "a classifier needs at least two classes",
    )


def test_all_labels_in_one_class_is_fine(tmp_path):
    path = write(tmp_path, GOOD.replace("{1: 0, 2: 1, 3: 0, 4: 1, 5: 2}", "{1: 1, 2: 1, 3: 1, 4: 1, 5: 1}"))
    run("step", str(path))
    run("train", str(path), "--epochs", "3", "--quiet")


def test_unlabelled_nodes_only_in_train_with_a_split(tmp_path):
    labels = write(tmp_path, "id,label,split\n1,0,train\n2,1,train\n3,0,val\n4,1,test\n", "y.csv")
    run("train", str(EXAMPLE), "--labels", str(labels), "--epochs", "2", "--quiet")
    one_line_error(
        run("step", str(EXAMPLE), "--labels", str(labels), code=2),
        f"{labels}: node 5 has no label (only nodeclf train, with a split, leaves nodes unlabelled)",
    )
    plain = write(tmp_path, "1,0\n2,1\n3,0\n4,1\n", "plain.csv")
    message = one_line_error(run("train", str(EXAMPLE), "--labels", str(plain), "--quiet", code=2))
    assert message == f"nodeclf: error: {plain}: node 5 has no label"  # the file that lacks it, not another input's
    weights = write(tmp_path, "0,0.05,0.17,0.4,-0.14,0.51\n1,-0.11,0.75,-0.04,0.67,-0.18\n2,-0.32,0.53,-0.04,0.4,0.77\n", "w.csv")
    message = one_line_error(run("step", str(EXAMPLE), "--labels", str(plain), "--weights", str(weights), code=2))
    assert message == f"nodeclf: error: {plain}: node 5 has no label"
    inline = write(tmp_path, GOOD.replace("4: 1, 5: 2}", "4: 1}"))
    assert one_line_error(run("step", str(inline), code=2)).startswith(f"nodeclf: error: {inline}:")


def test_step_says_it_ignores_a_split_and_works_on_every_node(tmp_path):
    labels = write(tmp_path, "id,label,split\n1,0,train\n2,1,train\n3,0,val\n4,1,test\n5,2,test\n", "y.csv")
    with_split = run("step", str(EXAMPLE), "--labels", str(labels), "--format", "json")
    assert with_split.stderr == "nodeclf: note: the labels' split column is ignored: step works on every node\n"
    assert json.loads(with_split.stdout)["loss"] == json.loads(run("step", "--format", "json").stdout)["loss"]


# --- every part of a small problem, one mistake at a time ------------------------------------------

SMALL = {
    "embeddings": "{1: [1.0, 2.0], 2: [3.0, 4.0]}",
    "labels": "{1: 0, 2: 1}",
    "weights": "{W: [[0.1, 0.2], [0.3, 0.4]], b: [0.0, 0.0]}",
    "learning_rate": "0.1",
}


def small_problem(tmp_path: Path, files: dict[str, str | bytes] | None = None, **entries: str) -> Path:
    """SMALL with ``entries`` replaced (None: left out), beside ``files`` (name: content)."""
    for name, content in (files or {}).items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    lines = [f"{key}: {value}" for key, value in {**SMALL, **entries}.items() if value is not None]
    return write(tmp_path, "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "entries, files, message",
    [
        ({"embeddings": "[1, 2]"}, {}, "p.yaml:1: embeddings: expected a mapping of node id to a list of numbers"),
        ({"embeddings": "{}"}, {}, "p.yaml:1: no embeddings: the problem has no nodes"),
        ({"embeddings": "{1: [], 2: []}"}, {}, "p.yaml: the embeddings have no numbers"),
        ({"labels": "l.csv"}, {"l.csv": "id,label\n1,0,train,x\n2,1\n"},
         "l.csv:2: expected id,label or id,label,split; found 4 cells"),
        ({"labels": "l.csv"}, {"l.csv": "1,0\n1,1\n"}, "l.csv:2: duplicate node id '1' (first at line 1)"),
        ({"labels": "{1: 0, '1': 1, 2: 1}"}, {}, "p.yaml:2: labels: duplicate node id '1' (first at line 2)"),
        ({"labels": "l.csv"}, {"l.csv": "1,\n2,1\n"}, "l.csv:1: node 1: the label is empty"),
        ({"labels": "l.csv"}, {"l.csv": "1,0,training\n2,1,val\n"},
         "l.csv:1: node 1: split must be train, val or test; found 'training'"),
        ({"labels": "l.csv"}, {"l.csv": "1,0,train\n2,1\n"}, "l.csv:2: node 2 has no split while others have one"),
        ({"labels": "l.npy"}, {"l.npy": b"\x93NUMPY garbage"}, "l.npy: not a readable .npy array"),
        ({"weights": "3"}, {}, "p.yaml:3: weights: expected W: and b:, or a CSV path"),
        ({"weights": "{W: [[0.1, 0.2], [0.3, 0.4]]}"}, {}, "p.yaml:3: weights: missing weights.b"),
        ({"weights": "{W: [0.1, 0.2], b: [0.0, 0.0]}"}, {}, "p.yaml:3: weights.W: expected a list of rows, one per class"),
        ({"classes": "3"}, {}, "p.yaml:5: classes: expected a list of class names"),
        ({"classes": "[a, a]", "labels": "{1: a, 2: a}"}, {}, "p.yaml:5: classes: duplicate class 'a'"),
        ({"classes": "[a]", "labels": "{1: a, 2: a}", "weights": "{W: [[0.1, 0.2]], b: [0.0]}"}, {},
         "p.yaml:5: classes: a classifier needs at least two classes, found 1"),
        ({"classes": "[x, y]", "labels": "{1: x, 2: y}", "weights": "w.csv"}, {"w.csv": "x,0,0.1,0.2\nz,0,0.3,0.4\n"},
         "w.csv: the weights have no row for class 'y' (rows: ['x', 'z'])"),
        ({"weights": "w.csv"}, {"w.csv": "0,0.5\n1,0.5\n"}, "w.csv:1: class 0: expected class,b,w_0,...: a bias and at least one weight"),
        # (step and train add "or pass --embeddings"; check has no such option to suggest)
        ({"embeddings": None}, {}, "p.yaml: no embeddings: add embeddings: to the problem"),
        ({"embeddings": "z.npy"}, {}, "p.yaml:1: embeddings: no such file: "),
        ({"labels": "l.csv"}, {}, "p.yaml:2: labels: no such file: "),
        ({"weights": "w.csv"}, {}, "p.yaml:3: weights: no such file: "),
        ({"embeddings": "{[1, 2]: [1.0, 2.0]}"}, {}, "p.yaml:1: a key must be a plain value (a number or a name)"),
        ({"labels": "l.csv"}, {"l.csv": "id,label\n"}, "l.csv: the CSV file has no data rows"),
        ({"learning_rate": "1" + "0" * 400}, {},
         "p.yaml:4: learning_rate: expected a finite number, found 10000000... (a whole number of 401 digits)"),
        ({"learning_rate": "-1" + "0" * 400}, {},
         "p.yaml:4: learning_rate: expected a finite number, found -1000000... (a whole number of 401 digits)"),
        ({"weights": "w.csv"}, {"w.csv": "0,0.5,1e400\n1,0.5,1\n"}, "w.csv:1: class 0: expected a finite number, found 1e400"),
    ],
)
def test_each_part_of_a_problem_names_its_mistake(tmp_path, entries, files, message):
    path = small_problem(tmp_path, files, **entries)
    for args in commands(path):
        one_line_error(run(*args, code=2), message)


def test_npy_labels_out_of_range_name_the_row(tmp_path):
    np.save(tmp_path / "y.npy", np.array([0, 5]))
    path = small_problem(tmp_path, labels="y.npy")
    one_line_error(run("step", str(path), code=2), "y.npy: row 1: class 5 is out of range: there are 2 classes, numbered 0..1")


@pytest.mark.parametrize("text", ["W: [[0.1, 0.2], [0.3, 0.4]]\nb: [0.0, 0.0]\n",
                                  "weights:\n  W: [[0.1, 0.2], [0.3, 0.4]]\n  b: [0.0, 0.0]\n"])
def test_weights_from_a_yaml_file_bare_or_under_weights(tmp_path, text):
    inline = json.loads(run("step", str(small_problem(tmp_path)), "--format", "json").stdout)
    path = small_problem(tmp_path, {"w.yaml": text}, weights="w.yaml")
    assert json.loads(run("step", str(path), "--format", "json").stdout) == inline


@pytest.mark.parametrize(
    "labels, message",
    [  # each distinct label is judged once; these must not be taken for one another
        ("{1: 1, 2: true}", "p.yaml:2: labels[2]: expected a class number 0..1, found True"),
        ("{1: true, 2: 1}", "p.yaml:2: labels[1]: expected a class number 0..1, found True"),
        ("{1: 1, 2: 1.5}", "p.yaml:2: labels[2]: expected a class number 0..1, found 1.5"),
        ("{1: 0, 2: [0]}", "p.yaml:2: labels[2]: expected a class number 0..1, found [0]"),
        ("{1: 0, 2: 5}", "p.yaml:2: labels[2]: class 5 is out of range: the weights have 2 classes, numbered 0..1"),
    ],
)
def test_the_first_node_with_a_wrong_label_is_named(tmp_path, labels, message):
    one_line_error(run("step", str(small_problem(tmp_path, labels=labels)), code=2), message)


def test_a_label_written_as_1_and_as_1_0_is_the_same_class(tmp_path):
    data = json.loads(run("step", str(small_problem(tmp_path, labels="{1: 1, 2: 1.0}")), "--format", "json").stdout)
    assert data["labels"] == [1, 1]


def test_whole_float_labels_are_class_numbers_without_a_classes_list(tmp_path):
    path = small_problem(tmp_path, labels="{1: 0.0, 2: 1.0}")
    data = json.loads(run("step", str(path), "--format", "json").stdout)
    assert data["labels"] == [0, 1] and data["classes"] == [0, 1]


def test_train_refusals_name_the_file_at_fault(tmp_path):
    one_line_error(run("train", "karate", "--init", "file", code=2),
                   "nodeclf: error: karate: the problem has no weights: use --init random or --init zeros")
    labels = tmp_path / "no_train.csv"
    labels.write_text("id,label,split\n1,0,val\n2,1,test\n")
    one_line_error(run("train", str(small_problem(tmp_path)), "--labels", str(labels), "--quiet", code=2),
                   f"nodeclf: error: {labels}: the split has no train nodes")
    one_line_error(run("train", "--plot", str(tmp_path / "curve.jpg"), code=2), "curve.jpg: the image must be .png, .svg or .pdf")
    assert not (tmp_path / "curve.jpg").exists()


def test_generate_refuses_one_file_for_both_outputs(tmp_path):
    same = str(tmp_path / "p.yaml")
    one_line_error(run("generate", "-o", same, "--answers", same, code=2), "--output and --answers must be different files")
    assert not (tmp_path / "p.yaml").exists()


@pytest.mark.parametrize(
    "text, message",
    [("problem: 3\nanswers:\n  loss: 1.1\n", "a.yaml:1: problem: expected a problem file's path or the problem itself"),
     ("answer:\n  loss: 1.1\n", "a.yaml:1: unknown key 'answer'; did you mean 'answers'?"),
     ("solutions:\n  loss: 1.1\n", "a.yaml:1: unknown key 'solutions'; expected problem: and answers:")],
)
def test_answers_file_keys(tmp_path, text, message):
    path = tmp_path / "a.yaml"
    path.write_text(text)
    one_line_error(run("check", str(path), code=2), message)


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [(".nan", "expected a finite number, found nan"), (".inf", "expected a finite number, found inf"),
     ("1e308", "1e+308 is too large"), ("-2e200", "-2e+200 is too large")],
)
def test_non_finite_and_absurd_numbers(tmp_path, value, message):
    path = write(tmp_path, GOOD.replace("[0.5, 0.6, 0.7, 0.8]", f"[0.5, {value}, 0.7, 0.8]"))
    for args in commands(path):
        one_line_error(run(*args, code=2), "p.yaml:8: embeddings[1]:", message)


@pytest.mark.parametrize(
    "row, message",
    [("1,0.5,,0.7,0.8", "expected a number, found an empty cell"), ("1,0.5,abc,0.7,0.8", "expected a number, found 'abc'")],
)
def test_empty_cells_and_text_in_csv_number_columns(tmp_path, row, message):
    lines = (ROOT / "data" / "csv" / "embeddings.csv").read_text().splitlines()
    lines[1] = row
    csv = write(tmp_path, "\n".join(lines) + "\n", "emb.csv")
    one_line_error(run("step", str(EXAMPLE), "--embeddings", str(csv), code=2), "emb.csv:2: node 1:", message)


@pytest.mark.parametrize("command", ["step", "train"])
@pytest.mark.parametrize(
    "lr, message",
    [("0", "must be a positive number, found 0.0"), ("-0.1", "must be a positive number, found -0.1"),
     ("nan", "expected a finite number, found nan"), ("inf", "expected a finite number, found inf")],
)
def test_learning_rate_must_be_positive(command, lr, message):
    result = run(command, "--lr", lr, "--quiet" if command == "train" else "--decimals=2", code=2)
    line = one_line_error(result)
    assert line == f"nodeclf: error: --lr: {message}"  # the option as typed, not the file's key


@pytest.mark.parametrize(
    "option, value, expected",
    [("--momentum", "1", "at least 0 and below 1, found 1.0"), ("--momentum", "-0.5", "at least 0 and below 1, found -0.5"),
     ("--momentum", "nan", "at least 0 and below 1, found nan"), ("--weight-decay", "-1", "at least 0, found -1.0"),
     ("--weight-decay", "inf", "at least 0, found inf"), ("--weight-decay", "nan", "at least 0, found nan")],
)
def test_momentum_and_weight_decay_must_be_in_range(option, value, expected, tmp_path):
    save = tmp_path / "w.yaml"
    result = run("train", option, value, "--quiet", "--save", str(save), code=2)
    assert one_line_error(result) == f"nodeclf: error: {option}: must be a finite number {expected}"
    assert not save.exists()


@pytest.mark.parametrize("threads", ["0", "-1", "two"])
def test_threads_must_be_a_positive_whole_number(threads):
    one_line_error(run("train", "--threads", threads, "--quiet", code=2), "'--threads'")


def test_learning_rate_in_the_file_must_be_positive(tmp_path):
    path = write(tmp_path, GOOD.replace("learning_rate: 0.2", "learning_rate: -0.2"))
    for args in commands(path):
        one_line_error(run(*args, code=2), "p.yaml:30: learning_rate: must be a positive number, found -0.2")


@pytest.mark.parametrize("command", [["generate"], ["train", "--init", "random"]])
def test_negative_seed_is_a_usage_error(command):
    one_line_error(run(*command, "--seed", "-1", code=2), "Invalid value for '--seed'", "greater than or equal to 0")


@pytest.mark.parametrize("epochs", ["0", "-3", "many"])
def test_epochs_must_be_positive(epochs):
    one_line_error(run("train", "--epochs", epochs, code=2), "'--epochs'", "(see 'root train --help')")


def test_usage_errors_are_one_line_too():
    line = one_line_error(run("step", "--rounding", "up", code=2))
    assert line == (
        "nodeclf: error: Invalid value for '--rounding': 'up' is not one of 'half-up', 'half-even'. "
        "(see 'root step --help')"
    )
    one_line_error(run("step", "--decimals", "2", "--sig-figs", "2", code=2), "give --decimals or --sig-figs, not both")
    one_line_error(run("check", code=2), "Missing argument")


def test_npy_with_nan_or_wrong_shape(tmp_path):
    Z = np.ones((6, 3))
    Z[4, 1] = np.nan
    np.save(tmp_path / "z.npy", Z)
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1, 0, 1]))
    one_line_error(
        run("train", "--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"), code=2),
        "z.npy: row 4, column 1: nan is not a finite number",
    )
    np.save(tmp_path / "flat.npy", np.ones(6))
    one_line_error(
        run("train", "--embeddings", str(tmp_path / "flat.npy"), "--labels", str(tmp_path / "y.npy"), code=2),
        "expected a 2-d array of numbers (nodes x features), found shape (6,)",
    )
    np.save(tmp_path / "short.npy", np.array([0, 1, 2]))
    np.save(tmp_path / "z_ok.npy", np.ones((6, 3)))
    one_line_error(
        run("train", "--embeddings", str(tmp_path / "z_ok.npy"), "--labels", str(tmp_path / "short.npy"), code=2),
        "short.npy: has 3 labels but there are 6 nodes",
    )
    (tmp_path / "junk.npy").write_bytes(b"not an array at all")
    one_line_error(
        run("train", "--embeddings", str(tmp_path / "junk.npy"), "--labels", str(tmp_path / "y.npy"), code=2),
        "junk.npy: not a readable .npy array",
    )


def test_diverging_training_stops_with_a_clear_error(tmp_path):
    # the gradient of cross-entropy is bounded by |z|: the weights overflow only when
    # lr * |z|^2 does, here at the second epoch
    path = write(tmp_path, GOOD.replace("[0.5, 0.6, 0.7, 0.8]", "[1e150, 0.6, 0.7, 0.8]"))
    save = tmp_path / "w.yaml"
    result = run("train", str(path), "--lr", "1e150", "--epochs", "5", "--quiet", "--save", str(save), code=2)
    one_line_error(result, "--lr: training diverged", "try a smaller one")
    assert not save.exists()


def test_diverging_training_names_momentum_and_weight_decay_too():
    # weight decay alone: W := W (1 - lr wd) - lr dL/dW, which grows as (lr wd - 1)^t
    result = run("train", "--weight-decay", "1e6", "--momentum", "0.9", "--epochs", "100", "--quiet", code=2)
    one_line_error(
        result, "--lr: training diverged: the loss is nan at epoch ", "the learning rate 0.2 with momentum 0.9 and "
        "weight decay 1000000.0 takes steps too large", "try a smaller one (or less momentum or weight decay)",
    )


# --- output files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["step", "--output"], ["generate", "--output"], ["generate", "--answers"], ["train", "--quiet", "--save"],
     ["train", "--quiet", "--history"], ["train", "--quiet", "--plot"]],
)
def test_outputs_never_overwrite_without_force(tmp_path, args):
    target = tmp_path / "existing.png"
    target.write_text("mine")
    one_line_error(run(*args, str(target), code=2), "already exists; pass --force to overwrite it")
    assert target.read_text() == "mine"
    one_line_error(run(*args, str(tmp_path / "missing" / "x.png"), code=2), "does not exist")


def test_read_only_destination(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("mine")
    real_access = os.access
    def read_only(path, mode):  # as a read-only file is, even to root
        return False if mode == os.W_OK and str(tmp_path) in str(path) else real_access(path, mode)

    monkeypatch.setattr(os, "access", read_only)
    one_line_error(run("step", "--output", str(target), "--force", code=2), "cannot write here: permission denied")
    assert target.read_text() == "mine"


def test_a_failure_while_writing_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("mine")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    one_line_error(run("step", "--output", str(target), "--force", code=2), "cannot write the file: No space left on device")
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_ctrl_c_while_writing_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("mine")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    result = run("step", "--output", str(target), "--force", code=130)
    assert "Traceback" not in result.output and result.stderr == "nodeclf: interrupted\n"
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# --- huge input -------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_two_million_nodes_train_without_loading_twice(tmp_path):
    nodes, features = 2_000_000, 16
    Z = np.lib.format.open_memmap(tmp_path / "z.npy", mode="w+", dtype=np.float64, shape=(nodes, features))
    for start in range(0, nodes, 250_000):
        Z[start : start + 250_000] = np.random.default_rng(start).standard_normal((250_000, features))
    y = (np.asarray(Z[:, 0]) > 0).astype(np.int64)
    Z.flush()
    del Z
    np.save(tmp_path / "y.npy", y)
    file_mb = nodes * features * 8 / 2**20
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['nodeclf', 'train', '--embeddings', {str(tmp_path / 'z.npy')!r}, '--labels', "
        f"{str(tmp_path / 'y.npy')!r}, '--epochs', '2', '--dtype', 'float32', '--quiet', '--format', 'json']\n"
        "try:\n    runpy.run_module('nodeclf_cli', run_name='__main__')\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print('PEAK', open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert '"epochs": 2' in done.stdout, done.stderr[-2000:]
    peak_mb = int(done.stderr.split("PEAK")[1].split()[0]) / 1024
    # the file once (mapped) plus the program; a second copy would add file_mb (or half in float32)
    assert peak_mb < file_mb + 200, (peak_mb, file_mb)
