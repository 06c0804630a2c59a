"""A node classification problem, and loading one from YAML, CSV or .npy files.

Every check of the input happens here, once; the core assumes valid arrays. Errors
are :class:`NodeclfError` naming the file, the line or key, and what is wrong.
"""

from __future__ import annotations

import math
import os
import stat
import tokenize
from collections import abc
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .errors import MissingFile, NodeclfError, counted, plural, unknown
from .rounding import Precision, Requirement
from .sources import (
    LARGEST,
    Mapping,
    NumberTable,
    Sequence,
    _excerpt,
    check_fits_in_memory,
    load_yaml,
    load_yaml_or_name,
    parse_id,
    read_csv_rows,
    read_number_table,
    to_number,
    to_numbers,
)

PROBLEM_KEYS = ("embeddings", "labels", "classes", "weights", "learning_rate", "precision", "edges", "propagation",
                "loss", "optimizer")
LOSS_KEYS = ("class_weights", "label_smoothing", "l2", "l2_form", "l2_bias")
# the command-line option that overrides each key
OPTION_NAMES = {
    "embeddings": "--embeddings",
    "labels": "--labels",
    "weights": "--weights",
    "learning_rate": "--lr",
    "edges": "--edges",
}
OPTIONS_ONLY = "command line"  # the source of a problem given by options alone, with no file
WEIGHT_KEYS = ("W", "b")
# without classes:, labels numbered 0, 1, ... may imply at most this many classes, or
# CLASSES_PER_LABEL per labelled node where that is more
MOST_CLASSES = 100
CLASSES_PER_LABEL = 2
# bytes per number of the (N, C) tables a step makes (logits, probabilities, gradient
# of the logits, a rounded copy: float64 each) and of the (C, C) confusion matrix
TABLE_BYTES = 4 * 8
CONFUSION_BYTES = 8
SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def kind_of(value: Any) -> str:
    """What a YAML value is, in words: "a list", "a mapping", "text 'abc'", "the number 3"."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool) or value is None:
        return "nothing" if value is None else str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"text {_excerpt(str(value))}"


def missing_input(key: str, source: str, options: bool = True) -> NodeclfError:
    """The error for an input that neither the problem file nor an option gives
    (``options``: whether the command has options for it, which the error suggests)."""
    what, option = key.replace("_", " "), OPTION_NAMES[key]
    if not options:
        if bundled_name(source) is not None:
            return NodeclfError(f"no {what} in this bundled example: use a problem file that has {key}:",
                                bundled_name(source))
        return NodeclfError(f"no {what}: add {key}: to the problem", source)
    if source == OPTIONS_ONLY:
        return NodeclfError(f"no {what}: pass {option}, or give a problem file that has {key}:")
    if (name := bundled_name(source)) is not None:  # not a file to edit
        return NodeclfError(f"no {what} in this bundled example: pass {option}", name)
    return NodeclfError(f"no {what}: add {key}: to the problem or pass {option}", source)


@dataclass(frozen=True)
class Problem:
    """Embeddings, labels and a layer's weights (shapes as in ``core.py``).

    ``y`` holds class positions into ``classes`` (-1 for a node with no label);
    ``W``/``b`` are None when the input had no weights; ``split`` holds "train",
    "val" or "test" per node when the labels carried a split.
    """

    node_ids: abc.Sequence  # as given: ints or strings (a range for .npy rows)
    Z: np.ndarray  # (N, d)
    y: np.ndarray  # (N,) int
    classes: tuple  # class names in the order of W's rows
    W: np.ndarray | None  # (C, d)
    b: np.ndarray | None  # (C,)
    learning_rate: float | None
    source: str
    split: np.ndarray | None = None  # (N,) str
    # the files the embeddings and labels came from (None: written inline in the YAML)
    origins: dict = field(default_factory=dict)
    # the working precision answers must be written at (None: the default, Requirement())
    requirement: Requirement | None = None
    graph: Any = None  # a graph.Graph over the nodes (None: no edges, the layer sees Z itself)
    loss: Any = None  # a conventions.LossConvention (None: the plain mean cross-entropy)
    optimiser: Any = None  # an optimstep.Optimiser: settings and state before the step (None: plain SGD)

    @property
    def convention(self) -> Any:
        """The loss convention (conventions.PLAIN where none was given)."""
        from .conventions import PLAIN

        return PLAIN if self.loss is None else self.loss

    @property
    def optimiser_name(self) -> str:
        """The optimiser's name (``sgd`` where none was given)."""
        return "sgd" if self.optimiser is None else self.optimiser.name

    @property
    def n_classes(self) -> int:
        return len(self.classes)


# the examples shipped inside the package, by the name that picks one on the command line
EXAMPLES = {"article": "the article's example", "karate": "the karate club example"}


def bundled_example(name: str = "article") -> Path:
    """Path of an example shipped inside the package (works from any directory)."""
    return Path(str(resources.files("nodeclf_cli") / "examples" / f"{name}.yaml"))


def find_file(path: Path, bundled: abc.Mapping[str, str], base: Path | None = None) -> Path:
    """The file ``path`` (relative to ``base``, when given); where no such file exists
    and ``path`` is one of ``bundled``'s names, the file shipped under that name
    (``bundled`` maps each name to its file in the package's examples, less .yaml)."""
    full = path if base is None else base / path
    if str(path) in bundled and not os.path.lexists(full):
        return bundled_example(bundled[str(path)])
    return full


def find_problem(path: Path, base: Path | None = None) -> Path:
    """The problem file ``path`` (relative to ``base``, when given), or the bundled
    example it names (``karate``) where no such file exists."""
    return find_file(path, {name: name for name in EXAMPLES}, base)


def bundled_name(source: str) -> str | None:
    """The name of the bundled example ``source`` is (``karate``), if it is one."""
    return next((name for name in EXAMPLES if source == str(bundled_example(name))), None)


def shown_source(source: str) -> str:
    """``source`` as errors name it: a bundled example by its name, not its installed path."""
    return bundled_name(source) or source


def example_name(source: str) -> str | None:
    """What a problem is called in titles when ``source`` is a bundled example."""
    name = bundled_name(source)
    return None if name is None else EXAMPLES[name]


class _Place(NamedTuple):
    source: str
    line: int | None
    where: str


class _Rows(NamedTuple):
    """Vectors keyed by id, in file order, with where each came from."""

    ids: list
    values: Any  # list of lists of floats, or an array (from .npy)
    places: list  # _Place per row, or None for .npy


def _key(node_id: Any) -> str:
    """Ids are matched by their text, so 1 (YAML) and "1" (CSV) are the same node."""
    return str(node_id)


def _check_keys(data: Mapping, allowed: tuple, source: str, what: str) -> None:
    for key in data:
        if key not in allowed:
            raise unknown("key", key, allowed, source, data.key_lines.get(key), in_what=what)


def _rows_from_yaml(data: Any, source: str, key: str, line: int | None) -> _Rows:
    """``{id: [numbers], ...}`` as rows."""
    if not isinstance(data, Mapping):
        raise NodeclfError(
            f"expected a mapping of node id to a list of numbers, or a CSV path; found {kind_of(data)}",
            source,
            line,
            key,
        )
    ids, values, places = [], [], []
    for node_id, vector in data.items():
        where = f"{key}[{_clipped(node_id)}]"
        row_line = data.key_lines[node_id]
        if not isinstance(vector, list):
            raise NodeclfError(
                f"expected a list of numbers, found {_excerpt(vector)}", source, row_line, where
            )
        ids.append(node_id)
        values.append([to_number(v, source, row_line, where) for v in vector])
        places.append(_Place(source, row_line, where))
    return _Rows(ids, values, places)


