"""check with an optimiser: a right sheet is all right (exact, and carried at 2 decimals); each
optimiser convention is named on values worked here from its own formula; a wrong m makes m̂
follow through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nodeclf_cli.cli import app
from nodeclf_cli.problem import load_problem

from .conftest import EXAMPLE

runner = CliRunner()
ARTICLE = EXAMPLE.read_text(encoding="utf-8")
LR = 0.2  # the article's learning rate
STATE = np.array([[0.1, -0.2, 0.3, 0.0], [0.0, 0.1, -0.1, 0.2], [-0.1, 0.1, 0.0, -0.2]]), np.array([0.05, -0.05, 0.0])


def gradients() -> tuple[np.ndarray, np.ndarray]:
    """∂L/∂W and ∂L/∂b of the article's step, worked here: (P − Y)ᵀ Z / N and Σ_i (P − Y) / N."""
    p = load_problem(EXAMPLE)
    H = p.Z @ p.W.T + p.b
    P = np.exp(H) / np.exp(H).sum(axis=1, keepdims=True)
    G = (P - np.eye(3)[p.y]) / len(p.y)
    return G.T @ p.Z, G.sum(axis=0)


def theta() -> tuple[np.ndarray, np.ndarray]:
    p = load_problem(EXAMPLE)
    return p.W, p.b


def rows(values: np.ndarray, places: int) -> str:
    return "[" + ", ".join(f"{x:.{places}f}" for x in values) + "]"


def sheet(tmp_path: Path, optimizer: str, answers: dict, places: int = 4, extra: str = "") -> Path:
    """A problem (the article with ``optimizer``) and a sheet of ``answers`` (name: W rows or b) at ``places``."""
    (tmp_path / "problem.yaml").write_text(ARTICLE + extra + f"optimizer: {optimizer}\n", encoding="utf-8")
    lines = ["problem: problem.yaml", "answers:"]
    for name, value in answers.items():
        value = np.asarray(value)
        if value.ndim == 2:
            lines += [f"  {name}:", *(f"    {c}: {rows(row, places)}" for c, row in enumerate(value))]
        else:
            lines.append(f"  {name}: {rows(value, places)}")
    path = tmp_path / "answers.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check(path: Path, *args: str) -> list[dict]:
    result = runner.invoke(app, ["check", str(path), "--format", "json", *args], env={"NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["entries"]


def by_quantity(entries: list[dict], name: str) -> list[dict]:
    found = [e for e in entries if e["quantity"] == name]
    assert found, name
    return found


def adam_by_hand(g, theta_, m0, v0, t, beta1=0.9, beta2=0.999, eps=1e-8, lr=LR, decay=0.0):
    m = beta1 * m0 + (1 - beta1) * g
    v = beta2 * v0 + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    update = -lr * decay * theta_ - lr * m_hat / (np.sqrt(v_hat) + eps)
    return {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat, "update": update, "new": theta_ + update}


@pytest.mark.parametrize("places", [2, 4])
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_a_right_adam_sheet_is_all_right(tmp_path, optimizer, places):
    answers = {}
    for part, g, th in (("W", gradients()[0], theta()[0]), ("b", gradients()[1], theta()[1])):
        worked = adam_by_hand(g, th, 0.0, 0.0, 1, decay=0.01 if optimizer == "adamw" else 0.0)
        answers.update({f"{key}_{part}": worked[key] for key in ("m", "v", "m_hat", "v_hat", "update")})
        answers[f"{part}_new"] = worked["new"]
    entries = check(sheet(tmp_path, optimizer, answers, places))
    assert len(entries) == 6 * 15 and all(e["verdict"] == "correct" for e in entries), \
        [e for e in entries if e["verdict"] != "correct"][:3]


def test_a_right_momentum_sheet_from_a_state_is_all_right(tmp_path):
    key = ("\n  name: momentum\n  momentum: 0.8\n  dampening: 0.25\n  state:\n    t: 1\n"
           f"    velocity: {{W: {STATE[0].tolist()}, b: {STATE[1].tolist()}}}")
    answers = {}
    for part, g, th, before in (("W", gradients()[0], theta()[0], STATE[0]), ("b", gradients()[1], theta()[1],
                                                                               STATE[1])):
        velocity = 0.8 * before + 0.75 * g
        answers.update({f"velocity_{part}": velocity, f"update_{part}": -LR * velocity,
                        f"{part}_new": th - LR * velocity})
    entries = check(sheet(tmp_path, key, answers))
    assert all(e["verdict"] == "correct" for e in entries), [e for e in entries if e["verdict"] != "correct"][:3]


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])  # (adam's v carries as 0 at decimals: refused)
def test_a_sheet_carried_at_two_decimals_is_all_right(tmp_path, optimizer):
    (tmp_path / "problem.yaml").write_text(ARTICLE + f"optimizer: {optimizer}\n", encoding="utf-8")
    step = runner.invoke(app, ["step", str(tmp_path / "problem.yaml"), "--carry", "rounded", "--format", "json"])
    data = json.loads(step.stdout)
    names = [name for name in data if name.endswith(("_W", "_b")) and name not in ("grad_W", "grad_b")]
    assert "update_W" in names and "W_new" not in names
    answers = {name: data[name] for name in ["grad_W", "grad_b", *names, "W_new", "b_new"]}
    entries = check(sheet(tmp_path, optimizer, answers, places=2))
    assert all(e["verdict"] == "correct" for e in entries), [e for e in entries if e["verdict"] != "correct"][:3]
    exact = runner.invoke(app, ["step", str(tmp_path / "problem.yaml"), "--format", "json"])
    changed = [name for name in names if np.any(np.round(np.array(data[name]), 2)
                                                != np.round(np.array(json.loads(exact.stdout)[name]), 2))]
    assert changed, "carrying changes no value: the test would not tell carrying apart"


