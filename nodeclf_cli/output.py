"""Where nodeclf's results go: output files, and stdout whatever state it is in.

Output files (``--output``, ``--save``, ``--history``, ``--plot``, ``--answers``) are
checked before any work (:func:`check_outputs`), then :func:`publish` writes each one so
that nothing the user had is lost and no finished work is lost either:

- a regular file is written to a hidden temporary file in its directory
  (``.NAME.XXXXXXXX.nodeclf-tmp``), flushed to disk, then put in place. Without
  ``--force`` it is *linked* into place, which fails if the name is taken: a file that
  appeared meanwhile is left alone and the result goes beside it (``NAME.1.yaml``). With
  ``--force`` it is renamed over the old file (atomic: the old file whole, or the new one);
- a character device or FIFO (``/dev/null``, a named pipe, ``/dev/stdout``) is written as
  a stream, never replaced; a symbolic link to a regular file is written through (with
  ``--force``); a directory, a dangling link or a link loop is refused;
- if the final write fails all the same (the directory turned read-only, the disk
  filled), the result goes to the current directory, else the temporary directory, and
  the caller is told where (:class:`Written`);
- temporary files of ours left by a killed run (over an hour old, owned by this user)
  are removed from a directory when writing into it.

stdout: characters its encoding cannot write are replaced from one table
(:data:`ASCII_SYMBOLS`), and a full disk or closed stdout is an error, not a traceback.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from .errors import NodeclfError, excerpt

TEMPORARY_SUFFIX = ".nodeclf-tmp"
# .NAME.XXXXXXXX.nodeclf-tmp: a hidden name, tempfile's 8 random characters, our suffix
_OUR_TEMPORARY = re.compile(r"\..*\.[a-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX), re.DOTALL)
STALE_AFTER_SECONDS = 3600
_LINK_UNSUPPORTED = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV, errno.ENOSYS}
ASIDE_TRIES = 100  # NAME.1.yaml ... NAME.100.yaml

# What a file holds: text (written as UTF-8), bytes, or a function of the place it is
# written to (a problem file refers to its data relative to itself).
# What is written: text, bytes, text in pieces (a big JSON document, written as it is
# made), or a function of the place it goes that gives one of those (called again for
# each place tried, so pieces can be made again)
Content = Union[str, bytes, Iterable[str], Callable[[Path], Union[str, bytes, Iterable[str]]]]


@dataclass(frozen=True)
class Target:
    """An output file named on the command line, checked before any work."""

    option: str  # the option naming it: --save
    path: Path  # as given, for messages
    file: Path  # what is written: ``path``, or the regular file a symbolic link points to
    force: bool  # an existing file may be replaced
    kind: str  # "file" (written through a temporary file), "stream" (device, FIFO), "stdout"


@dataclass(frozen=True)
class Written:
    """Where an output went: ``path``; ``instead`` says why that is not the path asked for
    (None when it is)."""

    path: Path
    instead: str | None = None


def check_outputs(
    force: bool, *options: tuple[str, Path | None], inputs: Iterable[Path | None] = ()
) -> list[Target | None]:
    """Check each ``(option, path)`` (path None: not given) before any work, that no two
    name the same file (after symbolic links, ``./``, hard links), and that none names one
    of the command's ``inputs`` (files, or folders of files: even ``--force`` never
    writes over what the command reads). Returns a Target for each, None where the
    option was not given. Raises NodeclfError."""
    targets = [None if path is None else check_output(option, path, force) for option, path in options]
    read = _input_files(inputs)
    seen: dict[tuple, Target] = {}
    for target in targets:
        if target is None or target.kind != "file":  # a stream may be written twice (/dev/null)
            continue
        identity = _identity(target.file)
        if identity in read:
            raise NodeclfError(
                f"{target.option} names {read[identity]}, which this command reads: give another name", target.path
            )
        if identity in seen:
            raise NodeclfError(
                f"{seen[identity].option} and {target.option} must be different files", target.path
            )
        seen[identity] = target
    return targets


def _input_files(inputs: Iterable[Path | None]) -> dict[tuple, Path]:
    """The identities of the files a command reads: each input file, and the files in
    each input folder (and its folders)."""
    found: dict[tuple, Path] = {}
    for path in inputs:
        if path is None:
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                status = os.stat(file)
            except OSError:
                continue
            found[("file", status.st_dev, status.st_ino)] = file
    return found


def check_output(option: str, path: Path, force: bool) -> Target:
    """The checks of :func:`check_outputs` for one path."""
    _check_name(path)
    try:
        status = os.stat(path)  # following symbolic links
    except FileNotFoundError:
        status = None
        if os.path.islink(path):
            raise NodeclfError(
                f"is a symbolic link to {excerpt(os.readlink(path))}, which does not exist; nodeclf does not "
                "write through it: remove the link or give another name", path,
            ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NodeclfError("is a symbolic link loop; give another name", path) from None
        raise NodeclfError(f"cannot write here: {exc.strerror}", path) from None
    if status is not None:
        if stat.S_ISDIR(status.st_mode):
            raise NodeclfError("is a directory; give a file name", path)
        if _is_stdout(status):
            return Target(option, path, path, force, "stdout")
        if stat.S_ISCHR(status.st_mode) or stat.S_ISFIFO(status.st_mode):  # opened through any link, as given
            if not os.access(path, os.W_OK):
                raise NodeclfError("cannot write here: permission denied", path)
            return Target(option, path, path, force, "stream")
        if not stat.S_ISREG(status.st_mode):
            raise NodeclfError(f"is not a regular file ({_kind(status.st_mode)}); give a file name", path)
        if not force:
            raise NodeclfError("already exists; pass --force to overwrite it", path)
    file = Path(os.path.realpath(path)) if os.path.islink(path) else path  # written in place of the link's file
    if status is not None and not os.access(file, os.W_OK):
        raise NodeclfError("cannot write here: permission denied", path)
    _check_directory(file.parent, path)
    return Target(option, path, file, force, "file")


def _check_name(path: Path) -> None:
    """A file name nodeclf can write and name again: UTF-8, in the filesystem's encoding."""
    try:
        str(path).encode("utf-8")
        os.fsencode(str(path))
    except UnicodeError:
        raise NodeclfError("the file name is not valid UTF-8; give another name", path) from None


