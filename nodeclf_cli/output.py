"""Writing output files safely: atomically, and never over a file without --force."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import NodeclfError


def check_writable(path: Path, force: bool) -> None:
    """Refuse early (before any work) a path that cannot or may not be written."""
    if path.is_dir():
        raise NodeclfError("is a directory; give a file name", path)
    if not path.parent.is_dir():
        raise NodeclfError(f"the directory {str(path.parent)!r} does not exist", path)
    if path.exists() and not force:
        raise NodeclfError("already exists; pass --force to overwrite it", path)
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise NodeclfError("cannot write here: permission denied", path)


def write_atomic(path: Path, content: str | bytes, force: bool = False) -> None:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` through a temporary file
    in the same directory and a rename, so that a crash or Ctrl-C leaves either the old
    file whole or the new one, and never a file half written."""
    check_writable(path, force)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise NodeclfError(f"cannot write the file: {exc.strerror or exc}", path) from None
        raise
