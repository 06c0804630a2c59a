"""Loading problems from YAML and CSV, and refusing bad ones with a clear place."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from nodeclf_cli.errors import NodeclfError
from nodeclf_cli.problem import EXAMPLES, bundled_example, load_problem

from .conftest import EXAMPLE, ROOT


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_example_loads_as_the_article(article):
    problem = load_problem(EXAMPLE)
    assert problem.node_ids == (1, 2, 3, 4, 5)
    assert problem.classes == (0, 1, 2)
    assert_array_equal(problem.Z, article.Z)
    assert_array_equal(problem.y, article.y)
    assert_array_equal(problem.W, article.W)
    assert_array_equal(problem.b, article.b)
    assert problem.learning_rate == 0.2


def test_bundled_example_is_the_data_example():
    assert bundled_example().read_bytes() == EXAMPLE.read_bytes()
    assert load_problem().node_ids == (1, 2, 3, 4, 5)


def test_bundled_karate_is_the_data_karate():
    assert bundled_example("karate").read_bytes() == (ROOT / "data" / "karate.yaml").read_bytes()


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_a_bundled_example_is_found_by_name_from_any_directory(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    problem = load_problem(Path(name))
    assert problem.source == str(bundled_example(name))
    assert len(problem.node_ids) == (5 if name == "article" else 34)


def test_a_file_of_an_examples_name_is_read_before_the_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "karate").write_text("embeddings: {1: [1.0], 2: [2.0]}\nlabels: {1: 0, 2: 1}\n", encoding="utf-8")
    assert load_problem(Path("karate")).node_ids == (1, 2)


def test_a_missing_problem_file_names_the_bundled_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NodeclfError) as error:
        load_problem(Path("data") / "karate.yaml")
    assert str(error.value) == f"{Path('data') / 'karate.yaml'}: no such file (or name a bundled example: article, karate)"


def test_csv_problem_equals_yaml_problem():
    yaml_problem = load_problem(EXAMPLE)
    csv_problem = load_problem(ROOT / "data" / "example-csv.yaml")
    for name in ("node_ids", "classes", "learning_rate"):
        assert getattr(csv_problem, name) == getattr(yaml_problem, name)
    for name in ("Z", "y", "W", "b"):
        assert_array_equal(getattr(csv_problem, name), getattr(yaml_problem, name))


def test_command_line_files_override_the_problem(tmp_path):
    labels = write(tmp_path, "labels.csv", "1,2\n2,2\n3,2\n4,2\n5,0\n")
    problem = load_problem(EXAMPLE, labels=labels, learning_rate=0.5)
    assert problem.y.tolist() == [2, 2, 2, 2, 0]
    assert problem.learning_rate == 0.5


def test_string_ids_and_class_names(tmp_path):
    path = write(
        tmp_path,
        "p.yaml",
        """
        embeddings: {alice: [1, 0], bob: [0, 1], carol: [1, 1]}
        labels: {alice: cat, bob: dog, carol: cat}
        classes: [dog, cat]
        weights: {W: [[0.1, 0.2], [0.3, 0.4]], b: [0, 0]}
        learning_rate: 0.1
        """,
    )
    problem = load_problem(path)
    assert problem.node_ids == ("alice", "bob", "carol")
    assert problem.classes == ("dog", "cat")
    assert problem.y.tolist() == [1, 0, 1]


def test_weights_csv_rows_are_put_in_the_order_of_classes(tmp_path):
    write(tmp_path, "w.csv", "class,b,w_0\nb,2,20\na,1,10\n")
    path = write(
        tmp_path,
        "p.yaml",
        """
        embeddings: {1: [1.0], 2: [2.0]}
        labels: {1: a, 2: b}
        classes: [a, b]
        weights: w.csv
        learning_rate: 1e-3
        """,
    )
    problem = load_problem(path)
    assert problem.W.tolist() == [[10.0], [20.0]]
    assert problem.b.tolist() == [1.0, 2.0]
    assert problem.learning_rate == 0.001


def errors(tmp_path, text):
    path = write(tmp_path, "p.yaml", text)
    with pytest.raises(NodeclfError) as info:
        load_problem(path)
    return str(info.value)


BASE = """
embeddings:
  1: [0.5, 0.6]
  2: [0.3, 0.8]
labels: {1: 0, 2: 1}
weights:
  W: [[0.1, 0.2], [0.3, 0.4]]
  b: [0.0, 0.0]
