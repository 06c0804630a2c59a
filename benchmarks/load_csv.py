"""Reading a CSV of embeddings, against numpy.loadtxt on the same file.

Writes a 20,000 x 128 table (`id,x_0,...,x_127`, a header row, random numbers as
a spreadsheet or pandas would write them), then times, alternately in the same run,
nodeclf's reader (the embeddings loader, with its checks) and
``numpy.loadtxt(path, delimiter=",", skiprows=1)`` reading the same numbers, and
prints the ratio of medians. Goal: at most 1.5x numpy.loadtxt.

    python benchmarks/load_csv.py [--nodes 20000] [--features 128] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nodeclf_cli.problem import _as_matrix, _load_embeddings


def write_table(path: Path, nodes: int, features: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(nodes, features)).round(4)
    with path.open("w", encoding="utf-8") as file:
        file.write(",".join(["id", *(f"x_{j}" for j in range(features))]) + "\n")
        for i, row in enumerate(Z):
            file.write(f"{i}," + ",".join(map(repr, row.tolist())) + "\n")
    return Z


def nodeclf_read(path: Path) -> np.ndarray:
    return _as_matrix(_load_embeddings(str(path), "bench", None, path.parent), "embedding")


def numpy_read(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "embeddings.csv"
        Z = write_table(path, args.nodes, args.features)
        assert np.array_equal(nodeclf_read(path), Z) and np.array_equal(numpy_read(path), Z)
        times: dict = {"nodeclf": [], "numpy.loadtxt": []}
        for _ in range(args.runs):
            for name, read in (("nodeclf", nodeclf_read), ("numpy.loadtxt", numpy_read)):
                started = time.perf_counter()
                read(path)
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    numbers = args.nodes * args.features
    for name, seconds in medians.items():
        print(f"{name:>14}: {seconds:.3f} s  ({numbers / seconds / 1e6:.1f} M numbers/s)")
    print(f"ratio nodeclf / numpy.loadtxt: {medians['nodeclf'] / medians['numpy.loadtxt']:.2f} (goal: at most 1.5)")


if __name__ == "__main__":
    main()
