"""Hostile and unlucky input files: nothing exhausts memory or time, nothing ends in a
traceback, and every message blames the right file and line. Files are small and made
here; nothing allocates more than a few megabytes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeclf_cli.errors import NodeclfError
from nodeclf_cli.problem import load_problem
from nodeclf_cli.sources import parse_yaml

from .test_bad_input import GOOD, one_line_error, write
from .test_cli_step import run


def refused(path: Path, *args: str) -> str:
    """The one error line ``nodeclf step`` gives for ``path``."""
    return one_line_error(run("step", str(path), *args, code=2))


def yaml_error(text: str) -> str:
    with pytest.raises(NodeclfError) as caught:
        parse_yaml(text, "p.yaml")
    return str(caught.value)


# --- YAML: size, depth, tags ------------------------------------------------------


def alias_bomb(levels: int = 9) -> str:
    """Each level repeats the one before nine times: 9**levels values in a few hundred bytes."""
    names = [chr(ord("a") + i) for i in range(levels)]
    text = f"{names[0]}: &{names[0]} [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for before, name in zip(names, names[1:]):
        text += f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]\n"
    return text


def test_an_alias_bomb_is_refused_quickly_at_its_line(tmp_path):
    path = write(tmp_path, alias_bomb())  # 9**9: 387 million values, were it expanded
    line = refused(path)
    assert "alias bomb" in line and len(line) < 300
    # 9**6 = 531,441 values first exceed the bound for a file of this size: the 6th line
    assert f"{path}:6: YAML error" in line


def test_aliases_that_repeat_a_little_are_read():
    data = parse_yaml("a: &a [1, 2, 3]\nb: *a\nc: {x: *a, y: *a}\n", "p.yaml")
    assert data["c"]["y"] == [1, 2, 3]


def test_an_alias_inside_itself_is_refused():
    assert yaml_error("x: 1\na: &a [1, *a]\n").startswith("p.yaml:2: YAML error: an alias inside the collection")


@pytest.mark.parametrize("depth", [101, 400, 900])
def test_deep_nesting_is_refused_at_its_line(depth):
    text = "x: 1\n" + "".join(" " * i + "a:\n" for i in range(depth)) + " " * depth + "1\n"
    message = yaml_error(text)
    assert "nested too deeply (at most 100 levels)" in message
    assert message.startswith("p.yaml:102:")  # the root is level 1 on line 1: level 101 starts on line 102


def test_flow_nesting_is_refused_too():
    assert "nested too deeply" in yaml_error("a: " + "[" * 500 + "]" * 500 + "\n")


def test_nesting_within_the_bound_is_read():
    text = "".join(" " * i + "a:\n" for i in range(99)) + " " * 99 + "1\n"
    data = parse_yaml(text, "p.yaml")
    for _ in range(99):
        data = data["a"]
    assert data == 1


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("!!int abc", "'abc' cannot be read as a whole number (!!int)"),
        ("!!float x1", "'x1' cannot be read as a number (!!float)"),
        ("!!timestamp soon", "'soon' cannot be read as a date (!!timestamp)"),
        ("!!bool maybe", "'maybe' cannot be read as true or false (!!bool)"),
        ("2023-02-30", "'2023-02-30' looks like a date but is not one"),
        ("!!timestamp 2023-13-01", "'2023-13-01' looks like a date but is not one (month must be in 1..12)"),
        ("9" * 5000, "a whole number of 5000 digits is too long (at most 4300)"),
        ("0x" + "f" * 5000, "a whole number of about 6021 digits is too long (at most 4300)"),
        (hex(10**4300), "a whole number of about 4301 digits is too long (at most 4300)"),
        ('!!int ""', "'' cannot be read as a whole number (!!int)"),
        ("!!float", "'' cannot be read as a number (!!float)"),
        ("!!seq {a: 1}", "must be a list"),
        ("!!map [1]", "must be a mapping"),
    ],
)
def test_values_their_tag_cannot_read_are_errors_at_their_line(tmp_path, value, fragment):
    path = write(tmp_path, GOOD.replace("learning_rate: 0.2", f"learning_rate: {value}"))
    line = refused(path)
    assert f"{path}:30:" in line and fragment in line
    assert len(line) < 300


def test_the_longest_whole_number_written_in_hex_is_read():
    assert parse_yaml(f"a: {hex(10**4300 - 1)}\n", "p.yaml")["a"] == 10**4300 - 1


def test_an_impossible_date_as_a_node_id(tmp_path):
    path = write(tmp_path, GOOD.replace("  5: [0.8", "  2023-02-30: [0.8"))
    assert f"{path}:12: '2023-02-30' looks like a date" in refused(path)


def test_a_long_value_is_quoted_by_an_excerpt(tmp_path):
    path = write(tmp_path, GOOD.replace("learning_rate: 0.2", f"learning_rate: [{', '.join(['1'] * 20000)}]"))
    line = refused(path)
    assert "learning_rate" in line and len(line) < 300


def test_a_syntax_error_at_the_end_of_a_big_file_is_worded_from_a_window(monkeypatch):
    """The error is worded as PyYAML's pure-Python parser words it, from the lines
    around it only (parsing the whole file again in pure Python takes minutes)."""
    import yaml

    rows = "".join(f"  {i}: [{', '.join(['0.25'] * 64)}]\n" for i in range(1500))
    text = "embeddings:\n" + rows + "labels: {1: 0, 2: 1\nweights: 3\n"
    parsed = []
    compose = yaml.compose
    monkeypatch.setattr(yaml, "compose", lambda text, Loader: parsed.append(len(text)) or compose(text, Loader))
    message = yaml_error(text)
    assert message == (
        "p.yaml:1503: YAML error at column 8: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping that starts on line 1502)"
    )
    assert parsed == [len("labels: {1: 0, 2: 1\nweights: 3\n")]  # of a file of 500 KB


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: 1\nb: [1, 2\n", "p.yaml:3: YAML error at column 1: expected ',' or ']', but got '<stream end>'"),
        ("a: {b: @}\n", "p.yaml:1: YAML error at column 8: found character '@' that cannot start any token"),
        ("a: 1\nb: *nope\n", "p.yaml:2: YAML error at column 4: found undefined alias 'nope'"),
    ],
)
def test_syntax_errors_keep_their_words(text, message):
    assert yaml_error(text).startswith(message)


@pytest.mark.parametrize("character, code", [("\x01", "0001"), ("\x7f", "007F"), ("\ufffe", "FFFE")])
def test_a_character_yaml_does_not_allow_is_named_at_its_line(character, code):
    message = yaml_error(f"a: 1\r\nb: [1, x{character}y]\n")
    assert message == f"p.yaml:2: YAML error at column 9: the character U+{code} is not allowed in YAML " \
        "(control characters are not allowed)"


# --- reading files ----------------------------------------------------------------


def test_a_device_is_refused_not_read(tmp_path):
    path = write(tmp_path, GOOD)
    line = one_line_error(run("step", str(path), "--embeddings", "/dev/zero", code=2))
    assert "/dev/zero: not a regular file" in line


def test_a_file_larger_than_the_memory_is_refused_before_reading(tmp_path, monkeypatch):
    from nodeclf_cli import sources

    path = write(tmp_path, GOOD)
    monkeypatch.setattr(sources, "available_memory", lambda: 1000)
    line = refused(path)
    assert f"{path}: reading the file would need" in line and "1000 bytes is available" in line


@pytest.mark.parametrize("name", ["p.yaml", "emb.csv"])
def test_a_sparse_file_larger_than_the_memory_is_refused_before_reading(tmp_path, monkeypatch, name):
    from nodeclf_cli import sources

    huge = tmp_path / name
    with huge.open("wb") as file:
        file.truncate(1 << 40)  # a terabyte of holes: no disk used
    monkeypatch.setattr(sources, "available_memory", lambda: 8 << 30)
    problem = write(tmp_path, GOOD, "problem.yaml")
    read_bytes = Path.read_bytes

    def never_the_huge_one(path):
        assert path != huge, "the huge file was read"
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", never_the_huge_one)
    if name.endswith(".yaml"):
        line = refused(huge)
    else:
        line = one_line_error(run("step", str(problem), "--embeddings", str(huge), code=2))
    assert f"{huge}: reading the file would need 2.0 TiB of memory, but 8.0 GiB is available" in line


def test_a_file_growing_past_its_size_on_a_pipe_is_bounded(tmp_path, monkeypatch):
    import os
    import threading

    from nodeclf_cli import sources

    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(sources, "available_memory", lambda: 4 << 20)

    def endless():
        try:
            with open(fifo, "wb") as pipe:
                for _ in range(100):
                    pipe.write(b"# " + b"x" * (1 << 20) + b"\n")
        except BrokenPipeError:  # the reader stopped, as it should
            pass

    writer = threading.Thread(target=endless)
    writer.start()
    with pytest.raises(NodeclfError) as caught:
        sources.read_text(fifo)
    writer.join()
    assert "read from the pipe, more than the memory holds" in str(caught.value)


def test_a_pipe_is_read(tmp_path):
    import os
    import threading

    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(GOOD))
    writer.start()
    problem = load_problem(fifo)
    writer.join()
    assert problem.Z.shape == (5, 4)


def test_a_nul_byte_is_refused_at_its_line(tmp_path):
    path = write(tmp_path, GOOD.replace("  3: [0.7", "  3: [0\x00.7"))
    assert f"{path}:10: column 8: a NUL byte" in refused(path)


# --- CSV ----------------------------------------------------------------------------

EMBEDDINGS = "1,0.5,0.6,0.7,0.8\n2,0.3,0.8,0.3,0.4\n3,0.7,0.9,0.6,0.9\n4,0.2,0.1,0.2,0.3\n5,0.8,0.4,0.3,0.2\n"


def step_with_embeddings(tmp_path: Path, text: str | bytes) -> str:
    """The error ``step`` gives for the article's example with these CSV embeddings."""
    problem = write(tmp_path, GOOD)
    csv = write(tmp_path, text, "emb.csv")
    return one_line_error(run("step", str(problem), "--embeddings", str(csv), code=2))


