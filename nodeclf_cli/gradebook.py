"""The class's scores as a CSV for a course's gradebook, with a line of feedback each.

Rows are keyed by the roster's identifier column (through the manifest), so Moodle's
grade import can map it to the user's ID number or email address. A roster keyed by
Canvas's ``SIS User ID`` gets Canvas's own layout (``Student, ID, SIS User ID, SIS Login
ID, Section``, then the score), which Canvas's gradebook import reads; Canvas imports no
comments, so its file carries no feedback column (the pages of ``--feedback`` do).
"""

from __future__ import annotations

import csv
import io

from .classmark import ClassMarks, MarkedSheet
from .render_class import first_wrong_words, points

SCORE_COLUMN = "nodeclf score"
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def feedback_line(sheet: MarkedSheet) -> str:
    """One line for the student: the score and counts and where to look first, or why
    the sheet was not marked."""
    if sheet.error is not None:
        return f"Not marked: {sheet.error}"
    grade, score = sheet.grade, sheet.score
    follows = grade.count("follows_through")
    line = (f"{points(score.score)} of {points(score.maximum)} points: {grade.count('correct')} right, "
            f"{follows} {'follows' if follows == 1 else 'follow'} through, {grade.count('wrong')} wrong")
    if score.missing:
        line += f", {score.missing} not answered"
    if sheet.first_wrong is None:
        return line + "."
    return line + f"; look first at {first_wrong_words(sheet)}."


def gradebook_csv(marks: ClassMarks) -> str:
    """The gradebook: a row per sheet marked or refused, and per student of the
    manifest who handed in none (the score left empty: no grade)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    canvas = marks.id_column == "SIS User ID"
    writer.writerow([*CANVAS_COLUMNS, SCORE_COLUMN] if canvas else [marks.id_column, SCORE_COLUMN, "feedback"])
    rows = [(s.student, "" if s.score is None else points(s.score.score), feedback_line(s)) for s in marks.sheets]
    rows += [(student, "", "No sheet was handed in.") for student in marks.absent]
    for student, score, line in rows:
        writer.writerow(["", "", student, "", "", score] if canvas else [student, score, line])
    return buffer.getvalue()
