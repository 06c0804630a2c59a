"""train honours a problem's optimizer: key (its settings, and its state: to go on from) and writes the
problem's loss: key into the file --save makes: train N epochs and save, then train the saved file M
epochs, is one run of N + M epochs (the weights and the optimiser's state), and a step on the saved
file works the next epoch under the same loss."""

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

from nodeclf_cli.cli import app
from nodeclf_cli.problem import load_problem

from .conftest import EXAMPLE, ROOT
from .test_optimstep import torch_steps

runner = CliRunner()
ARTICLE = EXAMPLE.read_text(encoding="utf-8")
QUIET = ("--quiet", "--no-plot")


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def problem_file(tmp_path: Path, key: str, name: str = "problem.yaml") -> Path:
    path = tmp_path / name
    path.write_text(ARTICLE + key, encoding="utf-8")
    return path


def trained(problem: Path, *args: str, state: Path | None = None) -> dict:
    """train's JSON, and with ``state`` the state it wrote there (--save-state)."""
    extra = ("--save-state", str(state)) if state is not None else ()
    return json.loads(run("train", str(problem), "--format", "json", *QUIET, *args, *extra).stdout)


def assert_same_states(first: Path, second: Path):
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert a.keys() == b.keys() and a["optimizer"] == b["optimizer"] and a["t"] == b["t"]
    for key in set(a) - {"optimizer", "t"}:
        for part in ("W", "b"):
            assert_allclose(a[key][part], b[key][part], rtol=1e-12, atol=1e-16)


OPTIONS = {  # train's options of each optimiser
    "sgd": [],
    "momentum": ["--momentum", "0.8"],
    "adam": ["--optimizer", "adam", "--beta1", "0.8", "--eps", "0.001"],
    "adamw": ["--optimizer", "adamw", "--weight-decay", "0.05", "--beta2", "0.99"],
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_n_epochs_saved_then_m_epochs_of_the_saved_file_are_n_plus_m_epochs(tmp_path, name):
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "3", *QUIET, *OPTIONS[name], "--save", str(saved))
    went_on = trained(saved, "--epochs", "4", state=tmp_path / "went_on.json")  # no options: the file's key
    whole = trained(EXAMPLE, "--epochs", "7", *OPTIONS[name], state=tmp_path / "whole.json")
    assert_allclose(went_on["W"], whole["W"], rtol=1e-12, atol=1e-14)
    assert_allclose(went_on["b"], whole["b"], rtol=1e-12, atol=1e-14)
    assert_allclose([e["loss"] for e in went_on["history"]], [e["loss"] for e in whole["history"][3:]], rtol=1e-12)
    if name == "sgd":  # plain SGD has no state (as torch.optim.SGD keeps none): the file has no optimizer: key
        assert "optimizer" not in yaml.safe_load(saved.read_text())
        return
    assert_same_states(tmp_path / "went_on.json", tmp_path / "whole.json")
    assert json.loads((tmp_path / "went_on.json").read_text())["t"] == 7
    # the same weights from a state of zero (the example has no optimizer: key): the same 4 epochs differ
    fresh = trained(EXAMPLE, "--weights", str(saved), "--epochs", "4", *OPTIONS[name])
    assert not np.allclose(fresh["W"], whole["W"], rtol=1e-6)


KEYS = {  # a problem's optimizer: key, and train's options for the same optimiser on the plain problem
    "adam": ("optimizer: adam\n", ["--optimizer", "adam"]),
    "adamw": ("optimizer: adamw\n", ["--optimizer", "adamw", "--weight-decay", "0.01"]),  # PyTorch's λ
    "adamw long": ("optimizer: {name: adamw, beta1: 0.7, weight_decay: 0.2}\n",
                   ["--optimizer", "adamw", "--beta1", "0.7", "--weight-decay", "0.2"]),
    "momentum": ("optimizer: momentum\n", ["--momentum", "0.9"]),  # PyTorch's... the key's default μ
    "momentum long": ("optimizer: {name: momentum, momentum: 0.6}\n", ["--momentum", "0.6"]),
}


