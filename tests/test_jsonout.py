"""JSON written a piece at a time: the same data as json.dumps, rows on lines, and
numbers JSON cannot hold as null."""

from __future__ import annotations

import json

import numpy as np

from nodeclf_cli import jsonout


def test_chunks_are_the_same_data_as_json_dumps():
    data = {"ids": [1, "b", 3], "M": np.arange(6.0).reshape(2, 3) / 7, "v": np.array([0.1, -2.5]),
            "x": 0.2, "nested": {"a": [1, 2], "b": "text"}, "empty": np.zeros((0, 3))}
    text = jsonout.dumps(data)
    assert json.loads(text) == json.loads(json.dumps({**data, "M": data["M"].tolist(), "v": data["v"].tolist(),
                                                      "empty": []}))
    assert "\n    [0.0, 0.14285714285714285, 0.2857142857142857]," in text  # a row a line, shortest repr
    assert '"ids": [1, "b", 3]' in text


def test_numbers_json_cannot_hold_are_null():
    data = {"loss": float("inf"), "row": np.array([1.0, np.nan, -np.inf]), "M": np.array([[np.inf, 1.0]]),
            "scalar": np.float64("nan"), "list": [float("-inf"), 2.0]}
    assert json.loads(jsonout.dumps(data)) == {"loss": None, "row": [1.0, None, None], "M": [[None, 1.0]],
                                               "scalar": None, "list": [None, 2.0]}


def test_chunks_are_row_sized():
    big = np.random.default_rng(0).normal(size=(1000, 40))
    pieces = list(jsonout.chunks({"M": big}))
    assert max(map(len, pieces)) < 40 * 30
    assert np.array_equal(np.array(json.loads("".join(pieces))["M"]), big)
