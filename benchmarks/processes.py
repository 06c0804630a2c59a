"""What the benchmarks that compare nodeclf with PyTorch share: each side runs in a
fresh process of the same script (``--worker SIDE``), which prints its result as JSON
with its peak memory."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable


def peak_memory_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM: ru_maxrss would also
    count the parent's memory at the fork (Linux keeps it across exec)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(result: dict) -> None:
    """A worker's last line: its result, with its peak memory."""
    result["peak_mb"] = peak_memory_mb()
    print(json.dumps(result))


def child(script: str, side: str, folder: Path, epochs: int) -> dict:
    """Run ``script --worker side`` in a fresh process and return what it reported."""
    done = subprocess.run(
        [sys.executable, script, "--worker", side, "--folder", str(folder), "--epochs", str(epochs)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def arguments(description: str, epochs: int, rounds: int) -> argparse.Namespace:
    """The command line every such benchmark takes: ``--epochs``, ``--rounds``, and the
    worker's own ``--worker SIDE --folder DIR``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--worker", choices=["nodeclf", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def rounds(script: str, make_problem: Callable[[Path], object], count: int, epochs: int) -> dict[str, list[dict]]:
    """``count`` rounds on one problem made in a temporary folder: each side in turn
    (PyTorch first), each in a fresh process; each side's reports, in order."""
    runs: dict[str, list[dict]] = {"nodeclf": [], "torch": []}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        make_problem(folder)
        for _ in range(count):
            for side in ("torch", "nodeclf"):
                runs[side].append(child(script, side, folder, epochs))
    return runs