@pytest.mark.parametrize("case", list(KEYS))
def test_a_problems_optimizer_key_is_what_train_trains_with(tmp_path, case):
    key, options = KEYS[case]
    by_key = trained(problem_file(tmp_path, key), "--epochs", "5")
    by_options = trained(EXAMPLE, "--epochs", "5", *options)
    plain = trained(EXAMPLE, "--epochs", "5")
    assert_allclose(by_key["W"], by_options["W"], rtol=1e-13, atol=1e-15)
    assert not np.allclose(by_key["W"], plain["W"], rtol=1e-6)


def optim_by_hand(name: str, epochs: int, keywords: dict, state=None):
    """The example's weights after ``epochs`` steps of core's gradient and optim.py's rule, from ``state``."""
    from nodeclf_cli import core, optim

    problem = load_problem(EXAMPLE)
    W, b = problem.W, problem.b
    rule = optim.sgd if name == "sgd" else optim.adam if name == "adam" else optim.adamw
    state = state or (optim.MomentumState() if name == "sgd" else optim.AdamState())
    for _ in range(epochs):
        step = core.gradient_step(problem.Z, problem.y, W, b, problem.learning_rate)
        (W, b), state = rule((W, b), (step.grad_W, step.grad_b), state, problem.learning_rate, **keywords)
    return W, b, state


@pytest.mark.parametrize(
    "key, rule, keywords",
    [
        ("optimizer: {name: nesterov, momentum: 0.7}\n", "sgd", {"momentum": 0.7, "nesterov": True}),
        ("optimizer: {name: momentum, momentum: 0.8, dampening: 0.3}\n", "sgd", {"momentum": 0.8, "dampening": 0.3}),
    ],
)
def test_nesterov_and_dampening_from_the_key_are_optims_rules(tmp_path, key, rule, keywords):
    W, b, _ = optim_by_hand(rule, 6, keywords)
    got = trained(problem_file(tmp_path, key), "--epochs", "6")
    assert_allclose(got["W"], W, rtol=1e-12, atol=1e-15)
    assert_allclose(got["b"], b, rtol=1e-12, atol=1e-15)
    saved = tmp_path / "trained.yaml"
    run("train", str(problem_file(tmp_path, key)), "--epochs", "2", *QUIET, "--save", str(saved))
    written = yaml.safe_load(saved.read_text())["optimizer"]
    assert written["name"] == yaml.safe_load(key)["optimizer"]["name"]
    settings = {k: v for k, v in keywords.items() if k != "nesterov"}
    assert {k: written[k] for k in settings} == settings


def test_the_keys_state_is_where_training_starts(tmp_path):
    """A state written by hand (t = 2, m and v) in the key: 3 epochs from it are optim.py's 3 steps from it,
    with bias corrections for t = 3, 4, 5."""
    from nodeclf_cli import optim

    m_W, m_b = [[0.01, -0.02, 0.03, 0.0], [0.0, 0.01, -0.01, 0.02], [-0.01, 0.01, 0.0, -0.02]], [0.005, -0.005, 0.0]
    v_W, v_b = [[1e-4, 2e-4, 1e-4, 3e-4], [2e-4, 1e-4, 1e-4, 1e-4], [1e-4, 1e-4, 2e-4, 1e-4]], [1e-4, 2e-4, 1e-4]
    key = ("optimizer:\n  name: adam\n  state:\n    t: 2\n"
           f"    m: {{W: {m_W}, b: {m_b}}}\n    v: {{W: {v_W}, b: {v_b}}}\n")
    state = optim.AdamState(t=2, m=(np.array(m_W), np.array(m_b)), v=(np.array(v_W), np.array(v_b)))
    W, b, after = optim_by_hand("adam", 3, {}, state)
    got = trained(problem_file(tmp_path, key), "--epochs", "3", state=tmp_path / "s.json")
    assert_allclose(got["W"], W, rtol=1e-12, atol=1e-15)
    assert_allclose(got["b"], b, rtol=1e-12, atol=1e-15)
    written = json.loads((tmp_path / "s.json").read_text())
    assert written["t"] == 5
    assert_allclose(written["v"]["W"], after.v[0], rtol=1e-12, atol=1e-18)
    title = run("train", str(problem_file(tmp_path, key)), "--epochs", "1", *QUIET).stdout
    assert "going on from the optimiser's state after 2 steps" in " ".join(title.split())


