"""Presentation of a marked class: a row per student, the most frequent mistakes, a
summary line, and JSON of everything. Verdicts and scores come from
:mod:`classmark` (the grader's); nothing here prints."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from .classmark import ClassMarks, MarkedSheet, frequent_mistakes
from .errors import counted
from .mistakes import CAUSES
from .problem import shown_source
from .quantities import BY_NAME
from .render import Section
from .render_check import check_json


def points(value: float) -> str:
    """A score as a person writes it: 71, 70.5, 70.25."""
    return format(round(value, 2), "g")


def first_wrong_words(sheet: MarkedSheet) -> str:
    """``logits: h[0] of node 5``: where to look first, or "none"."""
    first = sheet.first_wrong
    if first is None:
        return "none"
    return f"{first.quantity}: {sheet.grader.label(first.quantity, first.row, first.column)}"


def student_section(marks: ClassMarks) -> Section:
    """A row per sheet: student, score, how many numbers right / follow through /
    wrong, and the first wrong step; a refused sheet's row says so, and a note under
    the table why."""
    section = Section("The class", [marks.id_column, "score", "✓", "→", "✗", "first wrong"])
    for sheet in marks.sheets:
        if sheet.error is not None:
            section.add_row(sheet.student, "—", "", "", "", "not marked")
            section.add_notes(f"{sheet.student}: not marked: {sheet.error}")
            continue
        grade, score = sheet.grade, sheet.score
        section.add_row(
            sheet.student, f"{points(score.score)} / {points(score.maximum)}", str(grade.count("correct")),
            str(grade.count("follows_through")), str(grade.count("wrong")), first_wrong_words(sheet),
        )
    for student in marks.absent:
        section.add_row(student, "—", "", "", "", "no sheet")
    section.notes.insert(0, "✓ right, → follows through from the student's own earlier values, ✗ wrong (numbers).")
    return section


def mistakes_section(marks: ClassMarks) -> Section:
    """The class's wrong numbers by quantity and cause, the most students first."""
    section = Section("The most frequent mistakes", ["quantity", "cause", "students", "numbers"])
    for mistake in frequent_mistakes(marks):
        section.add_row(BY_NAME[mistake.quantity].title, CAUSES[mistake.cause], str(mistake.students),
                        str(mistake.numbers))
    return section


def summary_text(marks: ClassMarks) -> str:
    """The line under the tables: sheets marked and not, with mistakes, the mean score."""
    marked = [s for s in marks.sheets if s.error is None]
    bad = len(marks.sheets) - len(marked)
    wrong = sum(s.first_wrong is not None for s in marked)
    words = f"{counted(len(marks.sheets), 'sheet')}: {len(marked)} marked"
    if bad:
        words += f", {bad} not marked (bad input)"
    if marked:
        mean = sum(s.score.score for s in marked) / len(marked)
        words += f"; {wrong} with mistakes; mean score {points(mean)}"
        maxima = {s.score.maximum for s in marked}
        if len(maxima) == 1:
            words += f" of {points(maxima.pop())}"
    if marks.absent:
        words += f"; {counted(len(marks.absent), 'student')} of the manifest handed in none"
    return words + "."


def class_report(marks: ClassMarks) -> list:
    """The class's tables and summary, as renderables."""
    style = "bold green" if marks.exit_status == 0 else "bold red"
    mistakes = mistakes_section(marks)
    notes = [Text(f"note: {note}", style="dim") for note in marks.notes]
    return [student_section(marks), *notes, *([mistakes] if mistakes.rows else []),
            Text(summary_text(marks), style=style)]


def class_json(marks: ClassMarks) -> dict[str, Any]:
    """Everything: per sheet its student, file, score, counts, first wrong step and
    entries (as ``check --format json`` writes them), or why it was not marked; the
    frequent mistakes; the class's counts."""
    sheets = []
    for sheet in marks.sheets:
        item: dict[str, Any] = {"student": sheet.student, "file": str(sheet.path), "error": sheet.error}
        if sheet.error is None:
            graded = check_json(sheet.grader, sheet.grade)
            item.update({
                "problem": shown_source(sheet.grader.problem.source),
                "score": sheet.score.score, "maximum": sheet.score.maximum, "missing": sheet.score.missing,
                **graded["summary"], "precision": graded["precision"], "entries": graded["entries"],
            })
        sheets.append(item)
    return {
        "id_column": marks.id_column,
        "sheets": sheets,
        "absent": marks.absent,
        "mistakes": [{"quantity": m.quantity, "cause": m.cause, "students": m.students, "numbers": m.numbers}
                     for m in frequent_mistakes(marks)],
        "notes": marks.notes,
        "exit_status": marks.exit_status,
    }
