"""Marking schemes: how many points each number of a sheet is worth, and its score.

A scheme (``--marks scheme.yaml``)::

    per: number            # points are per number (default), or per quantity, shared
                           # equally among that quantity's numbers
    points:                # the quantities asked, and their points; one left out is not
      logits: 1            # asked (default: every quantity, 1 point per number)
      loss: 2
    follow_through: 1      # the fraction of the points a number that follows through
                           # earns (full, 1, by default: adaptive marking)
    coarse: 0              # the fraction taken off a number written coarser than the
                           # problem requires (the grader's Entry.coarse)

A sheet's maximum counts every number of every quantity asked, so a number left out
earns nothing. Verdicts are the grader's; this module only weighs them:

    score = Σ_numbers points(q) · credit(verdict) · (1 − coarse if written coarser)
    credit(correct) = 1, credit(follows_through) = follow_through, credit(wrong) = 0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import NodeclfError, unknown
from .grading import Grade, Grader
from .quantities import BY_NAME, NAMES
from .sources import Mapping, check_keys, load_yaml, to_number

SCHEME_KEYS = ("per", "points", "follow_through", "coarse")


@dataclass(frozen=True)
class Scheme:
    """Points per quantity (per number, or per quantity when ``per_quantity``), the
    credit for following through and the deduction for a coarse number (fractions)."""

    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(NAMES, 1.0))
    per_quantity: bool = False
    follow_through: float = 1.0
    coarse: float = 0.0


@dataclass(frozen=True)
class Score:
    """A sheet's score and maximum, and how many asked numbers it left out."""

    score: float
    maximum: float
    missing: int


def count_of(grader: Grader, name: str) -> int:
    """How many numbers quantity ``name`` has in the grader's problem."""
    return int(grader.exact.values[name].size)


def points_per_number(scheme: Scheme, grader: Grader, name: str) -> float:
    """What one number of ``name`` is worth under ``scheme`` in this problem."""
    points = scheme.points.get(name, 0.0)
    return points / count_of(grader, name) if scheme.per_quantity else points


def credit(scheme: Scheme, verdict: str, coarse: bool) -> float:
    """The fraction of its points a number earns."""
    earned = {"correct": 1.0, "follows_through": scheme.follow_through, "wrong": 0.0}[verdict]
    return earned * (1.0 - scheme.coarse) if coarse else earned


def score_sheet(scheme: Scheme, grader: Grader, grade: Grade) -> Score:
    """The score of a graded sheet, its maximum, and the asked numbers it left out."""
    maximum = sum(points_per_number(scheme, grader, q) * count_of(grader, q) for q in scheme.points)
    score = sum(points_per_number(scheme, grader, e.quantity) * credit(scheme, e.verdict, e.coarse)
                for e in grade.entries)
    asked = sum(count_of(grader, q) for q, points in scheme.points.items() if points)
    answered = {(e.quantity, e.row, e.column) for e in grade.entries if scheme.points.get(e.quantity)}
    missing = asked - len(answered)
    return Score(float(np.round(score, 6)), float(np.round(maximum, 6)), missing)


def _fraction(data: Mapping, key: str, default: float, source: str) -> float:
    if key not in data:
        return default
    value = to_number(data[key], source, data.key_lines[key], key)
    if not 0 <= value <= 1:
        raise NodeclfError(f"expected a fraction from 0 to 1, found {data[key]}", source, data.key_lines[key], key)
    return value


def load_scheme(path: Path) -> Scheme:
    """The marking scheme in ``path`` (see the module notes), checked."""
    data = load_yaml(path)
    source = str(path)
    check_keys(data, SCHEME_KEYS, path, "a mapping with points: (and per:, follow_through:, coarse:)",
               ", ".join(SCHEME_KEYS))
    per = data.get("per", "number")
    if per not in ("number", "quantity"):
        raise NodeclfError(f"expected number or quantity, found {per!r}", path, data.key_lines.get("per"), "per")
    points = dict.fromkeys(NAMES, 1.0)
    if "points" in data:
        given = data["points"]
        if not isinstance(given, Mapping) or not given:
            raise NodeclfError("expected a mapping of quantity to points, such as {logits: 1, loss: 2}",
                               path, data.key_lines["points"], "points")
        points = {}
        for name, value in given.items():
            line = given.key_lines[name]
            if name not in BY_NAME:
                raise unknown("quantity", name, NAMES, path, line, "points")
            number = to_number(value, source, line, f"points.{name}")
            if number < 0:
                raise NodeclfError(f"expected points of at least 0, found {value}", path, line, f"points.{name}")
            points[name] = number
        points = {name: points[name] for name in NAMES if name in points}  # in the order of the step
    return Scheme(points, per == "quantity", _fraction(data, "follow_through", 1.0, source),
                  _fraction(data, "coarse", 0.0, source))