def assert_named(entries: list[dict], name: str, says: str, cause: str = "convention") -> None:
    """Every number of ``name`` that is not right anyway is marked ``cause`` with ``says``."""
    marked = [e for e in by_quantity(entries, name) if e["verdict"] != "correct"]
    assert marked, f"every {name} is right: the convention is not told apart"
    for e in marked:
        assert (e["verdict"], e["cause"]) == ("wrong", cause), e
        assert says in e["message"] and "this problem uses" in e["message"] or cause != "convention", e["message"]


def assert_followed(entries: list[dict], name: str) -> None:
    """Every number of ``name`` that is not right anyway follows through: it repeats the
    mistake (or convention) already named in what it rests on, which is penalised once."""
    marked = [e for e in by_quantity(entries, name) if e["verdict"] != "correct"]
    assert marked, f"every {name} is right"
    for e in marked:
        assert e["verdict"] == "follows_through" and e["message"].startswith("the same "), e


def test_momentum_conventions_are_named(tmp_path):
    g_W, _ = gradients()
    key = "{name: momentum, momentum: 0.9, dampening: 0.5}"
    cases = [  # each velocity, worked by the other convention's formula, at t = 1 from zero
        ("velocity_W", -LR * g_W, "right for Sutskever's and CS231n's v_t = μ v_{t−1} − α g"),
        ("velocity_W", 0.1 * g_W, "right for the moving average v_t = β v_{t−1} + (1 − β) g"),
        ("velocity_W", 0.5 * g_W, "right for b_1 = (1 − τ) g, the first step dampened too"),
        ("update_W", -LR * (g_W + 0.9 * g_W), "right for Nesterov's θ −= α (g + μ b_t)"),
    ]
    for name, values, says in cases:
        assert_named(check(sheet(tmp_path, key, {name: values})), name, says)


def test_sutskevers_velocity_from_a_state_is_named(tmp_path):
    g_W, _ = gradients()
    key = ("\n  name: momentum\n  state:\n    t: 3\n"
           f"    velocity: {{W: {STATE[0].tolist()}, b: {STATE[1].tolist()}}}")
    v = 0.9 * (-LR * STATE[0]) - LR * g_W  # v_{t−1} = −α b_{t−1}: the same history
    assert_named(check(sheet(tmp_path, key, {"velocity_W": v})), "velocity_W", "Sutskever's")


def test_nesterov_written_as_plain_momentum_is_named(tmp_path):
    g_W, _ = gradients()
    assert_named(check(sheet(tmp_path, "nesterov", {"update_W": -LR * g_W})), "update_W",
                 "right for plain momentum's θ −= α b_t; this problem uses Nesterov's")


