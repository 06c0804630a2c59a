"""Reading files: text, YAML with line numbers, CSV tables, numbers.

Everything here raises :class:`NodeclfError` naming the file, the line and what is
wrong; nothing here knows what a problem is (see ``problem.py``).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import MissingFile, NodeclfError

# Larger numbers are refused: a product of two of them would overflow float64.
LARGEST = 1e150
# one way only to match each text, so that a failed match of a long row backtracks
# in linear time (with \d+\.?\d* the digits could be split between two runs, and a
# row of them took exponential time)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NUMBERS = re.compile(rf"{_NUMBER.pattern}(?:,{_NUMBER.pattern})*")  # a row of them, comma-joined
_INTEGER = re.compile(r"[+-]?\d+")


def read_text(path: Path) -> str:
    """The file's text, decoded as UTF-8 (a byte-order mark is accepted and dropped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MissingFile(path) from None
    except IsADirectoryError:
        raise NodeclfError("is a directory, expected a file", path) from None
    except PermissionError:
        raise NodeclfError("cannot read the file: permission denied", path) from None
    except OSError as exc:
        raise NodeclfError(f"cannot read the file: {exc.strerror or exc}", path) from None
    if not data.strip():
        raise NodeclfError("the file is empty", path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NodeclfError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8", path, line
        ) from None


# --- YAML -----------------------------------------------------------------------


class Mapping(dict):
    """A YAML mapping that remembers the line of itself and of each value."""

    line: int = 0
    key_lines: dict


class Sequence(list):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    item_lines: list


class _LocatingLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``yaml.SafeLoader`` that records lines and refuses duplicate keys; with libyaml's
    parser where PyYAML has it (a 10,000-node problem: about 4 s against 15 s)."""

    source: str = "<yaml>"


def _construct_mapping(loader: _LocatingLoader, node: yaml.MappingNode) -> Mapping:
    loader.flatten_mapping(node)
    result = Mapping()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in result
        except TypeError:
            raise NodeclfError(
                "a key must be a plain value (a number or a name)", loader.source, line
            ) from None
        if duplicate:
            raise NodeclfError(
                f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                loader.source,
                line,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _LocatingLoader, node: yaml.SequenceNode) -> Sequence:
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
    path = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as fast_error:
        exc = _described(text, fast_error)
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(exc.problem):
            what = f"the tag {exc.problem.split('tag ')[-1]} is not allowed (plain data only)"
        context = exc.context_mark
        if exc.problem and exc.context and context is not None and context is not mark:
            what += f" ({exc.context} that starts on line {context.line + 1})"
        if mark is None:
            raise NodeclfError(f"YAML error: {what}", path) from None
        raise NodeclfError(
            f"YAML error at column {mark.column + 1}: {what}", path, mark.line + 1
        ) from None
    except yaml.YAMLError as exc:
        raise NodeclfError(f"YAML error: {exc}", path) from None
    finally:
        loader.dispose()


def _described(text: str, error: yaml.MarkedYAMLError) -> yaml.MarkedYAMLError:
    """The same syntax error as PyYAML's own parser words it, where libyaml's parser
    found it: it names the character and the exact line ("found character '\\t' that
    cannot start any token", not "found character that cannot start any token")."""
    if issubclass(_LocatingLoader, yaml.SafeLoader):  # the pure-Python parser already
        return error
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as described:
        return described
    return error  # not a syntax error (a tag that is not allowed, say): as it was


# --- numbers ----------------------------------------------------------------------


def to_number(value: Any, source: str | Path, line: int | None, where: str | None) -> float:
    """A finite float from a YAML value or a CSV cell, or a clear error.

    Strings that spell a number are accepted: YAML 1.1 reads ``1e-3`` as a string.
    """
    if isinstance(value, bool) or value is None:
        found = "nothing" if value is None else repr(value)
        raise NodeclfError(f"expected a number, found {found}", source, line, where)
    shown = None  # the number as the error messages quote it
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise NodeclfError("expected a number, found an empty cell", source, line, where)
        if not _NUMBER.fullmatch(text):
            raise NodeclfError(f"expected a number, found {text!r}", source, line, where)
        value, shown = float(text), text  # "1e400" rather than the inf it becomes
    if not isinstance(value, (int, float)):
        raise NodeclfError(f"expected a number, found {value!r}", source, line, where)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float64
        number = math.inf
    if not math.isfinite(number):
        if isinstance(value, int) and len(digits := str(abs(value))) > 20:
            shown = f"{str(value)[:8]}... (a whole number of {len(digits)} digits)"
        raise NodeclfError(f"expected a finite number, found {shown or repr(value)}", source, line, where)
    if abs(number) > LARGEST:
        raise NodeclfError(
            f"{value!r} is too large: numbers up to {LARGEST:.0e} in size are accepted "
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
    return int(text) if _INTEGER.fullmatch(text) else text


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


def read_csv_rows(
    path: Path, header_words: tuple[str, ...] = (), numeric: bool = True
) -> list[tuple[int, list[str]]]:
    """The data rows of a CSV file as (line number, cells), header and blank rows dropped.

    The delimiter is detected: ``;`` or tab (as spreadsheets export), else ``,``; with
    ``;`` or tab, decimal commas (``0,5``) are read as decimal points. The first row
    is a header when its first cell is one of ``header_words`` or, for ``numeric``
    tables, when any cell after the first is not a number.
    """
    text = read_text(path)
    lines = text.splitlines()
    delimiter = _delimiter(lines[:50])
    reader = csv.reader(lines, delimiter=delimiter)
    # whitespace that str.strip() would take off a cell (line breaks never reach a cell)
    spaced = not text.isascii() or any(space in text for space in ' \t\f\v\x1c\x1d\x1e\x1f')
    rows = []
    try:
        for cells in reader:
            if spaced:  # else no cell has anything to strip (a third faster on big files)
                cells = [cell.strip() for cell in cells]
            if any(cells):  # not a blank row
                if delimiter != ",":
                    cells = [c.replace(",", ".") if _DECIMAL_COMMA.fullmatch(c) else c for c in cells]
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise NodeclfError(f"not a valid CSV file: {exc}", path, reader.line_num) from None
    if rows:
        first = rows[0][1]
        spelled = numeric and not all(is_number_text(cell) for cell in first[1:])
        if first[0].lower() in header_words or spelled:
            rows = rows[1:]
    if not rows:
        raise NodeclfError("the CSV file has no data rows", path)
    return rows
