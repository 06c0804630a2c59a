"""optim.py's update rules on hand-worked numbers, train's --optimizer, and (where PyTorch is
installed) ten epochs of train equal to torch.optim.Adam and AdamW."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from nodeclf_cli import optim
from nodeclf_cli.cli import app
from nodeclf_cli.conventions import LossConvention

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def one(value: float) -> tuple[np.ndarray]:
    return (np.array([value]),)


# --- optim.py by hand --------------------------------------------------------------------


def test_adams_first_step_is_lr_in_the_gradients_direction():
    # m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025; m̂ = 0.05 / 0.1 = 0.5, v̂ = 0.00025 / 0.001 = 0.25;
    # θ = 1 - 0.1 * 0.5 / (0.5 + 0) = 0.9
    params, state = optim.adam(one(1.0), one(0.5), optim.AdamState(), lr=0.1, eps=0.0)
    assert params[0][0] == pytest.approx(0.9, abs=1e-15)
    assert state.t == 1
    assert state.m[0][0] == pytest.approx(0.05, abs=1e-15)
    assert state.v[0][0] == pytest.approx(0.00025, abs=1e-15)


def test_adams_second_step_by_hand():
    # from m = 0.05, v = 0.00025, t = 1 with g = -0.5:
    # m = 0.9 * 0.05 - 0.1 * 0.5 = -0.005, v = 0.999 * 0.00025 + 0.001 * 0.25 = 0.00049975
    # m̂ = -0.005 / (1 - 0.81) = -1/38, v̂ = 0.00049975 / (1 - 0.998001) = 0.25
    # θ = 0.9 + 0.1 * (1/38) / 0.5 = 0.9 + 1/190
    state = optim.AdamState(t=1, m=one(0.05), v=one(0.00025))
    params, state = optim.adam(one(0.9), one(-0.5), state, lr=0.1, eps=0.0)
    assert state.t == 2
    assert state.m[0][0] == pytest.approx(-0.005, abs=1e-15)
    assert state.v[0][0] == pytest.approx(0.00049975, abs=1e-15)
    assert params[0][0] == pytest.approx(0.9 + 1 / 190, abs=1e-13)


def test_eps_is_added_outside_the_root():
    # v̂ = 0.25: the step is 0.1 * 0.5 / (0.5 + 0.5) = 0.05 with ε outside √, not 0.1 * 0.5 / √0.75
    params, _ = optim.adam(one(1.0), one(0.5), optim.AdamState(), lr=0.1, eps=0.5)
    assert params[0][0] == pytest.approx(0.95, abs=1e-15)


def test_adams_weight_decay_joins_the_gradient_and_adamws_decays_theta_first():
    # θ = 1, g = -0.05, λ = 0.1, lr = 0.1, ε = 0.
    # Adam: g + λθ = 0.05 > 0, so the first step is -lr: θ = 0.9.
    # AdamW: θ = 1 - 0.1 * 0.1 * 1 = 0.99, then the step on g = -0.05 alone is +lr: θ = 1.09.
    adam, _ = optim.adam(one(1.0), one(-0.05), optim.AdamState(), lr=0.1, eps=0.0, weight_decay=0.1)
    adamw, _ = optim.adamw(one(1.0), one(-0.05), optim.AdamState(), lr=0.1, eps=0.0, weight_decay=0.1)
    assert adam[0][0] == pytest.approx(0.9, abs=1e-15)
    assert adamw[0][0] == pytest.approx(1.09, abs=1e-15)


def test_sgd_momentum_with_dampening_by_hand():
    # μ = 0.9, τ = 0.5, lr = 0.1, θ = 0, g = 1 then 2:
    # b_1 = g = 1 (no dampening on the first step), θ = -0.1; b_2 = 0.9 + 0.5 * 2 = 1.9, θ = -0.1 - 0.19 = -0.29
    params, state = optim.sgd(one(0.0), one(1.0), optim.MomentumState(), lr=0.1, momentum=0.9, dampening=0.5)
    assert state.velocity[0][0] == 1.0 and params[0][0] == pytest.approx(-0.1, abs=1e-15)
    params, state = optim.sgd(params, one(2.0), state, lr=0.1, momentum=0.9, dampening=0.5)
    assert state.velocity[0][0] == pytest.approx(1.9, abs=1e-15)
    assert params[0][0] == pytest.approx(-0.29, abs=1e-15)
    assert state.t == 2


def test_nesterov_by_hand():
    # μ = 0.9, lr = 0.1, θ = 0, g = 1 then 2: b_1 = 1, step g + μ b = 1.9, θ = -0.19;
    # b_2 = 0.9 + 2 = 2.9, step 2 + 0.9 * 2.9 = 4.61, θ = -0.19 - 0.461 = -0.651
    params, state = optim.sgd(one(0.0), one(1.0), optim.MomentumState(), lr=0.1, momentum=0.9, nesterov=True)
    assert params[0][0] == pytest.approx(-0.19, abs=1e-15)
    params, state = optim.sgd(params, one(2.0), state, lr=0.1, momentum=0.9, nesterov=True)
    assert state.velocity[0][0] == pytest.approx(2.9, abs=1e-15)
    assert params[0][0] == pytest.approx(-0.651, abs=1e-15)


def test_sgds_weight_decay_adds_lambda_theta_to_the_gradient():
    # θ = 2, g = 1, λ = 0.5, lr = 0.1: θ = 2 - 0.1 * (1 + 1) = 1.8
    params, _ = optim.sgd(one(2.0), one(1.0), optim.MomentumState(), lr=0.1, weight_decay=0.5)
    assert params[0][0] == pytest.approx(1.8, abs=1e-15)


def test_the_rules_change_nothing_in_place():
    theta, grad = np.array([1.0, -2.0]), np.array([0.3, 0.4])
    state = optim.AdamState(t=3, m=(np.array([0.1, 0.2]),), v=(np.array([0.01, 0.02]),))
    for rule in (optim.adam, optim.adamw):
        rule((theta,), (grad,), state, lr=0.1, weight_decay=0.1)
    optim.sgd((theta,), (grad,), optim.MomentumState(t=1, velocity=(np.array([1.0, 1.0]),)), lr=0.1, momentum=0.9)
    assert theta.tolist() == [1.0, -2.0] and grad.tolist() == [0.3, 0.4]
    assert state.m[0].tolist() == [0.1, 0.2] and state.v[0].tolist() == [0.01, 0.02]


def test_a_constant_gradient_keeps_the_bias_corrected_moments_at_g_and_g_squared():
    params, state = (np.array([0.0, 0.0]),), optim.AdamState()
    grad = (np.array([0.2, -3.0]),)
    for _ in range(5):
        before = params[0]
        params, state = optim.adam(params, grad, state, lr=0.01, eps=0.0)
        assert_allclose(before - params[0], [0.01, -0.01], rtol=1e-12)  # α m̂/√v̂ = α g/|g|


# --- train --optimizer ---------------------------------------------------------------------


def _train(*args: str) -> dict:
    return json.loads(run("train", "--epochs", "4", "--quiet", "--no-plot", "--format", "json", *args).stdout)


def test_train_sgd_is_the_default():
    assert _train("--optimizer", "sgd", "--momentum", "0.5") == _train("--momentum", "0.5")


def test_train_adam_and_adamw_differ_from_sgd_and_each_other_with_weight_decay():
    sgd = _train("--weight-decay", "0.5")["W"]
    adam = _train("--optimizer", "adam", "--weight-decay", "0.5")["W"]
    adamw = _train("--optimizer", "adamw", "--weight-decay", "0.5")["W"]
    assert sgd != adam and adam != adamw and sgd != adamw


def test_train_adam_takes_its_betas_and_eps():
    assert _train("--optimizer", "adam")["W"] != _train("--optimizer", "adam", "--beta1", "0.5")["W"]
    assert _train("--optimizer", "adam")["W"] != _train("--optimizer", "adam", "--beta2", "0.9")["W"]
    assert _train("--optimizer", "adam")["W"] != _train("--optimizer", "adam", "--eps", "0.1")["W"]


@pytest.mark.parametrize("args, says", [
    (["--beta1", "0.8"], "--beta1: applies to --optimizer adam or adamw, not sgd"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum: applies to --optimizer momentum or nesterov, not adam"),
    (["--optimizer", "adam", "--beta1", "1"], "--beta1: must be a finite number at least 0 and below 1"),
    (["--optimizer", "adamw", "--beta2", "-0.1"], "--beta2: must be a finite number at least 0 and below 1"),
    (["--optimizer", "adam", "--eps", "nan"], "--eps: must be a finite number at least 0"),
    (["--optimizer", "rmsprop"], "rmsprop"),
])
def test_bad_optimizer_options_exit_2(args, says):
    result = run("train", "--epochs", "2", "--quiet", "--no-plot", *args, code=2)
    assert says in result.output


# --- PyTorch -------------------------------------------------------------------------------


def _random_problem(seed: int, n: int = 40, d: int = 5, c: int = 4):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % c
    rng.shuffle(y)
    return rng.normal(size=(n, d)), y, rng.normal(scale=0.3, size=(c, d)), rng.normal(scale=0.3, size=c)


@pytest.mark.parametrize("optimizer, kwargs, convention", [
    ("adam", {}, LossConvention()),
    ("adam", {"weight_decay": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3}, LossConvention()),
    ("adamw", {}, LossConvention()),
    ("adamw", {"weight_decay": 0.2, "beta1": 0.5, "beta2": 0.9}, LossConvention(label_smoothing=0.1)),
])
def test_ten_epochs_of_train_equal_torch_adam_and_adamw(optimizer, kwargs, convention):
    torch = pytest.importorskip("torch")
    from nodeclf_cli.train import Settings, Trainer

    Z, y, W, b = _random_problem(3)
    lr = 0.05
    settings = Settings(epochs=10, learning_rate=lr, optimizer=optimizer, threads=1, chunk_nodes=16,
                        convention=convention, **kwargs)
    trainer = Trainer(Z, y, W, b, settings)
    losses = [epoch.loss for epoch in trainer]
    Zt, yt = torch.tensor(Z), torch.tensor(y)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    rule = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
    torch_optimizer = rule([Wt, bt], lr=lr, betas=(settings.beta1, settings.beta2), eps=settings.eps,
                           weight_decay=settings.weight_decay, foreach=False)
    expected = []
    for _ in range(10):
        torch_optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(Zt @ Wt.T + bt, yt, label_smoothing=convention.label_smoothing)
        expected.append(loss.item())
        loss.backward()
        torch_optimizer.step()
    assert_allclose(losses, expected, rtol=1e-10)
    assert_allclose(trainer.W, Wt.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(trainer.b, bt.detach().numpy(), rtol=1e-10, atol=1e-12)
