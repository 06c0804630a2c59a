"""Writing the files of a class and of a quiz (problems, keys, manifest, gradebook,
pages, quizzes): every file is checked before any is written, so a refusal leaves
nothing half done; each is then published as :mod:`output` publishes every file (never
over another without ``--force``, atomically). The one place these commands write files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import NodeclfError, Terminated, printable
from .output import Target, check_output, check_outputs, publish


def check_new(path: Path, force: bool, option: str) -> Target:
    """Refuse early (before any work) an output file that may not be written."""
    return check_output(option, path, force)


def write_files(files: list[tuple[Path, str | bytes]], force: bool, inputs: tuple = ()) -> list[Path]:
    """Write each (path, content), creating the folders they go in; refuses, before
    writing anything, a path given twice, one that may not be written, or one that names
    one of the command's ``inputs`` (files or folders). Returns where
    each went (beside its name, with a warning, where the name was taken meanwhile)."""
    seen: set[Path] = set()
    for path, _ in files:
        if path.resolve() in seen:
            raise NodeclfError("would be written twice", path)
        seen.add(path.resolve())
    for folder in dict.fromkeys(path.parent for path, _ in files):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeclfError(f"cannot make the folder: {exc.strerror or exc}", folder) from None
    targets = check_outputs(force, *((path.name, path) for path, _ in files), inputs=inputs)
    written: list[Path] = []
    try:
        for target, (_, content) in zip(targets, files):
            went = publish(target, content)
            if went.instead is not None:
                print(printable(f"nodeclf: warning: {went.instead}; wrote {went.path} instead"), file=sys.stderr)
            written.append(went.path)
    except (KeyboardInterrupt, Terminated):  # say what is there, then stop as asked
        if written:
            folders = ", ".join(sorted({str(path.parent) for path in written}))
            print(printable(f"nodeclf: stopped after writing {len(written)} of {len(files)} files (in {folders})"),
                  file=sys.stderr)
        raise
    return written
