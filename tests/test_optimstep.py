"""step --optimizer: the optimiser's state and update from zero and from a saved state,
held to torch.optim where PyTorch is installed; the state file's checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from nodeclf_cli.cli import app
from nodeclf_cli.problem import load_problem
from nodeclf_cli.render_train import weights_csv

from .conftest import EXAMPLE

runner = CliRunner()
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def step_json(*args: str) -> dict:
    return json.loads(run("step", str(EXAMPLE), "--format", "json", *args).stdout)


CASES = [
    ("momentum", ["--momentum", "0.8", "--dampening", "0.3"], {"momentum": 0.8, "dampening": 0.3}),
    ("nesterov", ["--momentum", "0.7"], {"momentum": 0.7, "nesterov": True}),
    ("adam", ["--beta1", "0.8", "--beta2", "0.99", "--eps", "0.001"], {"betas": (0.8, 0.99), "eps": 0.001}),
    ("adamw", ["--weight-decay", "0.3"], {"weight_decay": 0.3}),
]


def torch_steps(torch, name: str, kwargs: dict, steps: int):
    """The example's weights and the optimiser's state after ``steps`` steps of torch.optim."""
    problem = load_problem(EXAMPLE)
    Z, y = torch.tensor(problem.Z, dtype=torch.float64), torch.tensor(problem.y)
    W = torch.tensor(problem.W, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(problem.b, dtype=torch.float64, requires_grad=True)
    rule = {"momentum": torch.optim.SGD, "nesterov": torch.optim.SGD, "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW}[name]
    optimizer = rule([W, b], lr=problem.learning_rate, foreach=False, **kwargs)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(Z @ W.T + b, y).backward()
        optimizer.step()
    return W.detach().numpy(), b.detach().numpy(), optimizer.state[W], optimizer.state[b]


def assert_state(data: dict, name: str, state_W: dict, state_b: dict) -> None:
    keys = {"velocity": "momentum_buffer", "m": "exp_avg", "v": "exp_avg_sq"}
    for ours, theirs in keys.items():
        if f"{ours}_W" in data:
            assert_allclose(data[f"{ours}_W"], state_W[theirs].numpy(), rtol=1e-12, atol=1e-15)
            assert_allclose(data[f"{ours}_b"], state_b[theirs].numpy(), rtol=1e-12, atol=1e-15)
    assert set(data) >= ({"velocity_W"} if name in ("momentum", "nesterov") else {"m_W", "v_b", "m_hat_W"})


@pytest.mark.parametrize("name, args, kwargs", CASES, ids=[case[0] for case in CASES])
def test_a_step_from_zero_and_a_step_from_the_saved_state_equal_torch(tmp_path, name, args, kwargs):
    torch = pytest.importorskip("torch")
    saved = tmp_path / "state.json"
    first = step_json("--optimizer", name, *args, "--save-state", str(saved))
    W1, b1, state_W, state_b = torch_steps(torch, name, kwargs, 1)
    assert_allclose(first["W_new"], W1, rtol=1e-12, atol=1e-15)
    assert_allclose(first["b_new"], b1, rtol=1e-12, atol=1e-15)
    assert first["optimizer"]["t"] == 1
    assert_state(first, name, state_W, state_b)
    assert_allclose(first["update_W"], W1 - np.array(first["W"]), rtol=1e-9, atol=1e-15)

    weights = tmp_path / "weights.csv"
    weights.write_text(weights_csv(first["classes"], np.array(first["W_new"]), np.array(first["b_new"])))
    second = step_json("--weights", str(weights), "--optimizer", name, *args, "--state", str(saved))
    W2, b2, state_W, state_b = torch_steps(torch, name, kwargs, 2)
    assert second["optimizer"]["t"] == 2
    assert_allclose(second["W_new"], W2, rtol=1e-12, atol=1e-15)
    assert_allclose(second["b_new"], b2, rtol=1e-12, atol=1e-15)
    assert_state(second, name, state_W, state_b)


def test_the_second_steps_bias_corrections_by_hand(tmp_path):
    saved = tmp_path / "state.json"
    first = step_json("--optimizer", "adam", "--save-state", str(saved))
    g = np.array(first["grad_W"])
    assert_allclose(first["m_W"], 0.1 * g, rtol=1e-12)  # m_1 = (1 − β1) g
    assert_allclose(first["m_hat_W"], g, rtol=1e-12)  # m̂_1 = g
    assert_allclose(first["v_hat_W"], g * g, rtol=1e-9)  # v̂_1 = g²
    state = json.loads(saved.read_text())
    assert state["t"] == 1 and set(state) == {"optimizer", "t", "m", "v"}
    second = step_json("--optimizer", "adam", "--state", str(saved))  # the same weights: the same g
    assert_allclose(second["m_W"], 0.9 * 0.1 * g + 0.1 * g, rtol=1e-12)
    assert_allclose(second["m_hat_W"], (0.19 * g) / (1 - 0.81), rtol=1e-12)


def test_tables_are_titled_with_the_formulas():
    out = run("step", str(EXAMPLE), "--optimizer", "adamw").stdout
    for title in ("m_t = β1 m_{t−1} + (1 − β1) g", "v_t = β2 v_{t−1} + (1 − β2) g²", "m̂_t = m_t / (1 − β1^t)",
                  "v̂_t = v_t / (1 − β2^t)", "Δθ = θ_new − θ = −αλθ − α m̂_t / (√v̂_t + ε)", "λ = 0.01"):
        assert title in out
    out = run("step", str(EXAMPLE), "--optimizer", "momentum").stdout
    assert "b_t = μ b_{t−1} + (1 − τ) g   (b_1 = g)  (μ = 0.9, τ = 0, t = 1)" in out


def test_plain_sgd_is_unchanged():
    assert step_json() == step_json("--optimizer", "sgd")
    assert "optimizer" not in step_json()


def test_the_json_keys_are_in_the_readme():
    for name in ("momentum", "adamw"):
        data = step_json("--optimizer", name)
        for key in [*data, *data["optimizer"], *data["optimizer"]["settings"]]:
            assert f"`{key}`" in README or f'"{key}"' in README, key


@pytest.mark.parametrize("content, says", [
    ("[1, 2]", "a state file holds a JSON object"),
    ('{"optimizer": "momentum", "t": 1}',
     "a state of momentum, but the optimizer is adam: a state goes on only with the optimizer that wrote it"),
    ('{"optimizer": "adam", "t": -1}', "t: expected the steps taken"),
    ('{"optimizer": "adam", "t": 1, "m": {"W": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]}}',
     "m.b: missing b: expected numbers shaped as b (3,)"),
    ('{"optimizer": "adam", "t": 1' + "0" * 400 + "}",  # (β^t of it overflowed, an internal error)
     "t: expected the steps taken, a whole number from 0 to 1,000,000,000,000, found a whole number of 401 digits"),
    ('{"optimizer": "adam", "t": 1, "m": {"W": [[1]], "b": [0, 0, 0]}}',
     "state.json:1: m.W: expected numbers shaped as W (3, 4), found shape (1, 1)"),
    ("{nope", "not a JSON state file"),
    ('{"t": 1}', "optimizer: expected the optimiser that wrote the state, one of sgd, momentum"),
    ('{"optimizer": "adam", "t": 2, "m": {"W": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "b": [0, 0, 0]}, '
     '"v": {"W": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "b": [0, "x", 0]}}', "v.b: expected numbers shaped as b"),
    ('{"optimizer": "adam",\n "t": 2,\n "m": {"W": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "b": [0, 0, 0]},\n'
     ' "v": {"W": [[0, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 0]], "b": [0, 0, 0]}}',
     "state.json:4: v.W: v is a moving average of g², never below 0; found -1"),  # (its update would be NaN)
    ('{"optimizer": "adam", "t": 1, "m": {"W": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1e999]], "b": [0, 0, 0]}}',
     "m.W: expected finite numbers, found inf"),
    ('{"optimizer": "momentum",\n "t": 0,\n "velocity": {"W": [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], '
     '"b": [0, 0, 0]}}', "state.json:2: t: t is 0 (no step taken), yet the state holds velocity"),
])
def test_a_bad_state_file_is_one_line_and_exit_2(tmp_path, content, says):
    state = tmp_path / "state.json"
    state.write_text(content)
    optimizer = "momentum" if '"momentum"' in content and '"t": 0' in content else "adam"
    result = run("step", str(EXAMPLE), "--optimizer", optimizer, "--state", str(state), code=2)
    assert says in result.output and result.output.count("\n") == 1


@pytest.mark.parametrize("args, says", [
    (["--beta1", "0.5"], "--beta1: applies to --optimizer adam or adamw, not sgd"),
    (["--optimizer", "adam", "--momentum", "0.5"], "--momentum: applies to --optimizer momentum or nesterov"),
    (["--optimizer", "adam", "--weight-decay", "0.5"], "--weight-decay: applies to --optimizer adamw"),
    (["--optimizer", "momentum", "--momentum", "1"], "must be a finite number at least 0 and below 1"),
    (["--optimizer", "adamw", "--carry", "rounded"], "--carry rounded at 2 decimals rounds adamw's second moment"),
])
def test_bad_optimizer_options_exit_2(args, says):
    assert says in run("step", str(EXAMPLE), *args, code=2).output


def test_save_state_does_not_overwrite_without_force(tmp_path):
    saved = tmp_path / "state.json"
    saved.write_text("kept")
    run("step", str(EXAMPLE), "--optimizer", "adam", "--save-state", str(saved), code=2)
    assert saved.read_text() == "kept"


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "adamw"])
def test_the_latex_document_has_only_ascii_and_the_formulas(name):
    document = run("step", str(EXAMPLE), "--optimizer", name, "--format", "latex").stdout
    assert document.isascii()
    assert (r"\hat m_t = m_t / (1 - \beta_1^t)" in document) == (name in ("adam", "adamw"))
    assert (r"b_t = \mu b_{t-1} + (1 - \tau) g" in document) == (name in ("momentum", "nesterov"))


def _rule(name: str, settings, params, grads, state, lr):
    """optim.py's rule for ``settings``: the tested pure functions the step must equal."""
    from nodeclf_cli import optim

    if name in ("momentum", "nesterov"):
        return optim.sgd(params, grads, state, lr, momentum=settings.momentum, dampening=settings.dampening,
                         nesterov=name == "nesterov")
    rule = optim.adam if name == "adam" else optim.adamw
    return rule(params, grads, state, lr, beta1=settings.beta1, beta2=settings.beta2, eps=settings.eps,
                **({"weight_decay": settings.weight_decay} if name == "adamw" else {}))


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "adamw"])
@pytest.mark.parametrize("steps_taken", [0, 3])
def test_the_step_with_exact_carrying_equals_optims_rule_exactly(name, steps_taken):
    from nodeclf_cli import core, optim
    from nodeclf_cli.optimstep import Optimiser, OptimiserSettings

    problem = load_problem(EXAMPLE)
    settings = OptimiserSettings(name=name, momentum=0.8, dampening=0.3 if name == "momentum" else 0.0, beta1=0.7,
                                 beta2=0.95, eps=0.01, weight_decay=0.2)
    rng = np.random.default_rng(steps_taken)
    state = optim.MomentumState() if name in ("momentum", "nesterov") else optim.AdamState()
    if steps_taken:
        buffers = lambda: (rng.normal(size=problem.W.shape), rng.normal(size=problem.b.shape))  # noqa: E731
        state = optim.MomentumState(t=3, velocity=buffers()) if name in ("momentum", "nesterov") else \
            optim.AdamState(t=3, m=buffers(), v=tuple(np.abs(x) for x in buffers()))
    result = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.3, optimiser=Optimiser(settings, state))
    new, after = _rule(name, settings, (problem.W, problem.b), (result.grad_W, result.grad_b), state, 0.3)
    assert np.array_equal(result.W_new, new[0]) and np.array_equal(result.b_new, new[1])
    assert result.state.t == steps_taken + 1
    for key in ("velocity", "m", "v"):
        if getattr(after, key, None) is not None:
            assert np.array_equal(getattr(result, f"{key}_W"), getattr(after, key)[0])
            assert np.array_equal(getattr(result, f"{key}_b"), getattr(after, key)[1])
    assert_allclose(result.update_W, new[0] - problem.W, rtol=1e-12, atol=1e-15)


