"""step --optimizer --explain: one weight's and one bias's update with the numbers substituted, every
number as optim.py works it out (from zero and from a saved state), in text, JSON and LaTeX."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from nodeclf_cli import core, optim
from nodeclf_cli.cli import app
from nodeclf_cli.explain_optim import StepNumbers, write_update
from nodeclf_cli.handwork import LATEX, TEXT
from nodeclf_cli.optimstep import OptimiserSettings
from nodeclf_cli.problem import load_problem
from nodeclf_cli.rounding import Precision, full

from .conftest import EXAMPLE

runner = CliRunner()
PRECISION = Precision(decimals=2)


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def shown(x: float) -> str:
    """A number as the explanation writes it, worked out (6 significant digits), standing alone."""
    return TEXT.signed(full(x))


def results(lines: list[str]) -> list[str]:
    """Each line's result: after its last '=', before '≈'."""
    return [line.rsplit(" = ", 1)[1].split(" ≈ ")[0] for line in lines]


RULES = {"momentum": optim.sgd, "nesterov": optim.sgd, "adam": optim.adam, "adamw": optim.adamw}


def keywords(s: OptimiserSettings) -> dict:
    """optim.py's keywords for the settings."""
    if s.name in ("momentum", "nesterov"):
        return {"momentum": s.momentum, "dampening": s.dampening, "nesterov": s.name == "nesterov"}
    return {"beta1": s.beta1, "beta2": s.beta2, "eps": s.eps, **({"weight_decay": s.weight_decay} if s.name == "adamw"
                                                                 else {})}


def optim_numbers(s: OptimiserSettings, state, W, b, grad_W, grad_b, lr) -> StepNumbers:
    """The step's numbers as optim.py's rule works them out (m̂ and v̂ from its m and v)."""
    (W_new, b_new), after = RULES[s.name]((W, b), (grad_W, grad_b), state, lr, **keywords(s))
    buffers = ("velocity",) if s.name in ("momentum", "nesterov") else ("m", "v")
    quantities = {key: getattr(after, key) for key in buffers}
    if s.name in ("adam", "adamw"):
        quantities["m_hat"] = tuple(m / (1 - s.beta1**after.t) for m in after.m)
        quantities["v_hat"] = tuple(v / (1 - s.beta2**after.t) for v in after.v)
    quantities["update"] = (W_new - W, b_new - b)
    return StepNumbers(after.t, (W, b), (grad_W, grad_b), {key: getattr(state, key) for key in buffers}, quantities,
                       (W_new, b_new))


def second_step(s: OptimiserSettings):
    """The example's second step: its weights, gradient and state before it, and optim.py's result."""
    p = load_problem(EXAMPLE)
    first = core.gradient_step(p.Z, p.y, p.W, p.b, p.learning_rate)
    empty = optim.MomentumState() if s.name in ("momentum", "nesterov") else optim.AdamState()
    (W, b), state = RULES[s.name]((p.W, p.b), (first.grad_W, first.grad_b), empty, p.learning_rate, **keywords(s))
    second = core.gradient_step(p.Z, p.y, W, b, p.learning_rate)
    (W_new, b_new), after = RULES[s.name]((W, b), (second.grad_W, second.grad_b), state, p.learning_rate,
                                          **keywords(s))
    return p, W, b, second, state, W_new, b_new, after


def explained(s: OptimiserSettings, c: int, j: int, n=TEXT):
    """write_update of the example's second step, for w_c[j] and b_c."""
    p, W, b, g, state, *_ = second_step(s)
    numbers = optim_numbers(s, state, W, b, g.grad_W, g.grad_b, p.learning_rate)
    return write_update(s, numbers, p.learning_rate, c, j, p.classes[c], PRECISION, n)


