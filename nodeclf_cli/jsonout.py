"""JSON output, a piece at a time: numpy arrays row by row, one row a line, and numbers
that JSON cannot hold (an infinite loss from a probability rounded to 0) as null.

``json.dumps`` of a big step (169,343 nodes x 40 classes, several matrices) builds
every number as a Python object and the whole text in memory, one number a line with
``indent``: gigabytes for a 590 MB document. :func:`chunks` yields the document in
pieces whose size is a row's, so it can be written as it is made.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

_NON_FINITE = re.compile(r"-?Infinity|NaN")


def _plain(value: Any) -> Any:
    """Numbers and containers as JSON can hold them: numpy scalars as Python ones,
    non-finite floats as None."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _row(values: np.ndarray) -> str:
    text = json.dumps(values.tolist())
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        text = _NON_FINITE.sub("null", text)
    return text


def chunks(data: dict[str, Any]) -> Iterator[str]:
    """``data`` as an indented JSON object, in pieces: a 2-d array a row a line, a 1-d
    array or a list of plain values on one line, everything else as ``json.dumps``
    writes it."""
    yield "{"
    for k, (key, value) in enumerate(data.items()):
        yield ("," if k else "") + f"\n  {json.dumps(key)}: "
        if isinstance(value, np.ndarray) and value.ndim == 2:
            yield "["
            for i, row in enumerate(value):
                yield ("," if i else "") + "\n    " + _row(row)
            yield "\n  ]" if len(value) else "]"
        elif isinstance(value, np.ndarray) and value.ndim == 1:
            yield _row(value)
        elif isinstance(value, (list, tuple)) and not any(isinstance(v, (dict, list, tuple)) for v in value):
            yield json.dumps(_plain(value), allow_nan=False)  # node ids, class names: one line
        else:
            yield json.dumps(_plain(value), indent=2, allow_nan=False).replace("\n", "\n  ")
    yield "\n}\n"


def dumps(data: dict[str, Any] | list) -> str:
    """The whole document as one string (for small outputs)."""
    if isinstance(data, list):
        return json.dumps(_plain(data), indent=2, allow_nan=False) + "\n"
    return "".join(chunks(data))


@dataclass(frozen=True)
class Document:
    """A JSON document to be written in pieces: calling it (with the place it goes,
    unused) gives them, afresh each time, so a file that must go elsewhere is made again."""

    data: dict[str, Any]

    def __call__(self, place: Path | None = None) -> Iterator[str]:
        return chunks(self.data)