def test_options_override_the_key(tmp_path):
    problem = problem_file(tmp_path, "optimizer: {name: momentum, momentum: 0.9}\n")
    # another optimiser takes the key's place
    assert_allclose(trained(problem, "--epochs", "4", "--optimizer", "sgd")["W"],
                    trained(EXAMPLE, "--epochs", "4")["W"], rtol=1e-13)
    assert_allclose(trained(problem, "--epochs", "4", "--optimizer", "adam")["W"],
                    trained(EXAMPLE, "--epochs", "4", "--optimizer", "adam")["W"], rtol=1e-13)
    # a setting replaces the key's own
    assert_allclose(trained(problem, "--epochs", "4", "--momentum", "0.5")["W"],
                    trained(EXAMPLE, "--epochs", "4", "--momentum", "0.5")["W"], rtol=1e-13)


@pytest.mark.parametrize(
    "key, args, says",
    [
        ("optimizer: momentum\n", ["--beta1", "0.5"],
         "--beta1: applies to --optimizer adam or adamw, not momentum (the problem's optimizer:)"),
        ("optimizer: adam\n", ["--momentum", "0.5"],
         "--momentum: applies to --optimizer momentum or nesterov, not adam (the problem's optimizer:); "
         "Adam's momentum is --beta1"),
        ("optimizer: adam\n", ["--optimizer", "sgd", "--beta2", "0.5"], "--beta2: applies to --optimizer adam or "
         "adamw, not sgd\n"),
    ],
)
def test_an_option_of_another_optimiser_than_the_keys_is_refused(tmp_path, key, args, says):
    result = run("train", str(problem_file(tmp_path, key)), *QUIET, *args, code=2)
    assert says in result.stderr and result.stderr.count("\n") == 1


def test_init_zeros_starts_the_optimiser_afresh_and_says_so(tmp_path):
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "3", *QUIET, "--optimizer", "adam", "--save", str(saved))
    result = run("train", str(saved), "--epochs", "2", "--init", "zeros", "--format", "json", *QUIET)
    assert "starts afresh" in result.stderr and "(t = 3)" in result.stderr
    fresh = trained(EXAMPLE, "--epochs", "2", "--init", "zeros", "--optimizer", "adam")
    assert_allclose(json.loads(result.stdout)["W"], fresh["W"], rtol=1e-13)


def torch_run(torch, epochs: int, name: str, convention: dict | None = None):
    """PyTorch's optimiser ``name`` (with the settings of OPTIONS) on the example, float64."""
    problem = load_problem(EXAMPLE)
    Z, y = torch.tensor(problem.Z, dtype=torch.float64), torch.tensor(problem.y)
    W = torch.tensor(problem.W, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(problem.b, dtype=torch.float64, requires_grad=True)
    lr = problem.learning_rate
    optimizer = {
        "sgd": lambda: torch.optim.SGD([W, b], lr=lr),
        "momentum": lambda: torch.optim.SGD([W, b], lr=lr, momentum=0.8),
        "adam": lambda: torch.optim.Adam([W, b], lr=lr, betas=(0.8, 0.999), eps=0.001, foreach=False),
        "adamw": lambda: torch.optim.AdamW([W, b], lr=lr, betas=(0.9, 0.99), weight_decay=0.05, foreach=False),
    }[name]()
    for _ in range(epochs):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(Z @ W.T + b, y, **(convention or {})).backward()
        optimizer.step()
    return W.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize("name", list(OPTIONS))
def test_going_on_from_the_saved_file_equals_torchs_longer_run(tmp_path, name):
    torch = pytest.importorskip("torch")
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "4", *QUIET, *OPTIONS[name], "--save", str(saved))
    went_on = trained(saved, "--epochs", "6")
    W, b = torch_run(torch, 10, name)
    assert_allclose(went_on["W"], W, rtol=1e-10, atol=1e-13)
    assert_allclose(went_on["b"], b, rtol=1e-10, atol=1e-13)


