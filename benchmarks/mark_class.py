"""Marking a class: seconds per sheet of `nodeclf check DIR` on top of one start-up.

A class of 200 sheets on the article-sized problem (the hand-made article sheets of
tests/sheets and the article's own answers, copied round-robin: right ones, slips,
named mistakes, coarse numbers) is marked in one process; the same command on one
sheet is the start-up (and one sheet) it is measured against, in the same run, and
so are single `nodeclf check FILE` processes, one per sheet, as a teacher's loop
would run them. Goal: at most 0.1 s per sheet on top of one start-up.

    python benchmarks/mark_class.py [--sheets 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["COLUMNS"] = "100"
GOAL = 0.1  # seconds per sheet


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sources = sorted((ROOT / "tests" / "sheets").glob("*_article_*.yaml"))
    sources = [s for s in sources if not s.name.endswith(".expected.yaml")] + [ROOT / "data" / "article_answers.yaml"]
    with tempfile.TemporaryDirectory() as tmp:
        folder, one = Path(tmp) / "class", Path(tmp) / "one"
        folder.mkdir()
        one.mkdir()
        for i in range(args.sheets):
            shutil.copy(sources[i % len(sources)], folder / f"student{i:03d}.yaml")
        shutil.copy(sources[0], one / "student000.yaml")
        check = [sys.executable, "-m", "nodeclf_cli", "check", "--format", "json"]
        timed([*check, str(one)], Path(tmp))  # warm the caches
        whole = [timed([*check, str(folder)], Path(tmp)) for _ in range(args.runs)]
        start_up = [timed([*check, str(one)], Path(tmp)) for _ in range(args.runs)]
        sample = sorted(folder.iterdir())[:10]
        alone = [timed([sys.executable, "-m", "nodeclf_cli", "check", "--format", "json", str(sheet)], Path(tmp))
                 for sheet in sample]
    whole_s, one_s, alone_s = statistics.median(whole), statistics.median(start_up), statistics.median(alone)
    per_sheet = (whole_s - one_s) / (args.sheets - 1)
    print(f"{args.sheets} sheets in one process   median {whole_s:6.2f} s over {args.runs} runs")
    print(f"one sheet (the start-up)       median {one_s:6.3f} s")
    print(f"per sheet on top of it         {per_sheet:6.4f} s   ({per_sheet / GOAL:.2f}x the goal of {GOAL} s)")
    print(f"one process per sheet          median {alone_s:6.3f} s a sheet "
          f"({alone_s / per_sheet:.1f}x the per-sheet cost of marking the class at once)")


if __name__ == "__main__":
    main()
