"""`nodeclf step` driven through typer's CliRunner: output text, JSON and exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from nodeclf_cli import core
from nodeclf_cli.cli import app

from .conftest import EXAMPLE, ROOT

runner = CliRunner()


def run(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == code, result.output
    return result


def table_row(output: str, first: str) -> list[str]:
    """The cells of the first table row whose first cell is ``first``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│")]
        cells = [c for c in cells if c]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


def sections(output: str) -> dict[str, str]:
    """Output split at the formula headings."""
    parts, current = {}, None
    for line in output.splitlines():
        if line and line[0].isalpha() and not line.startswith(("learning", "L =", "Y:")):
            current = line.split()[0]
            parts[current] = ""
        elif current:
            parts[current] += line + "\n"
    return parts


def test_step_without_argument_shows_the_articles_example():
    out = run("step").stdout
    parts = sections(out)
    assert table_row(parts["Logits"], "1") == ["1", "0.69*", "0.57", "0.82"]
    assert table_row(parts["Logits"], "2") == ["2", "0.58", "0.21", "0.24*"]
    assert table_row(parts["Logits"], "5") == ["5", "0.41", "0.64", "0.36"]
    assert "* exactly half-way, rounded half-up: 0.685 → 0.69, 0.235 → 0.24" in out
    assert table_row(parts["Softmax"], "2") == ["2", "0.42", "0.29", "0.29", "0  ✗", "1"]
    assert table_row(parts["Softmax"], "5") == ["5", "0.31", "0.39", "0.30", "1  ✗", "2"]
    assert "L = (1/N) Σ_i ℓ_i = 1.1465  (N = 5)" in out
    assert table_row(parts["Cross-entropy"], "1") == ["1", "0", "0.33", "1.1082"]
    assert table_row(parts["Gradients"], "0") == ["0", "-0.07", "-0.10", "-0.11", "-0.16", "-0.04"]
    assert table_row(parts["Updated"], "0") == ["0", "0.18", "0.42", "-0.12", "0.54", "0.06"]
    assert table_row(parts["Updated"], "2") == ["2", "0.53", "-0.06", "0.38", "0.74", "-0.35"]
    titles = [line.split()[0] for line in out.splitlines() if line[:1].isalpha()]
    order = ["Inputs:", "Layer:", "Logits", "Softmax", "Cross-entropy", "Gradient", "Gradients", "Updated"]
    assert [t for t in titles if t in order] == order


def title_and_body(output: str) -> tuple[str, str]:
    """The output's title (which names the problem file) with the line breaks it was
    wrapped at taken out (a long path wraps it, or is broken), and what follows it."""
    title, rest = output.split("\n\n", 1)  # a blank line below the title
    return "".join(title.split()), rest


def body(output: str) -> str:
    """The output below its title."""
    return title_and_body(output)[1]


def test_step_with_the_example_file_is_the_same_as_without():
    title, rest = title_and_body(run("step", str(EXAMPLE)).stdout)
    assert title.startswith("".join(f"One gradient step on {EXAMPLE} (2 decimals, half-up;".split()))
    assert rest == body(run("step").stdout)


def test_half_even_rounding():
    out = run("step", "--rounding", "half-even").stdout
    assert table_row(sections(out)["Logits"], "1") == ["1", "0.68*", "0.57", "0.82"]
    assert "rounded half-even: 0.685 → 0.68, 0.235 → 0.24" in out


def test_significant_figures():
    out = run("step", "--sig-figs", "2").stdout
    assert table_row(sections(out)["Gradients"], "0") == ["0", "-0.068", "-0.097", "-0.11", "-0.16", "-0.044"]
    assert "= 1.146  (N = 5)" in out  # the loss gets two more figures: 4


def test_decimals_option():
    out = run("step", "--decimals", "3").stdout
    assert table_row(sections(out)["Logits"], "1") == ["1", "0.685", "0.566", "0.817"]
    assert "= 1.14649  (N = 5)" in out
    assert "half-way" not in out


def test_sum_reduction():
    out = run("step", "--reduction", "sum").stdout
    assert "L = Σ_i ℓ_i = 5.7325  (N = 5)" in out
    assert "∂L/∂H = P − Y" in out and "(P − Y)/N" not in out


def test_json_has_every_number_at_full_precision(article):
    data = json.loads(run("step", "--format", "json").stdout)
    assert data["node_ids"] == [1, 2, 3, 4, 5]
    assert data["classes"] == [0, 1, 2]
    assert data["labels"] == [0, 1, 0, 1, 2]
    assert data["predicted"] == [2, 0, 2, 0, 1]
    assert data["reduction"] == "mean" and data["learning_rate"] == 0.2
    assert_allclose(data["logits"], article.logits, atol=1e-12)
    for key, expected in [
        ("probabilities", article.probabilities),
        ("loss_per_node", article.loss_per_node),
        ("grad_W", article.grad_W),
        ("grad_b", article.grad_b),
        ("W_new", article.W_new),
        ("b_new", article.b_new),
    ]:
        assert_allclose(data[key], expected, atol=5e-7)
    assert data["loss"] == pytest.approx(article.loss, abs=1e-10)
    assert_allclose(data["W"], article.W)
    assert len(data["grad_logits"]) == 5


