"""A class under an optimiser: `generate --students --optimizer` gives each student's problem the
optimizer: key and their key its quantities; `check SHEETS --manifest` marks them (gradebook and
feedback pages too); the optimiser's options override each problem's key, as for one sheet."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from nodeclf_cli.answers import load_answers
from nodeclf_cli.classmark import mark_class
from nodeclf_cli.roster import student_seed

from .conftest import ROOT
from .test_cli_step import run
from .test_feedback import CHROMIUM, RIGHT_COLOUR, WRONG_COLOUR, colours, open_in_chromium

ROSTER = "First name,Email address\nAna,ana@uni.edu\nBo,bo@uni.edu\nCy,cy@uni.edu\n"
STUDENTS = ("ana@uni.edu", "bo@uni.edu", "cy@uni.edu")
BETA1 = 0.8
NUMBERS = 3 * 9 + 3 + 1 + 2 * (12 + 3) + 5 * (12 + 3)  # H, P, ∂L/∂H; ℓ; L; ∂ and new; m, v, m̂, v̂, Δ (3 nodes)


@pytest.fixture
def adam_class(tmp_path, monkeypatch):
    """A class of three with adam (β1 = 0.8), and ana's and bo's keys as their sheets."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text(ROSTER)
    run("generate", "--students", "roster.csv", "--seed", "3", "--out-dir", "hw", "--nodes", "3",
        "--optimizer", "adam", "--beta1", str(BETA1))
    (tmp_path / "sheets").mkdir()
    for student in STUDENTS[:2]:
        text = (tmp_path / "hw" / "keys" / f"{student}.yaml").read_text()
        (tmp_path / "sheets" / f"{student}.yaml").write_text(text.replace("../problems", "../hw/problems"))
    return tmp_path


