"""Working optimiser steps 2 and 3 by hand: step --save-weights, train --save-state (and the
optimizer: key of train --save FILE.yaml), each held to two or more steps of core and optim.py,
and to torch.optim where PyTorch is installed."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from nodeclf_cli import core, optim
from nodeclf_cli.cli import app
from nodeclf_cli.problem import load_problem

from .conftest import EXAMPLE, ROOT

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def step_json(*args: str) -> dict:
    return json.loads(run("step", str(EXAMPLE), "--format", "json", *args).stdout)


SETTINGS = {  # step's options and the same settings as optim.py's keywords
    "momentum": (["--momentum", "0.8", "--dampening", "0.3"], {"momentum": 0.8, "dampening": 0.3}),
    "nesterov": (["--momentum", "0.7"], {"momentum": 0.7, "nesterov": True}),
    "adam": (["--beta1", "0.8", "--beta2", "0.99", "--eps", "0.001"], {"beta1": 0.8, "beta2": 0.99, "eps": 0.001}),
    "adamw": (["--weight-decay", "0.3"], {"weight_decay": 0.3}),
}


def optim_steps(name: str, keywords: dict, steps: int, W=None, b=None, state=None):
    """The example's weights after ``steps`` steps of core's gradient and optim.py's rule ``name``."""
    problem = load_problem(EXAMPLE)
    W, b = (problem.W, problem.b) if W is None else (W, b)
    if name in ("sgd", "momentum", "nesterov"):
        rule, state = optim.sgd, state or optim.MomentumState()
    else:
        rule, state = (optim.adam if name == "adam" else optim.adamw), state or optim.AdamState()
    for _ in range(steps):
        result = core.gradient_step(problem.Z, problem.y, W, b, problem.learning_rate)
        (W, b), state = rule((W, b), (result.grad_W, result.grad_b), state, problem.learning_rate, **keywords)
    return W, b, state


def test_save_weights_then_weights_is_two_steps_of_core(tmp_path):
    first = tmp_path / "w1.csv"
    run("step", str(EXAMPLE), "--save-weights", str(first))
    second = step_json("--weights", str(first))
    problem = load_problem(EXAMPLE)
    one = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, problem.learning_rate)
    two = core.gradient_step(problem.Z, problem.y, one.W_new, one.b_new, problem.learning_rate)
    assert_allclose(second["W"], one.W_new, rtol=0, atol=0)  # the CSV holds every digit
    assert_allclose(second["W_new"], two.W_new, rtol=1e-15, atol=0)
    assert_allclose(second["b_new"], two.b_new, rtol=1e-15, atol=0)


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
@pytest.mark.parametrize("name", list(SETTINGS))
def test_an_optimisers_saved_weights_and_state_give_its_second_and_third_steps(tmp_path, name, suffix):
    options, keywords = SETTINGS[name]
    state1, weights1 = tmp_path / "state1.json", tmp_path / f"w1{suffix}"
    state2, weights2 = tmp_path / "state2.json", tmp_path / f"w2{suffix}"
    run("step", str(EXAMPLE), "--optimizer", name, *options, "--save-state", str(state1),
        "--save-weights", str(weights1))
    W1, b1, _ = optim_steps(name, keywords, 1)
    assert_allclose(load_problem(EXAMPLE, weights=weights1).W, W1, rtol=0, atol=0)
    second = step_json("--optimizer", name, *options, "--weights", str(weights1), "--state", str(state1),
                       "--save-state", str(state2), "--save-weights", str(weights2))
    W2, b2, _ = optim_steps(name, keywords, 2)
    assert second["optimizer"]["t"] == 2
    assert_allclose(second["W_new"], W2, rtol=1e-13, atol=1e-15)
    assert_allclose(second["b_new"], b2, rtol=1e-13, atol=1e-15)
    third = step_json("--optimizer", name, *options, "--weights", str(weights2), "--state", str(state2))
    W3, b3, _ = optim_steps(name, keywords, 3)
    assert third["optimizer"]["t"] == 3
    assert_allclose(third["W_new"], W3, rtol=1e-13, atol=1e-15)
    assert_allclose(third["b_new"], b3, rtol=1e-13, atol=1e-15)
    assert not np.allclose(W3, W2)  # each step moved the weights


def test_the_readmes_steps_by_hand_run_as_written(tmp_path, monkeypatch):
    """The README's workflow of optimiser steps, run line by line, equals three steps of Adam."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### Optimisers by hand"):readme.index("### `nodeclf train")]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]
    assert len(commands) == 3 and all(words[:2] == ["nodeclf", "step"] for words in commands)
    monkeypatch.chdir(tmp_path)
    for words in commands:
        run(*words[1:])
    last = json.loads(run(*commands[-1][1:], "--format", "json", "--force").stdout)  # the third step again
    W3, b3, state = optim_steps("adam", {}, 3)
    assert_allclose(last["W_new"], W3, rtol=1e-13, atol=1e-15)
    saved = json.loads((tmp_path / commands[-1][commands[-1].index("--save-state") + 1]).read_text())
    assert saved["t"] == 3
    assert_allclose(saved["m"]["W"], state.m[0], rtol=1e-13, atol=1e-16)


def test_save_weights_is_refused_over_a_file_or_an_input_and_with_another_suffix(tmp_path):
    existing = tmp_path / "w.csv"
    existing.write_text("kept")
    result = run("step", str(EXAMPLE), "--save-weights", str(existing), code=2)
    assert "already exists; pass --force to overwrite it" in result.stderr
    assert existing.read_text() == "kept"
    run("step", str(EXAMPLE), "--save-weights", str(existing), "--force")
    written = existing.read_text()
    result = run("step", str(EXAMPLE), "--weights", str(existing), "--save-weights", str(existing), "--force",
                 code=2)
    assert "--save-weights names" in result.stderr and "which this command reads" in result.stderr
    assert existing.read_text() == written
    result = run("step", str(EXAMPLE), "--save-weights", str(tmp_path / "w.txt"), code=2)
    assert "name the file .csv or .yaml" in result.stderr
    assert not (tmp_path / "w.txt").exists()


def test_a_yaml_weights_file_names_the_classes_order_and_reads_back_exactly(tmp_path):
    saved = tmp_path / "w.yaml"
    run("step", str(EXAMPLE), "--optimizer", "adam", "--save-weights", str(saved))
    data = yaml.safe_load(saved.read_text())
    W1, b1, _ = optim_steps("adam", {}, 1)
    assert np.array_equal(np.array(data["weights"]["W"]), W1) and np.array_equal(np.array(data["weights"]["b"]), b1)
    assert saved.read_text().startswith("# rows in the order of the classes: [0, 1, 2]\n")