LOSS = ["--class-weights", "2,1,0.5", "--label-smoothing", "0.1", "--l2", "0.05", "--l2-form", "half"]


def test_the_saved_file_keeps_the_loss_convention(tmp_path):
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "3", *QUIET, *LOSS, "--momentum", "0.5", "--save", str(saved))
    assert yaml.safe_load(saved.read_text())["loss"] == {"class_weights": [2, 1, 0.5], "label_smoothing": 0.1,
                                                         "l2": 0.05, "l2_form": "half", "l2_bias": False}
    step = json.loads(run("step", str(saved), "--format", "json").stdout)
    assert "penalty" in step and step["penalty"] > 0  # the step's penalty table is there
    fourth = trained(EXAMPLE, "--epochs", "4", *LOSS, "--momentum", "0.5")
    assert_allclose(step["W_new"], fourth["W"], rtol=1e-12, atol=1e-14)  # the next epoch, with its loss
    went_on = trained(saved, "--epochs", "3")
    whole = trained(EXAMPLE, "--epochs", "6", *LOSS, "--momentum", "0.5")
    assert_allclose(went_on["W"], whole["W"], rtol=1e-12, atol=1e-14)
    assert_allclose([e["regularized_loss"] for e in went_on["history"]],
                    [e["regularized_loss"] for e in whole["history"][3:]], rtol=1e-12)
    plain = trained(saved, "--epochs", "3", "--class-weights", "1,1,1", "--label-smoothing", "0", "--l2", "0")
    assert not np.allclose(plain["W"], whole["W"], rtol=1e-6)


def test_a_plain_loss_writes_no_loss_key(tmp_path):
    saved = tmp_path / "trained.yaml"
    run("train", str(EXAMPLE), "--epochs", "2", *QUIET, "--save", str(saved))
    assert "loss" not in yaml.safe_load(saved.read_text())


def test_the_saved_loss_is_torchs_weighted_smoothed_loss(tmp_path):
    torch = pytest.importorskip("torch")
    saved = tmp_path / "trained.yaml"
    loss = ["--class-weights", "2,1,0.5", "--label-smoothing", "0.1"]
    run("train", str(EXAMPLE), "--epochs", "3", *QUIET, *loss, "--optimizer", "adam", "--beta1", "0.8", "--eps",
        "0.001", "--save", str(saved))
    went_on = trained(saved, "--epochs", "5")
    convention = {"weight": torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64), "label_smoothing": 0.1}
    W, b = torch_run(torch, 8, "adam", convention)
    assert_allclose(went_on["W"], W, rtol=1e-10, atol=1e-13)
    assert_allclose(went_on["b"], b, rtol=1e-10, atol=1e-13)