def _rows_from_csv(path: Path, what: str) -> _Rows:
    """``id,x_0,...`` (embeddings) or ``class,b,w_0,...`` (weights) rows: read by numpy's
    parser where it can, else cell by cell (which also words every error)."""
    header_words = ("id", "node", "node_id", "class")
    table = read_number_table(path, header_words)
    if isinstance(table, NumberTable):
        source = str(path)
        places = [_Place(source, line, f"{what} {_clipped(name)}") for line, name in zip(table.lines, table.ids)]
        return _Rows([parse_id(name) for name in table.ids], table.values, places)
    ids, values, places = [], [], []
    for line, cells in read_csv_rows(path, header_words, text=table):
        where = f"{what} {_clipped(cells[0])}"
        ids.append(parse_id(cells[0]))
        values.append(to_numbers(cells[1:], path, line, where))
        places.append(_Place(str(path), line, where))
    return _Rows(ids, values, places)


def _rows_from_npy(path: Path) -> _Rows:
    """A 2-d .npy array, memory-mapped: node ids are row numbers."""
    shape, dtype = _npy_header(path)
    if len(shape) != 2 or dtype.kind not in "fiu":
        raise NodeclfError(
            f"expected a 2-d array of numbers (nodes x features), found shape {shape} of {dtype}", path
        )
    if shape[1] == 0:
        raise NodeclfError("the embeddings have no numbers (the array has 0 columns)", path)
    array = _load_npy(path, mmap_mode="r")
    _check_array_values(array, path)
    return _Rows(range(array.shape[0]), array, None)


_NPY_ARCHIVE = b"PK\x03\x04"  # how a .npz (a zip archive) starts


def _npy_header(path: Path) -> tuple[tuple, np.dtype]:
    """The shape and dtype a .npy file's header declares, checked against the file's
    size before any array is made (a header can declare terabytes in a few bytes)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise NodeclfError(f"{kind}: expected a .npy file", path)
        with open(path, "rb") as file:
            if file.read(4) == _NPY_ARCHIVE:
                raise NodeclfError(
                    "a .npz archive (several arrays), not a .npy array: save the one array with numpy.save", path
                )
            file.seek(0)
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise NodeclfError(f"not a readable .npy array: format version {version} is not one numpy writes", path)
            start = file.tell()
    except FileNotFoundError:
        raise MissingFile(path) from None
    except (ValueError, EOFError, OSError, TypeError, SyntaxError, tokenize.TokenError) as exc:  # (numpy's words)
        raise NodeclfError(f"not a readable .npy array: {_clipped(str(exc), 120)}", path) from None
    if dtype.hasobject or dtype.names is not None:
        raise NodeclfError(f"expected an array of numbers, found {dtype}", path)
    size = math.prod(shape) * dtype.itemsize
    if size > info.st_size - start:
        raise NodeclfError(
            f"the header declares shape {shape} of {dtype} ({size:,} bytes), but the file holds "
            f"{max(info.st_size - start, 0):,} bytes of data",
            path,
        )
    return shape, dtype


def _load_npy(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """``numpy.load`` of a .npy file whose header :func:`_npy_header` checked."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise NodeclfError(f"not a readable .npy array: {_clipped(str(exc), 120)}", path) from None


def _check_array_values(array: np.ndarray, path: Path, block: int = 65536) -> None:
    """Refuse NaN, infinite or absurdly large values, reading the array in blocks
    (a whole-array test would make a temporary as large as the array)."""
    if array.dtype.kind != "f":
        return
    for start in range(0, array.shape[0], block):
        part = array[start : start + block]
        low, high = float(part.min(initial=0.0)), float(part.max(initial=0.0))
        if np.isfinite(low) and np.isfinite(high) and max(-low, high) <= LARGEST:
            continue
        bad = ~np.isfinite(part) | (np.abs(part.astype(np.float64)) > LARGEST)
        row, column = np.argwhere(bad)[0]
        value = part[row, column]
        what = "not a finite number" if not np.isfinite(value) else f"too large (over {LARGEST:.0e})"
        raise NodeclfError(f"row {start + row}, column {column}: {value} is {what}", path)


