"""`nodeclf check SHEETS...`: a class marked at once, with the manifest and a marking scheme."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from nodeclf_cli import answers as answers_module
from nodeclf_cli.classmark import mark_class
from nodeclf_cli.marks import Scheme

from .conftest import ROOT
from .test_cli_step import run

SHEETS = ROOT / "tests" / "sheets"
ARTICLE_ANSWERS = ROOT / "data" / "article_answers.yaml"
ROSTER = "First name,Surname,ID number,Email address\nAna,Lima,,ana@uni.edu\nBo,Chen,,bo@uni.edu\nCy,Diaz,,cy@uni.edu\n"
ARTICLE_NUMBERS = 15 + 15 + 5 + 1 + 15 + 12 + 3 + 12 + 3  # every number of the article's step


def class_json(*args, code):
    return json.loads(run("check", *map(str, args), "--format", "json", code=code).stdout)


@pytest.fixture
def folder(tmp_path):
    """Three sheets on the article: all right, the article's own (mistakes), and a
    broken one (a YAML error on line 3)."""
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    shutil.copy(SHEETS / "01_article_carried.yaml", sheets / "ana.yaml")
    shutil.copy(ARTICLE_ANSWERS, sheets / "bo.yaml")
    (sheets / "cy.yaml").write_text("problem: article\nanswers:\n  loss: [1.1\n")
    (sheets / "notes.txt").write_text("not a sheet")
    return sheets


def test_a_folder_is_marked_sheet_by_sheet_and_a_broken_sheet_is_reported_and_skipped(folder):
    data = class_json(folder, code=2)
    assert [s["student"] for s in data["sheets"]] == ["ana", "bo", "cy"]
    ana, bo, cy = data["sheets"]
    assert (ana["correct"], ana["follows_through"], ana["wrong"], ana["first_wrong"]) == (ARTICLE_NUMBERS, 0, 0, None)
    assert (bo["correct"], bo["follows_through"], bo["wrong"], bo["first_wrong"]) == (24, 7, 8, "logits")
    assert cy["error"].startswith(f"{folder / 'cy.yaml'}:4: YAML error") and "score" not in cy
    assert ana["error"] is None and data["exit_status"] == 2


def test_each_sheet_gets_the_verdicts_check_gives_it_alone(folder):
    data = class_json(folder / "ana.yaml", folder / "bo.yaml", SHEETS / "14_four_classes_mixed_precision.yaml", code=1)
    for sheet in data["sheets"]:
        alone = json.loads(run("check", sheet["file"], "--format", "json", code=1 if sheet["wrong"] else 0).stdout)
        assert sheet["entries"] == alone["entries"]
        assert sheet["precision"] == alone["precision"]


@pytest.mark.parametrize("names, code", [(["ana.yaml"], 0), (["ana.yaml", "bo.yaml"], 1), (["cy.yaml", "ana.yaml"], 2)])
def test_the_exit_status_says_bad_input_then_mistakes_then_all_right(folder, tmp_path, names, code):
    """--marks makes even one sheet a class; a class with a bad sheet exits 2 after
    marking the others."""
    path = scheme(tmp_path, "points: {logits: 1}\n")
    data = class_json(*(folder / name for name in names), "--marks", path, code=code)
    assert data["exit_status"] == code and data["sheets"][-1]["score"] >= 0


def test_one_sheet_alone_is_checked_as_before(folder):
    """A single file, with no class option, is today's check: its tables, not the class's."""
    out = run("check", str(folder / "bo.yaml"), code=1).stdout
    assert "24 right, 7 follow through, 8 wrong (of 39 numbers)" in out and "The class" not in out


def test_the_class_table_has_a_row_per_student_and_the_most_frequent_mistakes(folder):
    shutil.copy(ARTICLE_ANSWERS, folder / "di.yaml")
    out = run("check", str(folder), code=2).stdout
    lines = out.splitlines()
    ana = next(line for line in lines if " ana " in line)
    assert f"{ARTICLE_NUMBERS} / {ARTICLE_NUMBERS}" in ana and "none" in ana
    bo = next(line for line in lines if " bo " in line)
    assert f"31 / {ARTICLE_NUMBERS}" in bo and "logits: h[0] of node 5" in bo
    assert any(" cy " in line and "not marked" in line for line in lines)
    assert f"cy: not marked: {folder / 'cy.yaml'}:4: YAML error" in out.replace("\n", "")
    # the mistakes, counted from the sheets' own entries: bo and di made the same ones
    entries = json.loads(run("check", str(ARTICLE_ANSWERS), "--format", "json", code=1).stdout)["entries"]
    wrong = Counter((e["quantity"], e["cause"]) for e in entries if e["verdict"] == "wrong")
    data = class_json(folder, code=2)
    assert {(m["quantity"], m["cause"]): m["numbers"] for m in data["mistakes"]} == {k: 2 * n for k, n in wrong.items()}
    assert all(m["students"] == 2 for m in data["mistakes"])
    assert "4 sheets: 3 marked, 1 not marked (bad input); 2 with mistakes" in out


def test_student_key_names_the_student_and_a_second_sheet_is_refused(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("problem: article\nstudent: ana@uni.edu\nanswers:\n  loss: 1.1465\n")
    second.write_text("problem: article\nstudent: ana@uni.edu\nanswers:\n  loss: 1.1465\n")
    data = class_json(first, second, code=2)
    assert [s["student"] for s in data["sheets"]] == ["ana@uni.edu", "ana@uni.edu"]
    assert data["sheets"][1]["error"] == f"{second}: a second sheet for student ana@uni.edu (the first: {first})"


@pytest.fixture
def generated_class(tmp_path, monkeypatch):
    """A class of three made by generate --students, and each one's key as their sheet."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text(ROSTER)
    run("generate", "--students", "roster.csv", "--seed", "3", "--out-dir", "hw", "--nodes", "3")
    (tmp_path / "sheets").mkdir()
    for student in ("ana@uni.edu", "bo@uni.edu"):
        text = (tmp_path / "hw" / "keys" / f"{student}.yaml").read_text()
        (tmp_path / "sheets" / f"{student}.yaml").write_text(text.replace("../problems", "../hw/problems"))
    return tmp_path


