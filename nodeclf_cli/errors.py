"""The exception type for bad input (and its missing-file case), the exit statuses of
every command, and how messages word a count."""

from __future__ import annotations

from pathlib import Path

# Exit statuses, the same for every command.
EXIT_OK = 0
EXIT_MISTAKES = 1  # `check` found wrong answers
EXIT_BAD_INPUT = 2  # bad input or usage
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`nodeclf step | head`), as SIGPIPE


class NodeclfError(Exception):
    """Bad input: says what is wrong and where.

    ``source`` is the file (or option) the problem is in, ``line`` its 1-based line
    when known, ``where`` the key or row inside it (``weights.W row 2``). ``str()``
    gives the one-line message the CLI prints::

        data/p.yaml:12: weights.W row 2: expected 4 numbers (the embedding size), found 3
    """

    def __init__(
        self,
        message: str,
        source: str | Path | None = None,
        line: int | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = None if source is None else str(source)
        self.line = line
        self.where = where

    def __str__(self) -> str:
        place = ""
        if self.source is not None:
            place = self.source if self.line is None else f"{self.source}:{self.line}"
        parts = [p for p in (place, self.where, self.message) if p]
        return ": ".join(parts)


class MissingFile(NodeclfError):
    """A file that is not there: "no such file", of a type of its own so that where a
    name may stand for a file, the error can say so."""

    def __init__(self, path: str | Path) -> None:
        super().__init__("no such file", path)


def plural(noun: str) -> str:
    """``node`` -> ``nodes``, ``class`` -> ``classes``."""
    return noun + ("es" if noun.endswith("s") else "s")


def counted(count: int, noun: str) -> str:
    """``1 number``, ``3 numbers``, ``0 classes``."""
    return f"{count} {noun if count == 1 else plural(noun)}"
