"""Sheets a marker grades in a way an earlier grader did not: carrying finer than
required, a finer neighbour in a row, ties, the sum's formulas, significant figures,
coarse numbers, YAML 1.1 integers.

Expected values were worked independently with numpy and decimal (never with nodeclf).
"""

from __future__ import annotations

import json
import textwrap

from .conftest import ROOT
from .test_cli_step import run

ARTICLE = f"problem: {ROOT / 'data' / 'example.yaml'}\n"

# Five string-named classes, six nodes; alpha = 0.5. Exact b_new (worked by hand):
# cat 0.15302, dog -0.18936, fox 0.00514, owl 0.21802, yak -0.08682.
ZOO = """\
problem:
  embeddings: {ann: [0.2, 0.7, 0.1], bo: [0.9, 0.3, 0.4], cy: [0.5, 0.5, 0.8],
               di: [0.1, 0.2, 0.6], ed: [0.6, 0.9, 0.3], flo: [0.4, 0.1, 0.9]}
  labels: {ann: cat, bo: dog, cy: fox, di: owl, ed: yak, flo: cat}
  classes: [cat, dog, fox, owl, yak]
  weights:
    W: [[0.3, -0.2, 0.5], [-0.4, 0.6, 0.1], [0.2, 0.2, -0.3], [0.7, -0.1, 0.4], [-0.5, 0.3, 0.2]]
    b: [0.1, -0.2, 0.0, 0.3, -0.1]
  learning_rate: 0.5
"""


def sheet(tmp_path, answers: str, head: str = ARTICLE, *args: str, code: int = 0):
    path = tmp_path / "answers.yaml"
    path.write_text(head + "answers:\n" + textwrap.indent(textwrap.dedent(answers).strip(), "  ") + "\n")
    return run("check", str(path), *args, code=code)


def entries(result):
    return json.loads(result.stdout)["entries"]


def test_losses_from_probabilities_carried_finer_than_required_are_right(tmp_path):
    # p rounded to 3 decimals (finer than the 2 required): -ln 0.288 = 1.244795 -> 1.2448,
    # -ln 0.358 = 1.027222, -ln 0.321 = 1.136314, -ln 0.297 = 1.214023 (rounded once).
    # From 2-decimal p the tool accepts 1.2379 (-ln 0.29); from 3-decimal p it calls these drift.
    result = sheet(tmp_path, "loss_per_node: {2: 1.2448, 3: 1.0272, 4: 1.1363, 5: 1.2140}", ARTICLE,
                   "--format", "json", code=0)
    assert [e["verdict"] for e in entries(result)] == ["correct"] * 4


def test_a_finer_neighbour_does_not_make_a_required_precision_number_wrong(tmp_path):
    # 0.15 is b_cat = 0.15302 at the 2 decimals required; 0.005 beside it must not turn it into 0.150.
    result = sheet(tmp_path, "b_new: [0.15, -0.19, 0.005, 0.22, -0.09]", ZOO, "--format", "json", code=0)
    assert entries(result)[0]["verdict"] == "correct"


def test_a_tie_note_names_the_two_roundings_once(tmp_path):
    # h_1[0] = 0.685 exactly: 0.68 and 0.69 are both right; "+0.68" is 0.68 written with a sign.
    result = sheet(tmp_path, "logits: {1: [+0.68, 0.57, 0.82]}", ARTICLE, "--format", "json")
    message = entries(result)[0]["message"]
    assert "+0.68 and 0.68" not in message


def test_check_with_the_sum_shows_the_sums_gradient_formula(tmp_path):
    # L = sum: dL/dH = P - Y, h_1: P = (0.330151, 0.293111, 0.376738), y = 0
    result = sheet(tmp_path, "grad_logits: {1: [-0.67, 0.29, 0.38]}", ARTICLE, "--reduction", "sum")
    assert "(P − Y)/N" not in result.stdout
    assert "∂L/∂H = P − Y" in result.stdout


def test_the_mean_under_the_sum_is_not_labelled_sum_not_mean(tmp_path):
    # the mean of the article's losses (1.1465) where the sum (5.7325) is asked for
    result = sheet(tmp_path, "loss: 1.1465", ARTICLE, "--reduction", "sum", code=1)
    assert "sum, not mean" not in result.stdout


def test_a_coarse_note_under_significant_figures_counts_figures(tmp_path):
    # 0.33 is p_1[0] = 0.330151 to 2 significant figures; 3 are required
    head = ARTICLE + "precision: {sig_figs: 3}\n"
    result = sheet(tmp_path, "probabilities: {1: [0.33, 0.293, 0.377]}", head, "--format", "json")
    assert "2 significant figures" in entries(result)[0]["message"]


def test_a_coarse_number_right_for_carried_values_says_it_is_coarse(tmp_path):
    # L = 1.1423 from 2-decimal p (the article's), written 1.14: right, but 4 decimals are required
    result = sheet(tmp_path, "loss: 1.14", ARTICLE, "--format", "json")
    entry = entries(result)[0]
    assert entry["coarse"] and "required" in entry["message"]


