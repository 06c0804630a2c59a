"""`nodeclf generate`: reproducible practice problems whose keys check as right."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import numpy as np
import pytest
import yaml

from nodeclf_cli.problem import load_problem

from .test_cli_step import run


def test_same_seed_same_problem_and_another_seed_another():
    first = run("generate", "--seed", "7").stdout
    assert run("generate", "--seed", "7").stdout == first
    assert run("generate", "--seed", "8").stdout != first


def test_the_problem_has_the_asked_shape_and_nice_numbers(tmp_path):
    path = tmp_path / "p.yaml"
    run("generate", "--nodes", "6", "--dim", "3", "--classes", "4", "--seed", "1", "-o", str(path))
    problem = load_problem(path)
    assert problem.Z.shape == (6, 3) and problem.W.shape == (4, 3) and problem.n_classes == 4
    assert sorted(set(problem.y.tolist())) == [0, 1, 2, 3]  # every class has a node
    data = yaml.safe_load(path.read_text())
    for row in data["embeddings"].values():
        assert all(-Decimal(str(x)).as_tuple().exponent <= 1 for x in row)
    for row in data["weights"]["W"]:
        assert all(-Decimal(str(x)).as_tuple().exponent <= 2 and abs(x) < 1 for x in row)


@pytest.mark.parametrize("seed", range(6))
def test_the_answer_key_checks_as_all_right(tmp_path, seed):
    problem, key = tmp_path / "p.yaml", tmp_path / "keys" / "k.yaml"
    key.parent.mkdir()
    run("generate", "--seed", str(seed), "--nodes", "4", "-o", str(problem), "--answers", str(key))
    assert "problem: ../p.yaml" in key.read_text()
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    cwd = os.getcwd()
    os.chdir(other_dir)  # the key's path is relative to the key, not to where check runs
    try:
        data = json.loads(run("check", str(key), "--format", "json", code=0).stdout)
    finally:
        os.chdir(cwd)
    assert data["summary"]["wrong"] == 0 and data["summary"]["correct"] > 40


def test_a_key_with_the_problem_inline_when_the_problem_goes_to_stdout(tmp_path):
    key = tmp_path / "k.yaml"
    out = run("generate", "--seed", "2", "--answers", str(key)).stdout
    assert out.startswith("# A practice problem made by: nodeclf generate")
    text = key.read_text()
    assert "problem:\n  embeddings:" in text
    run("check", str(key), code=0)


def test_generate_refuses_to_overwrite(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("mine")
    result = run("generate", "-o", str(path), code=2)
    assert "already exists; pass --force" in result.stderr and path.read_text() == "mine"


def test_generate_needs_two_classes():
    run("generate", "--classes", "1", code=2)


@pytest.mark.parametrize("option", ["-o", "--answers"])
def test_generate_writes_yaml_only_into_a_yaml_file(tmp_path, option):
    """A problem or key named p.json would hold YAML: refused before anything is written."""
    path = tmp_path / "p.json"
    result = run("generate", option, str(path), code=2)
    assert result.stderr.strip().endswith("writes YAML: name the file .yaml or .yml")
    assert str(path) in result.stderr and not path.exists() and list(tmp_path.iterdir()) == []
    written = tmp_path / "p.YML"  # .yaml or .yml, in any case
    run("generate", option, str(written))
    assert yaml.safe_load(written.read_text())


def test_generate_with_an_optimiser_writes_its_key_and_an_answer_key_with_its_quantities(tmp_path):
    import numpy as np

    problem, key = tmp_path / "hw.yaml", tmp_path / "key.yaml"
    run("generate", "--optimizer", "momentum", "--momentum", "0.5", "--dampening", "0.25", "-o", str(problem),
        "--answers", str(key))
    loaded = load_problem(problem)
    assert loaded.optimiser.settings.as_dict() == {"momentum": 0.5, "dampening": 0.25}
    answers = yaml.safe_load(key.read_text())["answers"]
    assert {"velocity_W", "velocity_b", "update_W", "update_b"} <= set(answers) and "m_W" not in answers
    g, velocity = np.array(answers["grad_b"]), np.array(answers["velocity_b"])
    np.testing.assert_allclose(velocity, g, atol=0.0051)  # b_1 = g: no dampening on the first step
    run("check", str(key))  # the key is all right


def test_generate_refuses_an_optimisers_setting_without_it(tmp_path):
    assert "--beta1: applies to --optimizer adam or adamw, not sgd" in run("generate", "--beta1", "0.5", code=2).output


def test_an_adam_problem_is_worked_at_significant_figures(tmp_path):
    problem, key = tmp_path / "hw.yaml", tmp_path / "key.yaml"
    run("generate", "--optimizer", "adam", "-o", str(problem), "--answers", str(key))
    required = load_problem(problem).requirement
    assert (required.values.sig_figs, required.losses.sig_figs) == (3, 5)
    answers = yaml.safe_load(key.read_text())["answers"]
    assert all(value != 0 for value in answers["v_b"])  # (1 − β2) g² is not rounded away
    run("check", str(key))


LOSS_OPTIONS = ("--class-weights", "2,1,1", "--label-smoothing", "0.1", "--l2", "0.1", "--l2-form", "half")


def test_the_loss_options_write_the_loss_key_and_the_key_holds_the_penalty(tmp_path):
    problem, key = tmp_path / "p.yaml", tmp_path / "k.yaml"
    run("generate", "--seed", "3", *LOSS_OPTIONS, "-o", str(problem), "--answers", str(key))
    data = yaml.safe_load(problem.read_text())
    assert data["loss"] == {"class_weights": [2, 1, 1], "label_smoothing": 0.1, "l2": 0.1, "l2_form": "half",
                            "l2_bias": False}
    assert "--class-weights 2,1,1 --label-smoothing 0.1 --l2 0.1 --l2-form half --no-l2-bias" in problem.read_text()
    answers = yaml.safe_load(key.read_text())["answers"]
    W = np.array(data["weights"]["W"], dtype=float)
    assert float(answers["penalty"]) == pytest.approx(0.05 * (W**2).sum(), abs=5e-5)  # ½λΣW², b not penalised
    assert float(answers["regularized_loss"]) == pytest.approx(float(answers["loss"]) + float(answers["penalty"]),
                                                               abs=1.5e-4)
    y = np.array(list(data["labels"].values()))
    weighted = sum(float(answers["loss_per_node"][i + 1]) for i in range(len(y))) / np.array([2, 1, 1])[y].sum()
    assert float(answers["loss"]) == pytest.approx(weighted, abs=5e-4)  # the weighted mean, Σℓ / Σ w_{y_i}
    summary = json.loads(run("check", str(key), "--format", "json", code=0).stdout)["summary"]
    assert summary["wrong"] == 0
    again = tmp_path / "again.yaml"  # the command in the comment makes the same problem
    command = problem.read_text().splitlines()[0].split("nodeclf ", 1)[1].split()
    run(*command, "-o", str(again))
    assert again.read_text() == problem.read_text()


def test_a_plain_problem_has_no_loss_key_and_a_bad_loss_option_is_one_line(tmp_path):
    assert "loss:" not in run("generate").stdout
    result = run("generate", "--class-weights", "2,1", code=2)
    expected = "nodeclf: error: --class-weights: expected 3 weights (one per class: 0, 1, 2), found 2"
    assert result.stderr.strip() == expected
    run("generate", "--l2", "1", "--l2-form", "sklearn", "--gift", str(tmp_path / "q.gift"))
    assert "R \\= Σ W² / (2CN)  (C \\= 1)" in (tmp_path / "q.gift").read_text(encoding="utf-8")  # its quiz says so


def test_every_students_problem_has_the_loss_key_and_its_key_the_penalty(tmp_path):
    (tmp_path / "roster.csv").write_text("email\na@example.edu\nb@example.edu\n")
    run("generate", "--students", str(tmp_path / "roster.csv"), "--seed", "5", "--out-dir", str(tmp_path / "hw"),
        "--nodes", "3", "--l2", "0.5", "--l2-form", "sklearn")
    problems = sorted((tmp_path / "hw" / "problems").iterdir())
    assert len(problems) == 2
    for problem in problems:
        data = yaml.safe_load(problem.read_text())
        assert data["loss"] == {"l2": 0.5, "l2_form": "sklearn", "l2_bias": False}
        key = tmp_path / "hw" / "keys" / problem.name
        answers = yaml.safe_load(key.read_text())["answers"]
        W = np.array(data["weights"]["W"], dtype=float)
        assert float(answers["penalty"]) == pytest.approx((W**2).sum() / (2 * 0.5 * 3), abs=5e-5)  # ΣW²/(2CN)
        assert json.loads(run("check", str(key), "--format", "json", code=0).stdout)["summary"]["wrong"] == 0


def test_adams_precision_replacing_given_decimals_is_said(tmp_path):
    path = tmp_path / "p.yaml"
    result = run("generate", "--optimizer", "adamw", "--decimals", "3", "-o", str(path))
    assert "adamw's answers are asked at 3 significant figures, not 3 decimals" in result.stderr
    data = yaml.safe_load(path.read_text())
    assert data["precision"] == {"sig_figs": 3, "loss_sig_figs": 5}
    assert any(len(w.split(".")[1]) == 3 for row in data["weights"]["W"] for w in map(str, row) if "." in w)
    quiet = run("generate", "--optimizer", "adam", "-o", str(tmp_path / "q.yaml"))  # not asked: nothing to say
    assert "note" not in quiet.stderr
