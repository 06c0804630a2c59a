"""`generate --moodle / --gift`: quizzes whose answers and tolerances are the key's."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import numpy as np
import pytest
import yaml

from nodeclf_cli import core
from nodeclf_cli.lms import _covered, tolerance
from nodeclf_cli.problem import load_problem
from nodeclf_cli.quantities import BY_NAME, as_2d, present
from nodeclf_cli.rounding import Precision

from .test_cli_step import run

NAMES = [q.name for q in present(graph=False)]  # the quiz's problem has no graph
BLANK = re.compile(r"\{1:NUMERICAL:(.*?)\}")


def cloze_answers(blank: str) -> list[tuple[Decimal, Decimal]]:
    """``=0.69:0.005~=0.7:0.005`` -> [(0.69, 0.005), (0.7, 0.005)]"""
    return [tuple(map(Decimal, a.lstrip("=").split(":"))) for a in blank.split("~")]


@pytest.fixture(scope="module")
def quiz(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quiz")
    run("generate", "--seed", "11", "--nodes", "4", "-o", str(folder / "p.yaml"), "--answers", str(folder / "k.yaml"),
        "--moodle", str(folder / "q.xml"), "--gift", str(folder / "q.txt"))
    return folder


def key_numbers(folder) -> dict[str, list[Decimal]]:
    """Each quantity's numbers in the answer key, in order, as written."""
    text = (folder / "k.yaml").read_text()
    answers = yaml.load(text, Loader=yaml.BaseLoader)["answers"]  # strings: the digits as written

    def flat(value):
        if isinstance(value, dict):
            return [x for v in value.values() for x in flat(v)]
        if isinstance(value, list):
            return [x for v in value for x in flat(v)]
        return [Decimal(value)]

    return {name: flat(answers[name]) for name in NAMES}


def exact_numbers(folder) -> dict[str, np.ndarray]:
    p = load_problem(folder / "p.yaml")
    result = core.gradient_step(p.Z, p.y, p.W, p.b, p.learning_rate)
    return {name: as_2d(name, getattr(result, name)).ravel() for name in NAMES}


def check_against_key(asked: dict[str, list[list[tuple[Decimal, Decimal]]]], folder) -> None:
    """Each number's first answer is the exact value, its tolerance half a unit of the
    required precision: the key's number is accepted, a unit off is not (unless it
    is within the tolerance of a second answer, a value worked by hand; their tolerances
    may overlap, as the values check accepts do)."""
    key, exact = key_numbers(folder), exact_numbers(folder)
    assert list(asked) == list(NAMES)
    for name, blanks in asked.items():
        half_unit = Decimal("0.00005") if BY_NAME[name].loss_precision else Decimal("0.005")  # 2 decimals, losses 4
        assert len(blanks) == len(key[name]) == exact[name].size
        for answers, written, true in zip(blanks, key[name], exact[name]):
            (value, tol), others = answers[0], answers[1:]
            assert all(t == half_unit for _, t in answers)
            assert abs(written - value) <= tol  # the key's number is accepted
            assert abs(float(value) - true) < 1e-9  # around the exact value
            unit = 2 * half_unit
            for off in (written + unit, written - unit):
                assert abs(off - value) > tol
            assert all(o != value for o, _ in others)  # a second answer is another number


def test_moodle_xml_has_a_cloze_question_per_quantity_with_the_keys_answers(quiz):
    root = ET.parse(quiz / "q.xml").getroot()
    assert root.tag == "quiz"
    category, *questions = root.findall("question")
    assert category.get("type") == "category" and category.findtext("category/text") == "$course$/top/nodeclf"
    assert [q.get("type") for q in questions] == ["cloze"] * len(NAMES)
    assert [q.findtext("name/text") for q in questions] == [BY_NAME[n].title for n in NAMES]
    asked = {}
    for name, question in zip(NAMES, questions):
        text = question.findtext("questiontext/text")
        assert question.find("questiontext").get("format") == "html" and "<table" in text
        asked[name] = [cloze_answers(blank) for blank in BLANK.findall(text)]
    check_against_key(asked, quiz)


def test_gift_has_a_numerical_question_per_number_with_the_keys_answers(quiz):
    text = (quiz / "q.txt").read_text(encoding="utf-8")
    assert text.startswith("$CATEGORY: $course$/top/nodeclf\n")
    questions = [line for line in text.splitlines() if line.startswith("::")]
    asked: dict[str, list] = {}
    for line in questions:
        title, answer = re.fullmatch(r"::(.+?)::.*\{#(.+?)\}", line).groups()
        quantity = next(n for n in NAMES if title.startswith(BY_NAME[n].title.replace(":", "\\:") + "\\:"))
        answers = [tuple(map(Decimal, a.lstrip("=").split(":"))) for a in answer.split()]
        assert answer.startswith("=") == (len(answers) > 1)  # {#value:tolerance}, or {#=a:t =b:t}
        asked.setdefault(quantity, []).append(answers)
        assert "{" not in line[:-len(answer) - 3]  # no unescaped brace before the answer
    check_against_key(asked, quiz)


