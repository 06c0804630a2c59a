"""Feedback pages: per student, their sheet marked number by number, as Markdown and
as one self-contained HTML page (styles inline, no scripts, nothing fetched: the
page's Content-Security-Policy forbids every request), to email or upload.

Each number's row gives the place, what was written, what was expected, the verdict,
its cause and the grader's message (which says what a number follows from). Formulas
are plain Unicode text, each as the problem uses it (its loss convention and optimiser).
Verdicts and messages are the grader's.
"""

from __future__ import annotations

import html
from itertools import groupby
from pathlib import Path

from .classmark import ClassMarks, MarkedSheet
from .export import markdown_section
from .gradebook import feedback_line
from .mistakes import CAUSES
from .quantities import BY_NAME
from .render import Section
from .render_check import MARKS, expected_text  # the check tables' own expected values
from .render_loss import quantity_formula
from .roster import file_stem

VERDICT_WORDS = {"correct": "right", "follows_through": "follows through", "wrong": "wrong"}
HEADERS = ["number", "given", "expected", "verdict", "why", "message"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1a1a1a; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #e8e8e8; }
td.number, td.place, td.verdict { white-space: nowrap; }
td.number { font-variant-numeric: tabular-nums; }
tr.correct td.verdict { background: #c8efc8; }
tr.follows_through td.verdict { background: #fdf1b8; }
tr.wrong td.verdict { background: #f7c4c4; }
p.summary { font-weight: 600; }
"""
# Nothing may be loaded from anywhere: not a script, style, font, image or frame.
POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def entry_sections(sheet: MarkedSheet) -> list[Section]:
    """A section per quantity answered, a row per number (see :data:`HEADERS`)."""
    grader, sections = sheet.grader, []
    for name, entries in groupby(sheet.grade.entries, key=lambda e: e.quantity):
        problem = grader.problem
        formula = quantity_formula(name, problem.convention, grader.reduction, problem.graph is not None,
                                   problem.optimiser_name)
        section = Section(f"{BY_NAME[name].title}  {formula}", HEADERS)
        for e in entries:
            section.add_row(grader.label(e.quantity, e.row, e.column), e.given, expected_text(grader, e),
                            f"{MARKS[e.verdict]} {VERDICT_WORDS[e.verdict]}", CAUSES[e.cause] if e.cause else "",
                            e.message)
        sections.append(section)
    return sections


def _page_title(sheet: MarkedSheet, id_column: str) -> str:
    return f"Feedback for {id_column} {sheet.student}"


def _about(sheet: MarkedSheet) -> str:
    if sheet.grader is None:
        return f"Sheet: {sheet.path.name}"
    return f"Sheet: {sheet.path.name}; problem: {Path(sheet.grader.problem.source).name}; " \
           f"precision required: {sheet.grader.requirement.describe()}"


def markdown_page(sheet: MarkedSheet, id_column: str) -> str:
    """The student's page as Markdown."""
    parts = [f"# {_page_title(sheet, id_column)}\n", f"{_about(sheet)}\n", f"**{feedback_line(sheet)}**\n"]
    if sheet.grade is not None:
        parts.append("✓ right, → follows through (wrong, but right from your own earlier values), ✗ wrong.\n")
        parts += [markdown_section(section) for section in entry_sections(sheet)]
    return "\n".join(parts)


def html_page(sheet: MarkedSheet, id_column: str) -> str:
    """The student's page as one self-contained HTML document."""
    e = html.escape
    body = [f"<h1>{e(_page_title(sheet, id_column))}</h1>", f"<p>{e(_about(sheet))}</p>",
            f'<p class="summary">{e(feedback_line(sheet))}</p>']
    if sheet.grade is not None:
        body.append("<p>✓ right, → follows through (wrong, but right from your own earlier values), ✗ wrong.</p>")
        verdicts = [entry.verdict for entry in sheet.grade.entries]
        position = 0
        for section in entry_sections(sheet):
            body += [f"<h2>{e(section.formula)}</h2>", "<table>",
                     "<tr>" + "".join(f"<th>{e(h)}</th>" for h in section.headers) + "</tr>"]
            for row in section.rows:
                kinds = ["place", "number", "number", "verdict", "why", "message"]
                cells = "".join(f'<td class="{kind}">{e(str(cell))}</td>' for kind, cell in zip(kinds, row))
                body.append(f'<tr class="{verdicts[position]}">{cells}</tr>')
                position += 1
            body.append("</table>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{e(_page_title(sheet, id_column))}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


def feedback_files(marks: ClassMarks, folder: Path) -> list[tuple[Path, str]]:
    """Each student's pages, ``folder/STUDENT.md`` and ``folder/STUDENT.html``."""
    files, taken = [], set()
    for sheet in marks.sheets:
        name = file_stem(sheet.student)
        if name.lower() in taken:  # a second sheet for the student, refused: named by its file too
            name = f"{name}-{file_stem(sheet.path.stem)}"
        taken.add(name.lower())
        stem = folder / name
        files += [(stem.with_name(stem.name + ".md"), markdown_page(sheet, marks.id_column)),
                  (stem.with_name(stem.name + ".html"), html_page(sheet, marks.id_column))]
    return files