def test_with_rounded_carrying_each_quantity_is_worked_from_the_rounded_one_before_it():
    from nodeclf_cli import core
    from nodeclf_cli.handwork import rounded_carry
    from nodeclf_cli.optimstep import Optimiser, OptimiserSettings
    from nodeclf_cli.rounding import Precision, round_array

    problem = load_problem(EXAMPLE)
    carry = rounded_carry(Precision(decimals=2), Precision(decimals=4))

    def rounded(values):  # half-up, as by hand
        return round_array(values, Precision(decimals=2))

    momentum = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, carry=carry,
                                  optimiser=Optimiser(OptimiserSettings("momentum")))
    assert np.array_equal(momentum.velocity_W, momentum.grad_W)  # b_1 = g, already rounded
    assert_allclose(momentum.update_W, rounded(-0.5 * momentum.velocity_W), atol=1e-12)
    assert_allclose(momentum.W_new, rounded(problem.W + momentum.update_W), atol=1e-12)
    adam = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, carry=carry,
                              optimiser=Optimiser(OptimiserSettings("adam")))
    assert_allclose(adam.m_W, rounded(0.1 * adam.grad_W), atol=1e-12)
    assert_allclose(adam.m_hat_W, rounded(adam.m_W / 0.1), atol=1e-12)  # from the rounded m, not g


