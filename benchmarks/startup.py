"""Start-up time of `nodeclf step` against the floor any such Typer command pays.

The floor is a minimal Typer command that imports numpy and PyYAML and prints one
Rich table. Both are run alternately in fresh processes, in the same run, and the
ratio of medians is printed. Goal: `nodeclf step` at most 1.15x the floor.

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = '''
import numpy, yaml, typer
from rich.console import Console
from rich.table import Table

app = typer.Typer()

@app.command()
def step(path: str = "") -> None:
    table = Table(title="floor")
    table.add_column("x", justify="right")
    table.add_row("0.69")
    Console().print(table)

@app.command()
def other() -> None:
    pass

app()
'''


# As a user runs it: bytecode cached after the first run (some shells here disable it).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["COLUMNS"] = "100"


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(FLOOR)
        nodeclf = [sys.executable, "-m", "nodeclf_cli", "step"]
        floor = [sys.executable, str(floor_script), "step"]
        for command in (nodeclf, floor):  # warm the file cache
            timed(command, tmp)
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(timed(nodeclf, tmp))
            theirs.append(timed(floor, tmp))
    ours_s, floor_s = statistics.median(ours), statistics.median(theirs)
    print(f"nodeclf step      median {ours_s * 1000:7.1f} ms over {args.runs} runs")
    print(f"floor (Typer+numpy+PyYAML+Rich table) {floor_s * 1000:7.1f} ms")
    print(f"ratio             {ours_s / floor_s:.3f}x   (goal: at most 1.15x)")


if __name__ == "__main__":
    main()