def test_the_manifest_flags_a_sheet_naming_another_students_problem(generated_class):
    sheets = generated_class / "sheets"
    data = class_json(sheets, "--manifest", "hw/manifest.csv", code=0)
    assert [(s["student"], s["wrong"]) for s in data["sheets"]] == [("ana@uni.edu", 0), ("bo@uni.edu", 0)]
    assert data["absent"] == ["cy@uni.edu"] and data["id_column"] == "Email address"
    copied = (sheets / "ana@uni.edu.yaml").read_text()
    (sheets / "cy@uni.edu.yaml").write_text(copied)  # cy hands in ana's sheet
    (sheets / "zed.yaml").write_text(copied)
    data = class_json("sheets", "--manifest", "hw/manifest.csv", code=2)
    by_student = {s["student"]: s for s in data["sheets"]}
    assert by_student["cy@uni.edu"]["error"] == (
        "sheets/cy@uni.edu.yaml: problem: names the problem of ana@uni.edu (hw/problems/ana@uni.edu.yaml), "
        "not cy@uni.edu's own (hw/problems/cy@uni.edu.yaml)")
    assert by_student["zed"]["error"] == "sheets/zed.yaml: student: zed is not in the manifest hw/manifest.csv"
    assert by_student["ana@uni.edu"]["error"] is None and data["absent"] == []


def test_each_problem_file_is_loaded_once(generated_class, monkeypatch):
    sheets = generated_class / "sheets"
    for copy in ("x", "y", "z"):
        shutil.copy(sheets / "ana@uni.edu.yaml", sheets / f"{copy}.yaml")
    loaded = []
    original = answers_module.load_problem
    monkeypatch.setattr(answers_module, "load_problem", lambda path, **kw: loaded.append(path) or original(path, **kw))
    marks = mark_class([sheets])
    assert len(marks.sheets) == 5 and all(s.error is None for s in marks.sheets)
    assert sorted(p.name for p in loaded) == ["ana@uni.edu.yaml", "bo@uni.edu.yaml"]