def _check_directory(directory: Path, path: Path) -> None:
    """The directory exists and takes a new file: tried by creating (and removing) one of
    our temporary files, which also finds a read-only filesystem or a full quota."""
    if not directory.is_dir():
        raise NodeclfError(f"the directory {excerpt(str(directory))} does not exist", path)
    if not os.access(directory, os.W_OK):
        raise NodeclfError("cannot write here: permission denied", path)
    try:
        descriptor, temporary = _temporary_file(directory, path.name)
        os.close(descriptor)
        os.unlink(temporary)
    except OSError as exc:
        raise NodeclfError(f"cannot write here: {exc.strerror or exc}", path) from None


def _identity(file: Path) -> tuple:
    """What two paths naming the same file share: the file's device and inode, or for a
    file not there yet its directory's and its name."""
    try:
        status = os.stat(file)
        return ("file", status.st_dev, status.st_ino)
    except FileNotFoundError:
        directory = os.stat(file.parent)
        return ("new", directory.st_dev, directory.st_ino, file.name)


def _is_stdout(status: os.stat_result) -> bool:
    """Whether ``status`` is the file open as our stdout (``-o /dev/stdout``)."""
    try:
        ours = os.fstat(1)
    except OSError:
        return False
    return (ours.st_dev, ours.st_ino) == (status.st_dev, status.st_ino)


def _kind(mode: int) -> str:
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a file nodeclf can write"


# --- writing -------------------------------------------------------------------------------------


