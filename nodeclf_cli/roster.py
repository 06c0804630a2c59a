"""A class's roster and manifest: who the students are, each one's seed and files.

A roster is a CSV exported from the course's gradebook with at least one column that
identifies a student. Moodle's export has ``ID number`` and ``Email address``; Canvas's
has ``SIS User ID``. The identifier column is the one named (``--id-column``), else the
first of :data:`ID_COLUMNS` present whose every row holds a distinct, non-empty value.

Each student's problem is seeded from the course seed and the student's identifier::

    seed(student) = first 8 bytes of SHA-256("<course seed>:<identifier>"), big-endian

so the same roster and course seed give the same files, and a student added later
changes no one else's. The manifest (CSV) records, per student, the seed, the problem
file and the answer key (paths relative to the manifest); its first column is headed
by the roster's identifier column, which the gradebook writes back.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingFile, NodeclfError

# Identifier columns tried in order: Moodle's ID number (its grade import maps it to
# useridnumber), Canvas's SIS User ID, Moodle's Email address, then common names.
ID_COLUMNS = ("ID number", "SIS User ID", "Email address", "Student ID", "student", "id", "email")
MANIFEST_COLUMNS = ("seed", "problem", "key")


@dataclass(frozen=True)
class Roster:
    """The students of a roster, in its order, and the column they were read from."""

    id_column: str
    students: tuple[str, ...]
    source: str


def _read_csv(path: Path) -> list[list[str]]:
    """The rows of a CSV file (UTF-8, with or without a byte-order mark; ``,``, ``;``
    or tab separated, as spreadsheets export)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MissingFile(path) from None
    except UnicodeDecodeError as exc:
        raise NodeclfError(f"not UTF-8 text (byte {exc.start}); export the CSV as UTF-8", path) from None
    except OSError as exc:
        raise NodeclfError(f"cannot read the file: {exc.strerror or exc}", path) from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(cell.strip() for cell in row)]


def read_roster(path: Path, id_column: str | None = None) -> Roster:
    """The roster in ``path``, identified by ``id_column`` or the detected column."""
    rows = _read_csv(path)
    if not rows:
        raise NodeclfError("the roster is empty: expected a header row and one row per student", path, 1)
    header = [cell.strip() for cell in rows[0]]
    # Canvas's export has a "Points Possible" row under the header, which is no student
    body = [(number, row) for number, row in enumerate(rows[1:], start=2)
            if not (row and row[0].strip() == "Points Possible")]
    if not body:
        raise NodeclfError("the roster has a header but no students", path, 1)
    for number, row in body:  # a row cut short or run on: a spreadsheet export gone wrong
        if len(row) != len(header) and any(cell.strip() for cell in row):
            raise NodeclfError(f"expected {len(header)} cells, as the header has; found {len(row)}", path, number)

    def values(column: int) -> list[tuple[int, str]]:
        return [(number, row[column].strip() if column < len(row) else "") for number, row in body]

    if id_column is not None:
        if id_column not in header:
            raise NodeclfError(f"no column {id_column!r}; the columns are {', '.join(map(repr, header))}",
                               path, 1, "--id-column")
        column = header.index(id_column)
        for number, value in values(column):
            if not value:
                raise NodeclfError(f"no {id_column} for this student", path, number)
        _check_distinct(values(column), id_column, path)
    else:
        usable = [name for name in ID_COLUMNS if name in header and _distinct(values(header.index(name)))]
        if not usable:
            raise NodeclfError(
                "no column identifies every student with a distinct, non-empty value (looked for "
                + ", ".join(repr(name) for name in ID_COLUMNS) + "); name one with --id-column", path, 1,
            )
        id_column = usable[0]
        column = header.index(id_column)
    for number, value in values(column):
        if (bad := next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)) is not None:
            raise NodeclfError(f"the {id_column} holds a control character (U+{ord(bad):04X}), which no file, "
                               "gradebook or message can show; fix the roster", path, number)
    return Roster(id_column, tuple(value for _, value in values(column)), str(path))


def _distinct(values: list[tuple[int, str]]) -> bool:
    texts = [value for _, value in values]
    return all(texts) and len(set(texts)) == len(texts)


