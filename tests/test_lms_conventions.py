"""`generate --moodle / --gift` under a loss convention and an optimiser: the questions state the
convention and give each quantity's formula as the problem uses it, and the quiz accepts what
check accepts."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
import yaml

from nodeclf_cli.quantities import BY_NAME

from .test_cli_step import run

BLANK = re.compile(r"\{1:NUMERICAL:(.*?)\}")
CONVENTION = ("--class-weights", "2,1,1", "--label-smoothing", "0.1", "--l2", "0.1", "--l2-form", "half")


def make_quiz(folder, *options: str):
    run("generate", "--seed", "3", "--nodes", "3", *options, "-o", str(folder / "p.yaml"),
        "--answers", str(folder / "k.yaml"), "--moodle", str(folder / "q.xml"), "--gift", str(folder / "q.txt"))
    return folder


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    return make_quiz(tmp_path_factory.mktemp("weighted"), *CONVENTION)


@pytest.fixture(scope="module")
def adam(tmp_path_factory):
    return make_quiz(tmp_path_factory.mktemp("adam"), "--optimizer", "adam", "--beta1", "0.8")


def questions(folder) -> dict[str, str]:
    """Each cloze question's text (HTML, its entities read), by the quantity its name titles."""
    by_title = {q.title: q.name for q in BY_NAME.values()}
    found = ET.parse(folder / "q.xml").getroot().findall("question")[1:]
    return {by_title[q.findtext("name/text")]: html.unescape(q.findtext("questiontext/text")) for q in found}


def first_blank(text: str) -> list[tuple[Decimal, Decimal]]:
    return [tuple(map(Decimal, a.lstrip("=").split(":"))) for a in BLANK.findall(text)[0].split("~")]


def key_text(folder, name: str):
    """The key's answer for ``name`` as written (strings), and its first number."""
    value = yaml.load((folder / "k.yaml").read_text(), Loader=yaml.BaseLoader)["answers"][name]
    first = value if isinstance(value, str) else (value[0] if isinstance(value, list) else next(iter(value.values())))
    return value, first if isinstance(first, str) else first[0]


def sheet_with(folder, name: str, value, written: str) -> str:
    """A sheet of the key's ``name`` with its first number written as ``written``."""
    if isinstance(value, str):
        return f"  {name}: {written}"
    if isinstance(value, list):
        return f"  {name}: [{', '.join([written, *value[1:]])}]"
    rows = list(value.items())
    key, first = rows[0]
    if isinstance(first, str):
        return f"  {name}: {{{', '.join(f'{k}: {v}' for k, v in [(key, written), *rows[1:]])}}}"
    lines = [f"    {key}: [{', '.join([written, *first[1:]])}]"] + [f"    {k}: [{', '.join(v)}]" for k, v in rows[1:]]
    return f"  {name}:\n" + "\n".join(lines)


def accepts_as_check_does(folder, tmp_path, name: str) -> int:
    """The key's first number of ``name`` and those one and two units of its last digit away: check
    finds it right exactly when the quiz's first blank accepts it. Returns how many were accepted."""
    value, first = key_text(folder, name)
    unit = Decimal(1).scaleb(Decimal(first).as_tuple().exponent)
    answers = first_blank(questions(folder)[name])
    accepted = 0
    for written in (Decimal(first) + k * unit for k in (-2, -1, 0, 1, 2)):
        sheet = tmp_path / "s.yaml"
        sheet.write_text(f"problem: {folder / 'p.yaml'}\nanswers:\n{sheet_with(folder, name, value, str(written))}\n")
        quiz = any(abs(written - v) <= tol for v, tol in answers)
        entries = json.loads(run("check", str(sheet), "--format", "json", code=0 if quiz else 1).stdout)["entries"]
        assert (entries[0]["verdict"] == "correct") == quiz, (name, written, answers, entries[0])
        accepted += quiz
    return accepted


@pytest.mark.parametrize("name", ["loss_per_node", "loss", "penalty", "regularized_loss", "grad_logits", "grad_W",
                                  "W_new"])
def test_a_weighted_penalised_quiz_accepts_what_check_accepts(weighted, tmp_path, name):
    assert accepts_as_check_does(weighted, tmp_path, name) >= 1  # the key's own number at least


@pytest.mark.parametrize("name", ["m_W", "v_b", "v_hat_W", "update_b"])
def test_an_adam_quiz_accepts_what_check_accepts(adam, tmp_path, name):
    assert accepts_as_check_does(adam, tmp_path, name) >= 1


@pytest.fixture(scope="module")
def momentum(tmp_path_factory):
    """Momentum with dampening on a graph, under PyTorch's weight decay and label smoothing."""
    return make_quiz(tmp_path_factory.mktemp("momentum"), "--edges", "3", "--optimizer", "momentum", "--dampening",
                     "0.5", "--l2", "0.1", "--l2-form", "weight-decay", "--label-smoothing", "0.2")


