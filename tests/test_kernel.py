"""The trainer's kernel equals the textbook core: the same losses, correctness and
gradient, chunk by chunk, whatever the chunks, ties and train mask."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from nodeclf_cli import conventions, core, kernel
from nodeclf_cli.conventions import LossConvention


def random_problem(seed: int):
    """A random problem in float64 whose logits have ties: two classes share their
    weights and bias, so their logits are equal on every node (the first of them is
    what argmax picks), and some nodes' true class is the second of the two."""
    rng = np.random.default_rng(seed)
    n, d, c = int(rng.integers(20, 200)), int(rng.integers(1, 9)), int(rng.integers(3, 9))
    Z = rng.normal(0, 2, (n, d))
    W, b = rng.normal(0, 2, (c, d)), rng.normal(0, 1, c)
    first, second = rng.choice(c, 2, replace=False)
    W[second], b[second] = W[first], b[first]
    H = core.logits(Z, W, b)
    y = rng.integers(0, c, n)
    top = H.argmax(axis=1)
    y[: n // 3] = top[: n // 3]  # some nodes right, so that correctness is not all False
    tied = np.flatnonzero(top == min(first, second))[:3]
    y[tied] = max(first, second)  # tied at the top, the true class the second: wrong
    return Z, y, W, b


def chunked(Z, y, W, b, scale, trains, edges):
    """The kernel over the chunks between ``edges``, with one scratch reused as the
    trainer reuses it (views of the largest chunk's)."""
    bounds = list(zip(edges[:-1], edges[1:]))
    largest = kernel.chunk_scratch(max(stop - start for start, stop in bounds), W)
    parts = []
    for start, stop in bounds:
        work = kernel.chunk_scratch(stop - start, W, within=largest)
        positions = kernel.true_class_positions(y[start:stop])
        mask = None if trains is None else trains[start:stop]
        parts.append(kernel.chunk_loss_and_grad(Z[start:stop], y[start:stop], W, b, scale, mask, work, positions))
    return parts


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_chunks_summed_equal_the_core_step(seed, masked, reduction):
    Z, y, W, b = random_problem(seed)
    n = len(y)
    rng = np.random.default_rng(100 + seed)
    trains = (rng.random(n) < 0.6).astype(np.float64) if masked else None
    on = np.ones(n, bool) if trains is None else trains == 1
    edges = [0, *sorted(rng.choice(np.arange(1, n), 3, replace=False)), n]  # 4 uneven chunks
    scale = core.loss_scale(int(on.sum()), reduction)

    parts = chunked(Z, y, W, b, scale, trains, edges)
    every_node = core.gradient_step(Z, y, W, b, 0.1, reduction)
    trained = core.gradient_step(Z[on], y[on], W, b, 0.1, reduction)

    loss_per_node = np.concatenate([p.loss_per_node for p in parts])
    correct = np.concatenate([p.correct for p in parts])
    assert_allclose(loss_per_node, every_node.loss_per_node, rtol=1e-12, atol=1e-12)
    assert correct.tolist() == (every_node.predicted == y).tolist()
    assert 0 < correct.sum() < n  # some right, some wrong (the ties among them)
    assert scale * loss_per_node[on].sum() == pytest.approx(trained.loss, rel=1e-12, abs=1e-12)
    assert_allclose(sum(p.grad_W for p in parts), trained.grad_W, rtol=1e-12, atol=1e-12)
    assert_allclose(sum(p.grad_b for p in parts), trained.grad_b, rtol=1e-12, atol=1e-12)


def test_a_tie_at_the_top_is_right_only_for_the_first_class():
    Z = np.array([[1.0, 2.0], [0.5, -1.0]])
    W = np.array([[1.0, 0.0], [0.3, 0.4], [0.3, 0.4]])  # classes 1 and 2 always tie
    b = np.array([0.0, 0.9, 0.9])  # node 0: [1, 2, 2]; node 1: [0.5, 0.65, 0.65]
    for y, expected in (([1, 1], [True, True]), ([2, 2], [False, False]), ([0, 1], [False, True])):
        part = kernel.chunk_loss_and_grad(Z, np.array(y), W, b, 0.5)
        assert part.correct.tolist() == expected
        assert (core.gradient_step(Z, np.array(y), W, b, 0.1).predicted == y).tolist() == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_chunk_path_is_stable_for_huge_logits(dtype):
    """Base-2 logits of the trainer's chunks: still finite, losses in nats."""
    Z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype)
    W = np.array([[500.0, -500.0], [-500.0, 500.0], [0.0, 0.0]], dtype)
    b = np.array([0.0, 0.0, 1.0], dtype)
    y = np.array([1, 1, 2])  # logits [500, -500, 1], [-500, 500, 1], [0, 0, 1]
    part = kernel.chunk_loss_and_grad(Z, y, W, b, 1.0)
    e = np.exp(1.0)
    assert_allclose(part.loss_per_node, [1000.0, 0.0, np.log(2 + e) - 1], rtol=1e-6, atol=1e-6)
    assert part.correct.tolist() == [False, True, True]
    assert np.isfinite(part.grad_W).all() and np.isfinite(part.grad_b).all()


