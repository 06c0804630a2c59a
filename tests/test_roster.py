"""Rosters, per-student seeds and `nodeclf generate --students`."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest
import yaml

from nodeclf_cli.problem import load_problem
from nodeclf_cli.roster import file_stem, read_manifest, read_roster, student_seed

from .conftest import ROOT
from .test_cli_step import run

MOODLE = "First name,Surname,ID number,Institution,Department,Email address\n" \
         "Ana,Lima,,Uni,Maths,ana@uni.edu\nBo,Chen,,Uni,Maths,bo@uni.edu\nCy,Diaz,,Uni,Maths,cy@uni.edu\n"

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_moodle_roster_without_id_numbers_is_read_by_email(tmp_path):
    roster = read_roster(write(tmp_path, "r.csv", MOODLE))
    assert roster.id_column == "Email address"
    assert roster.students == ("ana@uni.edu", "bo@uni.edu", "cy@uni.edu")


def test_moodle_id_numbers_come_first_when_every_student_has_one(tmp_path):
    text = MOODLE.replace("Ana,Lima,,", "Ana,Lima,A1,").replace("Bo,Chen,,", "Bo,Chen,B2,").replace(
        "Cy,Diaz,,", "Cy,Diaz,C3,")
    assert read_roster(write(tmp_path, "r.csv", text)).students == ("A1", "B2", "C3")


def test_canvas_roster_is_read_by_sis_user_id_and_skips_points_possible(tmp_path):
    text = ("\ufeffStudent;ID;SIS User ID;Section\n    Points Possible;;;\n"
            "\"Lima, Ana\";101;S001;1\n\"Chen, Bo\";102;S002;1\n")
    roster = read_roster(write(tmp_path, "r.csv", text))
    assert (roster.id_column, roster.students) == ("SIS User ID", ("S001", "S002"))


def test_id_column_names_the_column_and_refuses_a_missing_value(tmp_path):
    path = write(tmp_path, "r.csv", MOODLE)
    assert read_roster(path, "Surname").students == ("Lima", "Chen", "Diaz")
    result = run("generate", "--students", str(path), "--id-column", "ID number", "--out-dir",
                 str(tmp_path / "hw"), code=2)
    assert result.stderr == f"nodeclf: error: {path}:2: no ID number for this student\n"
    result = run("generate", "--students", str(path), "--id-column", "Name", "--out-dir", str(tmp_path / "hw"), code=2)
    assert "no column 'Name'; the columns are 'First name'" in result.stderr
    assert not (tmp_path / "hw").exists()


def test_a_roster_without_an_identifier_column_says_to_name_one(tmp_path):
    path = write(tmp_path, "r.csv", "Name,Mark\nAna,1\nAna,2\n")
    result = run("generate", "--students", str(path), "--out-dir", str(tmp_path / "hw"), code=2)
    assert result.stderr.startswith(f"nodeclf: error: {path}:1: no column identifies every student")
    assert result.stderr.strip().endswith("name one with --id-column")
    result = run("generate", "--students", str(path), "--id-column", "Name", "--out-dir", str(tmp_path / "hw"), code=2)
    assert result.stderr == f"nodeclf: error: {path}:3: Name 'Ana' is given twice (first on line 2)\n"


def test_the_seed_is_sha256_of_the_course_seed_and_the_id():
    digest = hashlib.sha256(b"42:ana@uni.edu").hexdigest()
    assert student_seed(42, "ana@uni.edu") == int(digest[:16], 16)
    assert student_seed(42, "ana@uni.edu") != student_seed(43, "ana@uni.edu") != student_seed(42, "bo@uni.edu")


def test_file_stems_keep_what_a_file_name_may_hold():
    assert file_stem("ana@uni.edu") == "ana@uni.edu"
    assert file_stem("Lima, Ana/2") == "Lima__Ana_2"
    assert file_stem("../x") == "_x"


def test_long_identifiers_get_short_distinct_file_names(tmp_path):
    long_a, long_b = "a" * 300 + "@uni.edu", "a" * 300 + "@uni.org"
    stems = file_stem(long_a), file_stem(long_b)
    assert all(len(stem) == 100 for stem in stems) and stems[0] != stems[1]
    assert stems[0].endswith("-" + hashlib.sha256(long_a.encode()).hexdigest()[:8])
    roster = write(tmp_path, "r.csv", f"Email address\n{long_a}\n{long_b}\n")
    generate_class(tmp_path, roster, "hw", "--nodes", "3")
    rows = list(csv.reader((tmp_path / "hw" / "manifest.csv").open()))
    assert [row[0] for row in rows[1:]] == [long_a, long_b]
    assert all((tmp_path / "hw" / row[2]).is_file() for row in rows[1:])


def test_an_identifier_with_a_control_character_is_refused_at_its_line(tmp_path):
    roster = write(tmp_path, "r.csv", "Email address\nana@uni.edu\nbo\x07@uni.edu\n")
    result = generate_class(tmp_path, roster, "hw", code=2)
    assert result.stderr == (f"nodeclf: error: {roster}:3: the Email address holds a control character (U+0007), "
                             "which no file, gradebook or message can show; fix the roster\n")
    assert not (tmp_path / "hw").exists()


def generate_class(tmp_path, roster, out="hw", *extra, code=0):
    return run("generate", "--students", str(roster), "--seed", "42", "--out-dir", str(tmp_path / out), *extra,
               code=code)


def files_of(folder):
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_generate_students_writes_a_problem_and_key_each_and_a_manifest(tmp_path):
    roster = write(tmp_path, "r.csv", MOODLE)
    generate_class(tmp_path, roster, "hw", "--nodes", "4", "--dim", "3", "--classes", "4", "--decimals", "1")
    hw = tmp_path / "hw"
    assert sorted(files_of(hw)) == ["keys/ana@uni.edu.yaml", "keys/bo@uni.edu.yaml", "keys/cy@uni.edu.yaml",
                                    "manifest.csv", "problems/ana@uni.edu.yaml", "problems/bo@uni.edu.yaml",
                                    "problems/cy@uni.edu.yaml"]
    rows = list(csv.reader((hw / "manifest.csv").open()))
    assert rows[0] == ["Email address", "seed", "problem", "key"]
    assert [row[0] for row in rows[1:]] == ["ana@uni.edu", "bo@uni.edu", "cy@uni.edu"]
    assert rows[1][1:] == [str(student_seed(42, "ana@uni.edu")), "problems/ana@uni.edu.yaml", "keys/ana@uni.edu.yaml"]
    manifest = read_manifest(hw / "manifest.csv")
    assert manifest.assignments["bo@uni.edu"].key == (hw / "keys" / "bo@uni.edu.yaml").resolve()
    problems = [load_problem(hw / "problems" / f"{s}.yaml") for s in ("ana@uni.edu", "bo@uni.edu", "cy@uni.edu")]
    for problem in problems:  # every option applies, and each problem carries its precision
        assert problem.Z.shape == (4, 3) and problem.W.shape == (4, 3)
        assert problem.requirement.values.decimals == 1 and problem.requirement.losses.decimals == 3
    assert len({p.W.tobytes() for p in problems}) == 3  # a variant each
    for student in ("ana@uni.edu", "cy@uni.edu"):  # each key checks as right against its problem
        data = json.loads(run("check", str(hw / "keys" / f"{student}.yaml"), "--format", "json").stdout)
        assert data["summary"]["wrong"] == 0
        assert data["summary"]["correct"] == 3 * 16 + 4 + 1 + 2 * (12 + 4)  # H, P, ∂L/∂H; ℓ; L; W and b twice


def test_a_problem_is_the_one_generate_makes_from_the_student_seed(tmp_path):
    roster = write(tmp_path, "r.csv", MOODLE)
    generate_class(tmp_path, roster)
    alone = run("generate", "--seed", str(student_seed(42, "bo@uni.edu"))).stdout
    mine = (tmp_path / "hw" / "problems" / "bo@uni.edu.yaml").read_text()
    assert yaml.safe_load(mine) == yaml.safe_load(alone)


def test_same_roster_same_files_and_a_student_added_changes_no_one_else(tmp_path):
    roster = write(tmp_path, "r.csv", MOODLE)
    generate_class(tmp_path, roster, "a")
    generate_class(tmp_path, roster, "b")
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    bigger = write(tmp_path, "r2.csv", MOODLE.replace("Bo,Chen", "Di,Egan,,Uni,Maths,di@uni.edu\nBo,Chen"))
    generate_class(tmp_path, bigger, "c")
    before, after = files_of(tmp_path / "a"), files_of(tmp_path / "c")
    assert set(after) - set(before) == {"problems/di@uni.edu.yaml", "keys/di@uni.edu.yaml"}
    assert all(after[name] == data for name, data in before.items() if name != "manifest.csv")


def test_generate_students_refuses_existing_files_before_writing_any(tmp_path):
    roster = write(tmp_path, "r.csv", MOODLE)
    mine = tmp_path / "hw" / "keys" / "cy@uni.edu.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    result = generate_class(tmp_path, roster, code=2)
    assert result.stderr == f"nodeclf: error: {mine}: already exists; pass --force to overwrite it\n"
    assert files_of(tmp_path / "hw") == {"keys/cy@uni.edu.yaml": b"mine"}
    generate_class(tmp_path, roster, "hw", "--force")
    assert mine.read_text().startswith("# The answer key")


@pytest.mark.parametrize("args, message", [
    (["--students", "r.csv"], "--students ROSTER.csv and --out-dir DIR go together"),
    (["--students", "r.csv", "--out-dir", "hw", "-o", "p.yaml"], "leave out --output and --answers"),
])
def test_generate_students_usage(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "r.csv", MOODLE)
    assert message in run("generate", *args, code=2).stderr


def test_the_readmes_class_is_what_generate_writes(tmp_path):
    """data/class/hw is `generate --students data/class/roster.csv --seed 2026`'s output."""
    shipped = ROOT / "data" / "class"
    run("generate", "--students", str(shipped / "roster.csv"), "--seed", "2026", "--out-dir", str(tmp_path / "hw"))
    assert files_of(tmp_path / "hw") == files_of(shipped / "hw")


