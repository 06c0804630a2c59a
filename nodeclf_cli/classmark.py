"""Marking a class: many answer sheets at once, each graded by :class:`grading.Grader`.

Owns which files are sheets (files given, and the ``.yaml``/``.yml`` files of folders
given), whose each sheet is (its ``student:``, else the file name's stem, or the
manifest's student whose files bear that name), matching
sheets to the manifest (a sheet naming another student's problem is refused), scoring
(:mod:`marks`), and the class's most frequent mistakes. A sheet that is bad input is
kept as a row saying why and never stops the rest. Each problem file is loaded once,
however many sheets name it. The verdicts are the grader's; nothing here re-judges.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .answers import load_answers
from .errors import EXIT_BAD_INPUT, EXIT_MISTAKES, EXIT_OK, NodeclfError
from .grading import Entry, Grade, Grader
from .marks import Scheme, Score, score_sheet
from .problem import Problem
from .quantities import NAMES
from .roster import Manifest, file_stem

SHEET_SUFFIXES = (".yaml", ".yml")


@dataclass
class MarkedSheet:
    """One sheet of the class: graded (``grader``, ``grade``, ``score``), or refused
    (``error``: why, as the one-line error message)."""

    path: Path
    student: str
    grader: Grader | None = None
    grade: Grade | None = None
    score: Score | None = None
    error: str | None = None

    @property
    def first_wrong(self) -> Entry | None:
        return None if self.grade is None else self.grade.first_wrong


@dataclass
class ClassMarks:
    """The class's sheets in the order given, the manifest's students who handed in
    none, and the identifier column (the roster's, through the manifest)."""

    sheets: list[MarkedSheet]
    absent: list[str] = field(default_factory=list)
    id_column: str = "student"
    notes: list[str] = field(default_factory=list)  # what the marking scheme leaves out

    @property
    def exit_status(self) -> int:
        """2 when any sheet was bad input, else 1 when any had a wrong number, else 0."""
        if any(s.error for s in self.sheets):
            return EXIT_BAD_INPUT
        if any(s.first_wrong is not None for s in self.sheets):
            return EXIT_MISTAKES
        return EXIT_OK


def sheet_paths(paths: list[Path]) -> list[Path]:
    """The sheets: each file given, and each folder's YAML files in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in SHEET_SUFFIXES and p.is_file())
            if not inside:
                raise NodeclfError("is a directory, expected a file or a folder of answer sheets (.yaml or .yml), "
                                  "and it holds none", path)
            found += inside
        else:
            found.append(path)
    return found


def mark_class(
    paths: list[Path], reduction: str = "mean", manifest: Manifest | None = None, scheme: Scheme | None = None,
    loss: dict | None = None, optimizer: dict | None = None,
) -> ClassMarks:
    """Grade every sheet in ``paths`` (files or folders), score it under ``scheme``
    (None: a point a number, full credit for following through), and check it
    against ``manifest`` when given; ``loss`` (the loss options) overrides each problem's ``loss:``,
    ``optimizer`` (the optimiser's options, as :func:`answers.load_answers` takes them) its ``optimizer:``."""
    scheme = scheme if scheme is not None else Scheme()
    problems: dict[tuple, Problem] = {}  # each problem file loaded once
    sheets: list[MarkedSheet] = []
    seen: dict[str, Path] = {}
    # a file named as generate names the student's problem (ids with "/" or "," in them)
    by_stem = {file_stem(s): s for s in manifest.assignments} if manifest is not None else {}
    for path in sheet_paths(paths):
        marked = MarkedSheet(path, by_stem.get(path.stem, path.stem))
        sheets.append(marked)
        try:
            sheet = load_answers(path, problems, loss, optimizer)
            marked.student = sheet.student or marked.student
            if marked.student in seen:
                raise NodeclfError(f"a second sheet for student {marked.student} (the first: {seen[marked.student]})",
                                   path)
            seen[marked.student] = path
            if manifest is not None:
                _match(manifest, marked.student, sheet.problem, path)
            marked.grader = Grader(sheet.problem, sheet.rows, reduction, sheet.requirement)
            marked.grade = marked.grader.grade()
            marked.score = score_sheet(scheme, marked.grader, marked.grade)
        except NodeclfError as exc:
            marked.error = str(exc)
            seen.setdefault(marked.student, path)  # handed in, if unreadable
    absent = [] if manifest is None else [s for s in manifest.assignments if s not in seen]
    notes = scheme_notes(scheme, [s.grader for s in sheets if s.grader is not None])
    return ClassMarks(sheets, absent, manifest.id_column if manifest is not None else "student", notes)


def scheme_notes(scheme: Scheme, graders: list) -> list[str]:
    """What a marking scheme leaves out of the scores: quantities the problems have that
    it gives no points, and quantities it gives points that no problem has."""
    asked = {q.name for grader in graders for q in grader.quantities}
    scored = {name for name, points in scheme.points.items() if points}
    notes = []
    unscored = [name for name in NAMES if name in asked - scored]
    if unscored and graders:
        notes.append(f"the marking scheme gives no points for {', '.join(unscored)}: "
                     "numbers written for them are judged but not scored")
    if graders and not scored & asked:
        notes.append("no quantity the marking scheme gives points for is in these problems: every score is 0")
    return notes


def _shown(path: Path) -> str:
    """A path as messages show it: relative to the working directory where it is inside it."""
    try:
        return Path(os.path.relpath(path)).as_posix() if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def _match(manifest: Manifest, student: str, problem: Problem, path: Path) -> None:
    """Refuse a sheet whose student is not in the manifest or whose problem is not theirs."""
    assignment = manifest.assignments.get(student)
    if assignment is None:
        raise NodeclfError(f"{student} is not in the manifest {manifest.source}", path, None, "student")
    named = Path(problem.source).resolve()
    if named == assignment.problem:
        return
    owner = manifest.by_problem().get(named)
    whose = f"the problem of {owner} ({_shown(named)})" if owner else f"the problem {_shown(named)}"
    raise NodeclfError(f"names {whose}, not {student}'s own ({_shown(assignment.problem)})", path, None, "problem")


@dataclass(frozen=True)
class Frequent:
    """A mistake of the class: a quantity and cause, on how many numbers and sheets."""

    quantity: str
    cause: str
    numbers: int
    students: int


def frequent_mistakes(marks: ClassMarks) -> list[Frequent]:
    """The wrong numbers of the class by quantity and cause, the most students first
    (what to teach again)."""
    numbers: Counter = Counter()
    students: Counter = Counter()
    for sheet in marks.sheets:
        if sheet.grade is None:
            continue
        wrong = [(e.quantity, e.cause) for e in sheet.grade.entries if e.verdict == "wrong"]
        numbers.update(wrong)
        students.update(set(wrong))
    order = {name: i for i, name in enumerate(NAMES)}
    ranked = sorted(numbers, key=lambda k: (-students[k], -numbers[k], order[k[0]], k[1] or ""))
    return [Frequent(q, cause or "slip", numbers[(q, cause)], students[(q, cause)]) for q, cause in ranked]

