"""Writing the files of a class and of a quiz (problems, keys, manifest, gradebook,
pages, quizzes): every file is checked before any is written, so a refusal leaves
nothing half done; each is then written atomically by :func:`output.write_atomic`.
The one place these commands write files."""

from __future__ import annotations

from pathlib import Path

from .errors import NodeclfError
from .output import check_writable, write_atomic


def check_new(path: Path, force: bool) -> None:
    """Refuse early (before any work) an output file that may not be written."""
    check_writable(path, force)


def write_files(files: list[tuple[Path, str | bytes]], force: bool) -> None:
    """Write each (path, content), creating the folders they go in; refuses, before
    writing anything, a path given twice or an existing file without ``force``."""
    seen: set[Path] = set()
    for path, _ in files:
        if path.resolve() in seen:
            raise NodeclfError("would be written twice", path)
        seen.add(path.resolve())
        if path.exists() and not force:
            raise NodeclfError("already exists; pass --force to overwrite it", path)
        if path.is_dir():
            raise NodeclfError("is a directory; give a file name", path)
    for folder in dict.fromkeys(path.parent for path, _ in files):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeclfError(f"cannot make the folder: {exc.strerror or exc}", folder) from None
    for path, _ in files:
        check_writable(path, force)
    for path, content in files:
        write_atomic(path, content, force)