def test_a_typo_in_the_first_row_of_a_headerless_csv_is_reported_at_its_cell(tmp_path):
    line = step_with_embeddings(tmp_path, EMBEDDINGS.replace("1,0.5,0.6", "1,0.5,0..6"))
    assert line.endswith("emb.csv:1: node 1: expected a number, found '0..6'")


def test_a_header_of_names_is_still_a_header(tmp_path):
    problem = write(tmp_path, GOOD)
    csv = write(tmp_path, "n,a,b,c,d\n" + EMBEDDINGS, "emb.csv")
    assert run("step", str(problem), "--embeddings", str(csv), "--format", "json").stdout == run(
        "step", str(problem), "--format", "json"
    ).stdout


def test_a_byte_order_mark_in_the_middle_of_a_csv_is_named(tmp_path):
    joined = "id,x_0,x_1,x_2,x_3\n" + EMBEDDINGS[:36] + "\ufeffid,x_0,x_1,x_2,x_3\n" + EMBEDDINGS[36:]
    line = step_with_embeddings(tmp_path, joined.encode("utf-8"))
    assert "emb.csv:4: column 1: a byte-order mark (U+FEFF) inside the file" in line


def test_a_line_separator_inside_a_cell_does_not_shift_line_numbers(tmp_path):
    text = EMBEDDINGS.replace("1,0.5", "1\u2028,0.5").replace("4,0.2,0.1", "4,0.2,x")
    assert step_with_embeddings(tmp_path, text.encode()).endswith("emb.csv:4: node 4: expected a number, found 'x'")


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_line_numbers_count_csv_line_ends(tmp_path, end):
    text = EMBEDDINGS.replace("\n", end).replace("5,0.8", "5,y")
    assert ":5: node 5: expected a number, found 'y'" in step_with_embeddings(tmp_path, text.encode())


