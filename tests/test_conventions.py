"""The loss conventions (class weights, label smoothing, L2 penalties) against PyTorch,
scikit-learn where installed, finite differences, and PyTorch's documented example."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from nodeclf_cli import conventions as conv
from nodeclf_cli import core
from nodeclf_cli.cli import app
from nodeclf_cli.conventions import LossConvention
from nodeclf_cli.quantities import present

from .conftest import EXAMPLE

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def random_problem(seed: int = 0, n: int = 7, d: int = 4, c: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % c
    rng.shuffle(y)
    return rng.normal(size=(n, d)), y, rng.normal(size=(c, d)), rng.normal(size=c)


CONVENTIONS = [
    LossConvention(class_weights=(6.0, 4.0, 0.5)),
    LossConvention(label_smoothing=0.1),
    LossConvention(class_weights=(0.2, 3.0, 1.5), label_smoothing=0.25),
    LossConvention(l2=0.3, l2_form="sum"),
    LossConvention(l2=0.3, l2_form="half", l2_bias=True),
    LossConvention(l2=2.0, l2_form="sklearn"),
    LossConvention(l2=0.05, l2_form="weight-decay"),
    LossConvention(l2=0.05, l2_form="weight-decay", l2_bias=False),
    LossConvention(class_weights=(1.0, 2.0, 3.0), label_smoothing=0.1, l2=0.2, l2_form="half"),
]


# --- PyTorch's documented example and the plain default -----------------------------


def test_pytorchs_documented_weighted_mean_losses_5_6390_and_4_9593_with_weights_6_and_4_give_1_0598():
    # two nodes, two classes; -ln p chosen so that the weighted losses w_y (-ln p) are 5.6390 and 4.9593
    weights, losses = np.array([6.0, 4.0]), np.array([5.6390, 4.9593])
    p = np.exp(-losses / weights)
    H = np.log(np.stack([p, 1 - p], axis=1))
    y = np.array([0, 1])
    H[1] = H[1, ::-1]  # node 2's true class is 1
    convention = LossConvention(class_weights=(6.0, 4.0))
    result = core.gradient_step(np.eye(2), y, H.T, np.zeros(2), 0.1, convention=convention)  # Z = I: logits = Wᵀ
    assert_allclose(result.loss_per_node, losses, rtol=1e-12)
    assert round(result.loss, 4) == 1.0598


def test_unit_weights_and_no_smoothing_give_the_plain_step():
    Z, y, W, b = random_problem()
    plain = core.gradient_step(Z, y, W, b, 0.1)
    ones = core.gradient_step(Z, y, W, b, 0.1, convention=LossConvention(class_weights=(1.0, 1.0, 1.0)))
    for name in ("loss_per_node", "loss", "grad_logits", "grad_W", "grad_b", "W_new"):
        assert_allclose(getattr(ones, name), getattr(plain, name), rtol=1e-14, atol=1e-16)
    assert plain.penalty == 0 and plain.regularized_loss == plain.loss


def test_the_penalty_is_a_quantity_only_with_a_penalty_term():
    names = lambda penalised: [q.name for q in present(False, penalised)]  # noqa: E731
    assert "penalty" not in names(False) and "regularized_loss" not in names(False)
    assert names(True)[names(True).index("loss") + 1:][:2] == ["penalty", "regularized_loss"]
    assert not LossConvention(l2=0.1, l2_form="weight-decay").has_penalty_term


def test_penalty_by_form_on_literal_numbers():
    W, b = np.array([[1.0, -2.0], [0.5, 0.0]]), np.array([3.0, -1.0])  # Σ W² = 5.25, Σ b² = 10
    assert conv.penalty(W, b, LossConvention(l2=0.1, l2_form="sum"), 0.25) == pytest.approx(0.525)
    assert conv.penalty(W, b, LossConvention(l2=0.1, l2_form="half"), 0.25) == pytest.approx(0.2625)
    assert conv.penalty(W, b, LossConvention(l2=0.1, l2_form="half", l2_bias=True), 0.25) == pytest.approx(0.7625)
    # sklearn, C = 2, N = 4: Σ W² / (2 C N) = 5.25 / 16
    assert conv.penalty(W, b, LossConvention(l2=2.0, l2_form="sklearn"), 0.25) == pytest.approx(0.328125)
    assert conv.penalty(W, b, LossConvention(l2=0.1, l2_form="weight-decay"), 0.25) == 0


# --- finite differences ------------------------------------------------------------------


def _objective(Z, y, W, b, convention, reduction):
    """L + R as the step computes it (the loss alone for weight-decay)."""
    return core.gradient_step(Z, y, W, b, 0.1, reduction, convention=convention).regularized_loss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("convention", CONVENTIONS, ids=str)
def test_every_gradient_matches_finite_differences(convention, reduction):
    Z, y, W, b = random_problem(1)
    result = core.gradient_step(Z, y, W, b, 0.1, reduction, convention=convention)
    decay_W = decay_b = 0.0
    if convention.l2_form == "weight-decay" and convention.penalised:  # no loss term: λθ is added as is
        decay_W, decay_b = convention.l2 * W, convention.l2 * b * convention.bias_penalised
    h = 1e-6
    numeric_W = np.zeros_like(W)
    for c, j in itertools.product(*map(range, W.shape)):
        up, down = W.copy(), W.copy()
        up[c, j] += h
        down[c, j] -= h
        numeric_W[c, j] = (_objective(Z, y, up, b, convention, reduction)
                           - _objective(Z, y, down, b, convention, reduction)) / (2 * h)
    numeric_b = np.zeros_like(b)
    for c in range(len(b)):
        up, down = b.copy(), b.copy()
        up[c] += h
        down[c] -= h
        numeric_b[c] = (_objective(Z, y, W, up, convention, reduction)
                        - _objective(Z, y, W, down, convention, reduction)) / (2 * h)
    assert_allclose(result.grad_W, numeric_W + decay_W, atol=1e-8)
    assert_allclose(result.grad_b, numeric_b + decay_b, atol=1e-8)
    # the gradient at the logits, from the loss as a function of H
    H = Z @ W.T + b
    scale = conv.loss_scale(y, reduction, convention)
    numeric_H = np.zeros_like(H)
    for i, c in itertools.product(*map(range, H.shape)):
        up, down = H.copy(), H.copy()
        up[i, c] += h
        down[i, c] -= h
        numeric_H[i, c] = scale * (conv.cross_entropy(up, y, convention).sum()
                                   - conv.cross_entropy(down, y, convention).sum()) / (2 * h)
    assert_allclose(result.grad_logits, numeric_H, atol=1e-8)


# --- PyTorch (optional) ----------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("convention", CONVENTIONS, ids=str)
def test_equals_pytorch_cross_entropy_and_sgd_in_float64(convention, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    Z, y, W, b = random_problem(2)
    lr = 0.3
    result = core.gradient_step(Z, y, W, b, lr, reduction, convention=convention)
    Zt, yt = torch.tensor(Z), torch.tensor(y)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    weight = None if convention.class_weights is None else torch.tensor(convention.class_weights, dtype=torch.float64)
    H = Zt @ Wt.T + bt
    loss = F.cross_entropy(H, yt, weight=weight, label_smoothing=convention.label_smoothing, reduction=reduction)
    per_node = F.cross_entropy(H, yt, weight=weight, label_smoothing=convention.label_smoothing, reduction="none")
    total = loss
    if convention.has_penalty_term:
        k = {"sum": convention.l2, "half": convention.l2 / 2}.get(convention.l2_form)
        if k is None:  # sklearn: Σ W² / (2 C) times the loss's scale
            k = (1 / len(y) if reduction == "mean" else 1.0) / (2 * convention.l2)
        total = total + k * ((Wt**2).sum() + ((bt**2).sum() if convention.bias_penalised else 0))
    decay = convention.l2 if convention.l2_form == "weight-decay" else 0.0
    params = [{"params": [Wt], "weight_decay": decay},
              {"params": [bt], "weight_decay": decay if convention.bias_penalised else 0.0}]
    optimizer = torch.optim.SGD(params, lr=lr)
    optimizer.zero_grad()
    total.backward()
    grad_W, grad_b = Wt.grad.clone(), bt.grad.clone()
    optimizer.step()
    assert_allclose(result.loss_per_node, per_node.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(result.loss, loss.item(), rtol=1e-12)
    assert_allclose(result.regularized_loss, total.item(), rtol=1e-12)
    assert_allclose(result.grad_W - (decay * W), grad_W.numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(result.W_new, Wt.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(result.b_new, bt.detach().numpy(), rtol=1e-12, atol=1e-12)
    if not decay:
        assert_allclose(result.grad_b, grad_b.numpy(), rtol=1e-12, atol=1e-12)


def test_equals_scikit_learns_logistic_regression_objective():
    linear_loss = pytest.importorskip("sklearn.linear_model._linear_loss")
    from sklearn._loss.loss import HalfMultinomialLoss

    Z, y, W, b = random_problem(3)
    C = 0.7
    result = core.gradient_step(Z, y, W, b, 0.1, convention=LossConvention(l2=C, l2_form="sklearn"))
    model = linear_loss.LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=3), fit_intercept=True)
    coef = np.hstack([W, b[:, None]])
    # scikit-learn's objective: mean loss + l2_reg_strength/2 ‖W‖², with l2_reg_strength = 1/(C N)
    objective, gradient = model.loss_gradient(coef, Z, y.astype(float), l2_reg_strength=1 / (C * len(y)))
    assert_allclose(result.regularized_loss, objective, rtol=1e-12)
    assert_allclose(np.hstack([result.grad_W, result.grad_b[:, None]]), gradient, rtol=1e-10, atol=1e-12)


def test_scikit_learns_objective_divided_by_c_is_the_summed_loss_plus_half_w_squared_over_c():
    """scikit-learn minimises C Σ ℓ_i + ½‖W‖²; for the summed loss R = ‖W‖²/(2C), and the text says so."""
    linear_loss = pytest.importorskip("sklearn.linear_model._linear_loss")
    from sklearn._loss.loss import HalfMultinomialLoss

    Z, y, W, b = random_problem(4)
    C = 0.7
    convention = LossConvention(l2=C, l2_form="sklearn")
    summed = core.gradient_step(Z, y, W, b, 0.1, "sum", convention=convention)
    assert summed.penalty == pytest.approx((W**2).sum() / (2 * C), rel=1e-14)
    model = linear_loss.LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=3), fit_intercept=True)
    N = len(y)
    objective, _ = model.loss_gradient(np.hstack([W, b[:, None]]), Z, y.astype(float), l2_reg_strength=1 / (C * N))
    # its mean loss + ‖W‖²/(2CN), times N: Σ ℓ_i + ‖W‖²/(2C), scikit-learn's C Σ ℓ_i + ½‖W‖² divided by C
    assert_allclose(summed.regularized_loss, objective * N, rtol=1e-12)
    assert conv.penalty_formula(convention, "sum") == "R = Σ W² / (2C)  (C = 0.7)"
    assert conv.penalty_formula(convention, "mean") == "R = Σ W² / (2CN)  (C = 0.7)"
    assert conv.penalty_name(replace(convention, class_weights=(1.0, 2.0, 1.0))) == "ΣW²/(2CΣw_{y_i})"
    assert conv.share_terms(convention, "sum") == "1/C · W"
    out = run("step", "--l2", "0.7", "--l2-form", "sklearn", "--reduction", "sum").stdout
    assert "R = Σ W² / (2C)  (C = 0.7)" in out and "2CN" not in out and "plus the penalty's share 1/C · W" in out


# --- the command line and the problem file ---------------------------------------------


def test_step_shows_the_data_loss_the_penalty_and_their_sum():
    out = run("step", "--l2", "0.1", "--l2-form", "half").stdout
    assert "R = ½λ Σ W²  (λ = 0.1)" in out and "b is not penalised" in out
    data = json.loads(run("step", "--l2", "0.1", "--l2-form", "half", "--format", "json").stdout)
    assert data["regularized_loss"] == pytest.approx(data["loss"] + data["penalty"], rel=1e-15)
    W = np.array(data["W"])
    assert data["penalty"] == pytest.approx(0.05 * (W**2).sum(), rel=1e-12)
    assert data["loss_convention"] == {"l2": 0.1, "l2_form": "half", "l2_bias": False}


def test_without_conventions_the_json_has_no_penalty():
    data = json.loads(run("step", "--format", "json").stdout)
    assert "penalty" not in data and "regularized_loss" not in data and "loss_convention" not in data


def test_the_problem_files_loss_key_and_options_overriding_it(tmp_path):
    problem = tmp_path / "p.yaml"
    loss = "loss: {class_weights: [2, 1, 1], label_smoothing: 0.1, l2: 0.01, l2_form: half}\n"
    problem.write_text(EXAMPLE.read_text() + loss)
    data = json.loads(run("step", str(problem), "--format", "json").stdout)
    assert data["loss_convention"]["class_weights"] == [2, 1, 1]
    again = json.loads(run("step", str(problem), "--class-weights", "0=1,1=1,2=1", "--format", "json").stdout)
    assert again["loss_convention"]["class_weights"] == [1, 1, 1]
    assert again["loss"] != data["loss"]


@pytest.mark.parametrize("args, says", [
    (["--l2-form", "cubic"], "cubic"),
    (["--label-smoothing", "1.5"], "--label-smoothing"),
    (["--class-weights", "1,2"], "expected 3 weights"),
    (["--class-weights", "cat=1"], "no class 'cat'"),
    (["--l2", "-1"], "--l2"),
])
def test_bad_conventions_are_one_line_and_exit_2(args, says):
    result = run("step", *args, code=2)
    assert says in result.output


def test_carried_rounding_rounds_the_penalty_and_the_regularised_loss_at_the_losses_precision():
    data = json.loads(run("step", "--l2", "0.1", "--carry", "rounded", "--format", "json").stdout)
    assert round(data["penalty"], 4) == data["penalty"]
    assert data["regularized_loss"] == pytest.approx(round(data["loss"] + data["penalty"], 4), abs=1e-12)


# --- train -------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", CONVENTIONS, ids=str)
def test_ten_epochs_of_train_equal_pytorch(convention):
    torch = pytest.importorskip("torch")
    from nodeclf_cli.train import Settings, Trainer

    F = torch.nn.functional
    Z, y, W, b = random_problem(4, n=40, d=5)
    lr = 0.4
    trainer = Trainer(Z, y, W, b, Settings(epochs=10, learning_rate=lr, convention=convention, threads=1,
                                           chunk_nodes=16))
    records = list(trainer)
    losses = [epoch.loss for epoch in records]
    Zt, yt = torch.tensor(Z), torch.tensor(y)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    weight = None if convention.class_weights is None else torch.tensor(convention.class_weights, dtype=torch.float64)
    decay = convention.l2 if convention.l2_form == "weight-decay" else 0.0
    optimizer = torch.optim.SGD([{"params": [Wt], "weight_decay": decay},
                                 {"params": [bt], "weight_decay": decay if convention.bias_penalised else 0.0}], lr=lr)
    expected, expected_totals = [], []
    for _ in range(10):
        optimizer.zero_grad()
        loss = F.cross_entropy(Zt @ Wt.T + bt, yt, weight=weight, label_smoothing=convention.label_smoothing)
        expected.append(loss.item())
        total = loss
        if convention.has_penalty_term:
            k = {"sum": convention.l2, "half": convention.l2 / 2}.get(convention.l2_form, 1 / (2 * convention.l2 * 40))
            total = total + k * ((Wt**2).sum() + ((bt**2).sum() if convention.bias_penalised else 0))
        expected_totals.append(total.item())
        total.backward()
        optimizer.step()
    assert_allclose(losses, expected, rtol=1e-10)
    if convention.has_penalty_term:  # each epoch's L + R, of the weights before its update
        assert_allclose([epoch.regularized_loss for epoch in records], expected_totals, rtol=1e-10)
    else:
        assert all(epoch.penalty is None and epoch.regularized_loss is None for epoch in records)
    assert_allclose(trainer.W, Wt.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(trainer.b, bt.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_train_takes_the_loss_options():
    plain = json.loads(run("train", "--epochs", "3", "--quiet", "--no-plot", "--format", "json").stdout)
    smoothed = json.loads(run("train", "--epochs", "3", "--quiet", "--no-plot", "--format", "json",
                              "--label-smoothing", "0.2", "--l2", "0.1").stdout)
    assert smoothed["W"] != plain["W"]
    run("train", "--l2-form", "cubic", code=2)


# --- check names the convention ----------------------------------------------------------


def _sheet(tmp_path, loss: str, written: LossConvention, keys: tuple[str, ...]):
    """A problem with ``loss`` and an answers sheet worked exactly under ``written``."""
    from nodeclf_cli.problem import load_problem

    problem = tmp_path / "p.yaml"
    problem.write_text(EXAMPLE.read_text() + f"loss: {loss}\n")
    p = load_problem(problem)
    result = core.gradient_step(p.Z, p.y, p.W, p.b, p.learning_rate, convention=written)
    lines = ["problem: p.yaml", "answers:"]
    for key in keys:
        value = getattr(result, key)
        if np.ndim(value) == 0:
            lines.append(f"  {key}: {value:.4f}")
        else:
            lines.append(f"  {key}: [{', '.join(f'{x:.2f}' for x in value)}]")
    (tmp_path / "a.yaml").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "a.yaml")


def test_check_accepts_the_penalty_and_the_regularised_loss_worked_right(tmp_path):
    ours = LossConvention(l2=0.1, l2_form="sum")
    run("check", _sheet(tmp_path, "{l2: 0.1, l2_form: sum}", ours, ("penalty", "regularized_loss", "loss")))


def test_check_names_half_lambda_as_another_convention(tmp_path):
    sheet = _sheet(tmp_path, "{l2: 0.1, l2_form: sum}", LossConvention(l2=0.1, l2_form="half"), ("penalty",))
    out = run("check", sheet, code=1).stdout
    assert "another convention" in out
    assert "right for ½λΣW²; this problem uses λΣW²" in " ".join(out.split())


def test_check_names_a_penalised_bias_as_another_convention(tmp_path):
    written = LossConvention(l2=0.1, l2_form="half", l2_bias=True)
    sheet = _sheet(tmp_path, "{l2: 0.1, l2_form: half}", written, ("grad_b",))
    out = " ".join(run("check", sheet, code=1).stdout.split())
    assert "right for ½λΣ(W² + b²); this problem uses ½λΣW²" in out


def test_check_names_the_plain_mean_where_the_weighted_mean_is_asked(tmp_path):
    ours = LossConvention(class_weights=(3.0, 1.0, 1.0))
    sheet = _sheet(tmp_path, "{class_weights: [3, 1, 1]}", ours, ("loss",))
    from nodeclf_cli.problem import load_problem

    p = load_problem(tmp_path / "p.yaml")
    per_node = core.gradient_step(p.Z, p.y, p.W, p.b, p.learning_rate, convention=ours).loss_per_node
    (tmp_path / "a.yaml").write_text(f"problem: p.yaml\nanswers:\n  loss: {per_node.mean():.4f}\n")
    out = " ".join(run("check", sheet, code=1).stdout.split())
    assert "right for the plain mean (1/N) Σ ℓ_i; this problem uses the weighted mean" in out


def test_explain_writes_the_conventions_formulas_not_the_plain_ones():
    out = run("step", "--explain", "--l2", "0.1", "--label-smoothing", "0.1").stdout
    assert "ℓ_1 = −Σ_c t_1[c]·ln p_1[c]" in out and "R = λ·Σ W²" in out and "ℓ_1 = −ln p_1[0]" not in out


def test_trains_title_names_the_convention():
    out = run("train", "--epochs", "2", "--quiet", "--no-plot", "--class-weights", "2,1,1", "--l2", "0.5",
              "--l2-form", "half").stdout
    assert "class weights (2, 1, 1), L2 ½λΣW² (λ 0.5)" in " ".join(out.split())


def test_check_names_the_plain_cross_entropy_where_label_smoothing_is_asked(tmp_path):
    from nodeclf_cli.problem import load_problem

    sheet = _sheet(tmp_path, "{label_smoothing: 0.2}", LossConvention(), ())
    problem = load_problem(tmp_path / "p.yaml")
    plain = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, problem.learning_rate)
    lines = ["problem: p.yaml", "answers:",
             "  loss_per_node: {" + ", ".join(f"{i}: {v:.4f}" for i, v in zip(problem.node_ids, plain.loss_per_node))
             + "}", "  grad_logits:"]
    lines += [f"    {i}: [{', '.join(f'{x:.2f}' for x in row)}]" for i, row in zip(problem.node_ids, plain.grad_logits)]
    (tmp_path / "a.yaml").write_text("\n".join(lines) + "\n")
    out = " ".join(run("check", sheet, code=1).stdout.split())
    assert "right for the plain ℓ_i = −ln p_i[y_i]; this problem uses label smoothing" in out
    assert "right for the plain cross-entropy's P − Y; this problem uses label smoothing" in out


def test_check_marks_under_the_convention_the_options_give(tmp_path):
    """A teacher marks under a convention: the options override the problem's loss: key, as step's do."""
    problem, key = tmp_path / "p.yaml", tmp_path / "k.yaml"
    run("generate", "--seed", "4", "--l2", "0.1", "--l2-form", "half", "-o", str(problem), "--answers", str(key))
    assert json.loads(run("check", str(key), "--format", "json").stdout)["summary"]["wrong"] == 0
    out = run("check", str(key), "--l2-form", "sum", code=1).stdout
    assert "right for ½λΣW²; this problem uses λΣW²" in out
    plain = tmp_path / "plain.yaml"  # the plain loss's key, marked with class weights
    run("generate", "--seed", "4", "--answers", str(plain))
    data = json.loads(run("check", str(plain), "--class-weights", "2,1,1", "--format", "json", code=1).stdout)
    causes = {entry["quantity"]: entry.get("cause") for entry in data["entries"] if entry["verdict"] == "wrong"}
    assert causes["loss_per_node"] == "convention"
    run("check", str(plain), "--class-weights", "2,1", code=2)


def test_check_marks_a_class_under_the_convention_the_options_give(tmp_path):
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    for seed in (1, 2):
        run("generate", "--seed", str(seed), "--l2", "0.1", "--l2-form", "half", "--answers",
            str(sheets / f"s{seed}.yaml"))
    data = json.loads(run("check", str(sheets), "--format", "json").stdout)
    assert [sheet["wrong"] for sheet in data["sheets"]] == [0, 0]
    data = json.loads(run("check", str(sheets), "--l2-form", "sum", "--format", "json", code=1).stdout)
    assert all(sheet["wrong"] > 0 and sheet["score"] < sheet["maximum"] for sheet in data["sheets"])


@pytest.mark.parametrize("reduction, written", [("mean", "sum"), ("sum", "mean")])
def test_a_weighted_problems_other_reduction_is_named_missing_mean_at_the_conventions_scale(
        tmp_path, reduction, written):
    """Under class weights the mean divides by Σ w_{y_i}: the summed loss where the weighted mean is asked (and
    the reverse), and its gradient at the logits, are each named "sum, not mean" ("mean, not sum")."""
    from nodeclf_cli.problem import load_problem

    problem = tmp_path / "p.yaml"
    problem.write_text(EXAMPLE.read_text() + "loss: {class_weights: [2, 1, 3]}\n")
    p = load_problem(problem)
    theirs = core.gradient_step(p.Z, p.y, p.W, p.b, p.learning_rate, written, convention=p.convention)
    rows = "".join(f"\n    {node}: [{', '.join(f'{x:.2f}' for x in row)}]"
                   for node, row in zip(p.node_ids, theirs.grad_logits))
    sheet = tmp_path / "a.yaml"
    sheet.write_text(f"problem: p.yaml\nanswers:\n  loss: {theirs.loss:.4f}\n  grad_logits:{rows}\n")
    data = json.loads(run("check", str(sheet), "--reduction", reduction, "--format", "json", code=1).stdout)
    wrong = [e for e in data["entries"] if e["verdict"] == "wrong"]
    assert {e["quantity"] for e in wrong} == {"loss", "grad_logits"}
    assert {e["cause"] for e in wrong} == {"missing_mean"}
    loss = next(e for e in wrong if e["quantity"] == "loss")
    if reduction == "mean":
        assert "the 1/Σ w_{y_i} is missing" in loss["message"]
        assert theirs.loss == pytest.approx(sum(theirs.loss_per_node))  # Σ ℓ_i, the weights inside each ℓ_i
    else:
        assert theirs.loss == pytest.approx(sum(theirs.loss_per_node) / sum([2, 1, 3][c] for c in p.y))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_refuses_weight_decay_twice(tmp_path, optimizer):
    """--weight-decay (sgd, adam) and l2_form weight-decay both add λθ to g: one line, exit 2, nothing written."""
    history = tmp_path / "h.csv"
    result = run("train", "--optimizer", optimizer, "--weight-decay", "0.1", "--l2", "0.1", "--l2-form",
                 "weight-decay", "--history", str(history), code=2)
    assert result.stderr.count("\n") == 1 and "decay twice" in result.stderr and "--weight-decay" in result.stderr
    assert not history.exists()
    problem = tmp_path / "p.yaml"  # the problem's loss: key counts as the option does
    problem.write_text(EXAMPLE.read_text() + "loss: {l2: 0.1, l2_form: weight-decay}\n")
    run("train", str(problem), "--optimizer", optimizer, "--weight-decay", "0.1", code=2)


def test_adamw_takes_its_decoupled_decay_with_l2_in_the_gradient():
    """With adamw the two differ: --weight-decay decays θ apart from g, --l2-form weight-decay adds λθ to g."""
    args = ("train", "--optimizer", "adamw", "--epochs", "3", "--quiet", "--no-plot", "--format", "json")
    both = json.loads(run(*args, "--weight-decay", "0.1", "--l2", "0.1", "--l2-form", "weight-decay").stdout)
    decoupled = json.loads(run(*args, "--weight-decay", "0.1").stdout)
    assert both["W"] != decoupled["W"]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("convention", [c for c in CONVENTIONS if c.has_penalty_term], ids=str)
def test_each_epochs_penalty_equals_the_core_steps_on_the_same_weights(convention, reduction):
    """The trainer's R and L + R, epoch by epoch, equal core.gradient_step's chained from the same weights."""
    from nodeclf_cli.train import Settings, Trainer

    Z, y, W, b = random_problem(5, n=30, d=4)
    trainer = Trainer(Z, y, W, b, Settings(epochs=4, learning_rate=0.3, reduction=reduction, convention=convention,
                                           threads=2, chunk_nodes=8))
    for epoch in trainer:
        step = core.gradient_step(Z, y, W, b, 0.3, reduction, convention=convention)
        assert epoch.penalty == pytest.approx(step.penalty, rel=1e-13) and step.penalty > 0
        assert epoch.regularized_loss == pytest.approx(step.regularized_loss, rel=1e-12)
        W, b = step.W_new, step.b_new


@pytest.mark.parametrize("convention", [LossConvention(l2=0.3, l2_form=form, l2_bias=bias)
                                        for form in ("sum", "half", "sklearn") for bias in (False, True)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_kernels_penalty_equals_the_conventions(convention, dtype):
    from nodeclf_cli import kernel

    _, _, W, b = random_problem(6, d=9, c=5)
    expected = conv.penalty(W.astype(dtype).astype(float), b.astype(dtype).astype(float), convention, 0.125)
    assert kernel.penalty(W.astype(dtype), b.astype(dtype), convention, 0.125) == pytest.approx(expected, rel=1e-14)
    assert kernel.penalty(W, b, LossConvention(l2=0.3, l2_form="weight-decay"), 0.125) == 0


def test_train_reports_the_data_loss_and_the_regularised_loss(tmp_path):
    args = ("train", "--epochs", "3", "--quiet", "--no-plot")
    data = json.loads(run(*args, "--l2", "0.1", "--l2-form", "half", "--format", "json").stdout)
    for record in data["history"]:
        assert record["regularized_loss"] == pytest.approx(record["loss"] + record["penalty"], rel=1e-15)
    W0 = np.array(yaml_weights(EXAMPLE))
    assert data["history"][0]["penalty"] == pytest.approx(0.05 * (W0**2).sum(), rel=1e-12)  # ½λΣW², b not penalised
    table = run(*args, "--l2", "0.1", "--l2-form", "half").stdout
    assert "L + R" in table and "loss L" in table
    history = tmp_path / "h.csv"
    run(*args, "--l2", "0.1", "--history", str(history))
    assert history.read_text().splitlines()[0] == "epoch,loss,penalty,regularized_loss,accuracy"
    plain = json.loads(run(*args, "--format", "json").stdout)["history"][0]
    assert set(plain) == {"epoch", "loss", "accuracy"}
    decay = json.loads(run(*args, "--l2", "0.1", "--l2-form", "weight-decay", "--format", "json").stdout)
    assert "penalty" not in decay["history"][0]  # no loss term: only the gradient changes


def yaml_weights(path):
    import yaml

    return yaml.safe_load(path.read_text())["weights"]["W"]


def test_the_curves_with_a_penalty_are_l_and_l_plus_r():
    from nodeclf_cli.render_train import loss_plot_text
    from nodeclf_cli.train import Epoch

    history = [Epoch(e, 1 / e, 0.5, penalty=0.25 / e) for e in range(1, 6)]
    text = loss_plot_text(history, 80, color=False)
    assert "L + R" in text
    matplotlib = pytest.importorskip("matplotlib")
    from nodeclf_cli.render_train import loss_figure

    figure = loss_figure(history)
    loss_axis = figure.axes[0]
    assert [line.get_label() for line in loss_axis.lines] == ["loss L", "L + R"]
    assert_allclose(loss_axis.lines[1].get_ydata(), [1.25 / e for e in range(1, 6)])
    matplotlib.pyplot.close(figure)


def test_a_penalty_answered_for_a_loss_without_one_is_one_line(tmp_path):
    sheet = tmp_path / "a.yaml"
    sheet.write_text("problem: article\nanswers:\n  loss: 1.1465\n  penalty: 0.1\n")
    result = run("check", str(sheet), code=2)
    assert result.stderr == (f"nodeclf: error: {sheet}:4: penalty: the problem's loss has no L2 penalty term "
                             "(loss: l2 with a form other than weight-decay), so no penalty\n")
    assert "internal error" not in run("check", str(sheet), "--l2", "0.1", "--l2-form", "weight-decay", code=2).stderr
    run("check", str(sheet), "--l2", "0.1", code=1)  # under a penalty term it is marked (and wrong)


def test_the_weighted_mean_with_scikit_learns_penalty_is_its_objective_with_sample_weights():
    """Class weights as sample weights w_{y_i}: scikit-learn's C Σ_i w_{y_i} ℓ_i + ½‖W‖², divided by C Σ_i w_{y_i},
    is the weighted mean plus ‖W‖²/(2C Σ_i w_{y_i})."""
    linear_loss = pytest.importorskip("sklearn.linear_model._linear_loss")
    from sklearn._loss.loss import HalfMultinomialLoss

    Z, y, W, b = random_problem(7)
    C, weights = 0.8, (2.0, 0.5, 1.5)
    convention = LossConvention(class_weights=weights, l2=C, l2_form="sklearn")
    result = core.gradient_step(Z, y, W, b, 0.1, convention=convention)
    sample_weight = np.asarray(weights)[y]
    model = linear_loss.LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=3), fit_intercept=True)
    objective, gradient = model.loss_gradient(np.hstack([W, b[:, None]]), Z, y.astype(float), sample_weight,
                                              l2_reg_strength=1 / (C * sample_weight.sum()))
    assert_allclose(result.regularized_loss, objective, rtol=1e-12)
    assert_allclose(np.hstack([result.grad_W, result.grad_b[:, None]]), gradient, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("command", [["step"], ["generate"], ["train", "--epochs", "1", "--quiet", "--no-plot"]])
def test_a_penalty_form_without_a_penalty_is_noted(command):
    result = run(*command, "--l2-form", "half", "--no-l2-bias")
    assert ("nodeclf: note: --l2-form and --l2-bias shape an L2 penalty, and there is none: add --l2 λ "
            "(C for the sklearn form)\n") in result.stderr
    assert "note" not in run(*command, "--l2", "0.1", "--l2-form", "half").stderr
