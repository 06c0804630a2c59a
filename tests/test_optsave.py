"""Working optimiser steps 2 and 3 by hand: step --save-weights, train --save-state (and the
optimizer: key of train --save FILE.yaml), each held to two or more steps of core and optim.py,
and to torch.optim where PyTorch is installed."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

from nodeclf_cli import core, optim
from nodeclf_cli.problem import load_problem

from .conftest import EXAMPLE, ROOT
from .test_optimstep import run, step_json, torch_steps

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


TRAINED = {  # train's options, then the step options that continue it
    "adam": (["--optimizer", "adam", "--beta1", "0.8", "--eps", "0.001"],
             ["--optimizer", "adam", "--beta1", "0.8", "--eps", "0.001"]),
    "adamw": (["--optimizer", "adamw", "--weight-decay", "0.05"], ["--optimizer", "adamw", "--weight-decay", "0.05"]),
    "momentum": (["--momentum", "0.9"], ["--optimizer", "momentum", "--momentum", "0.9"]),
    "adam with an L2 weight decay": (["--optimizer", "adam", "--weight-decay", "0.1"],
                                     ["--optimizer", "adam", "--l2", "0.1", "--l2-form", "weight-decay"]),
    "sgd": ([], ["--optimizer", "sgd"]),
}


def train_json(*args: str) -> dict:
    return json.loads(run("train", str(EXAMPLE), "--format", "json", "--quiet", "--no-plot", *args).stdout)


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
@pytest.mark.parametrize("case", list(TRAINED))
def test_a_step_from_trains_saved_state_is_the_next_epoch(tmp_path, case, suffix):
    train_options, step_options = TRAINED[case]
    saved, state = tmp_path / f"trained{suffix}", tmp_path / "state.json"
    run("train", str(EXAMPLE), "--epochs", "3", "--quiet", "--no-plot", *train_options, "--save", str(saved),
        "--save-state", str(state))
    assert json.loads(state.read_text())["t"] == 3
    nxt = step_json(*step_options, "--weights", str(saved), "--state", str(state))
    fourth = train_json("--epochs", "4", *train_options)
    assert_allclose(nxt["W_new"], fourth["W"], rtol=1e-12, atol=1e-14)
    assert_allclose(nxt["b_new"], fourth["b"], rtol=1e-12, atol=1e-14)
    assert not np.allclose(nxt["W_new"], nxt["W"])


def test_train_then_step_equals_torchs_next_epoch(tmp_path):
    torch = pytest.importorskip("torch")
    saved, state = tmp_path / "trained.csv", tmp_path / "state.json"
    run("train", str(EXAMPLE), "--epochs", "5", "--quiet", "--no-plot", "--optimizer", "adam", "--save", str(saved),
        "--save-state", str(state))
    nxt = step_json("--optimizer", "adam", "--weights", str(saved), "--state", str(state))
    W, b, state_W, _ = torch_steps(torch, "adam", {}, 6)
    assert_allclose(nxt["W_new"], W, rtol=1e-12, atol=1e-14)
    assert_allclose(nxt["b_new"], b, rtol=1e-12, atol=1e-14)
    assert_allclose(nxt["v_W"], state_W["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-18)


def test_a_trained_problem_file_holds_the_optimiser_and_its_state(tmp_path):
    saved, state = tmp_path / "trained.yaml", tmp_path / "state.json"
    run("train", str(EXAMPLE), "--epochs", "2", "--quiet", "--no-plot", "--optimizer", "adamw", "--beta2", "0.9",
        "--save", str(saved), "--save-state", str(state))
    key = yaml.safe_load(saved.read_text())["optimizer"]
    assert {k: v for k, v in key.items() if k != "state"} == {"name": "adamw", "beta1": 0.9, "beta2": 0.9,
                                                               "eps": 1e-8, "weight_decay": 0.01}  # PyTorch's
    assert key["state"] == json.loads(state.read_text())  # the same object --save-state writes
    _, _, expected = optim_steps("adamw", {"beta2": 0.9, "weight_decay": 0.01}, 2)
    assert key["state"]["t"] == 2
    assert_allclose(key["state"]["v"]["W"], expected.v[0], rtol=1e-12, atol=1e-18)


def test_a_trained_problem_file_with_momentum_names_steps_momentum(tmp_path):
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "2", "--quiet", "--no-plot", "--momentum", "0.5", "--save", str(saved))
    key = yaml.safe_load(saved.read_text())["optimizer"]
    assert key["name"] == "momentum" and key["momentum"] == 0.5 and key["dampening"] == 0.0
    assert key["state"]["optimizer"] == "momentum" and set(key["state"]) == {"optimizer", "t", "velocity"}
    plain = tmp_path / "plain.yaml"
    run("train", str(EXAMPLE), "--epochs", "2", "--quiet", "--no-plot", "--save", str(plain))
    assert "optimizer" not in yaml.safe_load(plain.read_text())  # plain SGD has no state to carry


def test_train_save_state_is_refused_over_a_file_before_training(tmp_path):
    state = tmp_path / "state.json"
    state.write_text("kept")
    result = run("train", str(EXAMPLE), "--quiet", "--no-plot", "--save-state", str(state), code=2)
    assert "already exists; pass --force to overwrite it" in result.stderr
    assert state.read_text() == "kept"


def test_the_readmes_train_then_step_runs_as_written(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Going on by hand.**"):]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]
    assert [words[:2] for words in commands] == [["nodeclf", "train"], ["nodeclf", "step"]]
    monkeypatch.chdir(tmp_path)
    run(*commands[0][1:], "--quiet", "--no-plot")
    run(*commands[1][1:])
    epoch4 = load_problem(EXAMPLE, weights=tmp_path / commands[1][commands[1].index("--save-weights") + 1])
    fourth = train_json("--optimizer", "adam", "--epochs", "4")
    assert_allclose(epoch4.W, fourth["W"], rtol=1e-12, atol=1e-14)


@pytest.mark.skipif("optimizer" not in __import__("nodeclf_cli.problem").problem.PROBLEM_KEYS,
                    reason="this version of problem files has no optimizer: key")
@pytest.mark.parametrize("case", ["adam", "adamw", "momentum"])
def test_a_step_on_the_trained_problem_file_is_the_next_epoch(tmp_path, case):
    """The problem file train --save writes carries the optimiser and its state: a step on it alone is the
    next epoch."""
    train_options = TRAINED[case][0]
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "3", "--quiet", "--no-plot", *train_options, "--save", str(saved))
    nxt = json.loads(run("step", str(saved), "--format", "json").stdout)
    fourth = train_json("--epochs", "4", *train_options)
    assert_allclose(nxt["W_new"], fourth["W"], rtol=1e-12, atol=1e-14)
    assert_allclose(nxt["b_new"], fourth["b"], rtol=1e-12, atol=1e-14)