def gradients(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """∂L/∂W and ∂L/∂b of a problem file's data, worked here: G = (P − Y)/N, Gᵀ Z and Σ_i G_i."""
    Z = np.array(list(data["embeddings"].values()), dtype=float)
    y = np.array(list(data["labels"].values()))
    W, b = np.array(data["weights"]["W"], dtype=float), np.array(data["weights"]["b"], dtype=float)
    H = Z @ W.T + b
    P = np.exp(H) / np.exp(H).sum(axis=1, keepdims=True)
    G = (P - np.eye(len(b))[y]) / len(y)
    return G.T @ Z, G.sum(axis=0)


def key_array(value) -> np.ndarray:
    return np.array(list(value.values()) if isinstance(value, dict) else value, dtype=float)


def test_each_students_problem_has_the_optimizer_key_and_its_key_adams_quantities(adam_class):
    hw = adam_class / "hw"
    weights = set()
    for student in STUDENTS:
        data = yaml.safe_load((hw / "problems" / f"{student}.yaml").read_text())
        assert data["optimizer"] == {"name": "adam", "beta1": BETA1, "beta2": 0.999, "eps": 1e-8}
        assert data["precision"] == {"sig_figs": 3, "loss_sig_figs": 5}  # Adam's v at decimals would be 0
        weights.add(str(data["weights"]))
        answers = yaml.safe_load((hw / "keys" / f"{student}.yaml").read_text())["answers"]
        alpha = data["learning_rate"]
        for part, g in zip("Wb", gradients(data)):  # the first step from zero: m = (1 − β1) g, m̂ = g, ...
            m, v = (1 - BETA1) * g, (1 - 0.999) * g * g
            expected = {"m": m, "v": v, "m_hat": g, "v_hat": g * g, "update": -alpha * g / (np.abs(g) + 1e-8)}
            for name, value in expected.items():  # 3 significant figures: within 0.5 % of the exact value
                assert key_array(answers[f"{name}_{part}"]) == pytest.approx(value, rel=5e-3, abs=1e-12), name
        checked = json.loads(run("check", str(hw / "keys" / f"{student}.yaml"), "--format", "json").stdout)
        assert checked["summary"]["wrong"] == 0 and checked["summary"]["correct"] == NUMBERS
    assert len(weights) == 3  # a variant each


def test_a_students_problem_is_the_one_generate_makes_alone_from_their_seed(adam_class):
    seed = student_seed(3, "bo@uni.edu")
    alone = run("generate", "--seed", str(seed), "--nodes", "3", "--optimizer", "adam", "--beta1", str(BETA1)).stdout
    mine = (adam_class / "hw" / "problems" / "bo@uni.edu.yaml").read_text()
    assert mine.replace("# For Email address bo@uni.edu\n", "") == alone


def test_the_class_is_marked_with_adams_answers_into_the_gradebook_and_the_pages(adam_class):
    bo = adam_class / "sheets" / "bo@uni.edu.yaml"
    lines = bo.read_text().splitlines()
    v, v_hat = lines.index("  v_W:"), lines.index("  v_hat_W:")
    lines[v_hat + 1:v_hat + 4] = lines[v + 1:v + 4]  # v written for v̂: the bias correction left out
    bo.write_text("\n".join(lines) + "\n")
    result = run("check", "sheets", "--manifest", "hw/manifest.csv", "--gradebook", "grades.csv",
                 "--feedback", "pages", "--format", "json", code=1)
    marks = json.loads(result.stdout)
    ana, bo_marks = marks["sheets"]
    assert ana["wrong"] == 0 and ana["score"] == ana["maximum"] == NUMBERS
    assert bo_marks["first_wrong"].startswith("v_hat_W") and bo_marks["score"] < bo_marks["maximum"]
    assert {(m["quantity"], m["cause"]) for m in marks["mistakes"]} >= {("v_hat_W", "no_bias_correction")}
    assert marks["absent"] == ["cy@uni.edu"]
    grades = list(csv.reader((adam_class / "grades.csv").open(encoding="utf-8")))
    assert [row[:2] for row in grades] == [["Email address", "nodeclf score"], ["ana@uni.edu", str(NUMBERS)],
                                           ["bo@uni.edu", f"{bo_marks['score']:g}"], ["cy@uni.edu", ""]]
    assert "look first at v_hat_W" in grades[2][2]
    page = (adam_class / "pages" / "bo@uni.edu.html").read_text(encoding="utf-8")
    for heading in ("First moment of W  m_t = β1 m_{t−1} + (1 − β1) g",
                    "Bias-corrected second moment of W  v̂_t = v_t / (1 − β2^t)",
                    "Update of b  Δθ = θ_new − θ = −α m̂_t / (√v̂_t + ε)", "Updated weights  W_new = W + ΔW"):
        assert f"<h2>{heading}</h2>" in page
    assert "no bias correction" in page
    assert "v̂_t = v_t / (1 − β2^t)" in (adam_class / "pages" / "bo@uni.edu.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("options, wrong", [
    ((), set()),
    (("--beta1", str(BETA1)), set()),  # the problems' own β1, given again
    (("--beta1", "0.9"), {"m_W", "m_b"}),  # m = 0.1 g, not 0.2 g; m̂ = g either way
])
def test_a_classs_optimiser_options_override_each_problems_key_as_for_one_sheet(adam_class, options, wrong):
    code = 1 if wrong else 0
    marks = json.loads(run("check", "sheets", "--manifest", "hw/manifest.csv", "--format", "json", *options,
                           code=code).stdout)
    for marked in marks["sheets"]:
        assert {e["quantity"] for e in marked["entries"] if e["verdict"] == "wrong"} == wrong
        alone = json.loads(run("check", marked["file"], "--format", "json", *options, code=code).stdout)
        assert marked["entries"] == alone["entries"]


def test_an_optimiser_named_for_a_class_takes_each_problems_place(adam_class):
    """Another optimiser than the problems' own: the sheets' adam answers are refused, each on its line."""
    result = run("check", "sheets", "--optimizer", "momentum", "--format", "json", code=2)
    errors = [s["error"] for s in json.loads(result.stdout)["sheets"]]
    assert len(errors) == 2 and all("the problem's optimizer is momentum, which has no m_W" in e for e in errors)


def test_the_problem_cache_keeps_a_problem_apart_under_other_options(adam_class):
    sheet = adam_class / "sheets" / "ana@uni.edu.yaml"
    problems: dict = {}
    options = {"name": None, "beta1": 0.5}
    assert load_answers(sheet, problems, optimizer=options).problem.optimiser.settings.beta1 == 0.5
    assert load_answers(sheet, problems).problem.optimiser.settings.beta1 == BETA1
    assert load_answers(sheet, problems, optimizer=dict(options)).problem is \
        load_answers(sheet, problems, optimizer=options).problem  # loaded once under the same options
    assert len(problems) == 2
    marks = mark_class([adam_class / "sheets"], optimizer={"beta1": 0.5})
    assert all(s.grader.problem.optimiser.settings.beta1 == 0.5 for s in marks.sheets)


def test_a_state_file_given_to_a_class_is_never_overwritten(adam_class):
    state = adam_class / "state.json"
    state.write_text('{"optimizer": "adam", "t": 0}')
    before = state.read_bytes()
    result = run("check", "sheets", "--state", "state.json", "--gradebook", "state.json", "--force", code=2)
    assert "state.json" in result.stderr and state.read_bytes() == before