def test_a_yaml_hexadecimal_integer_is_read_as_problems_read_it_not_a_traceback(tmp_path):
    # 0x1 is YAML 1.1's 1: right for L = 1.1465 at the 0 decimals written, 4 required
    result = sheet(tmp_path, "loss: 0x1", ARTICLE, "--format", "json", code=0)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [entry] = entries(result)
    assert (entry["verdict"], entry["coarse"], entry["given"]) == ("correct", True, 1.0)


def test_a_number_that_is_the_exact_value_is_never_coarse(tmp_path):
    # Â of the example graph: node 5's row is [0, 0, 0, 1/sqrt(6), 1/2]; 0 and 0.5 are the
    # exact values, written whole, under a requirement of 3 significant figures
    head = f"problem: {ROOT / 'data' / 'example-graph.yaml'}\nprecision: {{sig_figs: 3}}\n"
    result = sheet(tmp_path, "adjacency: {5: [0, 0, 0, 0.408, 0.5]}", head, "--format", "json")
    assert [(e["verdict"], e["coarse"]) for e in entries(result)] == [("correct", False)] * 5


CASES = ROOT / "tests" / "cases"


def marked(name: str) -> list[dict]:
    return json.loads(run("check", str(CASES / name), "--format", "json", code=1).stdout)["entries"]


def test_a_different_mistake_after_a_convention_is_not_passed_as_the_same():
    """Sheet 22's ½λΣW² for λΣW² (named in R and ∂L/∂W), then the update left without any penalty:
    W − α·(∂L/∂H)ᵀZ, e.g. 0.6 − 0.2·0.061 = 0.5878 → 0.59, where their own ∂L/∂W gives 0.58. That is no
    repetition of ½λ (worked from their ½λ gradient, it would be ½λ's share given twice): each such
    W_new is wrong, none follows through as "the same convention"."""
    found = marked("penalty_half_then_left_out_of_the_update.yaml")
    assert {e["cause"] for e in found if e["quantity"] == "grad_W"} == {"convention"}
    W_new = [e for e in found if e["quantity"] == "W_new"]
    assert W_new and not [e for e in W_new if "the same convention" in e["message"]]
    assert [e["verdict"] for e in W_new].count("wrong") >= 5


def test_weight_decay_added_twice_is_not_the_convention_carried_on():
    """AdamW's problem: λθ in the gradient (Adam's L2, named), then λθ added once more before the moments:
    m = 0.1·(−0.169 + 0.06) = −0.0109 where their own gradient gives −0.0169. Wrong, not following through."""
    found = marked("adamw_decay_added_twice.yaml")
    assert {e["cause"] for e in found if e["quantity"] == "grad_W"} == {"convention"}
    m_W = [e for e in found if e["quantity"] == "m_W"]
    assert m_W and all(e["verdict"] == "wrong" for e in m_W)


def test_the_penalty_left_out_of_the_gradient_or_the_update_is_named(tmp_path):
    """R = λΣW² (λ = 0.1): ∂(L + R)/∂W = (P − Y)ᵀZ/N + 2λW. Worked here with numpy from the problem's
    numbers: the data's gradient alone written for ∂L/∂W, and (on another sheet) the right gradient
    but the update W − α (P − Y)ᵀZ/N: each is `penalty_left_out`."""
    import numpy as np
    import yaml

    problem = ROOT / "tests" / "sheets" / "problems" / "l2_sum.yaml"
    data = yaml.safe_load(problem.read_text())
    Z = np.array([data["embeddings"][k] for k in (1, 2, 3)])
    W, b = np.array(data["weights"]["W"]), np.array(data["weights"]["b"])
    H = Z @ W.T + b
    P = np.exp(H) / np.exp(H).sum(axis=1, keepdims=True)
    grad_data = (P - np.eye(3)[[0, 1, 2]]).T @ Z / 3
    rows = lambda M: "\n".join(f"  {c}: [{', '.join(f'{x:.4f}' for x in row)}]" for c, row in enumerate(M))  # noqa: E731
    head = f"problem: {problem}\nprecision: {{decimals: 4}}\n"
    for answers, name in ((f"grad_W:\n{rows(grad_data)}", "grad_W"),
                          (f"grad_W:\n{rows(grad_data + 0.2 * W)}\nW_new:\n{rows(W - 0.2 * grad_data)}", "W_new")):
        sheet_path = tmp_path / f"{name}.yaml"
        sheet_path.write_text(head + "answers:\n" + textwrap.indent(answers, "  ") + "\n")
        found = json.loads(run("check", str(sheet_path), "--format", "json", code=1).stdout)["entries"]
        wrong = [e for e in found if e["verdict"] != "correct"]
        assert wrong and {(e["quantity"], e["cause"]) for e in wrong} == {(name, "penalty_left_out")}, wrong[:2]