def _resolve(value: Any, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


@contextmanager
def _named_by(source: str, line: int | None, key: str):
    """Loading a file a problem's ``key`` names (at ``line``): a missing one is reported
    against that line too (``p.yaml:6: edges: no such file: nope.csv``). A file given by
    an option (no line) is reported as it is."""
    try:
        yield
    except MissingFile as error:
        if line is None:
            raise
        raise NodeclfError(f"no such file: {error.source}", source, line, key) from None


def _check_unique(rows: _Rows, what: str) -> None:
    if rows.places is None:
        return
    seen: dict[str, _Place] = {}
    for node_id, place in zip(rows.ids, rows.places):
        first = seen.setdefault(_key(node_id), place)
        if first is not place:
            raise _duplicate(what, node_id, first.line, place.source, place.line)


def _duplicate(
    what: str, name: Any, first_line: int | None, source: str | Path, line: int | None, where: str | None = None
) -> NodeclfError:
    """The error for an id or class given a second time (1 and "1" are the same)."""
    return NodeclfError(f"duplicate {what} {_excerpt(name)} (first at line {first_line})", source, line, where)


def _as_matrix(rows: _Rows, what: str) -> np.ndarray:
    """Rows of equal length as a float64 (N, d) array (a .npy array is kept as it is)."""
    if isinstance(rows.values, np.ndarray):  # from .npy, or a CSV numpy read (rows of equal length)
        width = rows.values.shape[1]
    else:
        width = len(rows.values[0])
        _check_lengths(rows, width, f"but the first {what} has {width}")
    if width == 0:
        source = rows.places[0].source if rows.places else None
        raise NodeclfError(f"the {what}s have no numbers", source)
    return rows.values if isinstance(rows.values, np.ndarray) else np.array(rows.values, dtype=np.float64)


def _check_lengths(rows: _Rows, width: int, expected: str) -> None:
    """Every row has ``width`` numbers, or an error at the first that has not."""
    for vector, place in zip(rows.values, rows.places):
        if len(vector) != width:
            raise NodeclfError(
                f"has {counted(len(vector), 'number')}, {expected}", place.source, place.line, place.where
            )


class Positions:
    """Where each of ``names`` (node ids or classes) is, matched by its text, for
    looking up many keys (a big answers file) in constant time each."""

    def __init__(self, names: abc.Sequence, what: str) -> None:
        self.names, self.what = names, what
        self._index: dict[str, int] = {}
        for i, name in enumerate(names):
            self._index.setdefault(_key(name), i)

    def find(self, key: Any, source: str, line: int | None = None, where: str | None = None) -> int:
        """The position of ``key``, or an error listing what there is."""
        position = self._index.get(_key(key))
        if position is None:
            names = self.names
            listed = ", ".join(_clipped(name) for name in names[:20]) + (" ..." if len(names) > 20 else "")
            raise NodeclfError(
                f"no {self.what} {_clipped(key)} in the problem ({plural(self.what)}: {listed})", source, line, where
            )
        return position


def _clipped(name: Any, limit: int = 60) -> str:
    """An id or class name as messages show it (its text), cut short when long."""
    text = str(name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find_position(
    names: abc.Sequence, key: Any, what: str, source: str, line: int | None = None, where: str | None = None
) -> int:
    """The position of ``key`` among ``names`` (node ids or classes, compared as text),
    or an error listing what there is."""
    return Positions(names, what).find(key, source, line, where)


def _load_embeddings(value: Any, source: str, line: int | None, base: Path) -> _Rows:
    if isinstance(value, (str, Path)) and not isinstance(value, Mapping):
        path = _resolve(value, base)
        rows = _rows_from_npy(path) if path.suffix == ".npy" else _rows_from_csv(path, "node")
    else:
        rows = _rows_from_yaml(value, source, "embeddings", line)
    if not rows.ids:
        raise NodeclfError("no embeddings: the problem has no nodes", source, line)
    _check_unique(rows, "node id")
    return rows


class _Labels(NamedTuple):
    by_id: dict  # id text -> (label, line)
    split: dict | None  # id text -> "train" | "val" | "test"
    array: np.ndarray | None = None  # from .npy: one class number per row, kept as an array
    source: str = ""  # the file they are in
    where: str = "node {}"  # how a label's place is named, from its node's id text

    def place(self, node: str) -> _Place:
        """Where node's label is written, for an error about it."""
        return _Place(self.source, self.by_id[node][1], self.where.format(_clipped(node)))


def _load_labels(value: Any, source: str, line: int | None, base: Path) -> _Labels:
    if isinstance(value, Mapping):
        by_id: dict = {}
        for node_id, label in value.items():
            if _key(node_id) in by_id:  # 1 and "1": the same node
                first = by_id[_key(node_id)][1]
                raise _duplicate("node id", node_id, first, source, value.key_lines[node_id], "labels")
            by_id[_key(node_id)] = (label, value.key_lines[node_id])
        return _Labels(by_id, None, source=source, where="labels[{}]")
    if not isinstance(value, (str, Path)):
        raise NodeclfError(
            "expected a mapping of node id to class, or a CSV path", source, line, "labels"
        )
    path = _resolve(value, base)
    if path.suffix == ".npy":
        return _labels_from_npy(path)
    return _labels_from_csv(path)


def _labels_from_csv(path: Path) -> _Labels:
    """Labels from ``id,label`` or ``id,label,split`` rows. Labels and splits repeat
    few texts, so each text is read once (a big file loads about 2.5x faster)."""
    by_id: dict = {}
    split: dict = {}
    labels_read: dict = {}  # label text -> class name
    splits_read: dict = {}  # split text -> "train" | "val" | "test"
    for row_line, cells in read_csv_rows(path, ("id", "node", "node_id"), numeric=False):
        if len(cells) not in (2, 3):
            raise NodeclfError(
                f"expected id,label or id,label,split; found {len(cells)} cells",
                path,
                row_line,
            )
        node = _id_key(cells[0])
        if node in by_id:
            raise _duplicate("node id", cells[0], by_id[node][1], path, row_line)
        label = labels_read.get(cells[1])
        if label is None:
            if not cells[1]:
                raise NodeclfError("the label is empty", path, row_line, f"node {_clipped(cells[0])}")
            label = labels_read[cells[1]] = parse_id(cells[1])
        by_id[node] = (label, row_line)
        if len(cells) == 3:
            name = splits_read.get(cells[2])
            if name is None:
                if cells[2].lower() not in SPLITS:
                    raise NodeclfError(
                        f"split must be train, val or test; found {_excerpt(cells[2])}",
                        path,
                        row_line,
                        f"node {_clipped(cells[0])}",
                    )
                name = splits_read[cells[2]] = SPLITS[cells[2].lower()]
            split[node] = name
    if split and len(split) != len(by_id):
        missing = next(node for node in by_id if node not in split)
        raise NodeclfError(f"node {_clipped(missing)} has no split while others have one", path, by_id[missing][1])
    return _Labels(by_id, split or None, source=str(path))


def _id_key(text: str) -> str:
    """``_key(parse_id(text))``, without the pattern for plain whole numbers (most ids)."""
    if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1):
        return text
    return _key(parse_id(text))


def _labels_from_npy(path: Path) -> _Labels:
    shape, dtype = _npy_header(path)
    if len(shape) != 1 or dtype.kind not in "iu":
        raise NodeclfError(f"expected a 1-d array of integer classes, found shape {shape} of {dtype}", path)
    check_fits_in_memory(shape[0] * 8, f"reading {counted(shape[0], 'label')}", path)
    return _Labels({}, None, _load_npy(path), str(path))


def _most_classes(n_labelled: int) -> int:
    """The most classes that labels numbered 0, 1, ... may imply without ``classes:``:
    a label far beyond the number of labelled nodes is a mistake (and would make
    arrays of that many classes)."""
    return max(MOST_CLASSES, CLASSES_PER_LABEL * n_labelled)


def _too_many_classes(label: int, n_labelled: int, source: str, line: int | None, where: str | None):
    return NodeclfError(
        f"class {label} would make {label + 1:,} classes (numbered 0..{label}) for "
        f"{counted(n_labelled, 'labelled node')}; number the classes 0, 1, ... without gaps, or list them with "
        "classes: in the problem",
        source,
        line,
        where,
    )


def _array_labels(labels: _Labels, classes: list | None, W: np.ndarray | None, n_nodes: int):
    """Class positions and names for labels given as an array, checked without a loop
    (in the array's own integer type: a uint64 label beyond int64 is not wrapped)."""
    y = labels.array
    if len(y) != n_nodes:
        raise NodeclfError(f"has {counted(len(y), 'label')} but there are {counted(n_nodes, 'node')}", labels.source)
    if classes is not None:
        n_classes = len(classes)
    elif W is not None:
        n_classes = len(W)
    else:
        largest = int(y.max()) if len(y) else 0
        if largest + 1 > _most_classes(len(y)):
            row = int(np.argmax(y))
            raise _too_many_classes(largest, len(y), labels.source, None, f"row {row}")
        n_classes = largest + 1
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if len(bad):
        row, label = int(bad[0]), int(y[bad[0]])
        why = "class numbers start at 0" if label < 0 else f"there are {n_classes} classes, numbered 0..{n_classes - 1}"
        raise NodeclfError(f"row {row}: class {label} is out of range: {why}", labels.source)
    return y.astype(np.int64, copy=False), classes if classes is not None else list(range(n_classes))


def _load_weights(value: Any, source: str, line: int | None, base: Path):
    """(W rows, b, class names from a CSV or None, places of W's rows)."""
    if isinstance(value, (str, Path)):
        path = _resolve(value, base)
        if path.suffix.lower() == ".npy":
            raise NodeclfError(
                "weights are read from a CSV (class,b,w_0,...) or a YAML file with W: and b:, "
                "not .npy (it would have no biases or class names)",
                path,
            )
        if path.suffix in (".yaml", ".yml"):
            data = load_yaml(path)
            inner = data.get("weights", data) if isinstance(data, Mapping) else data
            if isinstance(inner, str):  # a file naming another (or itself): followed no further
                raise NodeclfError(
                    "a weights file must hold W: and b: (or weights: with them), not name another file",
                    path,
                    data.key_lines.get("weights") if isinstance(data, Mapping) else None,
                    "weights",
                )
            return _load_weights(inner, str(path), getattr(data, "line", None), path.parent)
        rows = _rows_from_csv(path, "class")
        _check_unique(rows, "class")
        for vector, place in zip(rows.values, rows.places):
            if len(vector) < 2:
                raise NodeclfError(
                    "expected class,b,w_0,...: a bias and at least one weight",
                    place.source,
                    place.line,
                    place.where,
                )
        W = _Rows(rows.ids, [v[1:] for v in rows.values], rows.places)
        return W, [v[0] for v in rows.values], list(rows.ids), rows.places[0]
    if not isinstance(value, Mapping):
        raise NodeclfError("expected W: and b:, or a CSV path", source, line, "weights")
    _check_keys(value, WEIGHT_KEYS, source, "weights")
    for key in WEIGHT_KEYS:
        if key not in value:
            raise NodeclfError(f"missing weights.{key}", source, value.line, "weights")
    W, b = value["W"], value["b"]
    if not isinstance(W, Sequence) or not all(isinstance(row, list) for row in W):
        raise NodeclfError(
            "expected a list of rows, one per class", source, value.key_lines["W"], "weights.W"
        )
    if not isinstance(b, Sequence):
        raise NodeclfError(
            "expected a list of numbers, one per class", source, value.key_lines["b"], "weights.b"
        )
    places = [_Place(source, ln, f"weights.W row {i + 1}") for i, ln in enumerate(W.item_lines)]
    values = [[to_number(v, p.source, p.line, p.where) for v in row] for row, p in zip(W, places)]
    b_values = [
        to_number(v, source, ln, f"weights.b[{i}]") for i, (v, ln) in enumerate(zip(b, b.item_lines))
    ]
    return _Rows(list(range(len(W))), values, places), b_values, None, _Place(
        source, value.key_lines["b"], "weights.b"
    )


def _load_classes(value: Any, source: str, line: int | None) -> list | None:
    if value is None:
        return None
    if not isinstance(value, Sequence):
        raise NodeclfError("expected a list of class names", source, line, "classes")
    seen: set = set()
    for name, name_line in zip(value, value.item_lines):
        if isinstance(name, bool) or not isinstance(name, (int, str)):
            raise NodeclfError(
                f"a class name must be a whole number or a name, found {_excerpt(name)}",
                source,
                name_line,
                "classes",
            )
        if _key(name) in seen:
            raise NodeclfError(f"duplicate class {_excerpt(name)}", source, name_line, "classes")
        seen.add(_key(name))
    return list(value)


def _class_positions(labels: _Labels, classes: list | None, n_classes: int | None):
    """Class positions per node id, and the class names. Each distinct label is looked
    up once, in file order, so the first node with a wrong one is the one named."""
    if classes is None and n_classes is None:
        largest = max({label for label, _ in labels.by_id.values() if type(label) is int}, default=0)
        if largest + 1 > _most_classes(len(labels.by_id)):
            node = next(node for node, (label, _) in labels.by_id.items() if type(label) is int and label == largest)
            place = labels.place(node)
            raise _too_many_classes(largest, len(labels.by_id), place.source, place.line, place.where)
        n_classes = 1 + largest
    names = classes if classes is not None else list(range(n_classes))
    index = {_key(name): i for i, name in enumerate(names)}
    position_of: dict = {}  # (type, label) -> its class position; 1, 1.0 and True differ
    positions = {}
    for node, (label, _) in labels.by_id.items():
        kind = (type(label), label if type(label) in (int, str, float, bool) else _key(label))
        if kind not in position_of:
            position_of[kind] = _class_position(label, index, names, classes is not None, labels.place(node))
        positions[node] = position_of[kind]
    return positions, names


def _class_position(label: Any, index: dict, names: list, named: bool, place: _Place) -> int:
    """The position of ``label`` among the classes, or an error at its place."""
    if isinstance(label, float) and label.is_integer() and not named:
        label = int(label)
    if _key(label) in index:
        return index[_key(label)]
    if named:
        why = f"class {_excerpt(label)} is not one of the classes {_excerpt(names, 200)}"
    elif isinstance(label, bool) or not isinstance(label, int):
        why = f"expected a class number 0..{len(names) - 1}, found {_excerpt(label)}"
    elif label < 0:
        why = f"class numbers start at 0, found {label}"
    else:
        why = f"class {label} is out of range: the weights have {len(names)} classes, numbered 0..{len(names) - 1}"
    raise NodeclfError(why, place.source, place.line, place.where)


def load_problem(
    path: Path | None = None,
    *,
    embeddings: Path | None = None,
    labels: Path | None = None,
    weights: Path | None = None,
    learning_rate: float | None = None,
    allow_unlabelled: bool = False,
    require: abc.Sequence[str] = (),
    options: bool = True,
    edges: Path | None = None,
    propagation: dict | None = None,
    loss: dict | None = None,
    optimizer: dict | None = None,
) -> Problem:
    """Load and check a problem; options given here override the file's entries.
    ``require``: keys (``weights``, ``learning_rate``) the command needs besides the
    embeddings and labels; each is checked before any table is read.

    With neither ``path`` nor ``embeddings``, the bundled article example is used;
    ``path`` may also name a bundled example (see :func:`find_problem`).
    Paths inside a YAML file are relative to that file. ``require`` names what the
    caller needs that a problem may leave out ("weights", "learning_rate"); a problem
    without it is refused, the error suggesting the command's options if it has them.
    """
    data: Any = None
    if path is None and embeddings is None:
        path = bundled_example()
    if path is not None:
        path = find_problem(path)
        data = load_yaml_or_name(path, f"a bundled example: {', '.join(EXAMPLES)}")
    return problem_from_data(
        data,
        str(path) if path is not None else OPTIONS_ONLY,
        path.parent if path is not None else Path.cwd(),
        embeddings=embeddings,
        labels=labels,
        weights=weights,
        learning_rate=learning_rate,
        allow_unlabelled=allow_unlabelled,
        require=require,
        options=options,
        edges=edges,
        propagation=propagation,
        loss=loss,
        optimizer=optimizer,
    )


def problem_from_data(
    data: Any,
    source: str,
    base: Path,
    *,
    embeddings: Path | None = None,
    labels: Path | None = None,
    weights: Path | None = None,
    learning_rate: float | None = None,
    allow_unlabelled: bool = False,
    require: abc.Sequence[str] = (),
    options: bool = True,
    edges: Path | None = None,
    propagation: dict | None = None,
    loss: dict | None = None,
    optimizer: dict | None = None,
) -> Problem:
    """A problem from parsed YAML ``data`` (None: options only); paths relative to ``base``;
    ``require`` and ``options`` as in :func:`load_problem`; ``edges`` (``--edges``) and
    ``propagation`` (``hops``, ``norm``, ``self_loops`` given as options) override the file's,
    as ``loss`` and ``optimizer`` (see :func:`load_loss`, :func:`load_optimiser`) do its keys.
    Everything needed is checked to be there, and the learning rate read, before any
    table is (a missing learning rate is not found after minutes of reading)."""
    if data is None:
        data = Mapping()
        data.key_lines, data.line = {}, None
    elif not isinstance(data, Mapping):
        raise NodeclfError(
            f"expected a mapping with keys {', '.join(PROBLEM_KEYS)}; found {kind_of(data)}",
            source,
            getattr(data, "line", 1),
        )
    _check_keys(data, PROBLEM_KEYS, source, "the problem")

    def entry(key: str, override: Any):
        if override is not None:
            return override, OPTION_NAMES[key], None, Path.cwd()
        if key not in data:
            return None, source, None, base
        if data[key] is None:
            raise NodeclfError("has no value", source, data.key_lines[key], key)
        return data[key], source, data.key_lines[key], base

    overrides = {"embeddings": embeddings, "labels": labels, "weights": weights, "learning_rate": learning_rate}
    for key in ("embeddings", "labels", *require):
        if overrides[key] is None and key not in data:
            raise missing_input(key, source, options)
    value, src, line, _ = entry("learning_rate", learning_rate)
    lr = None
    if value is not None:
        key = None if learning_rate is not None else "learning_rate"  # an option is named by src
        lr = to_number(value, src, line, key)
        if lr <= 0:
            raise NodeclfError(f"must be a positive number, found {_clipped(value)}", src, line, key)
    requirement = None
    if data.get("precision") is not None:
        requirement = load_requirement(data["precision"], source, data.key_lines["precision"])

    origins: dict = {}
    value, src, line, where_base = entry("embeddings", embeddings)
    with _named_by(src, line, "embeddings"):
        emb_rows = _load_embeddings(value, src, line, where_base)
    origins["embeddings"] = _resolve(value, where_base) if isinstance(value, (str, Path)) else None
    Z = _as_matrix(emb_rows, "embedding")

    value, src, line, where_base = entry("labels", labels)
    with _named_by(src, line, "labels"):
        label_set = _load_labels(value, src, line, where_base)
    origins["labels"] = _resolve(value, where_base) if isinstance(value, (str, Path)) else None
    labels_place = (origins["labels"], None) if origins["labels"] else (src, line)

    classes = _load_classes(data.get("classes"), source, data.key_lines.get("classes"))
    W = b = None
    value, src, line, where_base = entry("weights", weights)
    if value is not None:
        with _named_by(src, line, "weights"):
            W_rows, b_values, csv_classes, b_place = _load_weights(value, src, line, where_base)
        W, b, classes = _check_weights(W_rows, b_values, csv_classes, b_place, classes, Z.shape[1])

    if classes is not None and len(classes) < 2:
        raise NodeclfError(
            f"a classifier needs at least two classes, found {len(classes)}",
            source,
            data.key_lines.get("classes"),
            "classes",
        )
    split = None
    if label_set.array is not None:
        y, classes = _array_labels(label_set, classes, W, len(emb_rows.ids))
    else:
        y, classes, split = _labels_by_id(label_set, classes, W, emb_rows.ids)
    if len(classes) < 2:
        raise NodeclfError("a classifier needs at least two classes; the labels have one", source)
    if (y < 0).any() and not (allow_unlabelled and label_set.split):
        missing = emb_rows.ids[int(np.argmax(y < 0))]
        only_train = " (only nodeclf train, with a split, leaves nodes unlabelled)" if label_set.split else ""
        raise NodeclfError(f"node {_clipped(missing)} has no label{only_train}", *labels_place)

    check_fits_in_memory(
        len(y) * len(classes) * TABLE_BYTES + len(classes) ** 2 * CONFUSION_BYTES,
        f"the tables of {counted(len(y), 'node')} by {counted(len(classes), 'class')} (logits, probabilities, "
        "gradients, the confusion matrix)",
        shown_source(source),
    )
    node_ids = tuple(emb_rows.ids) if emb_rows.places is not None else emb_rows.ids
    graph, origins["edges"] = _load_graph(data, source, base, node_ids, edges, propagation)
    convention = load_loss(data.get("loss"), source, data.key_lines.get("loss"), tuple(classes), loss)
    optimiser = load_optimiser(data.get("optimizer"), source, data.key_lines.get("optimizer"), W, b, optimizer)
    return Problem(
        node_ids=node_ids,
        Z=Z,
        y=y,
        classes=tuple(classes),
        W=W,
        b=b,
        learning_rate=lr,
        source=source,
        split=split,
        origins=origins,
        requirement=requirement,
        graph=graph,
        loss=convention,
        optimiser=optimiser,
    )


def _largest_magnitude(array: np.ndarray, block: int = 65536) -> tuple[float, int]:
    """The largest |value| of a 1-d or 2-d array and the row it is in, block by block
    (a whole-array ``abs`` would copy a memory-mapped array)."""
    largest, row = 0.0, 0
    for start in range(0, len(array), block):
        part = np.abs(np.asarray(array[start : start + block], dtype=np.float64))
        if part.size and float(part.max()) > largest:
            largest = float(part.max())
            row = start + int(np.argmax(part.max(axis=1) if part.ndim == 2 else part))
    return largest, row


def check_dtype(problem: Problem, W: np.ndarray, b: np.ndarray, dtype: str) -> None:
    """Refuse, before training in ``dtype`` (float32), numbers too large for it: as
    for float64, where numbers up to LARGEST = 1e150 are accepted, a product of two
    must fit (numbers up to 1e15 for float32; the logits ``Z W^T + b`` then fit too,
    unless there are over 10^8 features). The error says what is too large, where a failure in training could only blame
    the learning rate."""
    most = float(np.finfo(dtype).max)
    limit = 10.0 ** (int(math.log10(math.sqrt(most))) - 4)  # 1e150 for float64, 1e15 for float32
    if limit >= LARGEST:  # float64: the loader has checked every number already
        return
    emb_source = problem.origins.get("embeddings") or shown_source(problem.source)
    advice = f"too large for {dtype} (numbers up to {limit:.0e}: a product of two larger ones overflows); " \
        "train with --dtype float64"
    z_largest, row = _largest_magnitude(problem.Z)
    if z_largest > limit:
        raise NodeclfError(f"node {_clipped(problem.node_ids[row])}: {z_largest:.3g} is {advice}", emb_source)
    w_largest, row = _largest_magnitude(W)
    b_largest = float(np.abs(b).max(initial=0.0))
    if max(w_largest, b_largest) > limit:
        name = problem.classes[row] if w_largest > b_largest else problem.classes[int(np.argmax(np.abs(b)))]
        raise NodeclfError(
            f"class {_clipped(name)}: {max(w_largest, b_largest):.3g} is {advice}", shown_source(problem.source),
            None, "weights",
        )


PRECISION_KEYS = ("decimals", "loss_decimals", "sig_figs", "loss_sig_figs")


def load_requirement(value: Any, source: str, line: int | None) -> Requirement:
    """The ``precision:`` a problem or an answers file requires: ``{decimals: 2,
    loss_decimals: 4}`` or ``{sig_figs: 3}`` (the losses 2 more unless given)."""
    if not isinstance(value, Mapping):
        raise NodeclfError(
            f"expected a mapping such as {{decimals: 2, loss_decimals: 4}} or {{sig_figs: 3}}; found {kind_of(value)}",
            source, line, "precision",
        )
    _check_keys(value, PRECISION_KEYS, source, "precision")
    numbers = {}
    for key in value:
        number = value[key]
        low = 0 if "decimals" in key else 1
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= 15:
            raise NodeclfError(
                f"expected a whole number from {low} to 15, found {number!r}", source, value.key_lines[key],
                f"precision.{key}",
            )
        numbers[key] = number
    decimal_keys = {"decimals", "loss_decimals"} & set(numbers)
    figure_keys = {"sig_figs", "loss_sig_figs"} & set(numbers)
    if decimal_keys and figure_keys:
        raise NodeclfError("give decimals or significant figures, not both", source, line, "precision")
    if figure_keys:
        values = Precision(decimals=None, sig_figs=numbers.get("sig_figs", 3))
        losses = numbers.get("loss_sig_figs")
        return Requirement.from_values(values, None if losses is None else Precision(decimals=None, sig_figs=losses))
    values = Precision(decimals=numbers.get("decimals", 2))
    losses = numbers.get("loss_decimals")
    return Requirement.from_values(values, None if losses is None else Precision(decimals=losses))


def _labels_by_id(labels: _Labels, classes: list | None, W: np.ndarray | None, ids: Any):
    """Class positions per node (-1: no label), class names and, where the labels
    have one, each node's split ("" where it has none), for labels keyed by id."""
    positions, classes = _class_positions(labels, classes, None if W is None else len(W))
    keys = list(map(_key, ids))
    unknown = set(positions).difference(keys)
    if unknown:
        node = next(node for node in labels.by_id if node in unknown)  # the first in the file
        place = labels.place(node)
        raise NodeclfError(f"label for node {_clipped(node)}, which has no embedding", place.source, place.line)
    y = np.fromiter((positions.get(key, -1) for key in keys), dtype=np.int64, count=len(keys))
    split = None if labels.split is None else np.array([labels.split.get(key, "") for key in keys])
    return y, classes, split


def _check_weights(W_rows, b_values, csv_classes, b_place, classes, n_features):
    """W (C, d) and b (C,) in the order of ``classes``, with every shape checked."""
    _check_lengths(W_rows, n_features, f"expected {n_features} (the embedding size)")
    W = np.array(W_rows.values, dtype=np.float64).reshape(len(W_rows.values), n_features)
    if classes is not None and len(classes) != len(W):
        raise NodeclfError(
            f"W has {counted(len(W), 'row')} but classes lists {counted(len(classes), 'class')} {classes}",
            W_rows.places[0].source if W_rows.places else b_place.source,
            W_rows.places[0].line if W_rows.places else None,
        )
    if len(b_values) != len(W):
        raise NodeclfError(
            f"b has {counted(len(b_values), 'number')} but W has {counted(len(W), 'row')} (one per class)",
            b_place.source,
            b_place.line,
            "weights.b",
        )
    b = np.array(b_values, dtype=np.float64)
    if csv_classes is not None:
        if classes is None:
            return W, b, csv_classes
        order = {_key(name): i for i, name in enumerate(csv_classes)}
        missing = [name for name in classes if _key(name) not in order]
        if missing:
            raise NodeclfError(
                f"the weights have no row for class {_excerpt(missing[0])} (rows: {_excerpt(csv_classes, 200)})",
                W_rows.places[0].source,
            )
        rows = [order[_key(name)] for name in classes]
        return W[rows], b[rows], classes
    return W, b, classes


# --- the graph: edges and how to propagate along them ---------------------------------

PROPAGATION_KEYS = ("hops", "norm", "self_loops", "directed")
MOST_HOPS = 50


class _EdgeList(NamedTuple):
    """Edges as read: node positions, weights, and each listing's line (None for .npy)."""

    source: np.ndarray  # (E,) int64
    target: np.ndarray  # (E,) int64
    weight: np.ndarray  # (E,) float64
    lines: np.ndarray | None  # (E,) line of each listing
    origin: str  # the file (or problem) they are written in


def _load_graph(
    data: Mapping, source: str, base: Path, node_ids: abc.Sequence, edges: Path | None, options: dict | None,
) -> Any:
    """The problem's graph (a :class:`graph.Graph`), from ``edges:`` or ``--edges`` and
    ``propagation:`` with the options ``options`` overriding it, and the file its edges
    are in (None: written in the problem); (None, None) without edges."""
    options = {key: value for key, value in (options or {}).items() if value is not None}
    origin = None
    if "edges" in data and data["edges"] is None and edges is None:
        raise NodeclfError("has no value", source, data.key_lines["edges"], "edges")
    if edges is not None:
        origin = Path(edges)
        listed = _edges_from_file(origin, node_ids)
    elif data.get("edges") is not None:
        if isinstance(data["edges"], str):
            origin = _resolve(data["edges"], base)
        with _named_by(source, data.key_lines["edges"], "edges"):
            listed = _edges_from_value(data["edges"], source, data.key_lines["edges"], base, node_ids)
    else:
        if "propagation" in data:
            raise NodeclfError("the problem has no edges: to propagate along (add edges: or pass --edges)",
                               source, data.key_lines["propagation"], "propagation")
        if options:
            flags = {"hops": "--hops", "norm": "--norm", "self_loops": "--no-self-loops", "directed": "directed"}
            named = " and ".join(flags[key] for key in options)
            raise NodeclfError(f"{named} need{'s' if len(options) == 1 else ''} a graph: add edges: to the problem "
                               "or pass --edges FILE")
        return None, None
    from .graph import Graph, Propagation  # only for a problem with a graph

    if "propagation" in data and data["propagation"] is None:
        raise NodeclfError("has no value", source, data.key_lines["propagation"], "propagation")
    settings = _load_propagation(data.get("propagation"), source, data.key_lines.get("propagation"))
    settings = Propagation(**{**settings.as_dict(), **options})
    return _merged(listed, node_ids, settings, Graph), origin


def _load_propagation(value: Any, source: str, line: int | None) -> Any:
    """``propagation: {hops: 2, norm: sym, self_loops: true, directed: false}``."""
    from .graph import NORMS, Propagation

    if value is None:
        return Propagation()
    if not isinstance(value, Mapping) or not value:
        found = "an empty mapping" if isinstance(value, Mapping) else kind_of(value)
        raise NodeclfError(f"expected a mapping such as {{hops: 2, norm: sym}}; found {found}",
                           source, line, "propagation")
    _check_keys(value, PROPAGATION_KEYS, source, "propagation")
    settings: dict = {}
    for key in value:
        item, where, item_line = value[key], f"propagation.{key}", value.key_lines[key]
        if key == "hops" and (isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= MOST_HOPS):
            raise NodeclfError(f"expected a whole number from 0 to {MOST_HOPS}, found {item!r}", source, item_line,
                               where)
        if key == "norm" and item not in NORMS:
            raise NodeclfError(f"expected one of {', '.join(NORMS)}, found {item!r}", source, item_line, where)
        if key in ("self_loops", "directed") and not isinstance(item, bool):
            raise NodeclfError(f"expected true or false, found {item!r}", source, item_line, where)
        settings[key] = item
    return Propagation(**settings)


def _edges_from_value(value: Any, source: str, line: int | None, base: Path, node_ids: abc.Sequence) -> _EdgeList:
    """``edges:`` in a problem: a list of [id, id] or [id, id, weight], or a file's path."""
    if isinstance(value, str):
        return _edges_from_file(_resolve(value, base), node_ids)
    if not isinstance(value, Sequence):
        raise NodeclfError(f"expected a list of [id, id] pairs or a file's path; found {kind_of(value)}",
                           source, line, "edges")
    if not value:
        raise NodeclfError("the list of edges is empty: give at least one [id, id] pair, or leave edges: out",
                           source, line, "edges")
    positions = Positions(node_ids, "node")
    rows = []
    for k, (pair, pair_line) in enumerate(zip(value, value.item_lines)):
        where = f"edges[{k}]"
        if not isinstance(pair, list) or len(pair) not in (2, 3):
            raise NodeclfError(f"expected [id, id] or [id, id, weight], found {pair!r}", source, pair_line, where)
        weight = _edge_weight(pair[2], source, pair_line, where) if len(pair) == 3 else 1.0
        rows.append((positions.find(pair[0], source, pair_line, where),
                     positions.find(pair[1], source, pair_line, where), weight, pair_line))
    return _edge_arrays(rows, source)


def _edge_weight(value: Any, source: str, line: int | None, where: str) -> float:
    weight = to_number(value, source, line, where)
    if weight < 0:
        raise NodeclfError(f"an edge's weight must be at least 0, found {value}", source, line, where)
    return weight


def _edge_arrays(rows: list, origin: str) -> _EdgeList:
    source, target, weight, lines = zip(*rows)
    return _EdgeList(np.array(source, np.int64), np.array(target, np.int64), np.array(weight, np.float64),
                     np.array(lines, np.int64), origin)


def _edges_from_file(path: Path, node_ids: abc.Sequence) -> _EdgeList:
    """Edges from a CSV (``source,target[,weight]``, by node id) or a .npy array of
    shape (E, 2) or (2, E) of row numbers."""
    if path.suffix.lower() == ".npy":
        return _edges_from_npy(path, len(node_ids))
    index: dict[str, int] = {}
    for i, node_id in enumerate(node_ids):
        index.setdefault(_key(node_id), i)
    table = read_csv_rows(path, numeric=False)
    first = table[0][1]
    if not any(_key(cell) in index or _key(parse_id(cell)) in index for cell in first[:2]):
        if len(table) == 1 and all(cell.strip() and not cell.strip()[0].isdigit() for cell in first):
            raise NodeclfError("the CSV file has a header and no edges", path, table[0][0])
        if len(table) > 1:
            table = table[1:]  # a header row (source,target,weight), whatever its words
    width = len(table[0][1])
    for line, cells in table:
        if len(cells) not in (2, 3):
            raise NodeclfError(f"expected source,target or source,target,weight; found {len(cells)} cells",
                               path, line)
        if len(cells) != width:
            raise NodeclfError(f"expected {width} cells, as the first row has; found {len(cells)}", path, line)
    lines = np.fromiter((line for line, _ in table), dtype=np.int64, count=len(table))
    ends = []
    numbered = _by_number(node_ids)
    for column in (0, 1):  # each id looked up by its text; only a miss is looked at again, for the error
        found = None if numbered is None else _positions_by_number([cells[column] for _, cells in table], *numbered)
        if found is not None:
            ends.append(found)
            continue
        positions = [index.get(cells[column], -1) for _, cells in table]
        for k in (k for k, position in enumerate(positions) if position < 0):
            cell = table[k][1][column]
            positions[k] = index.get(_key(parse_id(cell)), -1)
            if positions[k] < 0:
                raise NodeclfError(f"no node {cell} in the problem (an edge must join two nodes that have "
                                   "embeddings)", path, table[k][0])
        ends.append(np.array(positions, dtype=np.int64))
    weights = np.ones(len(table))
    if width == 3:
        weights = _edge_weights([cells[2] for _, cells in table], lines, path)
    return _EdgeList(ends[0], ends[1], weights, lines, str(path))


def _by_number(node_ids: abc.Sequence) -> tuple[np.ndarray, np.ndarray] | None:
    """Where every node id is a whole number (row numbers, CSV ids): the ids sorted, and
    their positions, for looking many up at once; else None."""
    if isinstance(node_ids, range):
        ids = np.arange(len(node_ids))
    elif all(type(node_id) is int for node_id in node_ids):
        ids = np.array(node_ids, dtype=np.int64)
    else:
        return None
    order = np.argsort(ids, kind="stable")
    return ids[order], order


def _positions_by_number(cells: list[str], sorted_ids: np.ndarray, order: np.ndarray) -> np.ndarray | None:
    """The positions of the nodes ``cells`` name as whole numbers, all at once; None where
    a cell is not a whole number or names no node (the caller then looks one by one)."""
    try:
        numbers = np.array(cells).astype(np.int64)
    except (ValueError, OverflowError):
        return None
    at = np.minimum(np.searchsorted(sorted_ids, numbers), len(sorted_ids) - 1)
    if not np.array_equal(sorted_ids[at], numbers):
        return None
    return order[at]


def _edge_weights(cells: list[str], lines: np.ndarray, path: Path) -> np.ndarray:
    """The weight column: all of it at once, and the first bad cell again, for its error."""
    try:
        weights = np.array([float(cell) for cell in cells])
        good = np.isfinite(weights) & (weights >= 0) & (weights <= LARGEST)
    except ValueError:
        good = None
    if good is not None and good.all():
        return weights
    for cell, line in zip(cells, lines):  # the first one refused, with its line
        _edge_weight(cell, str(path), int(line), None)
    return weights  # every cell passed one by one (a spelling float() alone refused)


def _edges_from_npy(path: Path, n_nodes: int) -> _EdgeList:
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise MissingFile(path) from None
    except (OSError, ValueError) as exc:
        raise NodeclfError(f"not a readable .npy array: {exc}", path) from None
    if array.ndim != 2 or 2 not in array.shape or array.dtype.kind not in "iu":
        raise NodeclfError(f"expected whole numbers of shape (E, 2) or (2, E) (row numbers of the edges' ends), "
                           f"found shape {array.shape} of {array.dtype}", path)
    pairs = array if array.shape[1] == 2 else array.T
    bad = (pairs < 0) | (pairs >= n_nodes)
    if bad.any():
        k, end = np.argwhere(bad)[0]
        raise NodeclfError(f"edge {k}: row number {pairs[k, end]} is not a node (the embeddings have rows "
                           f"0..{n_nodes - 1})", path)
    pairs = pairs.astype(np.int64, copy=False)
    return _EdgeList(pairs[:, 0], pairs[:, 1], np.ones(len(pairs)), None, str(path))


def _merged(listed: _EdgeList, node_ids: abc.Sequence, settings: Any, graph_type: type) -> Any:
    """The graph with each edge once: an edge listed twice (or, undirected, both ways)
    counts once, keeping its first listing; listings of one edge must agree on its weight."""
    s, t, n_nodes = listed.source, listed.target, len(node_ids)
    low, high = (s, t) if settings.directed else (np.minimum(s, t), np.maximum(s, t))
    keys = low * n_nodes + high
    if listed.lines is None:  # .npy: no weights to agree
        first = np.sort(np.unique(keys, return_index=True)[1])  # in the order listed
        return graph_type(n_nodes, s[first], t[first], listed.weight[first], settings, len(keys) - len(first))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    first = np.sort(first)  # in the order listed
    kept_weight = np.zeros(len(keys))
    kept_weight[inverse[first]] = listed.weight[first]
    differs = listed.weight != kept_weight[inverse]
    if differs.any():
        k = int(np.argmax(differs))
        before = int(np.flatnonzero(inverse == inverse[k])[0])  # the listing kept
        edge = f"{_clipped(node_ids[s[k]])}–{_clipped(node_ids[t[k]])}"
        raise NodeclfError(f"edge {edge} is listed on line {int(listed.lines[before])} with weight "
                           f"{kept_weight[inverse[k]]:g}, here {listed.weight[k]:g}: give each edge one weight",
                           listed.origin, int(listed.lines[k]))
    return graph_type(n_nodes, s[first], t[first], listed.weight[first], settings, len(keys) - len(first))


def _json_key_line(text: str, key: str) -> int | None:
    """The line of JSON ``text`` where ``"key":`` first stands (None: nowhere, or no key asked)."""
    import re

    found = re.search(rf'"{re.escape(key)}"\s*:', text) if key else None
    return None if found is None else text.count("\n", 0, found.start()) + 1


def load_loss(value: Any, source: str, line: int | None, classes: tuple, options: dict | None = None) -> Any:
    """The loss convention: ``loss: {class_weights: {cat: 2, dog: 1} (or [2, 1]), label_smoothing: 0.1,
    l2: 0.01, l2_form: half, l2_bias: false}``, with ``options`` (the same keys, given on
    the command line; None values left out) overriding it. None where neither gives any."""
    from .conventions import L2_FORMS, LossConvention

    options = {key: item for key, item in (options or {}).items() if item is not None}
    if value is None and not options:
        return None
    if value is not None and not isinstance(value, Mapping):
        raise NodeclfError(f"expected a mapping such as {{l2: 0.01, l2_form: half}}; found {kind_of(value)}",
                           source, line, "loss")
    settings: dict = {}
    for key in (value or {}):
        if key not in LOSS_KEYS:
            raise NodeclfError(f"unknown key {key!r}: expected {', '.join(LOSS_KEYS)}", source,
                               value.key_lines.get(key, line), "loss")
        settings[key] = (value[key], source, value.key_lines.get(key, line), f"loss.{key}")
    names = {"class_weights": "--class-weights", "label_smoothing": "--label-smoothing", "l2": "--l2",
             "l2_form": "--l2-form", "l2_bias": "--l2-bias"}
    for key, item in options.items():
        settings[key] = (item, names[key], None, None)
    out: dict = {}
    for key, (item, src, item_line, where) in settings.items():
        if key == "class_weights":
            out[key] = _class_weights(item, classes, src, item_line, where)
        elif key == "label_smoothing":
            eps = _loss_number(item, src, item_line, where)
            if not 0 <= eps < 1:
                raise NodeclfError(f"expected a number from 0 up to (not including) 1, found {item!r}",
                                   src, item_line, where)
            out[key] = eps
        elif key == "l2":
            lam = _loss_number(item, src, item_line, where)
            if not lam >= 0:
                raise NodeclfError(f"expected a number 0 or more, found {item!r}", src, item_line, where)
            out[key] = lam
        elif key == "l2_form":
            if item not in L2_FORMS:
                raise NodeclfError(f"expected one of {', '.join(L2_FORMS)}, found {item!r}", src, item_line, where)
            out[key] = item
        else:
            if not isinstance(item, bool):
                raise NodeclfError(f"expected true or false, found {item!r}", src, item_line, where)
            out[key] = item
    if out.get("l2_form") == "sklearn" and out.get("l2", 0) == 0:
        raise NodeclfError("l2_form sklearn takes C as l2: give a positive l2 (C = 1 is scikit-learn's default)",
                           source, line, "loss")
    return LossConvention(**out)


def _loss_number(item: Any, source: str, line: int | None, where: str | None) -> float:
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        raise NodeclfError(f"expected a number, found {_clipped(item)}", source, line, where)
    if not np.isfinite(item):
        raise NodeclfError(f"expected a finite number, found {item!r}", source, line, where)
    return float(item)


def _class_weights(item: Any, classes: tuple, source: str, line: int | None, where: str | None) -> tuple:
    """Class weights as a list in the classes' order, or a mapping from class name to weight."""
    names = [str(c) for c in classes]
    if isinstance(item, str):  # as the option writes them: "6,4" or "cat=6,dog=4"
        item = _weights_text(item, source, line, where)
    if isinstance(item, dict):
        unknown = [str(k) for k in item if str(k) not in names]
        if unknown:
            raise NodeclfError(f"no class {unknown[0]!r}: the classes are {', '.join(names)}", source, line, where)
        missing = [n for n in names if n not in {str(k) for k in item}]
        if missing:
            raise NodeclfError(f"no weight for class {missing[0]!r}: give one for each of {', '.join(names)}",
                               source, line, where)
        weights = [item[next(k for k in item if str(k) == n)] for n in names]
    elif isinstance(item, (list, tuple)):
        if len(item) != len(names):
            raise NodeclfError(f"expected {len(names)} weights (one per class: {', '.join(names)}), "
                               f"found {len(item)}", source, line, where)
        weights = list(item)
    else:
        raise NodeclfError(f"expected a list of weights or a mapping from class to weight, found {kind_of(item)}",
                           source, line, where)
    out = tuple(_loss_number(w, source, line, where) for w in weights)
    if any(w < 0 for w in out) or sum(out) <= 0:
        raise NodeclfError("expected weights 0 or more, not all 0", source, line, where)
    return out


def _weights_text(text: str, source: str, line: int | None, where: str | None) -> Any:
    """``6,4`` (a list in the classes' order) or ``cat=6,dog=4`` (a mapping) as written in an option."""
    parts = [part.strip() for part in text.split(",")]

    def number(part: str) -> float:
        try:
            return float(part)
        except ValueError:
            raise NodeclfError(f"expected a number, found {_clipped(part)} (write 6,4 or cat=6,dog=4)",
                               source, line, where) from None

    if all("=" in part for part in parts):
        pairs = [part.split("=", 1) for part in parts]
        return {name.strip(): number(value) for name, value in pairs}
    return [number(part) for part in parts]


# the option that overrides each setting of a problem's optimizer: key
OPTIMISER_OPTIONS = {"name": "--optimizer", "momentum": "--momentum", "dampening": "--dampening", "beta1": "--beta1",
                     "beta2": "--beta2", "eps": "--eps", "weight_decay": "--weight-decay", "state": "--state"}
BELOW_ONE = ("momentum", "dampening", "beta1", "beta2")  # settings from 0 up to (not including) 1


def load_optimiser(value: Any, source: str, line: int | None, W: np.ndarray | None, b: np.ndarray | None,
                   options: dict | None = None) -> Any:
    """The optimiser of a step (an optimstep.Optimiser; None where neither the problem nor an
    option names one): ``optimizer: adam``, or ``optimizer: {name: momentum, momentum: 0.8,
    state: {t: 1, velocity: {W: rows, b: numbers}}}``. ``options`` (the same keys as given on
    the command line, ``state`` a JSON file's path; None values left out) override it: another
    name takes the place of the key (its settings and state with it), a setting or the state
    replaces the key's own. A setting of another optimiser is refused, naming the key or option."""
    import json

    from .optimstep import SETTINGS, STEP_OPTIMIZERS, Optimiser, OptimiserSettings, empty_state, state_from_mapping

    options = {key: item for key, item in (options or {}).items() if item is not None}
    if value is None and not options:
        return None
    key_name, keys = None, {}
    if isinstance(value, str):
        key_name = value
    elif isinstance(value, Mapping):
        key_name = value.get("name")
        keys = {key: item for key, item in value.items() if key != "name"}
        if key_name is None:
            raise NodeclfError(f"expected name: one of {', '.join(STEP_OPTIMIZERS)}", source, line, "optimizer")
    elif value is not None:
        raise NodeclfError(f"expected an optimiser's name ({', '.join(STEP_OPTIMIZERS)}) or a mapping with name:; "
                           f"found {kind_of(value)}", source, line, "optimizer")
    key_line = (lambda key: value.key_lines.get(key, line)) if isinstance(value, Mapping) else (lambda key: line)
    if key_name is not None and key_name not in STEP_OPTIMIZERS:
        raise NodeclfError(f"expected one of {', '.join(STEP_OPTIMIZERS)}, found {_clipped(key_name)}", source,
                           key_line("name"), "optimizer.name" if isinstance(value, Mapping) else "optimizer")
    for key in keys:  # the key's settings belong to its own optimiser, whatever the options say
        if key != "state" and key not in SETTINGS[key_name]:
            owners = [name for name in STEP_OPTIMIZERS if key in SETTINGS[name]]
            expected = f"applies to {' or '.join(owners)}, not {key_name}" if owners else \
                f"unknown key {str(key)!r}: {key_name} takes {', '.join(('name', *SETTINGS[key_name], 'state'))}"
            raise NodeclfError(expected, source, key_line(key), f"optimizer.{key}")
    name = options.get("name", key_name or "sgd")
    if name != key_name:  # another optimiser than the key's: none of the key's settings or state
        keys = {}
    settings: dict = {}
    for key, item in keys.items():
        if key != "state":
            settings[key] = _optimiser_number(key, item, source, key_line(key), f"optimizer.{key}")
    for key, item in options.items():
        if key in ("name", "state"):
            continue
        option = OPTIMISER_OPTIONS[key]
        if key not in SETTINGS[name]:
            owners = [other for other in STEP_OPTIMIZERS if key in SETTINGS[other]]
            raise NodeclfError(f"applies to --optimizer {' or '.join(owners)}, not {name}", option)
        settings[key] = _optimiser_number(key, item, option, None, None)
    chosen = OptimiserSettings(name=name, **settings)
    state = empty_state(name)
    if options.get("state") is not None:
        path = Path(options["state"])
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except OSError as error:
            raise NodeclfError(f"cannot read the state file: {error.strerror or error}", path) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            place = getattr(error, "lineno", None)
            raise NodeclfError(f"not a JSON state file: {getattr(error, 'msg', error)}", path, place) from None
        state = state_from_mapping(data, name, *_state_shapes(W, b, path, None, "--state"), path,
                                   lambda key: _json_key_line(text, key))
    elif "state" in keys:
        written = keys["state"]
        state_line = key_line("state")
        lines = (lambda key: written.key_lines.get(key, state_line)) if isinstance(written, Mapping) else \
            (lambda key: state_line)
        state = state_from_mapping(written, name, *_state_shapes(W, b, source, state_line, "optimizer.state"),
                                   source, lines, "optimizer.state.", named=False)
    return Optimiser(chosen, state)


def _state_shapes(W: np.ndarray | None, b: np.ndarray | None, source: Any, line: int | None,
                  where: str) -> tuple[np.ndarray, np.ndarray]:
    """The weights a state's buffers are shaped as; a state without weights to shape it is refused."""
    if W is None or b is None:
        raise NodeclfError("an optimiser's state needs the weights it was taken at: add weights: or pass --weights",
                           source, line, where)
    return W, b


def _optimiser_number(key: str, item: Any, source: Any, line: int | None, where: str | None) -> float:
    """A setting of an optimiser: a finite number at least 0 (below 1 for μ, τ, β1, β2)."""
    number = _loss_number(item, source, line, where)
    below_one = key in BELOW_ONE
    if not (number >= 0 and (number < 1 or not below_one)):
        expected = "at least 0 and below 1" if below_one else "at least 0"
        raise NodeclfError(f"must be a finite number {expected}, found {_clipped(item)}", source, line, where)
    return number