def test_a_state_file_given_to_a_class_is_each_problems_state_before_the_step(adam_class):
    zero_W, zero_b = [[0.0] * 4] * 3, [0.0] * 3
    (adam_class / "state.json").write_text(json.dumps(
        {"optimizer": "adam", "t": 1, "m": {"W": zero_W, "b": zero_b}, "v": {"W": zero_W, "b": zero_b}}))
    marks = json.loads(run("check", "sheets", "--state", "state.json", "--format", "json", code=1).stdout)
    for marked in marks["sheets"]:  # step 2 from m = v = 0: m̂ = m / (1 − β1²), not the keys' m / (1 − β1)
        wrong = {e["quantity"] for e in marked["entries"] if e["verdict"] == "wrong"}
        assert {"m_hat_W", "m_hat_b"} <= wrong and not wrong & {"m_W", "m_b", "v_W", "v_b"}
        alone = json.loads(run("check", marked["file"], "--state", "state.json", "--format", "json", code=1).stdout)
        assert marked["entries"] == alone["entries"]


def test_a_penalised_classs_pages_give_the_penalty_in_its_own_form(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text(ROSTER)
    run("generate", "--students", "roster.csv", "--seed", "3", "--out-dir", "hw", "--nodes", "3",
        "--l2", "0.1", "--l2-form", "half", "--class-weights", "2,1,1")
    run("check", "hw/keys", "--manifest", "hw/manifest.csv", "--feedback", "pages")
    page = (tmp_path / "pages" / "ana@uni.edu.md").read_text(encoding="utf-8")
    assert "L2 penalty  R = ½λ Σ W²  (λ = 0.1)" in page and "Loss  L = Σ_i ℓ_i / Σ_i w_{y_i}" in page
    assert "Gradient of W  ∂L/∂W = (∂L/∂H)ᵀ Z,  plus the penalty's share λ W" in page


def test_the_readmes_adam_class_is_what_generate_writes_and_its_sheets_are_its_keys_but_bos_v_hat(tmp_path):
    """data/class/adam is `generate --students data/class/roster.csv --seed 2026 --nodes 3 --optimizer adam`'s
    output, and its sheets are the keys' numbers but for Bo's v̂ (his v) and what he worked from it."""
    shipped = ROOT / "data" / "class"
    run("generate", "--students", str(shipped / "roster.csv"), "--seed", "2026", "--nodes", "3", "--optimizer", "adam",
        "--out-dir", str(tmp_path / "adam"))
    made = {p.relative_to(tmp_path / "adam"): p.read_bytes() for p in (tmp_path / "adam").rglob("*") if p.is_file()}
    assert made == {p.relative_to(shipped / "adam"): p.read_bytes() for p in (shipped / "adam").rglob("*")
                    if p.is_file() and p.parent.name != "sheets"}
    for student, changed in (("ana.lima@example.edu", set()),
                             ("bo.chen@example.edu", {"v_hat_W", "v_hat_b", "update_W", "update_b", "W_new", "b_new"})):
        key = yaml.safe_load((shipped / "adam" / "keys" / f"{student}.yaml").read_text())
        sheet = yaml.safe_load((shipped / "adam" / "sheets" / f"{student}.yaml").read_text())
        assert sheet["student"] == student and sheet["problem"] == key["problem"]
        assert {name for name in key["answers"] if sheet["answers"][name] != key["answers"][name]} == changed
    bo = yaml.safe_load((shipped / "adam" / "sheets" / "bo.chen@example.edu.yaml").read_text())["answers"]
    assert bo["v_hat_b"] == bo["v_b"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_an_adam_page_renders_in_chromium_and_requests_nothing(tmp_path):
    """A sheet of the shipped class giving m (right) and v̂ (Bo's v): its page draws both verdicts."""
    shipped = ROOT / "data" / "class" / "adam"
    sheet = tmp_path / "bo.chen@example.edu.yaml"
    lines = [f"problem: {shipped / 'problems' / 'bo.chen@example.edu.yaml'}", "answers:"]
    bo = (shipped / "sheets" / "bo.chen@example.edu.yaml").read_text().splitlines()
    for name in ("m_W", "v_hat_W"):
        start = bo.index(f"  {name}:")
        lines += bo[start:start + 4]
    sheet.write_text("\n".join(lines) + "\n")
    run("check", str(sheet), "--feedback", str(tmp_path / "pages"), code=1)
    page = tmp_path / "pages" / "bo.chen@example.edu.html"
    shot, requested = open_in_chromium(page, tmp_path)
    assert requested <= {page.as_uri()}
    assert {WRONG_COLOUR, RIGHT_COLOUR} <= colours(shot)
