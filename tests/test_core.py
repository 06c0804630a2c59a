"""The core against the article's numbers, finite differences and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from nodeclf_cli import core


def article_step(article, reduction="mean"):
    return core.gradient_step(article.Z, article.y, article.W, article.b, article.lr, reduction)


def test_logits_are_the_articles(article):
    assert_allclose(core.logits(article.Z, article.W, article.b), article.logits, atol=1e-12)


@pytest.mark.parametrize(
    "name", ["logits", "probabilities", "loss_per_node", "grad_W", "grad_b", "W_new", "b_new"]
)
def test_every_step_matches_the_article_to_6_decimals(article, name):
    result = article_step(article)
    assert_allclose(getattr(result, name), getattr(article, name), atol=5e-7)


def test_loss_and_predictions(article):
    result = article_step(article)
    assert result.loss == pytest.approx(article.loss, abs=1e-10)
    assert result.predicted.tolist() == article.predicted.tolist()


def test_grad_logits_is_p_minus_y_over_n(article):
    result = article_step(article)
    Y = np.eye(3)[article.y]
    assert_allclose(result.grad_logits, (article.probabilities - Y) / 5, atol=5e-7)


def test_sum_reduction_is_n_times_the_mean(article):
    mean, total = article_step(article, "mean"), article_step(article, "sum")
    assert total.loss == pytest.approx(5 * mean.loss, rel=1e-14)
    assert_allclose(total.grad_W, 5 * mean.grad_W, rtol=1e-13)
    assert_allclose(total.W_new, article.W - article.lr * 5 * mean.grad_W, rtol=1e-13)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction"):
        core.loss_scale(3, "average")


def _loss(Z, y, W, b, reduction):
    return core.reduce_loss(core.cross_entropy(core.logits(Z, W, b), y), reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("seed", range(5))
def test_gradient_equals_central_finite_differences(reduction, seed):
    rng = np.random.default_rng(seed)
    n, d, c = rng.integers(2, 12), rng.integers(1, 6), rng.integers(2, 6)
    Z = rng.normal(size=(n, d))
    y = rng.integers(0, c, size=n)
    W, b = rng.normal(size=(c, d)), rng.normal(size=c)
    result = core.gradient_step(Z, y, W, b, 0.1, reduction)
    eps = 1e-6
    numeric_W = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric_W[idx] = (_loss(Z, y, up, b, reduction) - _loss(Z, y, down, b, reduction)) / (2 * eps)
    numeric_b = np.zeros_like(b)
    for k in range(c):
        up, down = b.copy(), b.copy()
        up[k] += eps
        down[k] -= eps
        numeric_b[k] = (_loss(Z, y, W, up, reduction) - _loss(Z, y, W, down, reduction)) / (2 * eps)
    assert_allclose(result.grad_W, numeric_W, atol=1e-7)
    assert_allclose(result.grad_b, numeric_b, atol=1e-7)


def test_softmax_and_loss_are_stable_for_huge_logits():
    H = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]])
    P = core.softmax(H)
    assert np.isfinite(P).all()
    assert_allclose(P.sum(axis=1), 1.0)
    assert_allclose(P[0], [1.0, 0.0, 0.0], atol=1e-300)
    e = np.exp(1.0)
    assert_allclose(P[1], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-14)
    losses = core.cross_entropy(H, np.array([1, 0]))
    assert_allclose(losses, [2000.0, np.log(2 + e)], rtol=1e-14)


def test_matches_pytorch_autograd_when_available(article):
    torch = pytest.importorskip("torch")
    Z = torch.tensor(article.Z, dtype=torch.float64)
    W = torch.tensor(article.W, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(article.b, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(Z @ W.T + b, torch.tensor(article.y))
    loss.backward()
    result = article_step(article)
    assert result.loss == pytest.approx(loss.item(), abs=1e-12)
    assert_allclose(result.grad_W, W.grad.numpy(), atol=1e-12)
    assert_allclose(result.grad_b, b.grad.numpy(), atol=1e-12)
