"""Reading files: text, YAML with line numbers, CSV tables, numbers; and the bounds
that keep reading safe (the memory a read or a table will take, YAML nesting and
aliases), and writing YAML scalars that read back as the same values.

Everything here raises :class:`NodeclfError` naming the file, the line and what is
wrong; nothing here knows what a problem is (see ``problem.py``).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from .errors import MissingFile, NodeclfError, unknown

# Larger numbers are refused: a product of two of them would overflow float64.
LARGEST = 1e150
# one way only to match each text, so that a failed match of a long row backtracks
# in linear time (with \d+\.?\d* the digits could be split between two runs, and a
# row of them took exponential time)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NUMBERS = re.compile(rf"{_NUMBER.pattern}(?:,{_NUMBER.pattern})*")  # a row of them, comma-joined
_INTEGER = re.compile(r"[+-]?\d+")


# a file's text takes up to this many times its size in memory while it is read
# (its bytes and the decoded text side by side)
TEXT_MEMORY_FACTOR = 2
_READ_CHUNK = 1 << 20  # bytes read at a time from a pipe, whose size is not known up front


def available_memory() -> int | None:
    """Bytes of memory this process can still take: the system's available memory, or
    what is left under a container's (cgroup v2) limit when that is less; None when
    the system does not say."""
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text(encoding="ascii").strip()
        if limit != "max":
            found.append(max(int(limit) - int(used), 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _size(n_bytes: float) -> str:
    """``3.2 GiB``, ``512 KiB``, ``80 bytes``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} bytes"


def check_fits_in_memory(
    n_bytes: float, what: str, source: str | Path | None = None, line: int | None = None, where: str | None = None
) -> None:
    """Refuse, before allocating it, ``what`` needing ``n_bytes`` of memory when that is
    more than the memory available (unknown available memory lets everything through)."""
    available = available_memory()
    if available is not None and n_bytes > available:
        raise NodeclfError(
            f"{what} would need {_size(n_bytes)} of memory, but {_size(available)} is available",
            source,
            line,
            where,
        )


def line_of(text: str | bytes, index: int) -> int:
    """The 1-based line of position ``index``, counting ``\\n``, ``\\r\\n`` and ``\\r`` as
    line ends, as the csv module and editors do (not U+2028 or form feeds)."""
    newline, cr, crlf = ("\n", "\r", "\r\n") if isinstance(text, str) else (b"\n", b"\r", b"\r\n")
    return 1 + text.count(newline, 0, index) + text.count(cr, 0, index) - text.count(crlf, 0, index)


def _column_of(text: str, index: int) -> int:
    """The 1-based column of position ``index`` in its line (see :func:`line_of`)."""
    return index - max(text.rfind("\n", 0, index), text.rfind("\r", 0, index))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a file too large for the memory, or a device, is refused
    before reading (a pipe is read up to what the memory can hold)."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if stat.S_ISREG(info.st_mode):
            check_fits_in_memory(info.st_size * TEXT_MEMORY_FACTOR, "reading the file", path)
            return path.read_bytes()
        if not stat.S_ISFIFO(info.st_mode):
            raise NodeclfError("not a regular file (a device or a socket); give a file", path)
        available = available_memory()
        most = (available if available is not None else 1 << 40) // TEXT_MEMORY_FACTOR
        chunks, size = [], 0
        with open(path, "rb") as pipe:
            while chunk := pipe.read(_READ_CHUNK):
                chunks.append(chunk)
                size += len(chunk)
                if size > most:
                    raise NodeclfError(f"more than {_size(most)} read from the pipe, more than the memory holds", path)
        return b"".join(chunks)
    except FileNotFoundError:
        raise MissingFile(path) from None
    except IsADirectoryError:
        raise NodeclfError("is a directory, expected a file", path) from None
    except PermissionError:
        raise NodeclfError("cannot read the file: permission denied", path) from None
    except OSError as exc:
        raise NodeclfError(f"cannot read the file: {exc.strerror or exc}", path) from None


