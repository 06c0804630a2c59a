"""nodeclf's trainer against PyTorch on a problem the size of ogbn-arxiv.

A synthetic problem (169,343 nodes, 128 features, 40 classes, float32, fixed seed;
labels from a noisy linear teacher) is written to .npy files. Each side then trains
20 full-batch epochs from the same initial weights with the same learning rate, in
its own process so that its peak memory is its own:

- nodeclf: ``load_problem`` (embeddings memory-mapped) and ``Trainer`` (float32), with
  numpy's BLAS kernels chosen as the ``nodeclf`` command chooses them
  (:mod:`nodeclf_cli.blas`: OpenBLAS's AVX2 kernels on Zen 4);
- PyTorch (CPU): ``nn.Linear``, ``F.cross_entropy``, ``torch.optim.SGD``.

The two loss histories must agree (rtol 1e-4). Printed: epochs/s of each and their
ratio (median over rounds, the sides alternating; and the range of the ratio between
the two runs of each round), the same from the second epoch on with each side's first
epoch (its set-up) timed apart, peak memory (resident high-water mark) of each and
their ratio, and the fraction of the machine's peak sgemm throughput nodeclf
reaches (a square float32 matmul timed in the same run).
Goals on a 2-core machine: at least 2.5x PyTorch's epochs/s, at most 0.4x its memory.

    pip install torch==2.13.0      # a benchmark dependency only
    python benchmarks/train_vs_torch.py [--epochs 20] [--rounds 3]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from processes import arguments, report, rounds

N, D, C = 169_343, 128, 40
LEARNING_RATE = 0.5


def make_problem(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(2026)
    Z = rng.standard_normal((N, D), dtype=np.float32)
    teacher = rng.standard_normal((C, D)).astype(np.float32)
    logits = Z @ teacher.T + 4.0 * rng.standard_normal((N, C), dtype=np.float32)
    np.save(folder / "z.npy", Z)
    np.save(folder / "y.npy", logits.argmax(axis=1).astype(np.int64))
    np.save(folder / "w0.npy", (0.01 * rng.standard_normal((C, D))).astype(np.float32))


def run_nodeclf(folder: Path, epochs: int) -> dict:
    import numpy as np

    from nodeclf_cli.problem import load_problem
    from nodeclf_cli.train import Settings, Trainer

    problem = load_problem(embeddings=folder / "z.npy", labels=folder / "y.npy")
    W0 = np.load(folder / "w0.npy")
    settings = Settings(epochs=epochs, learning_rate=LEARNING_RATE, dtype="float32")
    trainer = Trainer(problem.Z, problem.y, W0, np.zeros(C, np.float32), settings)
    losses, times = [], []
    start = time.perf_counter()
    for epoch in trainer:
        losses.append(epoch.loss)
        times.append(time.perf_counter() - start)
    return {"losses": losses, "times": times}


def run_torch(folder: Path, epochs: int) -> dict:
    import numpy as np
    import torch

    Z = torch.from_numpy(np.load(folder / "z.npy"))
    y = torch.from_numpy(np.load(folder / "y.npy"))
    layer = torch.nn.Linear(D, C)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.load(folder / "w0.npy")))
        layer.bias.zero_()
    optimiser = torch.optim.SGD(layer.parameters(), lr=LEARNING_RATE)
    losses, times = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(Z), y)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - start)
    return {"losses": losses, "times": times}


def worker(side: str, folder: Path, epochs: int) -> None:
    result = (run_nodeclf if side == "nodeclf" else run_torch)(folder, epochs)
    result["blas"] = numpy_blas()
    report(result)


def sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    import numpy as np

    A = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    A @ A
    best = min(_timed(lambda: A @ A) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def numpy_blas() -> str:
    """numpy's BLAS and the kernels it picked for this processor, as threadpoolctl sees them."""
    from threadpoolctl import threadpool_info

    for library in threadpool_info():
        if library["user_api"] == "blas":
            kernels = f", {library['architecture']} kernels" if library.get("architecture") else ""
            return f"numpy's BLAS: {library['internal_api']} {library['version']}{kernels}"
    return "numpy's BLAS: unknown"


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    args = arguments(__doc__.splitlines()[0], epochs=20, rounds=3)
    if args.worker:
        worker(args.worker, args.folder, args.epochs)
        return

    from nodeclf_cli.blas import CORETYPE, choose_kernels

    # numpy's BLAS kernels as the nodeclf command chooses them, here (for the sgemm peak
    # below) and, through the environment, in each side's process (PyTorch's MKL ignores it)
    chosen = choose_kernels()
    import numpy as np

    from nodeclf_cli.train import usable_cores

    runs = rounds(__file__, make_problem, args.rounds, args.epochs)
    peak = sgemm_gflops()

    ours, theirs = runs["nodeclf"][0]["losses"], runs["torch"][0]["losses"]
    agree = np.allclose(ours, theirs, rtol=1e-4, atol=0)
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))

    def per_side(figure) -> dict[str, float]:
        """The median over each side's rounds of ``figure(run)``."""
        return {side: statistics.median(figure(r) for r in rs) for side, rs in runs.items()}

    speed = per_side(lambda r: args.epochs / r["times"][-1])
    # epochs 2 onwards: without each side's set-up in its first epoch
    later = per_side(lambda r: (args.epochs - 1) / (r["times"][-1] - r["times"][0])) if args.epochs > 1 else None
    first_ms = per_side(lambda r: 1000 * r["times"][0])
    round_ratios = [theirs_r["times"][-1] / ours_r["times"][-1]
                    for ours_r, theirs_r in zip(runs["nodeclf"], runs["torch"])]
    memory = per_side(lambda r: r["peak_mb"])
    flops_per_epoch = 2 * 2 * N * D * C  # forward Z W^T and backward (dL/dH)^T Z
    print(f"problem: {N} nodes x {D} features, {C} classes, float32, {args.epochs} epochs, lr {LEARNING_RATE}; "
          f"{usable_cores()} cores; median of {args.rounds} rounds")
    print(f"loss histories agree (rtol 1e-4): {agree}  (largest relative difference {worst:.2e}; "
          f"first {ours[0]:.6f}, last {ours[-1]:.6f})")
    print(f"epochs/s       nodeclf {speed['nodeclf']:7.2f}   torch {speed['torch']:7.2f}   "
          f"ratio {speed['nodeclf'] / speed['torch']:.2f}x  (goal: at least 2.5x; "
          f"round by round {min(round_ratios):.2f}x to {max(round_ratios):.2f}x)")
    if later:
        print(f"epochs 2-{args.epochs:<5d} nodeclf {later['nodeclf']:7.2f}   torch {later['torch']:7.2f}   "
              f"ratio {later['nodeclf'] / later['torch']:.2f}x  (first epochs: nodeclf "
              f"{first_ms['nodeclf']:.0f} ms, torch {first_ms['torch']:.0f} ms)")
    print(f"peak memory    nodeclf {memory['nodeclf']:7.1f} MB   torch {memory['torch']:7.1f} MB   "
          f"ratio {memory['nodeclf'] / memory['torch']:.2f}x  (goal: at most 0.4x)")
    achieved = flops_per_epoch * speed["nodeclf"] / 1e9
    print(f"throughput     nodeclf {achieved:.1f} GFLOP/s of a {peak:.1f} GFLOP/s sgemm peak "
          f"({100 * achieved / peak:.0f}%; nodeclf's side: {runs['nodeclf'][0]['blas']}"
          f"{f', {CORETYPE}={chosen} as nodeclf sets it here' if chosen else ''})")
    if not agree:
        sys.exit("the loss histories differ")


if __name__ == "__main__":
    main()