def test_a_nul_byte_in_a_csv_is_refused_at_its_line(tmp_path):
    line = step_with_embeddings(tmp_path, EMBEDDINGS.replace("3,0.7", "3,0\x00.7").encode())
    assert "emb.csv:3: column 4: a NUL byte" in line


CSV_CELL = st.sampled_from(["1", "0.5", "-2e3", " 3 ", "1e400", "nan", "inf", "", "x", "1_0", "٣", ".5", "5.", "0x1"])


@given(
    rows=st.lists(st.lists(CSV_CELL, min_size=1, max_size=3), min_size=1, max_size=4),
    delimiter=st.sampled_from([",", ";", "\t"]),
    header=st.booleans(),
    end=st.sampled_from(["\n", "\r\n"]),
)
@settings(max_examples=300, deadline=None)
def test_numpys_reading_equals_the_careful_reading(rows, delimiter, header, end):
    """Whatever numpy's parser reads is read the same cell by cell; where the careful
    reader refuses the table, the loader gives its error."""
    from unittest import mock

    from nodeclf_cli import problem as problem_module
    from nodeclf_cli.sources import read_text

    lines = (["id" + delimiter + delimiter.join("x" * len(rows[0]))] if header else []) + [
        delimiter.join([str(i), *cells]) for i, cells in enumerate(rows, 1)
    ]

    def read(path: Path, careful: bool):
        try:
            if careful:
                with mock.patch.object(problem_module, "read_number_table", lambda path, words: read_text(path)):
                    got = problem_module._rows_from_csv(path, "node")
            else:
                got = problem_module._rows_from_csv(path, "node")
            return got.ids, np.array(problem_module._as_matrix(got, "embedding")).tolist(), got.places
        except NodeclfError as error:
            return str(error)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text(end.join(lines) + end, encoding="utf-8", newline="")
        assert read(path, careful=False) == read(path, careful=True)


