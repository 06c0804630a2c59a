"""The article's worked example, with every number from ../shared/article.md.

These are literals copied from the article's digest (computed there in float64 and
cross-checked against an independent autograd implementation), not from nodeclf.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "example.yaml"


class Article:
    Z = np.array(
        [
            [0.5, 0.6, 0.7, 0.8],
            [0.3, 0.8, 0.3, 0.4],
            [0.7, 0.9, 0.6, 0.9],
            [0.2, 0.1, 0.2, 0.3],
            [0.8, 0.4, 0.3, 0.2],
        ]
    )
    y = np.array([0, 1, 0, 1, 2])
    W = np.array(
        [[0.17, 0.4, -0.14, 0.51], [0.75, -0.04, 0.67, -0.18], [0.53, -0.04, 0.4, 0.77]]
    )
    b = np.array([0.05, -0.11, -0.32])
    lr = 0.2
    logits = np.array(
        [
            [0.685, 0.566, 0.817],
            [0.583, 0.212, 0.235],
            [0.904, 0.619, 0.948],
            [0.249, 0.116, 0.093],
            [0.406, 0.639, 0.362],
        ]
    )
    probabilities = np.array(
        [
            [0.330151, 0.293111, 0.376738],
            [0.417337, 0.287981, 0.294681],
            [0.357526, 0.268865, 0.373609],
            [0.366163, 0.320563, 0.313274],
            [0.310623, 0.392125, 0.297252],
        ]
    )
    predicted = np.array([2, 0, 2, 0, 1])
    loss_per_node = np.array([1.108205, 1.244860, 1.028546, 1.137677, 1.213175])
    loss = 1.1464926025
    loss_from_2dp_probs = 1.1423
    grad_W = np.array(
        [
            [-0.067545, -0.097080, -0.112552, -0.155039],
            [0.059794, -0.012573, 0.026928, 0.013251],
            [0.007751, 0.109653, 0.085623, 0.141789],
        ]
    )
    grad_b = np.array([-0.043640, -0.087471, 0.131111])
    W_new = np.array(
        [
            [0.183509, 0.419416, -0.117490, 0.541008],
            [0.738041, -0.037485, 0.664614, -0.182650],
            [0.528450, -0.061931, 0.382875, 0.741642],
        ]
    )
    b_new = np.array([0.058728, -0.092506, -0.346222])


@pytest.fixture
def article() -> type[Article]:
    return Article