def test_adams_conventions_are_named(tmp_path):
    g, th = gradients()[0], theta()[0]
    m0, v0 = STATE[0], np.abs(STATE[0]) / 10
    key = ("\n  name: adam\n  eps: 0.1\n  state:\n    t: 2\n"
           f"    m: {{W: {m0.tolist()}, b: {STATE[1].tolist()}}}\n"
           f"    v: {{W: {v0.tolist()}, b: {np.abs(STATE[1]).tolist()}}}")
    right = adam_by_hand(g, th, m0, v0, 3, eps=0.1)
    inside = -LR * right["m_hat"] / np.sqrt(right["v_hat"] + 0.1)
    rate = LR * np.sqrt(1 - 0.999**3) / (1 - 0.9**3)
    efficient = -rate * right["m"] / (np.sqrt(right["v"]) + 0.1)
    assert_named(check(sheet(tmp_path, key, {"update_W": inside})), "update_W", "right for ε inside the root")
    assert_named(check(sheet(tmp_path, key, {"update_W": efficient})), "update_W",
                 "right for Kingma and Ba's efficient form")
    entries = check(sheet(tmp_path, key, {"m_hat_W": right["m"], "update_W": -LR * right["m"] / (
        np.sqrt(right["v"]) + 0.1)}))
    assert_named(entries, "m_hat_W", "", cause="no_bias_correction")
    assert_followed(entries, "update_W")  # without the correction either: the mistake named in m̂, penalised once
    alone = check(sheet(tmp_path, key, {"update_W": -LR * right["m"] / (np.sqrt(right["v"]) + 0.1)}))
    assert_named(alone, "update_W", "", cause="no_bias_correction")  # where m̂ is not written, it is named there


def test_adamw_decay_conventions_are_named(tmp_path):
    g, th = gradients()[0], theta()[0]
    key = "{name: adamw, weight_decay: 0.5, eps: 0.1}"
    l2 = adam_by_hand(g + 0.5 * th, th, 0.0, 0.0, 1, eps=0.1)  # Adam's L2: λθ joins g
    says = ("right for Adam's weight decay, λθ added to g before the moments; "
            "this problem uses AdamW's decoupled θ −= αλθ")
    entries = check(sheet(tmp_path, key, {"m_W": l2["m"], "update_W": l2["update"], "W_new": l2["new"]}))
    assert_named(entries, "m_W", says)
    assert_followed(entries, "update_W")  # the convention already named in m: named once
    assert_named(check(sheet(tmp_path, key, {"update_W": l2["update"]})), "update_W", says)
    no_alpha = adam_by_hand(g, th, 0.0, 0.0, 1, eps=0.1)["update"] - 0.5 * th  # θ −= λθ
    assert_named(check(sheet(tmp_path, key, {"update_W": no_alpha})), "update_W", "right for AdamW's decay without α")


def test_adams_weight_decay_written_as_adamws_is_named(tmp_path):
    g, th = gradients()[0], theta()[0]  # the data's gradient; the problem's g is g + λθ
    loss = "loss: {l2: 0.5, l2_form: weight-decay}\n"
    decoupled = adam_by_hand(g, th, 0.0, 0.0, 1, eps=0.1, decay=0.5)
    key = "{name: adam, eps: 0.1}"
    says = "right for AdamW's decoupled θ −= αλθ; this problem uses Adam's weight decay"
    entries = check(sheet(tmp_path, key, {"m_W": decoupled["m"], "update_W": decoupled["update"]}, extra=loss))
    assert_named(entries, "m_W", says)
    assert_followed(entries, "update_W")
    assert_named(check(sheet(tmp_path, key, {"update_W": decoupled["update"]}, extra=loss)), "update_W", says)


def test_a_wrong_m_makes_m_hat_follow_through(tmp_path):
    g, th = gradients()[0], theta()[0]
    right = adam_by_hand(g, th, 0.0, 0.0, 1)
    m = right["m"].copy()
    m[1] += 0.05  # a slip in class 1's row
    m = np.round(m, 4)  # as written, and m̂ worked from it
    entries = check(sheet(tmp_path, "adam", {"m_W": m, "m_hat_W": m / 0.1}))
    assert {e["verdict"] for e in by_quantity(entries, "m_W")[4:8]} == {"wrong"}
    assert [e["verdict"] for e in by_quantity(entries, "m_hat_W")[4:8]] == ["follows_through"] * 4
    assert {e["verdict"] for e in by_quantity(entries, "m_hat_W")[:4]} == {"correct"}