@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_a_plain_table_is_read_by_numpy(tmp_path, delimiter, end):
    from nodeclf_cli.sources import NumberTable, read_number_table

    path = write(tmp_path, ("id,x_0,x_1,x_2,x_3\n" + EMBEDDINGS).replace(",", delimiter).replace("\n", end), "e.csv")
    table = read_number_table(path, ("id",))
    assert isinstance(table, NumberTable)
    assert table.lines == [2, 3, 4, 5, 6] and table.ids == ["1", "2", "3", "4", "5"]
    assert table.values[2].tolist() == [0.7, 0.9, 0.6, 0.9]


# --- sizes: classes, .npy headers, memory ------------------------------------------------


def test_one_far_label_does_not_make_millions_of_classes(tmp_path):
    text = GOOD.replace("labels: {1: 0, 2: 1, 3: 0, 4: 1, 5: 2}", "labels: {1: 0, 2: 1, 3: 99999999, 4: 1, 5: 2}")
    path = write(tmp_path, text.replace("classes: [0, 1, 2]\n", "").split("weights:")[0] + "learning_rate: 0.2\n")
    line = one_line_error(run("train", str(path), "--epochs", "1", "--quiet", code=2))
    assert f"{path}:15: labels[3]: class 99999999 would make 100,000,000 classes" in line
    assert "for 5 labelled nodes" in line


def test_a_label_within_the_bound_numbers_the_classes(tmp_path):
    from nodeclf_cli.problem import MOST_CLASSES

    text = GOOD.replace("5: 2}", f"5: {MOST_CLASSES - 1}}}").replace("classes: [0, 1, 2]\n", "")
    path = write(tmp_path, text.split("weights:")[0])
    assert load_problem(path).n_classes == MOST_CLASSES


def npy_problem(tmp_path: Path, labels: np.ndarray | None = None, embeddings: np.ndarray | None = None) -> Path:
    np.save(tmp_path / "z.npy", np.arange(10.0).reshape(5, 2) if embeddings is None else embeddings)
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1, 2]) if labels is None else labels)
    return write(tmp_path, "embeddings: z.npy\nlabels: y.npy\n")


def train_error(path: Path) -> str:
    return one_line_error(run("train", str(path), "--epochs", "1", "--quiet", code=2))