def test_learning_rate_option(article):
    data = json.loads(run("step", "--format", "json", "--lr", "0.5").stdout)
    assert_allclose(data["W_new"], article.W - 0.5 * article.grad_W, atol=5e-7)
    assert data["learning_rate"] == 0.5


def test_csv_files_on_the_command_line_give_the_same_result():
    csv = ROOT / "data" / "csv"
    from_yaml = run("step", "--format", "json").stdout
    from_options = run(
        "step",
        str(ROOT / "data" / "example-csv.yaml"),
        "--embeddings", str(csv / "embeddings.csv"),
        "--labels", str(csv / "labels.csv"),
        "--weights", str(csv / "weights.csv"),
        "--lr", "0.2",
        "--format", "json",
    ).stdout
    assert from_options == from_yaml
    assert body(run("step", str(ROOT / "data" / "example-csv.yaml")).stdout) == body(run("step").stdout)


def test_decimals_and_sig_figs_together_is_a_usage_error():
    result = run("step", "--decimals", "2", "--sig-figs", "2", code=2)
    assert "--decimals or --sig-figs" in result.output


def test_a_bundled_example_without_weights_is_named_not_its_installed_file():
    result = run("step", "karate", code=2)
    assert result.stderr == "nodeclf: error: karate: no weights in this bundled example: pass --weights\n"


def test_missing_file_is_one_line_and_status_2(tmp_path):
    result = run("step", str(tmp_path / "nope.yaml"), code=2)
    assert result.stdout == ""
    hint = "(or name a bundled example: article, karate)"
    assert result.stderr == f"nodeclf: error: {tmp_path / 'nope.yaml'}: no such file {hint}\n"


def test_a_missing_file_a_problem_names_gets_no_bundled_example_hint(tmp_path):
    """Only the problem file itself could have been a bundled example's name."""
    path = tmp_path / "p.yaml"
    path.write_text("embeddings: e.csv\nlabels: {1: 0}\nweights: {W: [[0.1], [0.2]], b: [0, 0]}\nlearning_rate: 0.1\n")
    result = run("step", str(path), code=2)
    assert result.stderr == f"nodeclf: error: {path}:1: embeddings: no such file: {tmp_path / 'e.csv'}\n"


def test_problem_without_weights_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("embeddings: {1: [1, 2], 2: [3, 4]}\nlabels: {1: 0, 2: 1}\nlearning_rate: 0.1\n")
    result = run("step", str(path), code=2)
    assert "no weights: add weights: to the problem or pass --weights" in result.stderr


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert "step" in result.output


def test_version():
    from nodeclf_cli import __version__

    assert run("--version").stdout.strip() == f"nodeclf {__version__}"


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in app.registered_commands])
def test_every_command_has_help_with_an_example(command):
    out = run(command, "--help").stdout
    assert "Example:" in out
    assert "Usage:" in out
    assert "<bool>" not in out  # flags take no value


def test_help_keeps_bracketed_defaults_and_full_command_summaries():
    assert "Node to explain [default: the first]." in run("step", "--help").stdout
    assert "[default: the problem's, else" in run("train", "--help").stdout
    listing = run("--help").stdout
    for command in app.registered_commands:
        assert f"{command.callback.__name__}  " in listing and command.short_help in listing


def test_big_problems_show_the_first_nodes_and_sum_over_all(tmp_path):
    """Per-node tables stop at --show-nodes (40 by default) with a note; the loss,
    the count of correct predictions and the gradients are over every node."""
    rng = np.random.default_rng(8)
    Z, y = rng.normal(size=(50, 3)), rng.integers(0, 2, size=50)
    W, b = rng.normal(size=(2, 3)), np.zeros(2)
    np.save(tmp_path / "z.npy", Z)
    np.save(tmp_path / "y.npy", y)
    weights = tmp_path / "w.csv"
    weights.write_text("".join(f"{c},0,{','.join(map(repr, W[c].tolist()))}\n" for c in range(2)))
    args = ["--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"), "--weights", str(weights),
            "--lr", "0.1"]
    expected = core.gradient_step(Z, y, W, b, 0.1)
    out = run("step", *args).stdout
    parts = sections(out)
    assert table_row(parts["Logits"], "39")[0] == "39"
    with pytest.raises(AssertionError):
        table_row(parts["Logits"], "40")
    assert out.count("… and 10 more nodes, not shown") == 5  # inputs, logits, softmax, loss, dL/dH
    assert f"{int((expected.predicted == y).sum())} of 50 nodes predicted correctly" in out
    assert f"= {expected.loss:.4f}  (N = 50)" in out
    every = sections(run("step", *args, "--show-nodes", "0").stdout)
    assert table_row(every["Logits"], "49")[0] == "49" and "more nodes" not in every["Logits"]
    assert parts["Gradients"] == every["Gradients"]


@pytest.mark.parametrize("args", [["step"], ["check", str(ROOT / "data" / "article_answers.yaml")], ["step", "--format", "json"]])
def test_a_closed_output_pipe_exits_141_quietly(args):
    """`nodeclf ... | head`: when the reader has gone, stop with 141 (as SIGPIPE would)
    and no traceback, not 1, which means "check found mistakes"."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        done = subprocess.run([sys.executable, "-m", "nodeclf_cli", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