# characters refused anywhere in a text file, and why
_REFUSED_CHARACTERS = {
    "\x00": "a NUL byte (not a text file?)",
    "\ufeff": "a byte-order mark (U+FEFF) inside the file, not at its start (files joined together?); remove it",
}


def read_text(path: Path) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is accepted and dropped).

    A NUL byte, or a byte-order mark anywhere but at the start (files joined
    together), is refused at its line."""
    data = _read_bytes(path)
    if not data or data.isspace():  # (not data.strip(): a copy of a big file)
        raise NodeclfError("the file is empty", path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NodeclfError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8", path, line_of(data, exc.start)
        ) from None
    for character, what in _REFUSED_CHARACTERS.items():
        index = text.find(character)
        if index >= 0:
            raise NodeclfError(f"column {_column_of(text, index)}: {what}", path, line_of(text, index))
    return text


def _excerpt(value: Any, limit: int = 60) -> str:
    """A short ``repr`` of ``value`` for a message: at most ``limit`` characters, built
    without making the whole repr (a nested value, or a whole number of thousands of
    digits, can take gigabytes or fail to print)."""
    text = _bounded_repr(value, limit + 1)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded_repr(value: Any, budget: int) -> str:
    """``repr(value)``, or its first ``budget`` characters and a few more."""
    if isinstance(value, str):
        return repr(value[:budget])
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"<a whole number of about {digits} digits>"
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if isinstance(value, dict):
            opening, closing = "{", "}"
            items: Any = (f"{_bounded_repr(k, budget)}: {_bounded_repr(v, budget)}" for k, v in value.items())
        else:
            opening, closing = "[]" if isinstance(value, list) else "()" if isinstance(value, tuple) else "{}"
            items = (_bounded_repr(item, budget) for item in value)
        text = opening
        for i, item in enumerate(items):
            text += (", " if i else "") + item
            if len(text) > budget:
                return text + ", ..." + closing
        return text + closing
    return repr(value)[: budget + 1]


# --- YAML -----------------------------------------------------------------------


class Mapping(dict):
    """A YAML mapping that remembers the line of itself and of each value."""

    line: int = 0
    key_lines: dict


class Sequence(list):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    item_lines: list


# deeper nesting is refused (plain data is rarely 10 levels deep; building Python
# objects for a much deeper document exhausts the stack)
MAX_DEPTH = 100
# aliases may repeat parts of a document up to this many values, plus a few per byte of
# it; beyond that a small file could stand for billions of values (an "alias bomb")
EXPANDED_VALUES = 100_000
EXPANDED_VALUES_PER_BYTE = 4
# the syntax error of a document is worded by PyYAML's own parser from at most this many
# lines before it (re-parsing a whole big file in pure Python takes minutes)
WORDING_LINES = 200
_TAG_NAMES = {"int": "a whole number", "float": "a number", "timestamp": "a date", "bool": "true or false"}
# digits: Python cannot write longer whole numbers as text (4300, or less where
# PYTHONINTMAXSTRDIGITS says so)
LONGEST_INTEGER = min(4300, getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300)
_TOO_LONG = 10**LONGEST_INTEGER  # the smallest whole number of more digits


class _LocatingLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``yaml.SafeLoader`` that records lines and refuses duplicate keys; with libyaml's
    parser where PyYAML has it (a 10,000-node problem: about 4 s against 15 s).

    Before building Python objects it refuses a document nested more than
    ``MAX_DEPTH`` deep, an alias inside itself, and aliases that expand a document
    far beyond its size; a scalar that its tag (written or implied) cannot read
    (``!!int abc``, the date 2023-02-30) is an error at its line."""

    source: str = "<yaml>"
    most_values: int = EXPANDED_VALUES  # see parse_yaml

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_shape(node, self.source, self.most_values)
        try:
            return self.construct_document(node)
        except RecursionError:
            _check_shape(node, self.source, self.most_values)  # names the line where it is too deep
            raise NodeclfError(f"YAML error: nested too deeply (at most {MAX_DEPTH} levels)", self.source) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            value = _SAFE.construct_yaml_int(self, node)
        except _UNREADABLE as exc:
            raise _unreadable(self, node, "int", exc) from None
        if value.bit_length() > 3 * LONGEST_INTEGER and abs(value) >= _TOO_LONG:  # (hex, octal: no digit limit)
            raise NodeclfError(
                f"a whole number of about {int(value.bit_length() * math.log10(2)) + 1} digits is too long "
                f"(at most {LONGEST_INTEGER})",
                self.source,
                node.start_mark.line + 1,
            )
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        try:
            return _SAFE.construct_yaml_float(self, node)
        except _UNREADABLE as exc:
            raise _unreadable(self, node, "float", exc) from None

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:
        """A date is kept as the text it was written as (nodeclf has no dates: an id
        2024-01-01 is a name, and is written back and shown as one); one that is
        not a real date (2023-02-30, ``!!timestamp soon``) is an error at its line."""
        try:
            _SAFE.construct_yaml_timestamp(self, node)
        except _UNREADABLE as exc:
            raise _unreadable(self, node, "timestamp", exc) from None
        return node.value

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        try:
            return _SAFE.construct_yaml_bool(self, node)
        except _UNREADABLE as exc:
            raise _unreadable(self, node, "bool", exc) from None