def test_a_far_npy_label_is_refused_before_any_array_of_classes(tmp_path):
    path = npy_problem(tmp_path, labels=np.array([0, 1, 10**12, 1, 0]))
    assert "y.npy: row 2: class 1000000000000 would make 1,000,000,000,001 classes" in train_error(path)


def test_a_uint64_label_beyond_int64_is_not_class_minus_one(tmp_path):
    labels = np.array([0, 1, 2**64 - 1, 1, 0], dtype=np.uint64)
    line = train_error(npy_problem(tmp_path, labels=labels))
    assert f"class {2**64 - 1}" in line and "-1" not in line.split("y.npy")[1]


def test_a_uint64_label_beyond_int64_with_classes_given(tmp_path):
    labels = np.array([0, 1, 2**64 - 1, 1, 0], dtype=np.uint64)
    path = npy_problem(tmp_path, labels=labels)
    path.write_text(path.read_text() + "classes: [a, b, c]\n")
    assert f"row 2: class {2**64 - 1} is out of range: there are 3 classes" in train_error(path)


def test_uint_labels_in_range_are_read(tmp_path):
    problem = load_problem(npy_problem(tmp_path, labels=np.array([0, 1, 0, 1, 2], dtype=np.uint64)))
    assert problem.y.dtype == np.int64 and problem.y.tolist() == [0, 1, 0, 1, 2]


def test_a_npy_header_declaring_more_than_its_file_holds(tmp_path):
    path = npy_problem(tmp_path)
    data = (tmp_path / "z.npy").read_bytes().replace(b"(5, 2)", b"(500000000000, 2)".ljust(6))
    header_end = data.index(b"\n") + 1
    (tmp_path / "z.npy").write_bytes(data[:header_end] + b"\0" * 80)
    line = train_error(path)
    assert "z.npy: the header declares shape (500000000000, 2) of float64 (8,000,000,000,000 bytes)" in line


def test_a_npy_labels_header_declaring_more_than_its_file_holds(tmp_path):
    path = npy_problem(tmp_path)
    data = (tmp_path / "y.npy").read_bytes()
    data = data.replace(b"(5,)", b"(10000000000000,)")
    (tmp_path / "y.npy").write_bytes(data)
    assert "y.npy: the header declares shape (10000000000000,)" in train_error(path)


def test_a_npz_renamed_npy(tmp_path):
    path = npy_problem(tmp_path)
    np.savez(tmp_path / "z.npz", Z=np.ones((5, 2)))
    (tmp_path / "z.npz").rename(tmp_path / "z.npy")
    assert "z.npy: a .npz archive (several arrays), not a .npy array" in train_error(path)