learning_rate: 0.2
"""


def test_the_base_problem_loads(tmp_path):
    assert load_problem(write(tmp_path, "p.yaml", BASE)).n_classes == 2


def test_duplicate_yaml_node_id_names_both_lines(tmp_path):
    message = errors(tmp_path, BASE.replace("  2: [0.3, 0.8]", "  1: [0.3, 0.8]"))
    assert message.endswith("p.yaml:3: duplicate key 1 (first on line 2)")


def test_duplicate_csv_node_id(tmp_path):
    write(tmp_path, "e.csv", "1,0.5,0.6\n2,0.3,0.8\n1,0.1,0.1\n")
    message = errors(tmp_path, BASE.replace("embeddings:\n  1: [0.5, 0.6]\n  2: [0.3, 0.8]", "embeddings: e.csv"))
    assert "e.csv:3: duplicate node id 1 (first at line 1)" in message


def test_unknown_key_suggests_the_close_one(tmp_path):
    message = errors(tmp_path, BASE.replace("learning_rate", "learnig_rate"))
    assert "p.yaml:8: unknown key 'learnig_rate'" in message
    assert "did you mean 'learning_rate'?" in message


def test_wrong_width_of_W_names_the_numbers(tmp_path):
    message = errors(tmp_path, BASE.replace("W: [[0.1, 0.2], [0.3, 0.4]]", "W: [[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]]"))
    assert "p.yaml:6: weights.W row 1: has 3 numbers, expected 2 (the embedding size)" in message


def test_wrong_length_of_b(tmp_path):
    message = errors(tmp_path, BASE.replace("b: [0.0, 0.0]", "b: [0.0]"))
    assert "p.yaml:7: weights.b: b has 1 number but W has 2 rows (one per class)" in message


def test_ragged_embeddings(tmp_path):
    message = errors(tmp_path, BASE.replace("2: [0.3, 0.8]", "2: [0.3]"))
    assert "p.yaml:3: embeddings[2]: has 1 number, but the first embedding has 2" in message


def test_label_out_of_range(tmp_path):
    message = errors(tmp_path, BASE.replace("labels: {1: 0, 2: 1}", "labels: {1: 0, 2: 2}"))
    assert "labels[2]: class 2 is out of range: the weights have 2 classes, numbered 0..1" in message


def test_text_where_a_number_belongs(tmp_path):
    message = errors(tmp_path, BASE.replace("learning_rate: 0.2", "learning_rate: fast"))
    assert message.endswith("p.yaml:8: learning_rate: expected a number, found 'fast'")


def test_missing_label(tmp_path):
    message = errors(tmp_path, BASE.replace("labels: {1: 0, 2: 1}", "labels: {1: 0}"))
    assert "node 2 has no label" in message


def test_label_for_an_unknown_node(tmp_path):
    message = errors(tmp_path, BASE.replace("labels: {1: 0, 2: 1}", "labels: {1: 0, 2: 1, 7: 0}"))
    assert "label for node 7, which has no embedding" in message


def test_object_tags_are_refused(tmp_path):
    message = errors(tmp_path, "embeddings: !!python/object/apply:os.system ['echo hi']\n")
    assert "p.yaml:1:" in message and "not allowed" in message


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    message = errors(tmp_path, BASE.replace("labels: {1: 0, 2: 1}", "labels: {1: 0, 2: 1"))
    assert "p.yaml:5: YAML error at column 8: expected ',' or '}', but got ':'" in message
    assert "(while parsing a flow mapping that starts on line 4)" in message


@pytest.mark.parametrize(
    "text, message",
    [
        ("embeddings:\n\t1: [0.5]\n", "p.yaml:2: YAML error at column 1: found character '\\t' that cannot start any token"),
        ("embeddings: &x {1: [0.5]}\nlabels: *y\n", "p.yaml:2: YAML error at column 9: found undefined alias 'y'"),
    ],
)
def test_yaml_errors_are_worded_as_pyyamls_own_parser_words_them(tmp_path, text, message):
    """Parsed by libyaml for speed; a syntax error is described by PyYAML's parser,
    which names the character or alias (libyaml: "found character that cannot start
    any token")."""
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(NodeclfError) as caught:
        load_problem(path)
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_big_problem_is_parsed_by_libyaml_where_pyyaml_has_it():
    import yaml

    from nodeclf_cli.sources import _LocatingLoader

    assert issubclass(_LocatingLoader, yaml.CSafeLoader) == yaml.__with_libyaml__


def test_top_level_list_is_refused(tmp_path):
    assert "expected a mapping" in errors(tmp_path, "- 1\n- 2\n")


def test_nan_is_refused(tmp_path):
    message = errors(tmp_path, BASE.replace("[0.5, 0.6]", "[.nan, 0.6]"))
    assert "embeddings[1]: expected a finite number" in message


def test_npy_embeddings_are_memory_mapped(tmp_path, article):
    np.save(tmp_path / "z.npy", article.Z)
    labels = write(tmp_path, "y.csv", "0,0\n1,1\n2,0\n3,1\n4,2\n")
    problem = load_problem(EXAMPLE, embeddings=tmp_path / "z.npy", labels=labels)
    assert isinstance(problem.Z, np.memmap)
    assert tuple(problem.node_ids) == (0, 1, 2, 3, 4)


@pytest.mark.parametrize("options", [True, False])
def test_a_problem_without_what_the_caller_requires_is_refused(tmp_path, options):
    bare = tmp_path / "bare.yaml"
    bare.write_text("embeddings: {1: [1.0], 2: [2.0]}\nlabels: {1: 0, 2: 1}\n")
    assert load_problem(bare).W is None  # nothing required: a problem without weights loads
    hint = " or pass --weights" if options else ""
    with pytest.raises(NodeclfError, match=f"^{re.escape(str(bare))}: no weights: add weights: to the problem{hint}$"):
        load_problem(bare, require=("weights", "learning_rate"), options=options)
    weighted = tmp_path / "weighted.yaml"
    weighted.write_text(bare.read_text() + "weights: {W: [[1.0], [2.0]], b: [0.0, 0.0]}\n")
    assert load_problem(weighted, require=("weights",)).learning_rate is None
    hint = " or pass --lr" if options else ""
    message = f"^{re.escape(str(weighted))}: no learning rate: add learning_rate: to the problem{hint}$"
    with pytest.raises(NodeclfError, match=message):
        load_problem(weighted, require=("weights", "learning_rate"), options=options)
    given = load_problem(weighted, learning_rate=0.5, require=("weights", "learning_rate"))
    assert given.learning_rate == 0.5  # an option gives what the file leaves out