# --- the marking scheme ------------------------------------------------------------------


def scheme(tmp_path, text):
    path = tmp_path / "scheme.yaml"
    path.write_text(text)
    return str(path)


def test_by_default_a_point_a_number_and_full_credit_for_following_through():
    marks = mark_class([ARTICLE_ANSWERS])
    assert (marks.sheets[0].score.score, marks.sheets[0].score.maximum) == (24 + 7, ARTICLE_NUMBERS)
    assert marks.sheets[0].score.missing == ARTICLE_NUMBERS - 39
    assert mark_class([ARTICLE_ANSWERS], scheme=Scheme(follow_through=0.5)).sheets[0].score.score == 24 + 3.5


def test_a_scheme_of_points_per_quantity_and_follow_through_credit(tmp_path):
    path = scheme(tmp_path, "per: quantity\npoints: {logits: 3, loss: 2}\nfollow_through: 0.5\n")
    data = class_json(ARTICLE_ANSWERS, "--marks", path, code=1)["sheets"][0]
    entries = data["entries"]
    right_logits = sum(e["verdict"] == "correct" for e in entries if e["quantity"] == "logits")
    assert right_logits == 12  # the article's 15 logits, node 5's three wrong
    # 3 points shared by 15 logits; the loss (wrong: a flipped sign) earns none
    assert data["score"] == pytest.approx(3 * 12 / 15) and data["maximum"] == 5


def test_a_number_written_coarser_than_required_loses_the_deduction(tmp_path):
    sheet = tmp_path / "a.yaml"
    sheet.write_text("problem: article\nanswers:\n  loss: 1.15\n  loss_per_node: {1: 1.1082}\n")
    path = scheme(tmp_path, "points: {loss: 2, loss_per_node: 1}\ncoarse: 0.25\n")
    data = class_json(sheet, "--marks", path, code=0)["sheets"][0]
    assert [e["coarse"] for e in data["entries"]] == [False, True]  # in the order of the step
    assert (data["score"], data["maximum"], data["missing"]) == (1 + 2 * 0.75, 5 + 2, 4)


@pytest.mark.parametrize("text, message", [
    ("points: {logit: 1}\n", "scheme.yaml:1: points: unknown quantity 'logit'; did you mean 'logits'?"),
    ("follow_through: 1.5\n", "scheme.yaml:1: follow_through: expected a fraction from 0 to 1, found 1.5"),
    ("per: student\n", "scheme.yaml:1: per: expected number or quantity, found 'student'"),
    ("pionts: {loss: 1}\n", "scheme.yaml:1: unknown key 'pionts'; did you mean 'points'?"),
    ("points: {loss: -1}\n", "scheme.yaml:1: points.loss: expected points of at least 0, found -1"),
])
def test_a_bad_scheme_is_one_line_and_exit_2(tmp_path, text, message):
    result = run("check", str(ARTICLE_ANSWERS), "--marks", scheme(tmp_path, text), code=2)
    assert result.stderr == f"nodeclf: error: {tmp_path / message}\n"


def test_every_key_of_the_class_json_is_in_the_readme(monkeypatch):
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    data = class_json("data/class/sheets", "--manifest", "data/class/hw/manifest.csv", code=2)
    marked = next(s for s in data["sheets"] if s["error"] is None)
    for key in [*data, *marked, *data["mistakes"][0]]:
        assert f'"{key}"' in readme, key


def test_a_sheet_that_cannot_be_read_still_counts_as_handed_in(generated_class):
    (generated_class / "sheets" / "cy@uni.edu.yaml").write_text("answers: [\n")
    data = class_json("sheets", "--manifest", "hw/manifest.csv", code=2)
    assert data["absent"] == [] and data["sheets"][-1]["student"] == "cy@uni.edu"


