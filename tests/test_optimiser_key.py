"""A problem's optimizer: key (short and long form, with a state), the options that override
it, and its errors: one line, the file and line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from nodeclf_cli.cli import app
from nodeclf_cli.problem import load_problem

from .conftest import EXAMPLE

runner = CliRunner()
ARTICLE = EXAMPLE.read_text(encoding="utf-8")
STATE_W = [[0.1, -0.2, 0.3, 0.0], [0.0, 0.1, -0.1, 0.2], [-0.1, 0.1, 0.0, -0.2]]
STATE_B = [0.05, -0.05, 0.0]


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def problem_file(tmp_path: Path, key: str) -> Path:
    path = tmp_path / "problem.yaml"
    path.write_text(ARTICLE + key, encoding="utf-8")
    return path


def step_json(*args: str) -> dict:
    return json.loads(run("step", *args, "--format", "json").stdout)


def test_the_short_form_is_the_optimiser_with_pytorchs_defaults(tmp_path):
    problem = load_problem(problem_file(tmp_path, "optimizer: adamw\n"))
    assert problem.optimiser_name == "adamw" and problem.optimiser.state.t == 0
    assert problem.optimiser.settings.as_dict() == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}
    assert step_json(str(problem_file(tmp_path, "optimizer: adamw\n"))) == step_json(str(EXAMPLE), "--optimizer",
                                                                                         "adamw")


def test_the_long_form_with_a_state_works_from_that_state(tmp_path):
    key = (f"optimizer:\n  name: momentum\n  momentum: 0.5\n  dampening: 0.25\n  state:\n    t: 2\n"
           f"    velocity: {{W: {STATE_W}, b: {STATE_B}}}\n")
    data = step_json(str(problem_file(tmp_path, key)))
    g_W, g_b = np.array(data["grad_W"]), np.array(data["grad_b"])
    velocity_W = 0.5 * np.array(STATE_W) + 0.75 * g_W  # b_t = μ b_{t−1} + (1 − τ) g
    assert_allclose(data["velocity_W"], velocity_W, rtol=1e-12)
    assert_allclose(data["velocity_b"], 0.5 * np.array(STATE_B) + 0.75 * g_b, rtol=1e-12)
    assert_allclose(data["W_new"], np.array(data["W"]) - 0.2 * velocity_W, rtol=1e-12)
    assert data["optimizer"] == {"name": "momentum", "t": 3, "settings": {"momentum": 0.5, "dampening": 0.25}}


def test_options_override_the_key(tmp_path):
    key = f"optimizer:\n  name: adam\n  beta1: 0.5\n  state: {{t: 1, m: {{W: {STATE_W}, b: {STATE_B}}}, " \
          f"v: {{W: {STATE_W}, b: [1, 1, 1]}}}}\n"
    path = str(problem_file(tmp_path, key.replace(f"v: {{W: {STATE_W}", "v: {W: " + str(np.abs(STATE_W).tolist()))))
    beta = step_json(path, "--beta1", "0.8")
    assert beta["optimizer"]["settings"]["beta1"] == 0.8 and beta["optimizer"]["t"] == 2  # the key's state kept
    other = step_json(path, "--optimizer", "nesterov")  # another optimiser: none of the key's settings or state
    assert other["optimizer"] == {"name": "nesterov", "t": 1, "settings": {"momentum": 0.9}}
    saved = tmp_path / "state.json"
    saved.write_text(json.dumps({"optimizer": "adam", "t": 4, "m": {"W": STATE_W, "b": STATE_B},
                                 "v": {"W": np.abs(STATE_W).tolist(), "b": [0.5, 0.5, 0.5]}}))
    assert step_json(path, "--state", str(saved))["optimizer"]["t"] == 5
    assert "optimizer" not in step_json(path, "--optimizer", "sgd")


@pytest.mark.parametrize("key, line, says", [
    ("optimizer: rmsprop\n", 0, "optimizer: expected one of sgd, momentum, nesterov, adam, adamw, found rmsprop"),
    ("optimizer:\n  name: adam\n  momentum: 0.9\n", 2, "optimizer.momentum: applies to momentum or nesterov, not adam"),
    ("optimizer:\n  name: adam\n  nope: 1\n", 2, "optimizer.nope: unknown key 'nope'"),
    ("optimizer:\n  beta1: 0.9\n", 0, "optimizer: expected name:"),
    ("optimizer:\n  name: adam\n  beta2: 1.5\n", 2, "optimizer.beta2: must be a finite number at least 0 and below 1"),
    ("optimizer:\n  name: momentum\n  state:\n    t: 1\n", 2, "optimizer.state.velocity: expected {W: rows"),
    ("optimizer:\n  name: momentum\n  state:\n    t: -2\n", 3, "optimizer.state.t: expected the steps taken"),
    ("optimizer:\n  name: adam\n  state:\n    t: 1\n    m: {W: [[1]], b: [0, 0, 0]}\n", 4,
     "optimizer.state.m.W: expected numbers shaped as W (3, 4), found shape (1, 1)"),
    ("optimizer:\n  name: adam\n  state:\n    t: 1\n    m: {W: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "
     "b: [0, 0, 0]}\n    v: {W: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], b: [0, -0.5, 0]}\n", 5,
     "optimizer.state.v.b: v is a moving average of g², never below 0; found -0.5"),
    ("optimizer:\n  name: adam\n  state: {optimizer: momentum, t: 1}\n", 2,
     "optimizer.state.optimizer: a state of momentum, but the optimizer is adam: a state goes on only with the "
     "optimizer that wrote it"),
    ("optimizer: [adam]\n", 0, "optimizer: expected an optimiser's name"),
])
def test_a_bad_key_is_one_line_naming_the_file_and_line(tmp_path, key, line, says):
    path = problem_file(tmp_path, key)
    first = len(ARTICLE.splitlines()) + 1  # the line of optimizer:
    result = run("step", str(path), code=2)
    assert result.output.count("\n") == 1
    assert f"{path}:{first + line}: {says}" in result.output


def test_an_option_of_another_optimiser_than_the_keys_is_refused_naming_the_option(tmp_path):
    result = run("step", str(problem_file(tmp_path, "optimizer: adam\n")), "--momentum", "0.5", code=2)
    assert "--momentum: applies to --optimizer momentum or nesterov, not adam" in result.output