@pytest.mark.parametrize("problem, message", [
    ("problems/nope.yaml", "problem: no such file: problems/nope.yaml"),
    ("", "the problem is empty"),
])
def test_a_manifest_row_naming_no_problem_is_blamed_on_its_line(tmp_path, problem, message):
    from nodeclf_cli.errors import NodeclfError
    from nodeclf_cli.roster import read_manifest

    path = tmp_path / "manifest.csv"
    path.write_text(f"Email address,seed,problem,key\nbo@x.edu,17,{problem},keys/bo.yaml\n")
    with pytest.raises(NodeclfError) as error:
        read_manifest(path)
    assert str(error.value) == f"{path}:2: {message}"


def test_a_manifest_with_no_students_is_refused(tmp_path):
    from nodeclf_cli.errors import NodeclfError
    from nodeclf_cli.roster import read_manifest

    path = tmp_path / "manifest.csv"
    path.write_text("Email address,seed,problem,key\n")
    with pytest.raises(NodeclfError, match="lists no students"):
        read_manifest(path)


@pytest.mark.parametrize("row, found", [("Bo", 1), ("Bo,b@x,extra", 3)])
def test_a_roster_row_of_another_width_is_blamed_on_its_line(tmp_path, row, found):
    from nodeclf_cli.errors import NodeclfError
    from nodeclf_cli.roster import read_roster

    path = tmp_path / "roster.csv"
    path.write_text(f"First name,Email address\nAna,a@x\n{row}\nCy,c@x\n")
    with pytest.raises(NodeclfError) as error:
        read_roster(path)
    assert str(error.value) == f"{path}:3: expected 2 cells, as the header has; found {found}"