def test_points_per_number(tmp_path):
    """per: number (the default): each number of a quantity is worth its points."""
    path = scheme(tmp_path, "points: {logits: 0.5, loss: 4, W_new: 1}\nfollow_through: 0.25\n")
    data = class_json(ARTICLE_ANSWERS, "--marks", path, code=1)["sheets"][0]
    counts = Counter((e["quantity"], e["verdict"]) for e in data["entries"])
    expected = 0.5 * counts["logits", "correct"] + 4 * counts["loss", "correct"] + counts["W_new", "correct"] \
        + 0.25 * (0.5 * counts["logits", "follows_through"] + 4 * counts["loss", "follows_through"]
                  + counts["W_new", "follows_through"])
    assert counts["W_new", "follows_through"] > 0  # the article's W rests on its wrong gradients
    assert data["score"] == pytest.approx(expected) and data["maximum"] == 0.5 * 15 + 4 + 12


def test_a_file_named_as_generate_names_the_students_files_is_theirs(tmp_path, monkeypatch):
    """An identifier a file name cannot hold ("Lima, Ana") is found through the manifest."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text('Name,Student ID\n"Lima, Ana",7\n')
    run("generate", "--students", "roster.csv", "--id-column", "Name", "--seed", "1", "--out-dir", "hw")
    assert (tmp_path / "hw" / "problems" / "Lima__Ana.yaml").exists()
    sheet = (tmp_path / "hw" / "keys" / "Lima__Ana.yaml").read_text().replace("../problems", "hw/problems")
    (tmp_path / "Lima__Ana.yaml").write_text(sheet)
    data = class_json("Lima__Ana.yaml", "--manifest", "hw/manifest.csv", code=0)
    assert data["sheets"][0]["student"] == "Lima, Ana" and data["absent"] == []


def test_a_scheme_that_leaves_out_what_the_problems_ask_says_so(tmp_path):
    """Quantities the problems have but the scheme gives no points are named in a note
    (their numbers are judged, not scored); a scheme scoring nothing the problems have
    says every score is 0."""
    from nodeclf_cli.classmark import scheme_notes
    from nodeclf_cli.grading import Grader
    from nodeclf_cli.marks import Scheme
    from nodeclf_cli.problem import load_problem

    graph = Grader(load_problem(ROOT / "data" / "example-graph.yaml"), [])
    plain = Grader(load_problem(ROOT / "data" / "example.yaml"), [])
    notes = scheme_notes(Scheme({"logits": 1.0, "loss": 1.0}), [graph])
    assert notes == ["the marking scheme gives no points for degrees, adjacency, propagated, probabilities, "
                     "loss_per_node, grad_logits, grad_W, grad_b, W_new, b_new: numbers written for them are "
                     "judged but not scored"]
    assert scheme_notes(Scheme({"degrees": 1.0}), [plain])[-1] == (
        "no quantity the marking scheme gives points for is in these problems: every score is 0")
    assert scheme_notes(Scheme(), [plain, graph]) == []


def test_gradebook_and_feedback_at_one_place_are_refused_before_any_work(tmp_path):
    place = tmp_path / "pp"
    result = run("check", str(ROOT / "data" / "class" / "sheets"), "--gradebook", str(place), "--feedback",
                 str(place), code=2)
    assert "--gradebook and --feedback name the same place" in result.stderr
    assert not place.exists()


def test_an_interrupt_while_a_class_is_written_says_how_far_it_got(tmp_path, monkeypatch, capsys):
    from nodeclf_cli import files, output

    real, calls = output.publish, []

    def publish_then_interrupt(target, content):
        calls.append(target)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(target, content)

    monkeypatch.setattr(files, "publish", publish_then_interrupt)
    pages = [(tmp_path / "pages" / f"{n}.md", f"page {n}\n") for n in range(5)]
    with pytest.raises(KeyboardInterrupt):
        files.write_files(pages, force=False)
    assert capsys.readouterr().err == f"nodeclf: stopped after writing 2 of 5 files (in {tmp_path / 'pages'})\n"
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == ["0.md", "1.md"]
