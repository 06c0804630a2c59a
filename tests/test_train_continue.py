"""Training goes on from an optimiser's state: the Trainer started from a state (t and buffers) against
optim.py's rules applied by hand from the same state, and N epochs then M epochs against N + M epochs."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from nodeclf_cli import core, optim
from nodeclf_cli.problem import load_problem
from nodeclf_cli.train import Settings, Trainer

from .conftest import ROOT

KARATE = ROOT / "data" / "karate.yaml"

# the trainer's settings of each optimiser, and optim.py's rule and keywords for the same
OPTIMISERS = {
    "sgd": ({}, optim.sgd, {}),
    "momentum": ({"momentum": 0.8, "dampening": 0.3}, optim.sgd, {"momentum": 0.8, "dampening": 0.3}),
    "nesterov": ({"momentum": 0.7, "nesterov": True}, optim.sgd, {"momentum": 0.7, "nesterov": True}),
    "adam": ({"optimizer": "adam", "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01}, optim.adam,
             {"beta1": 0.8, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.01}),
    "adamw": ({"optimizer": "adamw", "weight_decay": 0.1}, optim.adamw, {"weight_decay": 0.1}),
}


def start():
    problem = load_problem(KARATE)
    rng = np.random.default_rng(5)
    return problem, rng.normal(0, 0.1, (2, 4)), rng.normal(0, 0.1, 2)


def a_state(name: str, rng: np.random.Generator, t: int = 4):
    """A state as after t steps: buffers of made-up numbers (the second moments positive)."""
    pair = lambda: (rng.normal(0, 0.05, (2, 4)), rng.normal(0, 0.05, 2))  # noqa: E731
    if name in ("adam", "adamw"):
        m, v = pair(), pair()
        return optim.AdamState(t=t, m=m, v=tuple(part * part for part in v))
    return optim.MomentumState(t=t, velocity=None if name == "sgd" else pair())


def by_hand(problem, W, b, lr, epochs, rule, keywords, state):
    """core's gradient and optim.py's rule, epoch after epoch, from ``state``."""
    for _ in range(epochs):
        step = core.gradient_step(problem.Z, problem.y, W, b, lr)
        (W, b), state = rule((W, b), (step.grad_W, step.grad_b), state, lr, **keywords)
    return W, b, state


def assert_same_state(state, expected):
    assert type(state) is type(expected) and state.t == expected.t
    for key in ("velocity",) if isinstance(state, optim.MomentumState) else ("m", "v"):
        got, want = getattr(state, key), getattr(expected, key)
        assert (got is None) == (want is None)
        for part, other in zip(got or (), want or ()):
            assert_allclose(part, other, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_the_trainer_from_a_state_is_optims_rule_from_that_state(name):
    settings, rule, keywords = OPTIMISERS[name]
    problem, W, b = start()
    state = a_state(name, np.random.default_rng(9))
    trainer = Trainer(problem.Z, problem.y, W, b, Settings(6, 0.2, chunk_nodes=7, threads=2, **settings),
                      state=state)
    list(trainer)
    W_ref, b_ref, expected = by_hand(problem, W, b, 0.2, 6, rule, keywords, state)
    assert_allclose(trainer.W, W_ref, rtol=1e-12, atol=1e-15)
    assert_allclose(trainer.b, b_ref, rtol=1e-12, atol=1e-15)
    assert_same_state(trainer.optimizer_state, expected)
    assert trainer.optimizer_state.t == 10
    fresh = Trainer(problem.Z, problem.y, W, b, Settings(6, 0.2, **settings))
    list(fresh)
    if name != "sgd":  # the state changes the run (plain SGD's t alone does not)
        assert not np.allclose(fresh.W, trainer.W, rtol=1e-6)


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_n_epochs_then_m_from_their_state_are_n_plus_m_epochs(name):
    settings, _, _ = OPTIMISERS[name]
    problem, W, b = start()
    first = Trainer(problem.Z, problem.y, W, b, Settings(4, 0.3, **settings))
    list(first)
    then = Trainer(problem.Z, problem.y, first.W, first.b, Settings(5, 0.3, **settings),
                   state=first.optimizer_state)
    later = list(then)
    whole = Trainer(problem.Z, problem.y, W, b, Settings(9, 0.3, **settings))
    losses = [e.loss for e in whole]
    assert_allclose([e.loss for e in later], losses[4:], rtol=1e-12)
    assert [e.epoch for e in later] == [1, 2, 3, 4, 5]  # this run's epochs
    assert_allclose(then.W, whole.W, rtol=1e-12, atol=1e-15)
    assert_allclose(then.b, whole.b, rtol=1e-12, atol=1e-15)
    assert_same_state(then.optimizer_state, whole.optimizer_state)


def test_a_float64_state_trains_float32_weights_in_float32():
    problem, W, b = start()
    state = a_state("adam", np.random.default_rng(1))
    trainer = Trainer(problem.Z, problem.y, W, b, Settings(3, 0.1, dtype="float32", optimizer="adam"), state=state)
    list(trainer)
    assert trainer.W.dtype == np.float32 and trainer.b.dtype == np.float32
    assert all(part.dtype == np.float32 for part in (*trainer.optimizer_state.m, *trainer.optimizer_state.v))


@pytest.mark.parametrize(
    "settings, state, says",
    [
        (Settings(1, 0.1), optim.AdamState(), "not the state of sgd"),
        (Settings(1, 0.1, optimizer="adam"), optim.MomentumState(), "not the state of adam"),
        (Settings(1, 0.1, momentum=0.9), optim.MomentumState(t=1, velocity=(np.zeros((4, 2)), np.zeros(2))),
         "velocity is not shaped as W"),
    ],
)
def test_a_state_of_another_optimiser_or_shape_is_refused(settings, state, says):
    problem, W, b = start()
    with pytest.raises(ValueError, match=says):
        Trainer(problem.Z, problem.y, W, b, settings, state=state)


def test_adam_from_a_state_equals_torch_going_on(tmp_path):
    """Adam's bias corrections use the continued t: 3 epochs, then 4 from their state, are torch's 7 steps."""
    torch = pytest.importorskip("torch")
    problem, W, b = start()
    first = Trainer(problem.Z, problem.y, W, b, Settings(3, 0.05, optimizer="adamw", weight_decay=0.2))
    list(first)
    then = Trainer(problem.Z, problem.y, first.W, first.b, Settings(4, 0.05, optimizer="adamw", weight_decay=0.2),
                   state=first.optimizer_state)
    list(then)
    Z, y = torch.tensor(problem.Z, dtype=torch.float64), torch.tensor(problem.y)
    W_t, b_t = (torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in (W, b))
    optimizer = torch.optim.AdamW([W_t, b_t], lr=0.05, weight_decay=0.2, foreach=False)
    for _ in range(7):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(Z @ W_t.T + b_t, y).backward()
        optimizer.step()
    assert_allclose(then.W, W_t.detach().numpy(), rtol=1e-10, atol=1e-14)
    assert_allclose(then.b, b_t.detach().numpy(), rtol=1e-10, atol=1e-14)
    assert_allclose(then.optimizer_state.v[0], optimizer.state[W_t]["exp_avg_sq"].numpy(), rtol=1e-10, atol=1e-18)
    assert then.optimizer_state.t == int(optimizer.state[W_t]["step"]) == 7
