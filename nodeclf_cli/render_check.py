"""Presentation of a graded answer sheet: tables per quantity, a summary, JSON.

Titles, row kinds and symbols come from the quantity registry; nothing here prints.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.text import Text

from .errors import counted
from .grading import Entry, Grade, Grader, shown
from .mistakes import CAUSES
from .quantities import BY_NAME, loss_formula
from .render import Section

MARKS = {"correct": "✓", "follows_through": "→", "wrong": "✗"}


def _title(name: str, reduction: str) -> str:
    q = BY_NAME[name]
    return f"{q.title}  {loss_formula(reduction)}" if name == "loss" else q.heading


def _expected(grader: Grader, entry: Entry) -> str:
    """The exact value as the student should have written it: at the precision they
    wrote, or the required one where they wrote coarser."""
    required = grader.requirement.of(BY_NAME[entry.quantity].loss_precision)
    decimals = entry.decimals
    if entry.coarse and required.decimals is not None:
        decimals = max(decimals, required.decimals)
    return shown(entry.expected, decimals)


def check_sections(grader: Grader, grade: Grade) -> list[Section]:
    """One section per quantity answered: a row per written vector, its entries'
    verdicts side by side, and under it what went wrong where, and why a right
    answer differs from the exact value where it does."""
    sections = []
    for name, entries in groupby(grade.entries, key=lambda e: e.quantity):
        entries = list(entries)
        headers = [BY_NAME[name].rows or "", "given", "expected", "verdict", "why"]
        section = Section(_title(name, grader.reduction), headers)
        for key, row in groupby(entries, key=lambda e: (e.key, e.row)):
            row = list(row)
            causes = list(dict.fromkeys(CAUSES[e.cause] for e in row if e.cause))
            section.add_row(
                "" if key[0] is None else str(key[0]),
                ", ".join(e.given for e in row),
                ", ".join(_expected(grader, e) for e in row),
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
            "first_wrong": None if first is None else first.quantity,
        },
        "precision": grader.requirement.describe(),
    }