_SAFE = yaml.constructor.SafeConstructor
# what PyYAML's constructors raise for text their tag cannot read
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def _unreadable(loader: _LocatingLoader, node: yaml.ScalarNode, kind: str, exc: Exception) -> NodeclfError:
    """The error for a scalar whose text cannot be read as ``kind`` (written with a tag
    such as ``!!int``, or implied, as for 2023-02-30), at the node's line."""
    text = node.value if isinstance(node.value, str) else ""
    if kind == "timestamp" and isinstance(exc, ValueError):  # shaped as a date, but not one
        what = f"{_excerpt(text)} looks like a date but is not one ({exc}); quote it to use it as text"
    elif kind == "int" and "digits" in str(exc):  # over Python's limit for whole numbers
        what = f"a whole number of {len(text.lstrip('+-'))} digits is too long (at most {LONGEST_INTEGER})"
    else:
        what = f"{_excerpt(text)} cannot be read as {_TAG_NAMES[kind]} (!!{kind})"
    return NodeclfError(what, loader.source, node.start_mark.line + 1)


for _kind in ("int", "float", "timestamp", "bool"):
    _LocatingLoader.add_constructor(f"tag:yaml.org,2002:{_kind}", getattr(_LocatingLoader, f"construct_yaml_{_kind}"))


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []


def _check_shape(root: yaml.Node, source: str, most_values: int) -> None:
    """Refuse a composed document nested more than ``MAX_DEPTH`` deep, with an alias
    inside the collection it names, or standing for more than ``most_values`` values
    once its aliases are expanded; each collection is visited once (no recursion)."""
    scalar = yaml.ScalarNode
    expanded: dict[int, int] = {}  # id(collection) -> values it stands for, aliases expanded
    open_nodes: set[int] = set()  # the collections being visited: the path from the root
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            total = 1 + sum(1 if type(child) is scalar else expanded[id(child)] for child in _children(node))
            if total > most_values:
                raise NodeclfError(
                    f"YAML error: aliases expand this document to over {most_values:,} values, far more "
                    "than its size holds (an alias bomb?)",
                    source,
                    node.start_mark.line + 1,
                )
            expanded[key] = total
            continue
        if key in expanded or type(node) is scalar:
            continue
        if key in open_nodes:
            raise NodeclfError(
                "YAML error: an alias inside the collection it names (a value containing itself)",
                source,
                node.start_mark.line + 1,
            )
        if depth > MAX_DEPTH:
            raise NodeclfError(
                f"YAML error: nested too deeply (at most {MAX_DEPTH} levels)", source, node.start_mark.line + 1
            )
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node) if type(child) is not scalar)


