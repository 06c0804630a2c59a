"""The exception type for bad input (and its missing-file case), the exit statuses of
every command, how messages word a count, quote a value (:func:`excerpt`) and show
characters a terminal would act on (:func:`printable`)."""

from __future__ import annotations

from pathlib import Path

# Exit statuses, the same for every command.
EXIT_OK = 0
EXIT_MISTAKES = 1  # `check` found wrong answers
EXIT_BAD_INPUT = 2  # bad input or usage
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`nodeclf step | head`), as SIGPIPE
EXIT_TERMINATED = 143  # SIGTERM (`kill`, a service or container stopping), as 128 + 15


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


class Terminated(BaseException):
    """SIGTERM arrived: raised where the work is (like KeyboardInterrupt for Ctrl-C,
    and like it not an Exception, so that no ``except Exception`` swallows it)."""


def plural(noun: str) -> str:
    """``node`` -> ``nodes``, ``class`` -> ``classes``."""
    return noun + ("es" if noun.endswith("s") else "s")


def counted(count: int, noun: str) -> str:
    """``1 number``, ``3 numbers``, ``0 classes``."""
    return f"{count} {noun if count == 1 else plural(noun)}"


# Unicode categories shown escaped: controls (C0, DEL, C1), format characters (bidi
# overrides and isolates, zero-width ones, the byte-order mark), lone surrogates (an
# undecodable file name), and the line and paragraph separators U+2028 and U+2029.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(char: str) -> str:
    import unicodedata

    if not char.isprintable() and unicodedata.category(char) in _HIDDEN:
        if char in _SHORT_ESCAPES:
            return _SHORT_ESCAPES[char]
        code = ord(char)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on rather than show written
    as an escape: ``\\x1b`` (ANSI escape codes), ``\\n``, ``\\u2028``, ``\\u202e`` (a
    bidi override). Everything else, accents and CJK included, is kept as it is. Cheap
    where there is nothing to escape (one ``str.isprintable`` call)."""
    if text.isprintable():
        return text
    return "".join(map(_escaped, text))


EXCERPT_LENGTH = 60  # characters of a value a message quotes


def _bounded_repr(value: object) -> str:
    """reprlib's repr, which looks at only the first few items of a container (so a
    huge value costs little), with strings cut at the end rather than the middle and
    integers too long for Python to write (over 4,300 digits) described instead."""
    import reprlib

    class BoundedRepr(reprlib.Repr):
        def repr_str(self, x: str, level: int) -> str:
            return repr(x[: EXCERPT_LENGTH + 1])

        def repr_int(self, x: int, level: int) -> str:
            if x.bit_length() > 4 * EXCERPT_LENGTH:  # past the cut anyway: do not write it out
                return f"{'-' if x < 0 else ''}<an integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
            return repr(x)

    bounded = BoundedRepr()
    bounded.maxlevel = 3
    bounded.maxlist = bounded.maxtuple = bounded.maxdict = bounded.maxset = bounded.maxfrozenset = 8
    bounded.maxdeque = 8
    bounded.maxother = bounded.maxlong = 2 * EXCERPT_LENGTH
    return bounded.repr(value)


def excerpt(value: object, most: int = EXCERPT_LENGTH) -> str:
    """A value as a message quotes it: its repr (a string's in quotes, with control
    characters escaped), cut to ``most`` characters with "…" after the cut. Bounded in
    time and memory whatever the value: a million-item list or a string of a gigabyte
    is looked at only as far as the excerpt needs."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # a numpy scalar: as its Python value
        value = value.item()
    text = _bounded_repr(value)
    return text if len(text) <= most else text[:most] + "…"



def unknown(
    kind: str, name: object, known: list[str] | tuple[str, ...], source: str | Path | None, line: int | None,
    where: str | None = None, in_what: str | None = None, otherwise: str | None = None,
) -> NodeclfError:
    """The error for an unknown key or name: ``unknown key 'learnig_rate' in the problem;
    did you mean 'learning_rate'?``, else what is expected (``otherwise``, or the list)."""
    import difflib  # only for a mistake

    close = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else (otherwise or "expected one of " + ", ".join(known))
    place = f" in {in_what}" if in_what else ""
    return NodeclfError(f"unknown {kind} {excerpt(name)}{place}; {hint}", source, line, where)