@pytest.mark.parametrize("c, j", [(0, 0), (2, 3)])
def test_adams_second_step_writes_optims_numbers(c, j):
    settings = OptimiserSettings("adam", beta1=0.8, beta2=0.99, eps=1e-3)
    p, W, b, g, state, W_new, b_new, after = second_step(settings)
    (w_heading, w_lines), (b_heading, b_lines) = explained(settings, c, j).groups
    assert w_heading == f"Adam's update of w_c[{j}] (class {c}, t = 2)"
    assert b_heading == f"Adam's update of b_c (class {c}, t = 2)"
    for lines, at, grad, theta, theta_new in ((w_lines, (0, c, j), g.grad_W[c, j], W[c, j], W_new[c, j]),
                                              (b_lines, (1, c), g.grad_b[c], b[c], b_new[c])):
        def of(pair):
            return pair[at[0]][at[1:]]
        m, v = of(after.m), of(after.v)
        m_hat, v_hat = m / (1 - 0.8**2), v / (1 - 0.99**2)
        assert results(lines) == [shown(x) for x in (grad, m, v, m_hat, v_hat, theta_new, theta_new - theta)]
        assert f"0.8·{TEXT.num(full(of(state.m)))} + 0.2·{TEXT.num(full(grad))}" in lines[1]  # m_{t−1}, (1 − β1)
        assert f"0.99·{full(of(state.v))} + 0.01·{TEXT.num(full(grad))}²" in lines[2]
        assert "(1 − 0.8^2)" in lines[3] and "(1 − 0.99^2)" in lines[4]
        assert f"{TEXT.num(full(theta))} − 0.2·{TEXT.num(full(m_hat))} / (√{full(v_hat)} + 0.001)" in lines[5]


def test_adamw_decays_theta_first():
    settings = OptimiserSettings("adamw", weight_decay=0.3)
    p, W, b, g, state, W_new, b_new, after = second_step(settings)
    lines = explained(settings, 1, 2).groups[0][1]
    decayed = W[1, 2] - 0.2 * 0.3 * W[1, 2]
    assert lines[1].startswith("θ' = θ − α·λ·θ = ") and results(lines)[1] == shown(decayed)
    assert f"θ_new = θ' − α·m̂_t / (√v̂_t + ε) = {TEXT.num(full(decayed))} − 0.2·" in lines[6]
    assert results(lines)[6:] == [shown(W_new[1, 2]), shown(W_new[1, 2] - W[1, 2])]
    assert results(lines)[2] == shown(after.m[0][1, 2])


@pytest.mark.parametrize("name, nesterov", [("momentum", False), ("nesterov", True)])
def test_momentums_second_step_writes_optims_numbers(name, nesterov):
    settings = OptimiserSettings(name, momentum=0.8, dampening=0.0 if nesterov else 0.3)
    p, W, b, g, state, W_new, b_new, after = second_step(settings)
    lines = explained(settings, 0, 1).groups[0][1]
    velocity = after.velocity[0][0, 1]
    assert results(lines) == [shown(x) for x in (g.grad_W[0, 1], velocity, W_new[0, 1], W_new[0, 1] - W[0, 1])]
    tau = "(1 − 0)" if nesterov else "(1 − 0.3)"
    assert f"= 0.8·{TEXT.num(full(state.velocity[0][0, 1]))} + {tau}·{TEXT.num(full(g.grad_W[0, 1]))} =" in lines[1]
    rule = "θ − α·(g + μ·b_t)" if nesterov else "θ − α·b_t"
    assert lines[2].startswith(f"θ_new = {rule} = {TEXT.num(full(W[0, 1]))} − 0.2·")


def test_the_first_momentum_step_is_the_gradient():
    p = load_problem(EXAMPLE)
    g = core.gradient_step(p.Z, p.y, p.W, p.b, p.learning_rate)
    settings = OptimiserSettings("momentum", dampening=0.5)
    numbers = optim_numbers(settings, optim.MomentumState(), p.W, p.b, g.grad_W, g.grad_b, p.learning_rate)
    lines = write_update(settings, numbers, p.learning_rate, 0, 0, 0, PRECISION).groups[1][1]
    assert lines[1].startswith(f"b_1 = g = {shown(g.grad_b[0])}") and "no dampening" in lines[1]


def test_step_explain_with_an_optimiser_replaces_sgds_update(tmp_path):
    data = json.loads(run("step", str(EXAMPLE), "--optimizer", "adam", "--explain", "--class", "1", "--feature", "2",
                          "--format", "json").stdout)
    headings = list(data["explanation"]["groups"])
    assert headings[-2:] == ["Adam's update of w_c[2] (class 1, t = 1)", "Adam's update of b_c (class 1, t = 1)"]
    assert "Update" not in headings and "Softmax" in headings
    m_hat = data["m_hat_W"][1][2]
    assert any(line.startswith("m̂_t") and line.split(" = ")[-1].split(" ≈ ")[0] == shown(m_hat)
               for line in data["explanation"]["groups"][headings[-2]])
    out = run("step", str(EXAMPLE), "--optimizer", "nesterov", "--explain").stdout
    assert "Nesterov momentum's update of w_c[0] (class 0, t = 1)" in out and "θ_new = θ − α·(g + μ·b_t)" in out
    plain = run("step", str(EXAMPLE), "--explain").stdout
    assert "w_0[0] := 0.17 − 0.2·(−0.0675447) = 0.183509 ≈ 0.18" in plain  # plain SGD's update as before
    result = run("step", str(EXAMPLE), "--optimizer", "adam", "--carry", "rounded", code=2)
    assert "rounds adam's second moment v (about (1 − β2) g², near 0.00001) to 0" in result.stderr
    assert "carry at significant figures (--sig-figs 3" in result.stderr
    carried = json.loads(run("step", str(EXAMPLE), "--optimizer", "adam", "--carry", "rounded", "--sig-figs", "3",
                             "--format", "json").stdout)
    assert np.allclose(carried["W_new"], data["W_new"], atol=0.01)  # at 3 figures the update stays ±α