@pytest.mark.parametrize(
    "header",
    [b"{'descr': '<f8', 'shape': (5, 2)", b"garbage", b"{'descr': 'xx', 'fortran_order': False, 'shape': (5, 2), }"],
)
def test_a_broken_npy_header(tmp_path, header):
    path = npy_problem(tmp_path)
    (tmp_path / "z.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header + b"\n").to_bytes(2, "little") + header + b"\n")
    assert "z.npy: not a readable .npy array" in train_error(path)


def test_a_npy_of_no_features_is_refused_like_csv_and_yaml(tmp_path):
    path = npy_problem(tmp_path, embeddings=np.ones((5, 0)))
    assert "z.npy: the embeddings have no numbers" in train_error(path)


def test_a_npy_device_is_refused(tmp_path):
    path = npy_problem(tmp_path)
    (tmp_path / "z.npy").unlink()
    (tmp_path / "z.npy").symlink_to("/dev/zero")
    assert "z.npy: not a regular file" in train_error(path)


def test_tables_too_large_for_the_memory_are_refused_before_they_are_made(tmp_path, monkeypatch):
    from nodeclf_cli import sources

    text = "embeddings: {1: [1], 2: [2], 3: [3], 4: [4], 5: [5]}\nlabels: {1: 0, 2: 1, 3: 2, 4: 0, 5: 1}\n"
    path = write(tmp_path, text)
    monkeypatch.setattr(sources, "available_memory", lambda: 500)  # the file (reading it: 2 x 71 bytes) fits
    line = one_line_error(run("train", str(path), "--quiet", code=2))
    tables = "the tables of 5 nodes by 3 classes (logits, probabilities, gradients, the confusion matrix)"
    assert f"{path}: {tables} would need" in line


def test_a_weights_file_naming_its_own_problem(tmp_path):
    path = write(tmp_path, GOOD.split("weights:")[0] + "weights: p.yaml\nlearning_rate: 0.2\n")
    assert f"{path}:22: weights: a weights file must hold W: and b:" in refused(path)


def test_what_step_needs_is_checked_before_any_table_is_read(tmp_path, monkeypatch):
    from nodeclf_cli import problem as problem_module

    def never(*args, **kwargs):
        raise AssertionError("a table was read")

    monkeypatch.setattr(problem_module, "read_number_table", never)
    csv = write(tmp_path, EMBEDDINGS, "emb.csv")
    path = write(tmp_path, f"embeddings: {csv.name}\nlabels: {{1: 0, 2: 1, 3: 0, 4: 1, 5: 2}}\n")
    assert "no weights: add weights: to the problem or pass --weights" in refused(path)
    path = write(tmp_path, GOOD.replace("learning_rate: 0.2", "learning_rate: -1"))
    path.write_text(path.read_text().replace(GOOD.split("labels:")[0].split("embeddings:")[1], f" {csv.name}\n"))
    assert "learning_rate: must be a positive number, found -1" in refused(path)


def test_float32_training_refuses_numbers_whose_products_overflow_it(tmp_path):
    path = write(tmp_path, GOOD.replace("  3: [0.7, 0.9", "  3: [1e30, 0.9"))
    line = one_line_error(run("train", str(path), "--dtype", "float32", "--epochs", "1", "--quiet", code=2))
    assert f"{path}: node 3: 1e+30 is too large for float32 (numbers up to 1e+15" in line
    assert "learning rate" not in line
    run("train", str(path), "--epochs", "1", "--quiet")  # float64 holds it



# --- ids that round-trip; numbers in answers -----------------------------------------

ODD_IDS = ["2024-01-01", "1e3", "yes", "null", "0x10", "1:30", '"😀 a\\u2028b\\x85c\\ufeff"', '"a\\"b\\\\c"',
           "2024-01-01 10:00:00", "1.0e+20", "'007'", "'-0'", "\"\\e[31mred\""]


def test_odd_node_ids_round_trip_through_train_save_and_step(tmp_path):
    """Ids YAML reads as dates, booleans, null, hex or text that looks like a number,
    and ids beyond the BMP or with characters YAML must escape: ``train --save`` writes
    each so that reading the saved problem gives the same id, of the same type."""
    rows = "".join(f"  {node}: [{i / 10}, {1 - i / 10}]\n" for i, node in enumerate(ODD_IDS))
    labels = ", ".join(f"{node}: {i % 3}" for i, node in enumerate(ODD_IDS))
    path = write(tmp_path, f"embeddings:\n{rows}labels: {{{labels}}}\nlearning_rate: 0.1\n")
    given = load_problem(path)
    assert len(set(map(str, given.node_ids))) == len(ODD_IDS)
    saved = tmp_path / "saved.yaml"
    run("train", str(path), "--epochs", "2", "--quiet", "--save", str(saved))
    again = load_problem(saved)
    assert [(type(i), str(i)) for i in again.node_ids] == [(type(i), str(i)) for i in given.node_ids]
    assert np.array_equal(again.y, given.y) and np.array_equal(again.Z, given.Z)
    assert "2024-01-01" in given.node_ids and 16 in given.node_ids and True in given.node_ids
    stepped = json.loads(run("step", str(saved), "--format", "json").stdout)
    assert len(stepped["node_ids"]) == len(ODD_IDS)


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 10**30, 0.5, -1e-05, 1e20, float("inf"), float("-inf"), "", "yes", "1e3", "2024-01-01",
     "a: b", "- x", "#", "😀", "\u2028", "\x85", "\ufeff", "\x00", "\x1b[0m", "\\", '"', "'"],
)
def test_a_scalar_written_for_yaml_reads_back_as_itself(value):
    from nodeclf_cli.sources import yaml_scalar

    assert parse_yaml(f"key: {yaml_scalar(value)}\n", "p.yaml")["key"] == value