@pytest.mark.parametrize("name", ["propagated", "grad_logits", "grad_b", "velocity_W", "update_b", "b_new"])
def test_a_momentum_quiz_on_a_graph_under_weight_decay_accepts_what_check_accepts(momentum, tmp_path, name):
    assert accepts_as_check_does(momentum, tmp_path, name) >= 1
    if name == "velocity_W":
        text = questions(momentum)[name]
        assert "b_t = μ b_{t−1} + (1 − τ) g   (b_1 = g)" in text and "τ = 0.5" in text
    if name == "grad_b":  # PyTorch's weight decay adds λ b too
        assert "∂L/∂b = Σ_i ∂L/∂h_i,  plus the penalty's share λ b" in questions(momentum)[name]


def test_the_questions_state_the_convention_and_each_formula_as_the_problem_uses_it(weighted):
    asked = questions(weighted)
    assert list(asked) == ["logits", "probabilities", "loss_per_node", "loss", "penalty", "regularized_loss",
                           "grad_logits", "grad_W", "grad_b", "W_new", "b_new"]
    statement = asked["logits"]
    for words in ("Class weights w = (2, 1, 1)", "Label smoothing ε = 0.1", "R = ½λ Σ W²  (λ = 0.1)",
                  "b is not penalised", "the weighted mean over the nodes, L = Σ_i ℓ_i / Σ_i w_{y_i}"):
        assert words in statement, words
    formulas = {name: re.search(r"<b>[^<]*</b>: (.*?)\. Give each number", text).group(1)
                for name, text in asked.items()}
    assert formulas["penalty"] == "R = ½λ Σ W²  (λ = 0.1)"
    assert formulas["loss"] == "L = Σ_i ℓ_i / Σ_i w_{y_i}"
    assert formulas["loss_per_node"].startswith("ℓ_i = −Σ_c w_c t_i[c] ln p_i[c]") and "(ε = 0.1)" in \
        formulas["loss_per_node"]
    assert formulas["grad_W"] == "∂L/∂W = (∂L/∂H)ᵀ Z,  plus the penalty's share λ W"
    assert formulas["grad_b"].endswith("(b is not penalised)")
    gift = (weighted / "q.txt").read_text(encoding="utf-8")
    assert "R \\= ½λ Σ W²  (λ \\= 0.1)" in gift and "Class weights w \\= (2, 1, 1)" in gift


def test_an_adam_quiz_has_the_moments_blanks_and_states_the_optimiser(adam):
    asked = questions(adam)
    names = ["m_W", "m_b", "v_W", "v_b", "m_hat_W", "m_hat_b", "v_hat_W", "v_hat_b", "update_W", "update_b"]
    assert [name for name in asked if BY_NAME[name].optimisers] == names
    for name in names:
        numbers = 12 if name.endswith("_W") else 3  # 3 classes x 4 features, or 3 classes
        assert len(BLANK.findall(asked[name])) == numbers
        assert BY_NAME[name].formula in asked[name]
    assert "Δθ = θ_new − θ = −α m̂_t / (√v̂_t + ε)" in asked["update_W"]
    assert "W_new = W + ΔW" in asked["W_new"]
    statement = asked["logits"]
    assert "Optimiser: adam, as torch.optim.Adam (β1 = 0.8, β2 = 0.999, ε = 1e-08)" in statement
    assert "state before this step is zero (t = 0" in statement and "3 significant figures" in statement
    gift = (adam / "q.txt").read_text(encoding="utf-8")
    assert sum(line.startswith("::Second moment of b\\:") for line in gift.splitlines()) == 3


def test_a_quiz_states_an_optimisers_state_before_the_step(tmp_path, monkeypatch):
    """A problem with a state (t = 1): the statement gives t and each buffer, and the step is t = 2."""
    from nodeclf_cli.lms import quiz_files

    problem = (
        "embeddings: {1: [0.5, 0.1], 2: [0.2, 0.4]}\nlabels: {1: 0, 2: 1}\nclasses: [0, 1]\n"
        "weights: {W: [[0.1, 0.2], [0.3, -0.1]], b: [0.0, 0.1]}\nlearning_rate: 0.5\n"
        "optimizer: {name: momentum, momentum: 0.8, state: {t: 1, velocity: {W: [[0.25, -0.5], [0, 1]], b: [2, 3]}}}\n"
    )
    (_, text), = quiz_files(problem, tmp_path / "q.xml", None)
    statement = ET.fromstring(text.split("\n", 1)[1]).findall("question")[1].findtext("questiontext/text")
    assert "Optimiser: momentum, as torch.optim.SGD(momentum) (μ = 0.8, τ = 0)" in statement
    assert "t = 1 steps taken; velocity of W: class 0: (0.25, -0.5); class 1: (0, 1); velocity of b: (2, 3)" \
        in statement and "This is step t = 2." in statement