def _construct_mapping(loader: _LocatingLoader, node: yaml.MappingNode) -> Mapping:
    if not isinstance(node, yaml.MappingNode):
        raise NodeclfError(f"YAML error: {node.tag} must be a mapping", loader.source, node.start_mark.line + 1)
    loader.flatten_mapping(node)
    result = Mapping()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, float) and not math.isfinite(key):  # a node id .nan or .inf: a name, as written
            key = key_node.value
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in result
        except TypeError:
            raise NodeclfError(
                "a key must be a plain value (a number or a name)", loader.source, line
            ) from None
        if duplicate:
            raise NodeclfError(
                f"duplicate key {_excerpt(key)} (first on line {result.key_lines[key]})",
                loader.source,
                line,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _LocatingLoader, node: yaml.SequenceNode) -> Sequence:
    if not isinstance(node, yaml.SequenceNode):
        raise NodeclfError(f"YAML error: {node.tag} must be a list", loader.source, node.start_mark.line + 1)
    result = Sequence(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


_LocatingLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LocatingLoader.add_constructor("tag:yaml.org,2002:omap", _construct_mapping)
_LocatingLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(path: Path, loader_class: type[_LocatingLoader] = _LocatingLoader) -> Any:
    """Parse a YAML file safely (no object tags), with lines kept on mappings and lists."""
    return parse_yaml(read_text(path), path, loader_class)


def load_yaml_or_name(
    path: Path, instead: str, loader_class: type[_LocatingLoader] = _LocatingLoader
) -> Any:
    """:func:`load_yaml`, where a missing file's error also says what may be named
    in its place (``instead``: "a bundled example: article, karate")."""
    try:
        return load_yaml(path, loader_class)
    except MissingFile:
        raise NodeclfError(f"no such file (or name {instead})", path) from None


def parse_yaml(
    text: str, source: str | Path, loader_class: type[_LocatingLoader] = _LocatingLoader
) -> Any:
    """Parse YAML text safely; errors name ``source`` and the line and column."""
    loader = loader_class(text)
    loader.source = str(source)
    loader.most_values = EXPANDED_VALUES + EXPANDED_VALUES_PER_BYTE * len(text)
    path = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as fast_error:
        exc = _described(text, fast_error)
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(exc.problem):
            what = f"the tag {_excerpt(exc.problem.split('tag ')[-1])} is not allowed (plain data only)"
        context = exc.context_mark
        if exc.problem and exc.context and context is not None and context is not mark:
            what += f" ({exc.context} that starts on line {context.line + 1})"
        if mark is None:
            raise NodeclfError(f"YAML error: {what}", path) from None
        raise NodeclfError(
            f"YAML error at column {mark.column + 1}: {what}", path, mark.line + 1
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, at its line
        index, code = exc.position, exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise NodeclfError(
            f"YAML error at column {_column_of(text, index)}: the character U+{code:04X} is not allowed in YAML "
            f"({exc.reason})",
            path,
            line_of(text, index),
        ) from None
    except yaml.YAMLError as exc:
        raise NodeclfError(f"YAML error: {_excerpt(str(exc), 200)}", path) from None
    finally:
        loader.dispose()


def _described(text: str, error: yaml.MarkedYAMLError) -> yaml.MarkedYAMLError:
    """The same syntax error as PyYAML's own parser words it, where libyaml's parser
    found it: it names the character and the exact line ("found character '\\t' that
    cannot start any token", not "found character that cannot start any token").

    Only the lines from the start of the collection the error is in (or
    ``WORDING_LINES`` before the error, if fewer) are parsed again, so that an error
    at the end of a big file comes as fast as the file loads; where PyYAML finds
    another error in those lines, libyaml's own words are kept, with the character
    or alias they leave out."""
    mark = error.problem_mark
    pure_python = issubclass(_LocatingLoader, yaml.SafeLoader)  # (PyYAML without libyaml): worded already
    if pure_python or mark is None or isinstance(error, yaml.constructor.ConstructorError):
        return error
    first = mark.line
    if error.context_mark is not None and error.context_mark.line <= mark.line:
        first = max(error.context_mark.line, mark.line - WORDING_LINES)
    start = mark.index - mark.column  # the error line's start
    for _ in range(mark.line - first):
        start = max(text.rfind("\n", 0, start - 1), text.rfind("\r", 0, start - 1)) + 1
    end = mark.index
    for _ in range(3):  # the error line and two more
        found = min((i for i in (text.find("\n", end), text.find("\r", end)) if i >= 0), default=len(text))
        end = found + 1
    try:
        yaml.compose(text[start:end], Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as described:
        found_mark = described.problem_mark
        if found_mark is not None and (found_mark.line + first, found_mark.column) == (mark.line, mark.column):
            return _shifted(described, first)
    except yaml.YAMLError:
        pass
    return _worded(text, error)


def _shifted(error: yaml.MarkedYAMLError, lines: int) -> yaml.MarkedYAMLError:
    """``error`` with its marks moved ``lines`` down (it was found in a window of the text)."""
    for mark in (error.problem_mark, error.context_mark):
        if mark is not None:
            mark.line += lines
    return error


def _worded(text: str, error: yaml.MarkedYAMLError) -> yaml.MarkedYAMLError:
    """libyaml's error, naming the character or alias its words leave out."""
    mark = error.problem_mark
    at = text[mark.index : mark.index + 200]
    if error.problem == "found character that cannot start any token" and at:
        error.problem = f"found character {at[0]!r} that cannot start any token"
    elif error.problem == "found undefined alias" and at.startswith("*"):
        name = re.match(r"\*([^\s,\[\]{}]*)", at)
        error.problem = f"found undefined alias {_excerpt(name.group(1) if name else at[1:])}"
    return error


# --- writing YAML that reads back ------------------------------------------------------

_ESCAPES = {
    "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
    "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P",
}


def _yaml_printable(character: str) -> bool:
    """Whether YAML lets ``character`` stand as it is in a quoted scalar (a byte-order
    mark inside a file is refused by read_text, so it is escaped too)."""
    code = ord(character)
    if code == 0xFEFF:
        return False
    return 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def yaml_string(text: str) -> str:
    """``text`` as a double-quoted YAML scalar that reads back as the same text: any
    character YAML does not allow raw (controls, line separators, lone surrogates) is
    escaped; others, characters beyond the BMP too, are written as they are (JSON's
    escapes would write those as surrogate pairs, which YAML reads as two characters)."""
    if text.isascii() and text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = []
    for character in text:
        if character in _ESCAPES:
            out.append(_ESCAPES[character])
        elif _yaml_printable(character):
            out.append(character)
        else:
            code = ord(character)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def yaml_scalar(value: Any) -> str:
    """A plain value (an id, a class name, a number) as YAML text that the loader here
    reads back as the same value: names quoted (``"yes"``, ``"2024-01-01"``, ``"1e3"``
    stay text), true/false and null written as YAML reads them."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        # YAML 1.1 reads 1e-05 as text: a float needs its point (1.0e-05)
        return text if "." in text or "e" not in text else text.replace("e", ".0e")
    return yaml_string(str(value))


# --- numbers ----------------------------------------------------------------------


def to_number(value: Any, source: str | Path, line: int | None, where: str | None) -> float:
    """A finite float from a YAML value or a CSV cell, or a clear error.

    Strings that spell a number are accepted: YAML 1.1 reads ``1e-3`` as a string.
    """
    if isinstance(value, bool) or value is None:
        found = "nothing" if value is None else _excerpt(value)
        raise NodeclfError(f"expected a number, found {found}", source, line, where)
    shown = None  # the number as the error messages quote it
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise NodeclfError("expected a number, found an empty cell", source, line, where)
        if not _NUMBER.fullmatch(text):
            raise NodeclfError(f"expected a number, found {_excerpt(text)}", source, line, where)
        value, shown = float(text), text  # "1e400" rather than the inf it becomes
    if not isinstance(value, (int, float)):
        raise NodeclfError(f"expected a number, found {_excerpt(value)}", source, line, where)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float64
        number = math.inf
    if not math.isfinite(number):
        written = shown or str(value)  # (an int of at most LONGEST_INTEGER digits: YAML refuses more)
        if written.lstrip("+-").isdigit() and len(digits := written.lstrip("+-")) > 20:
            shown = f"{written[:8]}... (a whole number of {len(digits)} digits)"
        elif shown is not None and len(shown) > 60:
            shown = shown[:57] + "..."
        raise NodeclfError(f"expected a finite number, found {shown or _excerpt(value)}", source, line, where)
    if abs(number) > LARGEST:
        raise NodeclfError(
            f"{_excerpt(value)} is too large: numbers up to {LARGEST:.0e} in size are accepted "
            "(a product of two larger ones overflows)",
            source,
            line,
            where,
        )
    return number


def to_numbers(cells: list[str], source: str | Path, line: int | None, where: str | None) -> list[float]:
    """:func:`to_number` of each of a CSV row's (stripped) cells, about 2x faster for
    big tables: one pattern checks the whole row, and only a row it refuses is read
    cell by cell, for the error naming the cell."""
    if _NUMBERS.fullmatch(",".join(cells)):
        try:
            numbers = [float(cell) for cell in cells]  # a comma inside a cell fails here
        except ValueError:
            pass
        else:
            if not numbers or max(map(abs, numbers)) <= LARGEST:  # inf (1e400) is over too
                return numbers
    return [to_number(cell, source, line, where) for cell in cells]


def parse_id(text: str) -> int | str:
    """A node id or class name from a CSV cell: an integer when it spells one."""
    text = text.strip()
    # (a whole number too long for Python to write back as text stays text)
    return int(text) if _INTEGER.fullmatch(text) and len(text) <= LONGEST_INTEGER else text


def is_number_text(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text.strip()))


# --- CSV --------------------------------------------------------------------------


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+([eE][+-]?\d+)?")


def _delimiter(lines: list[str]) -> str:
    """``;`` or tab when every line has the same number of them, else ``,``."""
    lines = [line for line in lines if line.strip()]
    for candidate in (";", "\t"):
        counts = {line.count(candidate) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return candidate
    return ","


def _csv_lines(text: str) -> io.StringIO:
    """The text as the csv module reads a file opened with ``newline=""``: only ``\\n``,
    ``\\r\\n`` and ``\\r`` end a line (str.splitlines would also split at U+2028, form
    feeds and other separators, and shift every line number after them)."""
    return io.StringIO(text, newline="")


def _is_header(cells: list[str], header_words: tuple[str, ...], numeric: bool) -> bool:
    """Whether a table's first row is a header: its first cell is one of
    ``header_words``, or (``numeric`` tables) it is names where the data rows have
    numbers: no cell of it is a number. A row with numbers and a typo is data, and the
    typo is reported at its line."""
    if cells[0].lower() in header_words:
        return True
    return numeric and len(cells) > 1 and not any(is_number_text(cell) for cell in cells)


def read_csv_rows(
    path: Path, header_words: tuple[str, ...] = (), numeric: bool = True, text: str | None = None
) -> list[tuple[int, list[str]]]:
    """The data rows of a CSV file as (line number, cells), header and blank rows dropped.

    The delimiter is detected: ``;`` or tab (as spreadsheets export), else ``,``; with
    ``;`` or tab, decimal commas (``0,5``) are read as decimal points. The first row
    is a header as :func:`_is_header` decides. ``text``: the file's text, when read already.
    """
    text = read_text(path) if text is None else text
    head = [line for _, line in zip(range(50), _csv_lines(text))]
    delimiter = _delimiter(head)
    reader = csv.reader(_csv_lines(text), delimiter=delimiter)
    # whitespace that str.strip() would take off a cell (line breaks reach a cell only inside quotes)
    spaced = not text.isascii() or any(space in text for space in ' \t\f\v\x1c\x1d\x1e\x1f"')
    rows = []
    last_line = 0  # the line the row before ended on
    try:
        for cells in reader:
            if reader.line_num > last_line + 1:  # a quoted cell went on over line ends
                raise NodeclfError('a quoted cell runs over several lines (a quote " not closed?)', path, last_line + 1)
            last_line = reader.line_num
            if spaced:  # else no cell has anything to strip (a third faster on big files)
                cells = [cell.strip() for cell in cells]
            if any(cells):  # not a blank row
                if delimiter != ",":
                    cells = [c.replace(",", ".") if _DECIMAL_COMMA.fullmatch(c) else c for c in cells]
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise NodeclfError(f"not a valid CSV file: {exc}", path, reader.line_num) from None
    if rows and _is_header(rows[0][1], header_words, numeric):
        rows = rows[1:]
    if not rows:
        raise NodeclfError("the CSV file has no data rows", path)
    return rows


# line ends that str.splitlines knows and the csv module does not
_OTHER_LINE_ENDS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


class NumberTable(NamedTuple):
    """A CSV table of an id column and numbers, read by numpy's parser."""

    lines: list  # the line of each data row
    ids: list  # the first cell of each data row, stripped
    values: np.ndarray  # (rows, columns - 1) float64


def read_number_table(path: Path, header_words: tuple[str, ...] = ()) -> NumberTable | str:
    """A table of ``id,number,...`` rows read by ``numpy.loadtxt`` (about 10x faster
    than cell by cell), or the file's text where the table is not plain enough for it
    or holds anything the careful reader (:func:`read_csv_rows`, :func:`to_numbers`)
    would refuse or read differently: that reader then reads the text again, and words
    any error exactly.

    Plain enough: no quotes, line ends as the csv module reads them, the same number
    of cells on each row, and (with ``;`` or tab) no decimal commas; every number read
    finite and within ``LARGEST``."""
    text = read_text(path)
    if '"' in text or any(end in text for end in _OTHER_LINE_ENDS):  # (one search each: faster than a pattern)
        return text
    lines = text.splitlines()
    delimiter = _delimiter(lines[:50])
    if delimiter != "," and "," in text:
        return text
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line and not line.isspace()]
    if not numbered:
        return text
    first = numbered[0][1].split(delimiter)
    if _is_header([cell.strip() for cell in first], header_words, True):
        numbered = numbered[1:]
    if not numbered:
        return text
    columns = numbered[0][1].count(delimiter) + 1
    data = [line for _, line in numbered]
    if columns < 2 or sum(line.count(delimiter) for line in data) != (columns - 1) * len(data):
        return text
    try:
        values = np.loadtxt(
            data, delimiter=delimiter, usecols=range(1, columns), comments=None, quotechar=None, ndmin=2,
            dtype=np.float64,
        )
    except ValueError:
        return text
    if values.shape != (len(data), columns - 1) or not np.abs(values).max(initial=0.0) <= LARGEST:
        return text  # NaN, infinities or numbers beyond LARGEST: the careful reader words the error
    ids = [line[: line.find(delimiter)].strip() for line in data]
    return NumberTable([number for number, _ in numbered], ids, values)



def check_keys(data: Any, allowed: tuple[str, ...], path: Path | str, mapping: str, keys: str) -> None:
    """A file's top level must be a mapping of ``allowed`` keys: else one line, "expected
    ``mapping``" (``a mapping with problem: and answers:``), or naming the unknown key
    and what is close to it, else "expected ``keys``"."""
    if not isinstance(data, Mapping):
        raise NodeclfError(f"expected {mapping}", path, 1)
    for key in data:
        if key not in allowed:
            raise unknown("key", key, allowed, path, data.key_lines[key], otherwise=f"expected {keys}")