def test_nan_written_for_yaml_reads_back_as_nan():
    from nodeclf_cli.sources import yaml_scalar

    assert np.isnan(parse_yaml(f"key: {yaml_scalar(float('nan'))}\n", "p.yaml")["key"])


@pytest.mark.parametrize(
    "written, value, digits",
    [("0x1F", 31, "31"), ("0b101", 5, "5"), ("1:30", 90, "90"), ("017", 15, "15"), ("1_000", 1000, "1000"),
     ("1_000.50", 1000.5, "1000.50"), ("1:30.5", 90.5, "90.5"), ("0.50", 0.5, "0.50")],
)
def test_answers_read_yaml_11_numbers_as_the_problem_loader_does(written, value, digits):
    """The same number as in a problem file; the digits kept are those written where
    they spell it in decimal, else the decimal digits of the number."""
    from nodeclf_cli.answers import _AnswerLoader

    read = parse_yaml(f"answer: {written}\n", "a.yaml", _AnswerLoader)["answer"]
    assert read == value == parse_yaml(f"answer: {written}\n", "p.yaml")["answer"]
    assert read.text == digits


@pytest.mark.parametrize("written", ["0x1F", "1:30", "0b101", "017"])
def test_check_grades_yaml_11_numbers_without_a_traceback(tmp_path, written):
    from .conftest import EXAMPLE

    answers = write(tmp_path, f"problem: {EXAMPLE}\nanswers:\n  loss: {written}\n", "a.yaml")
    result = run("check", str(answers), "--format", "json", code=1)
    assert json.loads(result.stdout)["entries"][0]["verdict"] == "wrong"


@pytest.mark.parametrize("written", ["!!int abc", "0o17", "!!float x", "1" * 5000])
def test_answers_that_are_not_numbers_are_errors_at_their_line(tmp_path, written):
    from .conftest import EXAMPLE

    answers = write(tmp_path, f"problem: {EXAMPLE}\nanswers:\n  loss: {written}\n", "a.yaml")
    line = one_line_error(run("check", str(answers), code=2))
    assert f"{answers}:3:" in line and len(line) < 300


@pytest.mark.parametrize("cell", ["9" * 5000, "-" + "9" * 400, "1" + "0" * 3000 + ".5e10"])
def test_a_cell_of_thousands_of_digits_is_quoted_short(tmp_path, cell):
    line = step_with_embeddings(tmp_path, EMBEDDINGS.replace("4,0.2,0.1", f"4,0.2,{cell}"))
    assert ":4: node 4: expected a finite number, found " in line and len(line) < 300


def test_a_long_id_is_shown_cut_short(tmp_path):
    long_id = "n" * 5000
    line = step_with_embeddings(tmp_path, EMBEDDINGS.replace("4,0.2,0.1", f"{long_id},0.2,x"))
    assert f":4: node {'n' * 57}...: expected a number, found 'x'" in line and len(line) < 300


def test_node_ids_yaml_reads_as_nan_or_infinity_stay_names_as_written(tmp_path):
    """`.nan` and `.inf` as keys are YAML floats; as node ids they are names, kept as written
    (NaN would be no id at all: it equals nothing, and JSON would write it null)."""
    path = tmp_path / "p.yaml"
    path.write_text("embeddings:\n  .nan: [0.5, 0.6]\n  .inf: [0.3, 0.8]\n  -.inf: [0.1, 0.2]\n"
                    "labels: {.nan: 0, .inf: 1, -.inf: 0}\nlearning_rate: 0.1\n"
                    "weights: {W: [[0.1, 0.2], [0.3, 0.4]], b: [0, 0]}\n")
    data = json.loads(run("step", str(path), "--format", "json").stdout)
    assert data["node_ids"] == [".nan", ".inf", "-.inf"]
    assert data["labels"] == [0, 1, 0]
    assert data["node_ids"] == list(parse_yaml(path.read_text(), "p.yaml")["embeddings"])