def _check_distinct(values: list[tuple[int, str]], column: str, path: Path) -> None:
    seen: dict[str, int] = {}
    for number, value in values:
        if value in seen:
            raise NodeclfError(f"{column} {value!r} is given twice (first on line {seen[value]})", path, number)
        seen[value] = number


def student_seed(course_seed: int, student: str) -> int:
    """The seed of ``student``'s problem: the first 8 bytes of SHA-256 of
    ``"<course_seed>:<student>"``, as a big-endian whole number."""
    digest = hashlib.sha256(f"{course_seed}:{student}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


# longest file stem: file systems allow 255 bytes a name, and ``.yaml`` and a folder go on it
LONGEST_STEM = 100


def file_stem(student: str) -> str:
    """A file name for ``student``: letters, digits and ``.@+-`` kept, the rest ``_``;
    one longer than :data:`LONGEST_STEM` is cut, and ends in 8 hexadecimal digits of
    the identifier's SHA-256 so that two long identifiers stay two files."""
    stem = re.sub(r"[^\w.@+-]", "_", student, flags=re.ASCII).lstrip(".") or "_"
    if len(stem) > LONGEST_STEM:
        stem = stem[:LONGEST_STEM - 9] + "-" + hashlib.sha256(student.encode("utf-8")).hexdigest()[:8]
    return stem


def file_stems(roster: Roster) -> dict[str, str]:
    """Each student's file stem, refusing two students whose stems would be one file
    (names that differ only in characters a file name cannot hold, or only in case)."""
    stems: dict[str, str] = {}
    taken: dict[str, str] = {}
    for student in roster.students:
        stem = file_stem(student)
        if stem.lower() in taken:
            raise NodeclfError(
                f"{student!r} and {taken[stem.lower()]!r} would share the file name {stem!r}; "
                "use another identifier column (--id-column)", roster.source,
            )
        taken[stem.lower()] = student
        stems[student] = stem
    return stems


# --- the manifest ------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """One student's problem and answer key (absolute paths) and the seed they came from."""

    student: str
    seed: int
    problem: Path
    key: Path


@dataclass(frozen=True)
class Manifest:
    """The class's assignments by student, and the roster's identifier column."""

    id_column: str
    assignments: dict[str, Assignment]
    source: str

    def by_problem(self) -> dict[Path, str]:
        """The student each problem file was made for."""
        return {a.problem: a.student for a in self.assignments.values()}


def manifest_csv(id_column: str, assignments: list[Assignment], base: Path) -> str:
    """The manifest's text: a header (the roster's identifier column, seed, problem,
    key), then one row per student, paths relative to ``base`` (the manifest's folder)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([id_column, *MANIFEST_COLUMNS])
    for a in assignments:
        writer.writerow([a.student, a.seed, a.problem.relative_to(base).as_posix(), a.key.relative_to(base).as_posix()])
    return buffer.getvalue()


def read_manifest(path: Path) -> Manifest:
    """The manifest ``generate --students`` wrote (paths relative to it)."""
    rows = _read_csv(path)
    if not rows or tuple(cell.strip() for cell in rows[0][1:]) != MANIFEST_COLUMNS:
        raise NodeclfError(
            "not a manifest: expected a header STUDENT-COLUMN,seed,problem,key (as generate --students writes)",
            path, 1,
        )
    assignments: dict[str, Assignment] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 4:
            raise NodeclfError(f"expected 4 columns, found {len(row)}", path, number)
        student, seed, problem, key = (cell.strip() for cell in row)
        if not seed.isdigit():
            raise NodeclfError(f"the seed must be a whole number, found {seed!r}", path, number)
        if student in assignments:
            raise NodeclfError(f"student {student!r} is given twice", path, number)
        if not student or not problem:
            raise NodeclfError(f"the {'student' if not student else 'problem'} is empty", path, number)
        problem_file = (path.parent / problem).resolve()
        if not problem_file.is_file():
            raise NodeclfError(f"problem: no such file: {problem}", path, number)
        assignments[student] = Assignment(student, int(seed), problem_file, (path.parent / key).resolve())
    if not assignments:
        raise NodeclfError("the manifest lists no students", path, 1)
    return Manifest(rows[0][0].strip(), assignments, str(path))
