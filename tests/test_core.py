"""The core against the article's numbers and against finite differences."""

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
    per_node = core.softmax_cross_entropy(core.logits(Z, W, b), y).loss_per_node
    return core.reduce_loss(per_node, reduction)


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
    losses = core.softmax_cross_entropy(H, np.array([1, 0])).loss_per_node
    assert_allclose(losses, [2000.0, np.log(2 + e)], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_chunk_path_is_stable_for_huge_logits(dtype):
    """Base-2 logits of the trainer's chunks: still finite, losses in nats."""
    Z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype)
    W = np.array([[500.0, -500.0], [-500.0, 500.0], [0.0, 0.0]], dtype)
    b = np.array([0.0, 0.0, 1.0], dtype)
    y = np.array([1, 1, 2])  # logits [500, -500, 1], [-500, 500, 1], [0, 0, 1]
    part = core.chunk_loss_and_grad(Z, y, W, b, 1.0)
    e = np.exp(1.0)
    assert_allclose(part.loss_per_node, [1000.0, 0.0, np.log(2 + e) - 1], rtol=1e-6, atol=1e-6)
    assert part.correct.tolist() == [False, True, True]
    assert np.isfinite(part.grad_W).all() and np.isfinite(part.grad_b).all()


def test_class_axis_zero_gives_the_transpose(article):
    H = core.logits(article.Z, article.W, article.b)
    assert_allclose(core.softmax(H.T, class_axis=0), core.softmax(H).T, atol=1e-15)
    P = core.softmax(H)
    assert_allclose(
        core.grad_logits(P.T.copy(), article.y, 0.2, class_axis=0),
        core.grad_logits(P, article.y, 0.2).T,
        atol=1e-15,
    )


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


def test_true_is_top_follows_argmax_including_ties():
    H = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 0.0], [5.0, 5.0, 1.0], [2.0, 1.0, 2.0]])
    y = np.array([1, 1, 0, 2])
    top = core.softmax_cross_entropy(H, y).true_is_top
    assert top.tolist() == (H.argmax(axis=1) == y).tolist() == [True, False, True, False]
    top_T = core.softmax_cross_entropy(H.T.copy(), y, class_axis=0).true_is_top
    assert top_T.tolist() == top.tolist()


def test_base2_logits_give_the_same_softmax_and_loss_in_nats():
    rng = np.random.default_rng(3)
    H = rng.normal(0, 4, (50, 6))
    H[7, 2] = H[7, 4] = H[7].max() + 1  # a tie, which scaling keeps
    y = rng.integers(0, 6, 50)
    natural = core.softmax_cross_entropy(H, y)
    base2 = core.softmax_cross_entropy(H * core.LOG2E, y, base2=True)
    assert_allclose(base2.probs, natural.probs, rtol=1e-13)
    assert_allclose(base2.loss_per_node, natural.loss_per_node, rtol=1e-13, atol=1e-15)
    assert base2.true_is_top.tolist() == natural.true_is_top.tolist() == (H.argmax(axis=1) == y).tolist()
    assert_allclose(-np.log(natural.probs[np.arange(50), y]), natural.loss_per_node, rtol=1e-13)


def test_true_class_positions_address_each_nodes_true_entry():
    y = np.array([2, 0, 1, 1, 2])
    nodes = np.arange(5)
    assert_allclose(core.true_class_positions(y, 3), np.ravel_multi_index((nodes, y), (5, 3)))
    assert_allclose(core.true_class_positions(y, 3, class_axis=0), np.ravel_multi_index((y, nodes), (3, 5)))


def test_chunk_with_known_positions_and_a_float32_buffer(article):
    """The trainer's path: positions computed once, Z converted into a scratch buffer."""
    W, b = article.W.astype(np.float32), article.b.astype(np.float32)
    larger = core.chunk_scratch(9, W)
    work = core.chunk_scratch(5, W, within=larger)  # the trainer's scratch for a smaller chunk
    assert [a.shape for a in work] == [(5, 4), (3, 5)]
    assert all(np.shares_memory(a, big) and a.flags.c_contiguous for a, big in zip(work, larger))
    positions = core.true_class_positions(article.y, 3, class_axis=0)
    part = core.chunk_loss_and_grad(article.Z, article.y, W, b, 0.2, None, work, positions)
    full = article_step(article)
    assert part.grad_W.dtype == np.float32
    assert_allclose(part.grad_W, full.grad_W, atol=1e-6)
    assert_allclose(part.grad_b, full.grad_b, atol=1e-6)
    assert_allclose(part.loss_per_node, full.loss_per_node, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_chunks_sum_to_the_full_gradient(article, reduction):
    full = article_step(article, reduction)
    scale = core.loss_scale(5, reduction)
    parts = [
        core.chunk_loss_and_grad(article.Z[i:j], article.y[i:j], article.W, article.b, scale)
        for i, j in [(0, 2), (2, 3), (3, 5)]
    ]
    assert_allclose(sum(p.grad_W for p in parts), full.grad_W, atol=1e-15)
    assert_allclose(sum(p.grad_b for p in parts), full.grad_b, atol=1e-15)
    assert_allclose(np.concatenate([p.loss_per_node for p in parts]), full.loss_per_node, atol=1e-15)
    assert not any(p.correct.any() for p in parts)  # the article predicts every node wrong
