"""What the benchmarks that compare nodeclf with PyTorch share: each side runs in a
fresh process of the same script (``--worker SIDE``), which prints its result as JSON
with its peak memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path


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
