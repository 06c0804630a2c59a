"""The README's example outputs are what the commands print: each ```text block that
shows one `$ nodeclf ...` command is run from the repository's root, and every line
it shows (``...`` marks lines left out) must appear in the real output, in order."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from typer.testing import CliRunner

from nodeclf_cli.cli import app

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
WIDTH = "100"  # the terminal width the README's examples were made with


def examples() -> list[tuple[str, list[str]]]:
    """(command, shown lines) of each text block that shows a single command."""
    found = []
    for block in re.findall(r"```text\n(.*?)```", README, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        commands = [line for line in lines if line.startswith("$ ")]
        if len(commands) == 1 and lines[0].startswith("$ nodeclf "):
            found.append((lines[0][2:], [line.rstrip() for line in lines[1:]]))
    return found


def test_the_readme_has_its_examples():
    assert [command.split()[1] for command, _ in examples()] == [
        "step", "step", "step", "step", "train", "check", "check", "generate", "check", "check", "step", "check",
        "train", "train", "step", "step", "train"
    ]


@pytest.mark.parametrize("command, shown", examples(), ids=lambda value: value if isinstance(value, str) else "")
def test_readme_example_matches_the_real_output(command, shown, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, shlex.split(command)[1:], env={"COLUMNS": WIDTH, "NO_COLOR": "1"})
    # 2: a class with a sheet that is bad input, which the class's tables report
    assert result.exit_code in (0, 1) or (result.exit_code == 2 and result.stdout), result.output
    printed = [line.rstrip() for line in result.stdout.split("\n")]
    position = 0
    for line in shown:
        if line in ("...", ""):
            continue
        assert line in printed[position:], f"README line not in the output of '{command}' (in order):\n{line}"
        position = printed.index(line, position) + 1


@pytest.mark.parametrize(
    "args",
    [["step", "--explain"], ["train", "--epochs", "2", "--quiet"], ["check", str(ROOT / "data" / "article_answers.yaml")]],
)
def test_every_json_key_is_in_the_readme(args):
    data = json.loads(CliRunner().invoke(app, [*args, "--format", "json"]).stdout)
    inner = [*data.get("history", [{}])[0], *data.get("entries", [{}])[0], *data.get("summary", {})]
    for key in [*data, *inner]:
        assert f"`{key}`" in README or f'"{key}"' in README, key
