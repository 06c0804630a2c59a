"""Â Z on an ogbn-arxiv-sized graph: nodeclf's numpy-only CSR product against
scipy.sparse and torch.sparse (each where installed), and the import cost of scipy.sparse.

A random graph (169,343 nodes, 1,166,243 undirected edges, self-loops added: about
2.5 million entries of Â) and Z of 128 float32 features, fixed seed. Each product is
timed 5 times, alternating, and the best is printed with its ratio to nodeclf's; the
results must agree (rtol 1e-5). The choice this informs is explained in docs/graph.md.

    pip install scipy torch==2.13.0    # optional references, for this script only
    python benchmarks/sparse_product.py
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import numpy as np

from nodeclf_cli import graph

N, E, D = 169_343, 1_166_243, 128


def main() -> None:
    rng = np.random.default_rng(2026)
    pairs = rng.integers(0, N, size=(E, 2))
    g = graph.Graph(N, pairs[:, 0], pairs[:, 1], np.ones(E))
    start = time.perf_counter()
    _, A_hat = graph.normalized_adjacency(g)
    built = time.perf_counter() - start
    indptr, cols, values = A_hat.indptr, A_hat.cols.astype(np.int32), A_hat.values.astype(np.float32)
    Z = rng.standard_normal((N, D), dtype=np.float32)
    products = {"nodeclf (numpy)": lambda: graph.sparse_product(indptr, cols, values, Z)}
    try:
        import scipy.sparse

        matrix = scipy.sparse.csr_matrix((values, cols, indptr), shape=(N, N))
        products["scipy.sparse"] = lambda: matrix @ Z
    except ImportError:
        print("scipy not installed: left out")
    try:
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tensor = torch.sparse_csr_tensor(torch.from_numpy(indptr), torch.from_numpy(cols.astype(np.int64)),
                                             torch.from_numpy(values), size=(N, N))
        Z_torch = torch.from_numpy(Z)
        products["torch.sparse (CSR)"] = lambda: (tensor @ Z_torch).numpy()
    except ImportError:
        print("torch not installed: left out")
    times: dict[str, list[float]] = {name: [] for name in products}
    results = {}
    for _ in range(5):
        for name, product in products.items():
            start = time.perf_counter()
            results[name] = product()
            times[name].append(time.perf_counter() - start)
    ours = min(times["nodeclf (numpy)"])
    print(f"Â: {len(values)} entries, built in {built:.2f} s; Z: {N} x {D} float32; best of 5")
    for name, seconds in times.items():
        agree = np.allclose(results[name], results["nodeclf (numpy)"], rtol=1e-5, atol=1e-6)
        print(f"{name:<20} {min(seconds):6.3f} s   nodeclf's time / this: {ours / min(seconds):.2f}   "
              f"agrees: {agree}")
    if "scipy.sparse" in products:
        code = "import time; t = time.perf_counter(); import scipy.sparse; print(time.perf_counter() - t)"
        cost = min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout) for _ in range(3))
        print(f"import scipy.sparse: {1000 * cost:.0f} ms (in a fresh process, best of 3)")


if __name__ == "__main__":
    main()