def test_adam_from_a_problems_state_equals_torch(tmp_path):
    torch = pytest.importorskip("torch")
    problem = load_problem(EXAMPLE)
    rng = np.random.default_rng(1)
    m = (rng.normal(size=problem.W.shape) / 10, rng.normal(size=problem.b.shape) / 10)
    v = (rng.random(problem.W.shape) / 100, rng.random(problem.b.shape) / 100)
    key = (f"optimizer:\n  name: adamw\n  weight_decay: 0.1\n  state:\n    t: 4\n"
           f"    m: {{W: {m[0].tolist()}, b: {m[1].tolist()}}}\n    v: {{W: {v[0].tolist()}, b: {v[1].tolist()}}}\n")
    path = tmp_path / "problem.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + key, encoding="utf-8")
    data = json.loads(run("step", str(path), "--format", "json").stdout)
    W = torch.tensor(problem.W, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(problem.b, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.AdamW([W, b], lr=problem.learning_rate, weight_decay=0.1, foreach=False)
    for param, m_k, v_k in ((W, m[0], v[0]), (b, m[1], v[1])):
        optimizer.state[param] = {"step": torch.tensor(4.0, dtype=torch.float64), "exp_avg": torch.tensor(m_k),
                                  "exp_avg_sq": torch.tensor(v_k)}
    Z, y = torch.tensor(problem.Z, dtype=torch.float64), torch.tensor(problem.y)
    torch.nn.functional.cross_entropy(Z @ W.T + b, y).backward()
    optimizer.step()
    assert_allclose(data["W_new"], W.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert_allclose(data["b_new"], b.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert_allclose(data["v_W"], optimizer.state[W]["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-18)
    assert data["optimizer"]["t"] == 5


def test_the_commands_name_the_optimisers_the_rules_have():
    """--optimizer's choices (declared in the CLI, which must not import numpy first) are optim's names."""
    from nodeclf_cli import optim
    from nodeclf_cli.cli import StepOptimizer

    assert tuple(choice.value for choice in StepOptimizer) == optim.OPTIMIZERS
