"""Presentation of a graded answer sheet: tables per quantity, a summary, JSON."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.text import Text

from .errors import counted
from .grading import CAUSES, QUANTITIES, Entry, Grade, Grader
from .render import Section

MARKS = {"correct": "✓", "follows_through": "→", "wrong": "✗"}
TITLES = {
    "logits": "Logits  h_i[c] = z_i · w_c + b_c",
    "probabilities": "Softmax  p_i[c] = exp(h_i[c]) / Σ_q exp(h_i[q])",
    "loss_per_node": "Loss per node  ℓ_i = −ln p_i[y_i]",
    "loss": "Loss  L",
    "grad_logits": "Gradient at the logits  ∂L/∂h_i",
    "grad_W": "Gradient  ∂L/∂w_c",
    "grad_b": "Gradient  ∂L/∂b",
    "W_new": "Updated weights  w_c := w_c − α ∂L/∂w_c",
    "b_new": "Updated biases  b := b − α ∂L/∂b",
}


def check_sections(grader: Grader, grade: Grade) -> list[Section]:
    """One section per quantity answered: a row per written vector, its entries'
    verdicts side by side, and under it what went wrong where."""
    sections = []
    for name, entries in groupby(grade.entries, key=lambda e: e.quantity):
        entries = list(entries)
        kind = QUANTITIES[name][0]
        section = Section(TITLES[name], [kind or "", "given", "expected", "verdict", "why"])
        for key, row in groupby(entries, key=lambda e: e.key):
            row = list(row)
            expected = [grader._shown(e.expected, e.decimals) for e in row]
            causes = list(dict.fromkeys(CAUSES[e.cause] for e in row if e.cause))
            section.add_row(
                "" if key is None else str(key),
                ", ".join(e.given for e in row),
                ", ".join(expected),
                " ".join(MARKS[e.verdict] for e in row),
                ", ".join(causes),
            )
            for e in row:
                if e.verdict != "correct":
                    section.add_notes(f"{MARKS[e.verdict]} {_place(grader, e)}: {e.given}: {e.message}")
        sections.append(section)
    return sections


def _place(grader: Grader, entry: Entry) -> str:
    rows = grader.problem.node_ids if QUANTITIES[entry.quantity][0] == "node" else grader.problem.classes
    r = 0
    if entry.key is not None:
        r = next(i for i, name in enumerate(rows) if str(name) == str(entry.key))
    return grader.label(entry.quantity, r, entry.index or 0)


def summary_text(grader: Grader, grade: Grade) -> str:
    counts = (
        f"{grade.count('correct')} right, {grade.count('follows_through')} "
        f"{'follows' if grade.count('follows_through') == 1 else 'follow'} through, "
        f"{grade.count('wrong')} wrong (of {counted(len(grade.entries), 'number')})."
    )
    first = grade.first_wrong
    if first is None:
        return counts + " Nothing is wrong."
    return counts + f" Look first at {first.quantity}: {_place(grader, first)}."


def summary(grader: Grader, grade: Grade) -> Text:
    style = "bold green" if grade.first_wrong is None else "bold red"
    return Text(summary_text(grader, grade), style=style)


def check_json(grade: Grade) -> dict[str, Any]:
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
    }
