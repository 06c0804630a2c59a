"""Propagation (SGC: Ẑ = Â^K Z once, then a linear layer) against PyTorch, at the size of ogbn-arxiv.

A synthetic graph (169,343 nodes, 1,166,243 distinct undirected edges, no self-loops,
128 float32 features, 40 classes; labels from a noisy linear teacher of the propagated
features; fixed seed) is written to .npy files. Each side then, in its own process so
that its peak memory is its own: loads the files, builds Â = D̃^-1/2 (A + I) D̃^-1/2,
propagates K = 2 hops, and trains 100 full-batch epochs from the same initial weights:

- nodeclf: ``load_problem`` (embeddings memory-mapped, edges from .npy), then
  ``graph.propagated_embeddings`` (numpy only) and ``Trainer`` (float32);
- PyTorch (CPU): the loop a user would write: both directions and the self-loops as an
  edge_index, degrees by ``scatter_add``, ``torch.sparse_coo_tensor`` for Â,
  ``torch.sparse.mm`` twice, then ``nn.Linear``, ``F.cross_entropy``, ``torch.optim.SGD``.

The two loss histories must agree (rtol 1e-3: float32 sums in another order). Printed:
the time of each part (load, Â and propagation, training) and end to end, with the
ratio; the propagation alone; peak memory (resident high-water mark) and its ratio.
Goals: end to end at least 2x PyTorch's speed, at most 0.5x its peak memory.

    pip install torch==2.13.0      # a benchmark dependency only
    python benchmarks/propagate_vs_torch.py [--epochs 100] [--rounds 1]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from processes import arguments, report, rounds

N, E, D, C = 169_343, 1_166_243, 128, 40
HOPS, LEARNING_RATE = 2, 0.5


def make_problem(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(2026)
    pairs = rng.integers(0, N, size=(int(E * 1.05), 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    keys = np.minimum(pairs[:, 0], pairs[:, 1]) * N + np.maximum(pairs[:, 0], pairs[:, 1])
    _, first = np.unique(keys, return_index=True)
    pairs = pairs[np.sort(first)[:E]]  # distinct undirected edges, in the order drawn
    Z = rng.standard_normal((N, D), dtype=np.float32)
    teacher = rng.standard_normal((C, D)).astype(np.float32)
    noisy = Z @ teacher.T + 4.0 * rng.standard_normal((N, C), dtype=np.float32)
    np.save(folder / "edges.npy", pairs.astype(np.int64))
    np.save(folder / "z.npy", Z)
    np.save(folder / "y.npy", noisy.argmax(axis=1).astype(np.int64))
    np.save(folder / "w0.npy", (0.01 * rng.standard_normal((C, D))).astype(np.float32))


def run_nodeclf(folder: Path, epochs: int) -> dict:
    import numpy as np

    from nodeclf_cli.graph import propagated_embeddings
    from nodeclf_cli.problem import load_problem
    from nodeclf_cli.train import Settings, Trainer

    start = time.perf_counter()
    problem = load_problem(embeddings=folder / "z.npy", labels=folder / "y.npy", edges=folder / "edges.npy",
                           propagation={"hops": HOPS})
    loaded = time.perf_counter()
    features = propagated_embeddings(problem.graph, problem.Z, np.float32)
    propagated = time.perf_counter()
    settings = Settings(epochs=epochs, learning_rate=LEARNING_RATE, dtype="float32")
    trainer = Trainer(features, problem.y, np.load(folder / "w0.npy"), np.zeros(C, np.float32), settings)
    losses = [epoch.loss for epoch in trainer]
    trained = time.perf_counter()
    return {"losses": losses, "load": loaded - start, "propagate": propagated - loaded, "train": trained - propagated}


def run_torch(folder: Path, epochs: int) -> dict:
    import numpy as np
    import torch

    start = time.perf_counter()
    Z = torch.from_numpy(np.load(folder / "z.npy"))
    y = torch.from_numpy(np.load(folder / "y.npy"))
    pairs = torch.from_numpy(np.load(folder / "edges.npy"))
    loaded = time.perf_counter()
    loops = torch.arange(N)
    row = torch.cat([pairs[:, 0], pairs[:, 1], loops])  # source
    col = torch.cat([pairs[:, 1], pairs[:, 0], loops])  # target
    weight = torch.ones(len(row))
    degree = torch.zeros(N).scatter_add_(0, col, weight)
    inverse_sqrt = degree.pow(-0.5)
    values = inverse_sqrt[row] * weight * inverse_sqrt[col]
    A_hat = torch.sparse_coo_tensor(torch.stack([col, row]), values, (N, N)).coalesce()
    X = Z
    for _ in range(HOPS):
        X = torch.sparse.mm(A_hat, X)
    propagated = time.perf_counter()
    layer = torch.nn.Linear(D, C)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.load(folder / "w0.npy")))
        layer.bias.zero_()
    optimiser = torch.optim.SGD(layer.parameters(), lr=LEARNING_RATE)
    losses = []
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(X), y)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    trained = time.perf_counter()
    return {"losses": losses, "load": loaded - start, "propagate": propagated - loaded, "train": trained - propagated}


def worker(side: str, folder: Path, epochs: int) -> None:
    report((run_nodeclf if side == "nodeclf" else run_torch)(folder, epochs))


def main() -> None:
    args = arguments(__doc__.splitlines()[0], epochs=100, rounds=1)
    if args.worker:
        worker(args.worker, args.folder, args.epochs)
        return

    from nodeclf_cli.blas import choose_kernels

    choose_kernels()  # numpy's BLAS kernels as the nodeclf command chooses them, for the children too
    import numpy as np

    from nodeclf_cli.train import usable_cores

    runs = rounds(__file__, make_problem, args.rounds, args.epochs)

    ours, theirs = runs["nodeclf"][0]["losses"], runs["torch"][0]["losses"]
    agree = np.allclose(ours, theirs, rtol=1e-3, atol=0)
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))

    def median(figure) -> dict[str, float]:
        return {side: statistics.median(figure(r) for r in rs) for side, rs in runs.items()}

    parts = {part: median(lambda r, part=part: r[part]) for part in ("load", "propagate", "train")}
    total = median(lambda r: r["load"] + r["propagate"] + r["train"])
    memory = median(lambda r: r["peak_mb"])
    print(f"graph: {N} nodes, {E} undirected edges, {D} features, {C} classes, float32; K = {HOPS} hops, "
          f"{args.epochs} epochs; {usable_cores()} cores; median of {args.rounds} round(s)")
    print(f"loss histories agree (rtol 1e-3): {agree}  (largest relative difference {worst:.2e}; "
          f"first {ours[0]:.6f}, last {ours[-1]:.6f})")
    for part, seconds in parts.items():
        print(f"{part:<14} nodeclf {seconds['nodeclf']:7.2f} s   torch {seconds['torch']:7.2f} s   "
              f"speed ratio {seconds['torch'] / seconds['nodeclf']:.2f}x")
    print(f"end to end     nodeclf {total['nodeclf']:7.2f} s   torch {total['torch']:7.2f} s   "
          f"speed ratio {total['torch'] / total['nodeclf']:.2f}x  (goal: at least 2x)")
    print(f"peak memory    nodeclf {memory['nodeclf']:7.1f} MB  torch {memory['torch']:7.1f} MB  "
          f"ratio {memory['nodeclf'] / memory['torch']:.2f}x  (goal: at most 0.5x)")
    if not agree:
        sys.exit("the loss histories differ")


if __name__ == "__main__":
    main()