def publish(target: Target, content: Content) -> Written:
    """Write ``content`` to ``target`` as the module docstring says, and return where it
    went. Raises NodeclfError when it could be written nowhere."""
    if target.kind == "stdout":  # text through its encoding (and ASCII_SYMBOLS where it needs them)
        text = content(target.path) if callable(content) else content

        def write() -> None:
            if isinstance(text, str):
                write_text(text)
            elif isinstance(text, bytes):  # an image: after the text before it
                sys.stdout.flush()
                sys.stdout.buffer.write(text)
            else:
                for piece in text:
                    write_text(piece)

        write_stdout(write)
        return Written(target.path)
    if target.kind == "stream":
        _write_stream(target, content)
        return Written(target.path)
    try:
        written = _publish_file(target.file, content, target.force)
        return Written(target.path) if written.path == target.file else written  # named as the user did
    except OSError as failure:
        reason = failure.strerror or str(failure)
    for directory in _fallback_directories(target.file.parent):
        try:
            written = _publish_file(directory / target.file.name, content, False)
        except OSError:
            continue
        return Written(written.path, f"{target.path} could not be written ({reason})")
    raise NodeclfError(f"cannot write the file: {reason}", target.path)


def _publish_file(file: Path, content: Content, force: bool) -> Written:
    """Write a regular file through a temporary one beside it: renamed over ``file``
    with ``force``, else linked to the first free name of ``file``, ``NAME.1.ext``, ..."""
    _remove_stale_temporaries(file.parent)
    descriptor, temporary = _temporary_file(file.parent, file.name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_content(handle, content, file)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(file) if force else _new_file_mode())
        if force:
            os.replace(temporary, file)
            _sync_directory(file.parent)
            return Written(file)
        for name in _names_beside(file):  # beside it: a problem file's references to its data still hold
            if _claim(temporary, name):
                _sync_directory(file.parent)
                return Written(name, None if name == file else f"{file} appeared meanwhile and was left alone")
        raise FileExistsError(errno.EEXIST, "no free name beside it", str(file))
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass


def _claim(temporary: str, name: Path) -> bool:
    """Give the finished temporary file the name ``name`` unless it is taken (then
    False): a hard link, which fails if the name exists; where links are not supported,
    a new file created exclusively (O_EXCL) and the temporary file copied into it."""
    try:
        os.link(temporary, name)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _LINK_UNSUPPORTED:
            raise
    try:
        descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _new_file_mode())
    except FileExistsError:
        return False
    import shutil

    try:
        with os.fdopen(descriptor, "wb") as handle, open(temporary, "rb") as finished:
            shutil.copyfileobj(finished, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)  # ours, half written
        raise
    return True


def _names_beside(file: Path):
    """``file``, then ``NAME.1.ext``, ``NAME.2.ext``, ... (``.ext`` the last suffix)."""
    yield file
    for number in range(1, ASIDE_TRIES + 1):
        yield file.with_name(f"{file.stem}.{number}{file.suffix}")


def _fallback_directories(failed: Path) -> list[Path]:
    """Where a result goes when its own directory will not take it: the current
    directory, then the temporary one (each once, and not the one that failed)."""
    import tempfile

    places: list[Path] = []
    for directory in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            if directory.resolve() != failed.resolve() and directory.resolve() not in places:
                places.append(directory.resolve())
        except OSError:
            continue
    return places


def _write_stream(target: Target, content: Content) -> None:
    """Write to a character device or a FIFO, in place."""
    try:
        descriptor = os.open(target.file, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))  # never O_CREAT
        with os.fdopen(descriptor, "wb") as handle:
            _write_content(handle, content, target.path)
    except OSError as exc:
        raise NodeclfError(f"cannot write the file: {exc.strerror or exc}", target.path) from None


def _write_content(handle: Any, content: Content, place: Path) -> None:
    """Write ``content`` (made for ``place`` where it is a function) to a binary file,
    text as UTF-8, a piece at a time where it comes in pieces."""
    if callable(content):
        content = content(place)
    if isinstance(content, (str, bytes)):
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        return
    for piece in content:
        handle.write(piece.encode("utf-8"))


def _temporary_file(directory: Path, name: str) -> tuple[int, str]:
    """A new hidden temporary file of ours in ``directory``: ``.NAME.XXXXXXXX.nodeclf-tmp``
    (NAME cut short, so that a long name leaves room for the rest)."""
    import tempfile

    return tempfile.mkstemp(dir=directory, prefix=f".{name[:40]}.", suffix=TEMPORARY_SUFFIX)