def test_the_readmes_going_on_training_runs_as_written(tmp_path, monkeypatch):
    """The README's two commands, run in an empty folder: the second prints every line shown, and its
    weights are those of the 5-epoch run the README names, whose epochs 4 and 5 it shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Going on training.**"):]
    block = re.search(r"```text\n(.*?)```", section, re.DOTALL).group(1).rstrip("\n").split("\n")
    starts = [i for i, line in enumerate(block) if line.startswith("$ ")]
    assert [block[i].split()[:3] for i in starts] == [["$", "nodeclf", "train"]] * 2
    monkeypatch.chdir(tmp_path)
    env = {"COLUMNS": "100", "NO_COLOR": "1"}
    for start, end in zip(starts, [*starts[1:], len(block)]):
        result = runner.invoke(app, shlex.split(block[start])[2:], env=env)
        assert result.exit_code == 0, result.output
        printed, position = [line.rstrip() for line in result.stdout.split("\n")], 0
        for line in block[start + 1:end]:
            if line in ("...", ""):
                continue
            assert line in printed[position:], line
            position = printed.index(line, position) + 1
    went_on = trained(Path("trained.yaml"), "--epochs", "2")
    whole = trained(EXAMPLE, "--optimizer", "adam", "--epochs", "5")
    assert_allclose(went_on["W"], whole["W"], rtol=1e-12, atol=1e-14)
    shown = [float(line.split("│")[2]) for line in block if re.match(r"│ +[12] │ 0\.", line)]
    assert shown == [round(e["loss"], 4) for e in whole["history"][3:]]


@pytest.mark.parametrize(
    "key, keywords",
    [
        ("optimizer: {name: nesterov, momentum: 0.7}\n", {"momentum": 0.7, "nesterov": True}),
        ("optimizer: {name: momentum, momentum: 0.8, dampening: 0.3}\n", {"momentum": 0.8, "dampening": 0.3}),
    ],
)
def test_nesterov_and_dampening_going_on_equal_torchs_sgd(tmp_path, key, keywords):
    torch = pytest.importorskip("torch")
    saved = tmp_path / "trained.yaml"
    run("train", str(problem_file(tmp_path, key)), "--epochs", "3", *QUIET, "--save", str(saved))
    went_on = trained(saved, "--epochs", "5")
    W, b, *_ = torch_steps(torch, "momentum", keywords, 8)  # torch.optim.SGD with these keywords
    assert_allclose(went_on["W"], W, rtol=1e-10, atol=1e-13)
    assert_allclose(went_on["b"], b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("options, key", [
    (["--optimizer", "momentum", "--momentum", "0.8", "--dampening", "0.3"],
     "optimizer: {name: momentum, momentum: 0.8, dampening: 0.3}\n"),
    (["--optimizer", "nesterov"], "optimizer: {name: nesterov, momentum: 0.9}\n"),  # PyTorch's μ 0.9 by default
    (["--optimizer", "adamw"], "optimizer: {name: adamw, weight_decay: 0.01}\n"),  # and AdamW's λ 0.01
])
def test_trains_options_name_the_optimisers_as_steps_and_the_key_do(tmp_path, options, key):
    """`train --optimizer momentum|nesterov|adamw` with step's defaults trains as the same key does."""
    by_options = trained(EXAMPLE, "--epochs", "3", *options)
    by_key = trained(problem_file(tmp_path, key), "--epochs", "3")
    assert_allclose(by_options["W"], by_key["W"], rtol=1e-13, atol=1e-15)
    assert_allclose(by_options["b"], by_key["b"], rtol=1e-13, atol=1e-15)
    plain = trained(EXAMPLE, "--epochs", "3")
    assert not np.allclose(by_options["W"], plain["W"])  # the optimiser made a difference


def test_dampening_belongs_to_momentum_alone():
    says = run("train", str(EXAMPLE), "--optimizer", "adam", "--dampening", "0.2", *QUIET, code=2).stderr
    assert "--dampening: applies to --optimizer momentum, not adam" in says


@pytest.mark.parametrize("options", [["--optimizer", "adam", "--weight-decay", "0.1"],
                                     ["--optimizer", "momentum", "--weight-decay", "0.05"],
                                     ["--weight-decay", "0.1"]])
def test_trains_weight_decay_is_kept_by_save_so_going_on_is_one_run(tmp_path, options):
    """train's --weight-decay λ (λθ in the gradient) is saved as the loss's weight decay, the same numbers."""
    saved = tmp_path / "t.yaml"
    run("train", str(EXAMPLE), "--epochs", "3", *QUIET, *options, "--save", str(saved))
    assert yaml.safe_load(saved.read_text())["loss"]["l2_form"] == "weight-decay"
    went_on, whole = trained(saved, "--epochs", "2"), trained(EXAMPLE, "--epochs", "5", *options)
    assert_allclose(went_on["W"], whole["W"], rtol=1e-12, atol=1e-15)
    assert_allclose(went_on["b"], whole["b"], rtol=1e-12, atol=1e-15)
