"""`check --gradebook`: the class's scores for Moodle's and Canvas's grade import."""

from __future__ import annotations

import csv
import io
import shutil

from .conftest import ROOT
from .test_cli_step import run

ARTICLE_ANSWERS = ROOT / "data" / "article_answers.yaml"
RIGHT = ROOT / "tests" / "sheets" / "01_article_carried.yaml"


def rows(path):
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_moodle_gradebook_keys_rows_by_the_rosters_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text("First name,ID number,Email address\nAna,A1,ana@x.org\nBo,B2,bo@x.org\n")
    run("generate", "--students", "roster.csv", "--seed", "1", "--out-dir", "hw", "--nodes", "3")
    (tmp_path / "sheets").mkdir()
    key = (tmp_path / "hw" / "keys" / "A1.yaml").read_text().replace("../problems", "../hw/problems")
    (tmp_path / "sheets" / "A1.yaml").write_text(key)
    run("check", "sheets", "--manifest", "hw/manifest.csv", "--gradebook", "grades.csv")
    table = rows(tmp_path / "grades.csv")
    numbers = 3 * 9 + 3 + 1 + 2 * (12 + 3)  # H, P, ∂L/∂H; ℓ; L; W and b twice
    assert table == [["ID number", "nodeclf score", "feedback"],
                     ["A1", str(numbers),
                      f"{numbers} of {numbers} points: {numbers} right, 0 follow through, 0 wrong."],
                     ["B2", "", "No sheet was handed in."]]


def test_the_feedback_line_names_the_first_wrong_step_and_a_refused_sheet_says_why(tmp_path):
    shutil.copy(ARTICLE_ANSWERS, tmp_path / "bo.yaml")
    (tmp_path / "cy.yaml").write_text("problem: article\nanswers:\n  los: 1\n")
    run("check", str(tmp_path / "bo.yaml"), str(tmp_path / "cy.yaml"), "--gradebook", str(tmp_path / "g.csv"), code=2)
    header, bo, cy = rows(tmp_path / "g.csv")
    assert header == ["student", "nodeclf score", "feedback"]
    assert bo == ["bo", "31", "31 of 81 points: 24 right, 7 follow through, 8 wrong, 42 not answered; "
                              "look first at logits: h[0] of node 5."]
    assert cy[:2] == ["cy", ""] and cy[2].startswith(f"Not marked: {tmp_path / 'cy.yaml'}:3: answers: unknown quantity")


def test_a_canvas_gradebook_has_canvas_columns_and_the_sis_user_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text("Student,ID,SIS User ID,SIS Login ID,Section\n"
                                         "    Points Possible,,,,\n\"Lima, Ana\",101,S001,ana,1\n")
    run("generate", "--students", "roster.csv", "--seed", "1", "--out-dir", "hw")
    (tmp_path / "S001.yaml").write_text(
        (tmp_path / "hw" / "keys" / "S001.yaml").read_text().replace("../problems", "hw/problems"))
    run("check", "S001.yaml", "--manifest", "hw/manifest.csv", "--gradebook", "grades.csv")
    assert rows(tmp_path / "grades.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "nodeclf score"], ["", "", "S001", "", "", "81"]]


def test_the_gradebook_is_not_overwritten_without_force(tmp_path):
    grades = tmp_path / "g.csv"
    grades.write_text("mine")
    result = run("check", str(RIGHT), "--gradebook", str(grades), code=2)
    assert result.stderr == f"nodeclf: error: {grades}: already exists; pass --force to overwrite it\n"
    assert grades.read_text() == "mine"
    run("check", str(RIGHT), "--gradebook", str(grades), "--force")
    assert rows(grades)[1][:2] == ["01_article_carried", "81"]


def test_the_readmes_gradebook_is_what_check_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```csv\n", 1)[1].split("```", 1)[0]
    grades = tmp_path / "grades.csv"
    run("check", "data/class/sheets", "--manifest", "data/class/hw/manifest.csv", "--marks",
        "data/class/scheme.yaml", "--gradebook", str(grades), code=2)
    assert grades.read_text(encoding="utf-8") == shown