@pytest.mark.parametrize("name, written_as", [("loss", "{}"), ("loss_per_node", "{{1: {}}}")])
def test_moodle_accepts_what_check_accepts_at_the_required_precision(quiz, tmp_path, name, written_as):
    """The key's number, and the numbers one and two units of the last digit away
    from it: check finds each right exactly when the quiz accepts it."""
    key = key_numbers(quiz)[name][0]
    root = ET.parse(quiz / "q.xml").getroot()
    question = root.findall("question")[1 + NAMES.index(name)]
    answers = cloze_answers(BLANK.findall(question.findtext("questiontext/text"))[0])
    unit = Decimal("0.0001")
    for written in (key + k * unit for k in (-2, -1, 0, 1, 2)):
        sheet = tmp_path / "s.yaml"
        sheet.write_text(f"problem: {quiz / 'p.yaml'}\nanswers:\n  {name}: {written_as.format(written)}\n")
        moodle_accepts = any(abs(written - value) <= tol for value, tol in answers)
        checked = run("check", str(sheet), "--format", "json", code=0 if moodle_accepts else 1)
        assert ('"wrong": 0' in checked.stdout) == moodle_accepts


def test_no_answer_of_a_blank_accepts_only_what_the_others_accept(quiz):
    """Each second answer accepts some number the others do not (an answer inside the
    union of the others' intervals adds nothing and is left out)."""
    root = ET.parse(quiz / "q.xml").getroot()
    for blank in BLANK.findall(ET.tostring(root, encoding="unicode")):
        answers = cloze_answers(blank)
        for k, (value, tol) in enumerate(answers[1:], start=1):
            others = [v for j, (v, _) in enumerate(answers) if j != k]
            assert not _covered(value - tol, value + tol, others, tol), blank


def test_an_interval_is_covered_only_by_the_union_of_others():
    t = Decimal("0.005")
    values = [Decimal("0.300"), Decimal("0.308")]
    assert _covered(Decimal("0.299"), Decimal("0.309"), values, t)  # two overlapping intervals cover it
    assert not _covered(Decimal("0.299"), Decimal("0.3135"), values, t)  # sticks out past 0.313
    assert not _covered(Decimal("0.2949"), Decimal("0.300"), values, t)
    assert not _covered(Decimal("0.300"), Decimal("0.310"), [Decimal("0.300"), Decimal("0.316")], t)  # a gap


def test_tolerance_is_half_a_unit_of_the_last_digit_required():
    assert tolerance(Decimal("0.685"), Precision(decimals=2)) == Decimal("0.005")
    assert tolerance(Decimal("-0.0675"), Precision(decimals=None, sig_figs=3)) == Decimal("0.00005")
    assert tolerance(Decimal("1.1465"), Precision(decimals=None, sig_figs=5)) == Decimal("0.00005")
    assert tolerance(Decimal("123.4"), Precision(decimals=None, sig_figs=2)) == Decimal("5")


@pytest.mark.parametrize("args, message", [
    (["--moodle", "q.txt"], "--moodle writes .xml: name the file so"),
    (["--gift", "q.xml"], "--gift writes .txt or .gift: name the file so"),
    (["--moodle", "q.xml", "--students", "r.csv", "--out-dir", "hw"], "make a quiz of one problem"),
])
def test_quiz_usage(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert message in run("generate", *args, code=2).stderr
    assert list(tmp_path.iterdir()) == []


def test_a_graph_problems_quiz_gives_the_edges_and_the_propagation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("generate", "--seed", "7", "--edges", "6", "-o", "g.yaml", "--moodle", "q.xml", "--gift", "q.txt")
    problem = load_problem(tmp_path / "g.yaml")
    ids = problem.node_ids
    edges = [f"{ids[i]}–{ids[j]}" for i, j in zip(problem.graph.source, problem.graph.target)]
    for text in ((tmp_path / "q.txt").read_text(encoding="utf-8"),
                 " ".join(q.findtext("questiontext/text") or "" for q in ET.parse(tmp_path / "q.xml").getroot())):
        assert "Edges" in text and all(edge in text for edge in edges)
        assert "D̃^-1/2 Ã D̃^-1/2" in text  # (GIFT writes its "=" as "\\=")