def test_answers_of_another_optimiser_are_refused_at_their_line(tmp_path):
    path = sheet(tmp_path, "adam", {"velocity_b": [0.1, 0.2, 0.3]})
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert f"{path}:3: velocity_b: the problem's optimizer is adam, which has no velocity_b" in result.output


def test_checks_options_override_the_problems_key(tmp_path):
    g_W, _ = gradients()
    path = sheet(tmp_path, "adam", {"velocity_W": 0.5 * g_W})
    entries = check(path, "--optimizer", "momentum", "--dampening", "0.5")
    assert_named(entries, "velocity_W", "right for b_1 = (1 − τ) g")


def test_a_classs_sheets_take_the_optimisers_options_as_one_sheet_does(tmp_path):
    g_W, _ = gradients()
    path = sheet(tmp_path, "adam", {"velocity_W": 0.5 * g_W})
    (tmp_path / "scheme.yaml").write_text("per: number\n")  # --marks: the sheet is marked as a class
    result = runner.invoke(app, ["check", str(path), "--format", "json", "--marks", str(tmp_path / "scheme.yaml"),
                                 "--optimizer", "momentum", "--dampening", "0.5"], env={"NO_COLOR": "1"})
    assert result.exit_code == 1, result.output
    assert_named(json.loads(result.stdout)["sheets"][0]["entries"], "velocity_W", "right for b_1 = (1 − τ) g")


def whole_sheet(worked_by: dict, parts=("W", "b")) -> dict:
    """Answers of an Adam step, worked by ``worked_by[part]`` (adam_by_hand's dict): every quantity but
    v, which at 4 decimals (about 10⁻⁵) is 0.0000 either way, and so says nothing."""
    answers = {}
    for part in parts:
        worked = worked_by[part]
        answers.update({f"{key}_{part}": worked[key] for key in ("m", "m_hat", "v_hat", "update")})
        answers[f"{part}_new"] = worked["new"]
    return answers


def test_adamw_worked_as_adams_l2_is_named_once_and_follows_through(tmp_path):
    """The moments from g + λθ (Adam's weight decay) where AdamW's decoupled decay is asked: m and v̂
    (the first written of each chain, v being left out) are named the convention; m̂, the update
    (which repeats it) and the new weights follow; no slip."""
    worked = {part: adam_by_hand(g + 0.5 * th, th, 0.0, 0.0, 1, eps=0.1)
              for part, g, th in zip("Wb", gradients(), theta())}
    entries = check(sheet(tmp_path, "{name: adamw, weight_decay: 0.5, eps: 0.1}", whole_sheet(worked)))
    for name in ("m_W", "m_b", "v_hat_W", "v_hat_b"):
        assert_named(entries, name, "right for Adam's weight decay, λθ added to g before the moments")
    assert not [e for e in entries if e["cause"] == "slip"]
    later = [e for e in entries if e["quantity"].startswith(("m_hat", "update", "W_new", "b_new"))]
    assert later and {e["verdict"] for e in later} <= {"correct", "follows_through"}, \
        [e for e in later if e["verdict"] == "wrong"][:2]


def test_adams_weight_decay_worked_as_adamw_names_the_gradient_and_nothing_after(tmp_path):
    """The loss's weight decay (λθ in g, Adam) worked as AdamW's: the gradients without λθ are named the
    convention; every moment, its correction, the update and the new weights follow through."""
    loss = "loss: {l2: 0.5, l2_form: weight-decay}\n"
    answers = {"grad_W": gradients()[0], "grad_b": gradients()[1]}
    answers.update(whole_sheet({part: adam_by_hand(g, th, 0.0, 0.0, 1, eps=0.1, decay=0.5)
                                for part, g, th in zip("Wb", gradients(), theta())}))
    entries = check(sheet(tmp_path, "{name: adam, eps: 0.1}", answers, extra=loss))
    for name in ("grad_W", "grad_b"):
        assert_named(entries, name, "right for AdamW's decoupled θ −= αλθ; this problem uses Adam's weight decay")
    rest = [e for e in entries if not e["quantity"].startswith("grad")]
    assert rest and {e["verdict"] for e in rest} <= {"correct", "follows_through"}, \
        [e for e in rest if e["verdict"] == "wrong"][:2]