def _mode_for(file: Path) -> int:
    """The permissions of the file replaced, else those of a new file."""
    try:
        return os.stat(file).st_mode & 0o7777
    except OSError:
        return _new_file_mode()


def _new_file_mode() -> int:
    """The usual permissions of a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_directory(directory: Path) -> None:
    """Flush the directory entry to disk too (where the system allows it)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _remove_stale_temporaries(directory: Path) -> None:
    """Remove temporary files a killed run of nodeclf left in ``directory``: named as ours
    exactly, regular files, owned by this user and untouched for an hour."""
    import time

    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if not _OUR_TEMPORARY.fullmatch(entry.name):
            continue
        try:
            status = entry.stat(follow_symlinks=False)
            if (stat.S_ISREG(status.st_mode) and status.st_uid == os.geteuid()
                    and now - status.st_mtime > STALE_AFTER_SECONDS):
                os.unlink(entry.path)
        except OSError:
            continue


# --- stdout ----------------------------------------------------------------------------------------

# How symbols are written where the output's encoding lacks them (PYTHONIOENCODING=ascii, a
# cp1252 console); the marks in table cells by one character, so that columns stay aligned
# (Rich draws the tables' boxes in ASCII itself). Anything else the encoding lacks is written
# as a Python escape (\u2202).
ASCII_SYMBOLS = {
    "✓": "v", "✗": "x", "→": "->", "←": "<-", "Σ": "sum", "∂": "d", "−": "-", "ℓ": "l", "α": "alpha",
    "σ": "sigma", "…": "...", "†": "+", "·": "*", "≈": "~", "—": "-", "–": "-", "ᵀ": "^T", "‖": "||",
    "×": "x", "≤": "<=", "≥": ">=", "≠": "!=", "•": "*", "“": '"', "”": '"', "‘": "'", "’": "'",
}
SYMBOLS_ERROR_HANDLER = "nodeclf-symbols"


def _symbols_instead(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: the unwritable characters from :data:`ASCII_SYMBOLS`,
    else as escapes."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    written = "".join(
        ASCII_SYMBOLS.get(char) or char.encode("ascii", "backslashreplace").decode("ascii") for char in text
    )
    return written, error.end


def prepare_standard_streams() -> None:
    """Make the standard streams safe to write to, once at start: a closed stdin, stdout
    or stderr is held open on /dev/null (so that no file nodeclf opens takes its number,
    while ``sys.stdout`` stays None to say it was closed), and text the encoding of
    stdout or stderr cannot write falls back to :data:`ASCII_SYMBOLS`."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != descriptor:
                os.dup2(opened, descriptor)
                os.close(opened)
    if sys.stderr is None:  # print(file=None) would write to stdout
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the whole run
    try:
        codecs.lookup_error(SYMBOLS_ERROR_HANDLER)
    except LookupError:
        codecs.register_error(SYMBOLS_ERROR_HANDLER, _symbols_instead)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=SYMBOLS_ERROR_HANDLER)


def write_text(text: str) -> None:
    """Write ``text`` to stdout whole. Under PYTHONUNBUFFERED stdout's buffer is the raw
    file, whose write into a pipe may take only part of a big text (and the text layer
    drops the rest without a word): there the encoded bytes are written until all are
    taken, so a reader that went away is a BrokenPipeError, not a text cut short."""
    import io

    raw = getattr(sys.stdout, "buffer", None)
    if not isinstance(raw, io.RawIOBase):
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    view = memoryview(text.encode(sys.stdout.encoding or "utf-8", errors=sys.stdout.errors or "strict"))
    while view:
        taken = raw.write(view)
        view = view[taken or 0:]


def write_stdout(write: Callable[[], None]) -> None:
    """Run ``write`` (which writes to stdout) and flush, turning a stdout that cannot be
    written into a NodeclfError: closed before the start (``>&-``), or failing (a full
    disk: ``> /dev/full``). A reader that went away (BrokenPipeError) is left to the caller."""
    if sys.stdout is None:
        raise NodeclfError("cannot write the output: stdout is closed")
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        raise NodeclfError(f"cannot write the output: {exc.strerror or exc}") from None


def silence_stdout() -> None:
    """Send what is left to write on stdout (and the flush at exit) to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
