"""Hand-worked answer sheets marked by ``nodeclf check``, against a marker's verdicts.

Each sheet ``tests/sheets/NN_name.yaml`` is an answers file as a student hands it in; its
twin ``NN_name.expected.yaml`` holds the verdicts a marker gives, worked out from the
formulas before the tool was run (tests/sheets/README.md says how). The twin lists every
number that is not plain correct (a verdict, a cause, and ``coarse`` where the number was
written coarser than required); every other number must be marked correct, with no cause
and not coarse.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nodeclf_cli.cli import app

SHEETS = Path(__file__).resolve().parent / "sheets"
SHEET_FILES = sorted(p for p in SHEETS.glob("[0-9][0-9]_*.yaml") if not p.name.endswith(".expected.yaml"))
runner = CliRunner()


def _count_numbers(answers: dict) -> int:
    """How many numbers an answers mapping holds (a list of them, a mapping of them, or one)."""
    count = 0
    for value in answers.values():
        if isinstance(value, dict):
            count += sum(len(v) if isinstance(v, list) else 1 for v in value.values())
        elif isinstance(value, list):
            count += len(value)
        else:
            count += 1
    return count


def _ident(entry: dict) -> tuple:
    key = entry.get("key")
    return (entry["quantity"], None if key is None else str(key), entry.get("index"))


def _shown(ident: tuple) -> str:
    quantity, key, index = ident
    where = "" if key is None else f"[{key}]"
    column = "" if index is None else f"[{index}]"
    return f"{quantity}{where}{column}"


def _verdict(entry: dict) -> str:
    text = entry.get("verdict", "?")
    if entry.get("cause"):
        text += f" ({entry['cause']})"
    if entry.get("coarse"):
        text += ", coarse"
    return text


def test_there_are_sheets_each_with_its_expected_verdicts():
    assert len(SHEET_FILES) >= 16
    for sheet in SHEET_FILES:
        assert sheet.with_suffix("").with_suffix(".expected.yaml").exists(), sheet.name


@pytest.mark.parametrize("sheet", SHEET_FILES, ids=lambda p: p.stem)
def test_sheet_is_marked_as_a_marker_marks_it(sheet: Path):
    expected = yaml.safe_load(sheet.with_suffix("").with_suffix(".expected.yaml").read_text(encoding="utf-8"))
    listed = {_ident(e): e for e in expected["entries"] or []}
    assert len(listed) == len(expected["entries"] or []), "an entry is listed twice"
    written = _count_numbers(yaml.safe_load(sheet.read_text(encoding="utf-8"))["answers"])

    result = runner.invoke(app, ["check", str(sheet), "--format", "json"], env={"COLUMNS": "120", "NO_COLOR": "1"})
    problems = []
    if result.exit_code != expected["exit"]:
        problems.append(f"exit status {result.exit_code}, expected {expected['exit']}")
    try:
        got = json.loads(result.stdout)["entries"]
    except (ValueError, KeyError):
        pytest.fail(f"{sheet.name}: no JSON report; " + "; ".join(problems) + f"\n{result.output}")
    if len(got) != written:
        problems.append(f"{len(got)} entries in the report for the {written} numbers written")
    seen = set()
    for entry in got:
        ident = _ident(entry)
        seen.add(ident)
        want = listed.get(ident, {"verdict": "correct", "cause": None, "coarse": False})
        disagree = entry.get("verdict") != want["verdict"] or entry.get("cause") != want.get("cause")
        if "coarse" in want and bool(entry.get("coarse")) != want["coarse"]:
            disagree = True
        if disagree:
            told = f" [{entry['message']}]" if entry.get("message") else ""
            marked = f"marked {_verdict(entry)}, a marker says {_verdict(want)}"
            problems.append(f"{_shown(ident)} = {entry.get('given')}: {marked}{told}")
    for ident in listed.keys() - seen:
        problems.append(f"{_shown(ident)}: listed as {_verdict(listed[ident])} but not in the report")
    assert not problems, f"{sheet.name}: {len(problems)} disagreement(s):\n  " + "\n  ".join(problems)
