"""Presentation of a graded answer sheet: tables per quantity, a summary, JSON.

Titles, row kinds and symbols come from the quantity registry; nothing here prints.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.text import Text

from .conventions import penalty_formula
from .errors import counted
from .grading import Entry, Grade, Grader, shown
from .mistakes import cause_label
from .quantities import BY_NAME
from .render import Section

MARKS = {"correct": "✓", "follows_through": "→", "wrong": "✗"}


def expected_text(grader: Grader, entry: Entry) -> str:
    """The exact value as the student should have written it: at the places they wrote,
    or the required places where they wrote fewer."""
    return shown(entry.expected, grader.places(entry.quantity, entry.decimals, entry.expected))


def _rows(grader: Grader, entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """The table's rows: one per written row (a node's or a class's numbers side by
    side), but for a per-class vector (∂L/∂b, b) one per class, named."""
    q = BY_NAME[entries[0].quantity]
    if q.axes == ("class",):
        return [(str(grader.problem.classes[e.column]), [e]) for e in entries]
    by_row = groupby(entries, key=lambda e: (e.key, e.row))
    return [("" if key is None else str(key), list(row)) for (key, _), row in by_row]


def check_sections(grader: Grader, grade: Grade) -> list[Section]:
    """One section per quantity answered: a row per written vector, its entries'
    verdicts side by side, and under it what went wrong where, and why a right
    answer differs from the exact value where it does."""
    sections = []
    for name, entries in groupby(grade.entries, key=lambda e: e.quantity):
        entries = list(entries)
        q = BY_NAME[name]
        headers = ["class" if q.axes == ("class",) else (q.rows or ""), "given", "expected", "verdict", "why"]
        heading = BY_NAME[name].heading(grader.reduction, grader.problem.graph is not None,
                                        grader.problem.optimiser_name)
        if name == "penalty":  # its formula is the problem's form's
            heading = f"{BY_NAME[name].title}  {penalty_formula(grader.problem.convention, grader.reduction)}"
        section = Section(heading, headers)
        for key, row in _rows(grader, entries):
            causes = list(dict.fromkeys(cause_label(e.cause, grader.reduction) for e in row if e.cause))
            section.add_row(
                key,
                ", ".join(e.given for e in row),
                ", ".join(expected_text(grader, e) for e in row),
                " ".join(MARKS[e.verdict] for e in row),
                ", ".join(causes),
            )
            for e in row:
                if e.verdict != "correct" or e.noted:
                    place = grader.label(e.quantity, e.row, e.column)
                    section.add_notes(f"{MARKS[e.verdict]} {place}: {e.given}: {e.message}")
        sections.append(section)
    return sections


def summary_text(grader: Grader, grade: Grade) -> str:
    follows = grade.count("follows_through")
    coarse = sum(e.coarse for e in grade.entries)
    counts = (
        f"{grade.count('correct')} right, {follows} {'follows' if follows == 1 else 'follow'} through, "
        f"{grade.count('wrong')} wrong (of {counted(len(grade.entries), 'number')})."
    )
    if coarse:
        counts += (f" {counted(coarse, 'number')} written coarser than the "
                   f"{grader.requirement.describe()} required.")
    first = grade.first_wrong
    if first is None:
        return counts + " Nothing is wrong."
    return counts + f" Look first at {first.quantity}: {grader.label(first.quantity, first.row, first.column)}."


def summary(grader: Grader, grade: Grade) -> Text:
    style = "bold green" if grade.first_wrong is None else "bold red"
    return Text(summary_text(grader, grade), style=style)


def check_json(grader: Grader, grade: Grade) -> dict[str, Any]:
    first = grade.first_wrong
    return {
        "entries": [
            {
                "quantity": e.quantity,
                "key": None if e.key is None else str(e.key),
                "index": e.index,
                "given": float(e.given),
                "expected": e.expected,
                "verdict": e.verdict,
                "cause": e.cause,
                "coarse": e.coarse,
                "message": e.message,
            }
            for e in grade.entries
        ],
        "summary": {
            "correct": grade.count("correct"),
            "follows_through": grade.count("follows_through"),
            "wrong": grade.count("wrong"),
            "coarse": sum(e.coarse for e in grade.entries),
            "first_wrong": None if first is None else first.quantity,
        },
        "precision": grader.requirement.describe(),
    }
