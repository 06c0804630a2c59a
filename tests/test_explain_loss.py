"""`step --explain` under a loss convention: the targets, the weighted loss and mean, ∂L/∂h,
the penalty and its share in the gradient and update, each with its numbers, in text and LaTeX."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from nodeclf_cli import core
from nodeclf_cli.conventions import LossConvention
from nodeclf_cli.rounding import full

from .test_cli_step import run

W = np.array([[0.17, 0.4, -0.14, 0.51], [0.75, -0.04, 0.67, -0.18], [0.53, -0.04, 0.4, 0.77]])  # the article's


def explained(*options: str) -> dict[str, list[str]]:
    data = json.loads(run("step", "--explain", "--format", "json", *options).stdout)
    return data["explanation"]["groups"]


def test_weights_and_smoothing_write_the_targets_the_loss_and_the_weighted_mean(article):
    groups = explained("--class-weights", "2,1,1", "--label-smoothing", "0.1", "--node", "2", "--class", "1")
    loss = groups["Loss (node 2's true class is 1)"]
    assert loss[0] == ("t_2 = (1 − ε)·onehot(y_2) + ε/C = (1 − 0.1)·onehot(1) + 0.1/3 = "
                       "(0.0333333, 0.933333, 0.0333333)")  # 0.9 + 0.1/3 at the true class, 0.1/3 elsewhere
    assert loss[1] == ("a_2[c] = w_c·t_2[c] = (2·0.0333333, 1·0.933333, 1·0.0333333) = "
                       "(0.0666667, 0.933333, 0.0333333)")
    assert loss[2] == "s_2 = Σ_c a_2[c] = 0.0666667 + 0.933333 + 0.0333333 = 1.03333"
    assert "Σ_i w_{y_i} = 2 + 1 + 2 + 1 + 1 = 7" in loss  # y = (0, 1, 0, 1, 2)
    P = core.softmax(core.logits(article.Z, W, article.b))
    a = np.array([2 * 0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3])
    ell = -(a * np.log(P[1])).sum()
    assert loss[3].startswith("ℓ_2 = −Σ_c a_2[c]·ln p_2[c] = −(0.0666667·ln ") and loss[3].endswith(
        f"= {full(ell)} ≈ {ell:.4f}")
    gradient = groups["Gradient (feature 0 and bias)"]
    d_h = (a.sum() * P[1, 1] - a[1]) / 7
    assert gradient[0].startswith("∂L/∂h_2[1] = (s_2·p_2[1] − a_2[1]) / Σ_i w_{y_i} = (1.03333·0.287981 − 0.933333)/7")
    assert gradient[0].endswith(f"= {full(d_h)} ≈ {d_h:.2f}".replace("-", "−"))


def test_the_penalty_and_its_share_in_the_gradient_and_the_update(article):
    groups = explained("--l2", "0.1", "--l2-form", "half")
    sum_W = (W**2).sum()
    penalty = groups["L2 penalty (half: CS231n, neural networks 2)"]
    assert penalty[0].startswith("Σ W² = 0.17² + 0.40² + (−0.14)² + ") and penalty[0].endswith(f"= {full(sum_W)}")
    assert penalty[1] == f"R = ½λ·Σ W² = ½·0.1·{full(sum_W)} = {full(0.05 * sum_W)} ≈ {0.05 * sum_W:.4f}"
    half = LossConvention(l2=0.1, l2_form="half")
    step = core.gradient_step(article.Z, article.y, W, article.b, 0.2, convention=half)
    assert penalty[2] == (f"L + R = {full(step.loss)} + {full(step.penalty)} = {full(step.regularized_loss)} "
                          f"≈ {step.regularized_loss:.4f}")
    gradient = groups["Gradient (feature 0 and bias)"]
    data = core.gradient_step(article.Z, article.y, W, article.b, 0.2).grad_W[0, 0]
    assert f"∂R/∂w_0[0] = λ·w_0[0] = 0.1·0.17 = {full(0.017)}" in gradient
    assert any(line.startswith(f"∂(L + R)/∂w_0[0] = {full(data).replace('-', '−')} + 0.017 = ") for line in gradient)
    assert "b is not penalised" in gradient[-1]
    assert groups["Update"][-1] == "the penalty's share of the update: −α·∂R/∂w_0[0] = −0.2·0.017 = −0.0034"


def test_scikit_learns_penalty_on_the_summed_loss_divides_by_2c_and_penalises_b_where_asked():
    groups = explained("--l2", "2", "--l2-form", "sklearn", "--reduction", "sum", "--l2-bias")
    penalty = groups["L2 penalty (sklearn: scikit-learn LogisticRegression(C))"]
    sum_b = 0.05**2 + 0.11**2 + 0.32**2
    assert penalty[1] == f"Σ b² = 0.05² + (−0.11)² + (−0.32)² = {full(sum_b)}"
    total = (W**2).sum() + sum_b
    assert penalty[2].startswith(f"R = 1/(2C)·(Σ W² + Σ b²) = 1/(2·2)·({full((W**2).sum())} + {full(sum_b)}) = "
                                 f"{full(total / 4)}")
    gradient = groups["Gradient (feature 0 and bias)"]
    assert "∂R/∂w_0[0] = 1/C·w_0[0] = 1/2·0.17 = 0.085" in gradient
    assert "∂R/∂b_0 = 1/C·b_0 = 1/2·0.05 = 0.025" in gradient


def test_weight_decay_has_no_loss_term_and_adds_lambda_theta():
    groups = explained("--l2", "0.05", "--l2-form", "weight-decay")
    assert groups["L2 penalty (weight-decay: PyTorch SGD(weight_decay))"] == [
        "no loss term: λθ added to the gradient of W and b (λ = 0.05)"]
    gradient = groups["Gradient (feature 0 and bias)"]
    assert "λ·w_0[0] = 0.05·0.17 = 0.0085" in gradient and "λ·b_0 = 0.05·0.05 = 0.0025" in gradient


def test_carried_rounding_writes_the_rounded_loss_and_penalty():
    """--carry rounded: L and R as the tables before left them (at the losses' precision), then L + R."""
    data = json.loads(run("step", "--explain", "--format", "json", "--carry", "rounded", "--l2", "0.1",
                          "--class-weights", "2,1,1").stdout)
    penalty = data["explanation"]["groups"]["L2 penalty (sum: CS231n, linear classification)"]
    assert round(data["loss"], 4) == data["loss"] and round(data["penalty"], 4) == data["penalty"]
    assert penalty[-1] == (f"L + R = {data['loss']:.4f} + {data['penalty']:.4f} = "
                           f"{data['loss'] + data['penalty']:.4f}")
    loss = data["explanation"]["groups"]["Loss (node 1's true class is 0)"]
    ell = -2 * np.log(0.33)  # from p as the softmax's table left it, 0.33
    assert loss[0] == f"ℓ_1 = −w_{{y_1}}·ln p_1[0] = −2·ln 0.33 = {full(ell)} ≈ {ell:.4f}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("options", [
    ["--class-weights", "2,1,1", "--label-smoothing", "0.1", "--l2", "0.1", "--l2-form", "half"],
    ["--class-weights", "2,1,1", "--l2", "1", "--l2-form", "sklearn", "--reduction", "sum", "--l2-bias"],
    ["--l2", "0.05", "--l2-form", "weight-decay", "--carry", "rounded"],
    ["--label-smoothing", "0.2", "--carry", "rounded", "--node", "3"],
], ids=lambda options: " ".join(options))
def test_latex_with_a_convention_compiles_with_pdflatex(tmp_path, options):
    tex = tmp_path / "step.tex"
    run("step", "--format", "latex", "--explain", "--output", str(tex), *options)
    text = tex.read_text(encoding="utf-8")
    assert text.isascii() and "Worked by hand" in text
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "step.log").read_text(errors="replace")


def test_carried_rounding_writes_each_sum_as_worked_then_as_rounded():
    """From the rounded values before it: the gradient with the penalty's share worked out, then rounded."""
    groups = explained("--carry", "rounded", "--l2", "0.1", "--class-weights", "2,1,1")
    gradient = groups["Gradient (feature 0 and bias)"]
    assert gradient[0] == "∂L/∂h_1[0] = (s_1·p_1[0] − a_1[0]) / Σ_i w_{y_i} = (2·0.33 − 2)/7 = −0.191429 ≈ −0.19"
    with_share = next(line for line in gradient if line.startswith("∂(L + R)/∂w_0[0]"))
    data, share = with_share.split(" = ")[1].split(" + ")
    total = float(data.replace("−", "-")) + float(share)
    assert with_share.endswith(f" = {full(total)} ≈ {total:.2f}".replace("-", "−"))
