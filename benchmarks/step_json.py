"""`nodeclf step --format json` on a big problem: time and peak memory, against the
document built whole with `json.dumps(..., indent=2)` (how it was written before),
measured in the same run, each in a fresh process.

The problem is ogbn-arxiv-sized by default (169,343 nodes, 128 features, 40 classes;
embeddings and labels as .npy files, weights as a CSV); `--nodes` makes it smaller.
Printed: seconds and peak memory of each, the ratios, and nodeclf's peak memory as a
multiple of the embeddings' size (goal: a small multiple).

    python benchmarks/step_json.py [--nodes 169343]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WHOLE = """
import json, resource, sys
import numpy as np
from nodeclf_cli.handwork import work_step
from nodeclf_cli.problem import load_problem
from nodeclf_cli.render import step_json
from nodeclf_cli.rounding import Requirement
from pathlib import Path

folder = Path(sys.argv[1])
problem = load_problem(embeddings=folder / "z.npy", labels=folder / "y.npy", weights=folder / "w.csv",
                       learning_rate=0.1, require=("weights", "learning_rate"))
data = step_json(problem, work_step(problem, Requirement(), "mean", False).result, "mean")
data = {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in data.items()}
(folder / "whole.json").write_text(json.dumps(data, indent=2, allow_nan=False) + "\\n")
"""


def make_problem(folder: Path, nodes: int, features: int = 128, classes: int = 40) -> int:
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(nodes, features)).astype(np.float32)
    np.save(folder / "z.npy", Z)
    np.save(folder / "y.npy", rng.integers(0, classes, nodes))
    W = rng.normal(scale=0.1, size=(classes, features))
    rows = [",".join([str(c), "0.0", *(f"{w:.4f}" for w in row)]) for c, row in enumerate(W)]
    (folder / "w.csv").write_text("\n".join(rows) + "\n")
    return Z.nbytes


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of a fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=169_343)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        size = make_problem(folder, args.nodes)
        ours = measure([sys.executable, "-m", "nodeclf_cli", "step", "--embeddings", str(folder / "z.npy"),
                        "--labels", str(folder / "y.npy"), "--weights", str(folder / "w.csv"), "--lr", "0.1",
                        "--format", "json", "-o", str(folder / "ours.json")])
        whole = measure([sys.executable, "-c", WHOLE, str(folder)])
        same = json.loads((folder / "ours.json").read_text())["loss"] == json.loads(
            (folder / "whole.json").read_text())["loss"]
        print(f"problem: {args.nodes} nodes x 128 features, 40 classes; embeddings {size / 2**20:.0f} MB; "
              f"document {(folder / 'ours.json').stat().st_size / 2**20:.0f} MB; same loss: {same}")
    print(f"nodeclf step --format json   {ours[0]:6.1f} s   peak {ours[1]:7.0f} MB")
    print(f"json.dumps, whole document   {whole[0]:6.1f} s   peak {whole[1]:7.0f} MB")
    print(f"ratio: time {ours[0] / whole[0]:.2f}x, memory {ours[1] / whole[1]:.2f}x; "
          f"nodeclf's peak is {ours[1] * 2**20 / size:.1f}x the embeddings (goal: a small multiple)")


if __name__ == "__main__":
    main()
