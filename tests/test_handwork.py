"""Hand-carry mode, explanations and exports."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from numpy.testing import assert_allclose

from nodeclf_cli import core
from nodeclf_cli.handwork import LATEX, explain, rounded_carry
from nodeclf_cli.problem import load_problem
from nodeclf_cli.rounding import Precision

from .test_cli_step import run, sections, table_row

TWO, FOUR = Precision(decimals=2), Precision(decimals=4)


def carried_step(article, precision=TWO, loss_precision=FOUR):
    carry = rounded_carry(precision, loss_precision)
    return core.gradient_step(article.Z, article.y, article.W, article.b, article.lr, carry=carry)


def test_rounded_carry_reproduces_the_articles_hand_values(article):
    result = carried_step(article)
    assert result.probabilities[1].tolist() == [0.42, 0.29, 0.30]  # exact carrying gives 0.29 last
    assert result.loss == pytest.approx(article.loss_from_2dp_probs, abs=1e-12)
    assert_allclose(result.logits, [[0.69, 0.57, 0.82], [0.58, 0.21, 0.24], [0.90, 0.62, 0.95],
                                    [0.25, 0.12, 0.09], [0.41, 0.64, 0.36]])


def test_rounded_carry_half_even_starts_from_068(article):
    result = carried_step(article, Precision(decimals=2, rounding="half-even"), FOUR)
    assert result.logits[0, 0] == 0.68


def test_carry_rounded_marks_what_changed():
    out = run("step", "--carry", "rounded").stdout
    assert table_row(sections(out)["Softmax"], "2") == ["2", "0.42", "0.29", "0.30†", "0  ✗", "1"]
    assert "L = (1/N) Σ_i ℓ_i = 1.1423  (N = 5)" in out
    assert "node 2 p[2]: 0.30 (exact: 0.29)" in out
    assert "with exact carrying L = (1/N) Σ_i ℓ_i = 1.1465" in " ".join(out.split())


def test_carry_exact_marks_nothing():
    assert "†" not in run("step").stdout


def test_explain_writes_the_articles_first_logit():
    out = run("step", "--explain").stdout
    assert "h_1[0] = 0.5·0.17 + 0.6·0.40 + 0.7·(−0.14) + 0.8·0.51 + 0.05 = 0.685 ≈ 0.69" in out
    assert "p_1[0] = 1.98377 / 6.00868 = 0.330151 ≈ 0.33" in out
    assert "ℓ_1 = −ln p_1[0] = −ln 0.330151 = 1.1082" in out
    assert "w_0[0] := 0.17 − 0.2·(−0.0675447) = 0.183509 ≈ 0.18" in out


def test_explain_node_and_class():
    out = run("step", "--explain", "--node", "5", "--class", "2").stdout
    assert "h_5[2] = 0.8·0.53 + 0.4·(−0.04) + 0.3·0.40 + 0.2·0.77 + (−0.32) = 0.362 ≈ 0.36" in out
    assert "ℓ_5 = −ln p_5[2] = −ln 0.297252 = 1.21317 ≈ 1.2132" in out


def test_explain_gradient_is_its_sum_over_nodes(article):
    problem = load_problem()
    result = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.2)
    text = explain(problem, result, 0, 0, TWO, FOUR, "mean")
    gradient = dict(text.groups)["Gradient (feature 0 and bias)"][0]
    assert gradient.startswith("∂L/∂w_0[0] = (1/N) Σ_n (p_n[0] − y_n[0])·z_n[0] = (1/5)[(0.330151 − 1)·0.5 + ")
    assert gradient.endswith("= −0.0675447 ≈ −0.07")


@pytest.mark.parametrize("c, j", [(1, 2), (2, 3)])
def test_explain_feature_j(article, c, j):
    """--feature j writes dL/dw_c[j] and w_c[j]'s update, with the values of an
    independent sum over nodes: (1/N) sum_n (p_n[c] - y_n[c]) z_n[j]."""
    problem = load_problem()
    result = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.2)
    P, Y = result.probabilities, np.eye(3)[problem.y]
    grad = sum((P[m, c] - Y[m, c]) * problem.Z[m, j] for m in range(5)) / 5
    out = run("step", "--explain", "--class", str(c), "--feature", str(j)).stdout
    joined = " ".join(out.split())
    assert f"Gradient (feature {j} and bias)" in out
    assert f"∂L/∂w_{c}[{j}] = (1/N) Σ_n (p_n[{c}] − y_n[{c}])·z_n[{j}] = (1/5)[" in joined
    assert f"= {grad:.6g}".replace("-", "−") in joined
    w_new = problem.W[c, j] - 0.2 * grad
    assert f"w_{c}[{j}] := " in out and f"= {w_new:.6g} ≈ {w_new:.2f}".replace("-", "−") in joined


def test_explain_feature_out_of_range_is_a_clear_error():
    result = run("step", "--explain", "--feature", "4", code=2)
    assert result.stderr == "nodeclf: error: --feature: no feature 4: the embeddings have features 0..3\n"


def test_explain_unknown_node_is_a_clear_error():
    result = run("step", "--explain", "--node", "9", code=2)
    assert "--node: no node 9 in the problem (nodes: 1, 2, 3, 4, 5)" in result.stderr


def test_explain_unknown_class_is_a_clear_error():
    result = run("step", "--explain", "--class", "7", code=2)
    assert result.stderr == "nodeclf: error: --class: no class 7 in the problem (classes: 0, 1, 2)\n"


@pytest.mark.parametrize("option", ["--node", "--feature"])
def test_node_or_feature_without_explain_is_a_usage_error(option):
    assert "add --explain" in run("step", option, "2", code=2).output


def test_markdown_has_the_tables_and_explanation():
    out = run("step", "--format", "markdown", "--explain").stdout
    assert "### Logits  H = Z Wᵀ + b" in out
    assert "| 1 | 0.69\\* | 0.57 | 0.82 |" in out
    assert "h_1[0] = 0.5·0.17" in out


@pytest.mark.parametrize(
    "value, text",
    [(0.685, "0.685"), (-0.0675447, "-0.0675447"), (1234567.0, "1234570"), (1e-6, "0.000001"),
     (0.0, "0"), (1e150, "1e+150"), (2.5e-20, "2.5e-20"), (-3e18, "-3e+18")],
)
def test_worked_values_are_written_out_unless_they_would_take_over_16_digits(value, text):
    from nodeclf_cli.handwork import full

    assert full(value) == text


def test_latex_is_ascii_and_uses_math():
    out = run("step", "--format", "latex", "--explain").stdout
    assert out.isascii()
    assert r"\begin{tabular}" in out and r"\end{document}" in out
    assert r"$h_{1}[0] = 0.5 \cdot 0.17 + 0.6 \cdot 0.40" in out


def test_latex_notes_keep_options_and_ellipses_as_text():
    out = run("step", "--format", "latex", "--show-nodes", "2").stdout
    assert out.isascii()
    assert (r"\ldots and $3$ more nodes, not shown (\texttt{--show-nodes} $0$ shows all; "
            r"\texttt{--format} json gives every value)") in out


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("carry, extra", [("exact", []), ("rounded", []), ("rounded", ["--show-nodes", "2"])])
def test_latex_compiles_with_pdflatex(tmp_path, carry, extra):
    tex = tmp_path / "step.tex"
    run("step", "--format", "latex", "--explain", "--carry", carry, "--output", str(tex), *extra)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "step.pdf").stat().st_size > 1000
    assert "Overfull" not in (tmp_path / "step.log").read_text(errors="replace")


NAMED = """\
embeddings: {a_1: [1.0, 2.0], "b&c": [0.5, 0.1], "Mr. Hi": [0.2, 0.2]}
labels: {a_1: "x%", "b&c": "y#", "Mr. Hi": "x%"}
classes: ["x%", "y#"]
weights: {W: [[0.1, 0.2], [0.3, 0.4]], b: [0, 0]}
learning_rate: 0.1
"""


def test_latex_writes_names_as_text_whatever_they_hold(tmp_path):
    problem = tmp_path / "named.yaml"
    problem.write_text(NAMED)
    out = run("step", str(problem), "--format", "latex", "--explain", "--node", "a_1").stdout
    assert r"a\_1 & $1$ & $2$ & x\% \\" in out  # a table row: not $a_1$ (a subscript), not a % comment
    assert r"b\&c & $0.5$ & $0.1$ & y\# \\" in out
    assert r"$h_{\text{a\_1}}[\text{x\%}] = 1 \cdot 0.10" in out  # a formula: names as text
    assert "Mr. Hi & $0.2$" in out
    assert not re.search(r"(?<!\\)[%#]", out)  # an unescaped % would comment out the rest of its line


def test_markdown_writes_names_as_written(tmp_path):
    problem = tmp_path / "named.yaml"
    problem.write_text(NAMED.replace('"b&c"', '"b|c"').replace('"y#"', '"<y>"').replace('"Mr. Hi"', '"*hi*"'))
    out = run("step", str(problem), "--format", "markdown", "--explain", "--node", "*hi*").stdout
    assert "| b\\|c | 0.5 | 0.1 | &lt;y> |" in out  # not a column break, not an HTML tag
    assert "| \\*hi\\* | 0.2 | 0.2 | x% |" in out  # not emphasis
    assert "**Loss (node \\*hi\\*'s true class is x%)**" in out


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_with_names_holding_latex_specials_compiles(tmp_path):
    problem, tex = tmp_path / "named.yaml", tmp_path / "named.tex"
    problem.write_text(NAMED)
    run("step", str(problem), "--format", "latex", "--explain", "--carry", "rounded", "--output", str(tex))
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize(
    "name, start",
    [("s.json", '{\n  "node_ids"'), ("s.md", "## One gradient step"), ("s.tex", r"\documentclass"),
     ("s.txt", "One gradient step"), ("S.JSON", '{\n  "node_ids"')],
)
def test_output_format_follows_the_files_suffix(tmp_path, name, start):
    run("step", "--explain", "--output", str(tmp_path / name))
    assert (tmp_path / name).read_text().startswith(start)


def test_an_explicit_format_wins_over_the_suffix(tmp_path):
    run("step", "--format", "table", "--output", str(tmp_path / "s.json"))
    assert (tmp_path / "s.json").read_text().startswith("One gradient step")


def test_explanation_sums_write_out_as_many_terms_as_show_nodes(tmp_path):
    out = run("step", "--explain", "--show-nodes", "2").stdout
    assert "L = (1/N) Σ_i ℓ_i = (1/5)(1.1082 + 1.24486 + … (3 more)) = 1.14649 ≈ 1.1465" in out
    assert "(0.417337 − 0) + … (3 more)] = −0.0436398 ≈ −0.04" in " ".join(out.split())
    everything = run("step", "--explain", "--show-nodes", "0").stdout
    assert "(1/5)(1.1082 + 1.24486 + 1.02855 + 1.13768 + 1.21317) = 1.14649" in everything
    assert "more)" not in everything
    latex = run("step", "--explain", "--show-nodes", "2", "--format", "latex").stdout
    assert r"1.24486 + \ldots\ (\text{3 more})) = 1.14649" in latex


def test_output_file_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "out.md"
    target.write_text("keep me")
    result = run("step", "--format", "markdown", "--output", str(target), code=2)
    assert "already exists; pass --force to overwrite it" in result.stderr
    assert target.read_text() == "keep me"
    run("step", "--format", "markdown", "--output", str(target), "--force")
    assert target.read_text().startswith("## One gradient step")
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]  # no temporary left


def wide_problem(tmp_path) -> list[str]:
    """Options for a problem of 20 features with long decimals: tables wider than a page."""
    rng = np.random.default_rng(11)
    np.save(tmp_path / "z.npy", rng.normal(size=(6, 20)))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 0, 1, 2]))
    weights = tmp_path / "w.csv"
    weights.write_text("".join(f"{c},0.1,{','.join(map(repr, rng.normal(size=20).tolist()))}\n" for c in range(3)))
    return ["--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"), "--weights", str(weights),
            "--lr", "0.1"]


def test_latex_splits_wide_tables_each_led_by_the_first_column(tmp_path):
    out = run("step", *wide_problem(tmp_path), "--format", "latex").stdout
    tables = out.split(r"\begin{tabular}")[1:]
    assert len(tables) > 8  # more than one table for some of the 8 sections
    headers = [table.split("\n")[2] for table in tables]
    assert all(header.startswith(("node &", "class &")) for header in headers)
    for j in range(20):  # every feature is in some table, once
        assert sum(f"$x_{{{j}}}$" in h or f"$x_{j}$" in h for h in headers) == 1


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_of_a_wide_problem_fits_the_page(tmp_path):
    tex = tmp_path / "wide.tex"
    run("step", *wide_problem(tmp_path), "--format", "latex", "--output", str(tex))
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "wide.log").read_text(errors="replace")


def test_output_table_to_file_is_plain_text(tmp_path):
    target = tmp_path / "out.txt"
    run("step", "--output", str(target))
    text = target.read_text()
    assert "\x1b[" not in text and "│    1 │ 0.69* │ 0.57 │  0.82 │" in text


def test_output_into_a_missing_directory(tmp_path):
    result = run("step", "--output", str(tmp_path / "no" / "out.txt"), code=2)
    assert "does not exist" in result.stderr


def test_json_in_carry_mode_says_so():
    import json

    data = json.loads(run("step", "--format", "json", "--carry", "rounded", "--explain").stdout)
    assert data["carry"] == "rounded" and data["loss"] == 1.1423
    assert data["explanation"]["groups"]["Logit"][0].endswith("= 0.69")


def test_latex_notation_braces_ids():
    problem = load_problem()
    result = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.2)
    text = explain(problem, result, 1, 2, TWO, FOUR, "mean", n=LATEX)
    assert text.groups[0][1][0].startswith(r"h_{2}[2] = 0.3 \cdot 0.53")