def test_latex_notation_writes_the_same_numbers():
    lines = explained(OptimiserSettings("adam"), 0, 0, LATEX).groups[0][1]
    assert lines[3].startswith(r"\hat m_t = m_t / (1 - \beta_1^t) = ")
    assert r"(\sqrt{\hat v_t} + \epsilon)" in lines[5] and r"\theta_{\text{new}}" in lines[5]
    assert all(line.isascii() for line in lines)
    text = explained(OptimiserSettings("adam"), 0, 0).groups[0][1]
    assert [result.split(r" \approx ")[0] for result in results(lines)] == [r.replace("−", "-") for r in results(text)]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "adamw"])
def test_the_latex_explanation_compiles_and_adds_nothing_too_wide(tmp_path, name):
    overfull = {}
    for stem, extra in (("plain", []), ("explained", ["--explain", "--class", "2"])):
        tex = tmp_path / f"{stem}.tex"
        run("step", str(EXAMPLE), "--optimizer", name, "--format", "latex", "--output", str(tex), *extra)
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:]
        overfull[stem] = (tmp_path / f"{stem}.log").read_text(errors="replace").count("Overfull")
    assert "update of" in (tmp_path / "explained.tex").read_text()
    assert overfull["explained"] == overfull["plain"]  # the tables' titles may be wide; the formulas wrap


def test_the_readmes_explained_second_step_is_the_real_output(tmp_path, monkeypatch):
    """The README's two commands, run in turn: the second prints every line shown, in order."""
    import re
    import shlex

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```text\n(.*?)```", readme, flags=re.S) if "'s update of w_" in b)
    lines = block.rstrip("\n").split("\n")
    first, second = [i for i, line in enumerate(lines) if line.startswith("$ nodeclf ")]
    monkeypatch.chdir(tmp_path)
    env = {"COLUMNS": "100", "NO_COLOR": "1"}
    made = runner.invoke(app, shlex.split(lines[first][2:].split(">")[0])[1:], env=env)
    assert made.exit_code == 0 and made.stderr.splitlines() == lines[first + 1:second]
    printed = runner.invoke(app, shlex.split(lines[second][2:])[1:], env=env).stdout.split("\n")
    position = 0
    for line in lines[second + 1:]:
        if line != "...":
            assert line in printed[position:], line
            position = printed.index(line, position) + 1
    assert position > 8


NAMED = """\
embeddings: {a_1: [1.0, 2.0], "b&c": [0.5, 0.1], "Mr. Hi": [0.2, 0.2]}
labels: {a_1: "x%", "b&c": "y_#", "Mr. Hi": "x%"}
classes: ["x%", "y_#"]
weights: {W: [[0.1, 0.2], [0.3, 0.4]], b: [0, 0]}
learning_rate: 0.1
"""


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", ["momentum", "adamw"])
def test_latex_with_class_names_holding_latex_specials_compiles(tmp_path, name):
    problem, tex = tmp_path / "named.yaml", tmp_path / "named.tex"
    problem.write_text(NAMED)
    run("step", str(problem), "--optimizer", name, "--explain", "--class", "y_#", "--format", "latex",
        "--output", str(tex))
    text = tex.read_text(encoding="utf-8")
    assert r"w_{\text{y\_\#}}[0]" in text and text.isascii()
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_markdown_carries_the_optimisers_update():
    out = run("step", str(EXAMPLE), "--optimizer", "momentum", "--explain", "--format", "markdown").stdout
    assert "**Momentum's update of w_c[0] (class 0, t = 1)**" in out
    assert "θ_new = θ − α·b_t = 0.17 − 0.2·(−0.0675447) = 0.183509 ≈ 0.18" in out  # b_1 = g: SGD's first step