def test_true_is_top_follows_argmax_including_ties():
    H = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 0.0], [5.0, 5.0, 1.0], [2.0, 1.0, 2.0]])
    y = np.array([1, 1, 0, 2])
    top = kernel.softmax_cross_entropy(H.T.copy(), y).true_is_top
    assert top.tolist() == (H.argmax(axis=1) == y).tolist() == [True, False, True, False]
    not_contiguous = kernel.softmax_cross_entropy(H.T, y).true_is_top  # (row, column) pairs
    assert not_contiguous.tolist() == top.tolist()


def test_base2_logits_give_the_core_softmax_and_loss_in_nats():
    rng = np.random.default_rng(3)
    H = rng.normal(0, 4, (50, 6))
    H[7, 2] = H[7, 4] = H[7].max() + 1  # a tie, which scaling keeps
    y = rng.integers(0, 6, 50)
    natural = kernel.softmax_cross_entropy(H.T.copy(), y)
    base2 = kernel.softmax_cross_entropy(H.T * kernel.LOG2E, y, base2=True)
    for result in (natural, base2):
        assert_allclose(result.probs.T, core.softmax(H), rtol=1e-13)
        assert_allclose(result.loss_per_node, core.cross_entropy(H, y), rtol=1e-13, atol=1e-15)
        assert result.true_is_top.tolist() == (H.argmax(axis=1) == y).tolist()


def test_true_class_positions_address_each_nodes_true_entry():
    y = np.array([2, 0, 1, 1, 2])
    nodes = np.arange(5)
    assert_allclose(kernel.true_class_positions(y), np.ravel_multi_index((y, nodes), (3, 5)))


def test_chunk_with_known_positions_and_a_float32_buffer(article):
    """The trainer's path: positions computed once, Z converted into a scratch buffer."""
    W, b = article.W.astype(np.float32), article.b.astype(np.float32)
    larger = kernel.chunk_scratch(9, W)
    work = kernel.chunk_scratch(5, W, within=larger)  # the trainer's scratch for a smaller chunk
    assert [a.shape for a in work] == [(5, 4), (3, 5)]
    assert all(np.shares_memory(a, big) and a.flags.c_contiguous for a, big in zip(work, larger))
    positions = kernel.true_class_positions(article.y)
    part = kernel.chunk_loss_and_grad(article.Z, article.y, W, b, 0.2, None, work, positions)
    full = core.gradient_step(article.Z, article.y, article.W, article.b, article.lr)
    assert part.grad_W.dtype == np.float32
    assert_allclose(part.grad_W, full.grad_W, atol=1e-6)
    assert_allclose(part.grad_b, full.grad_b, atol=1e-6)
    assert_allclose(part.loss_per_node, full.loss_per_node, atol=1e-6)
    assert not part.correct.any()  # the article predicts every node wrong


@pytest.mark.parametrize("convention", [
    LossConvention(class_weights=(0.5, 2.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0)),
    LossConvention(label_smoothing=0.2),
    LossConvention(class_weights=(1.0, 0.0, 2.0, 1.0, 4.0, 1.0, 1.0, 1.0), label_smoothing=0.1),
], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("seed", range(4))
def test_chunks_with_class_weights_and_label_smoothing_equal_the_core_step(seed, reduction, convention):
    Z, y, W, b = random_problem(seed)
    C = len(W)
    weights = None if convention.class_weights is None else convention.class_weights[:C]
    convention = LossConvention(class_weights=weights, label_smoothing=convention.label_smoothing)
    n = len(y)
    rng = np.random.default_rng(200 + seed)
    trains = (rng.random(n) < 0.6).astype(np.float64)
    on = trains == 1
    edges = [0, *sorted(rng.choice(np.arange(1, n), 3, replace=False)), n]
    scale = conventions.loss_scale(y[on], reduction, convention)
    bounds = list(zip(edges[:-1], edges[1:]))
    parts = [kernel.chunk_loss_and_grad(Z[s:t], y[s:t], W, b, scale, trains[s:t], convention=convention)
             for s, t in bounds]
    every_node = core.gradient_step(Z, y, W, b, 0.1, reduction, convention=convention)
    trained = core.gradient_step(Z[on], y[on], W, b, 0.1, reduction, convention=convention)
    assert_allclose(np.concatenate([p.loss_per_node for p in parts]), every_node.loss_per_node, rtol=1e-12)
    assert_allclose(sum(p.grad_W for p in parts), trained.grad_W, rtol=1e-10, atol=1e-13)
    assert_allclose(sum(p.grad_b for p in parts), trained.grad_b, rtol=1e-10, atol=1e-13)
    assert_allclose(np.concatenate([p.correct for p in parts]), every_node.predicted == y)
