"""What nodeclf writes is never lost and never costs the user a file: outputs published
without clobbering, special files left as they are, signals, stdout in every state,
unexpected exceptions, and messages that cannot act on the terminal. Signals and stdout
states run in real processes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nodeclf_cli import errors, output
from nodeclf_cli.errors import excerpt, printable

from .conftest import EXAMPLE, ROOT
from .test_bad_input import one_line_error
from .test_cli_step import run

KARATE = ROOT / "data" / "karate.yaml"
CSV_PROBLEM = ROOT / "data" / "example-csv.yaml"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def nodeclf(*args: str, env: dict | None = None, **options) -> subprocess.CompletedProcess:
    """``python -m nodeclf_cli ARGS`` in a real process (stdout and stderr captured as
    bytes unless ``options`` say otherwise)."""
    options.setdefault("capture_output", "stdout" not in options)
    if "stdout" in options:
        options.setdefault("stderr", subprocess.PIPE)
    environment = {**os.environ, "COLUMNS": "100", **(env or {})}
    environment.pop("NODECLF_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "nodeclf_cli", *args], env=environment, timeout=120, **options)


def saved_weights(path: Path) -> np.ndarray:
    return np.array(yaml.safe_load(path.read_text(encoding="utf-8"))["weights"]["W"], dtype=float)


# --- messages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [("plain é 中 text", "plain é 中 text"), ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
     ("a\nb\tc\rd", "a\\nb\\tc\\rd"), ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
     ("\u202eevil\u2066x\u2069", "\\u202eevil\\u2066x\\u2069"), ("\x85c1\x9b", "\\x85c1\\x9b"),
     ("bom\ufeff", "bom\\ufeff"), ("tag\U000e0041", "tag\\U000e0041"), ("\udcff.yaml", "\\udcff.yaml"),
     ("\x7f", "\\x7f")],
)
def test_printable_escapes_what_a_terminal_would_act_on(raw, shown):
    assert printable(raw) == shown
    assert printable(shown) == shown  # escapes are plain text: nothing left to escape


def test_excerpt_is_short_whatever_the_value():
    assert excerpt("short") == "'short'"
    long = excerpt("x" * 10_000_000)
    assert len(long) == errors.EXCERPT_LENGTH + 1 and long.endswith("…") and long.startswith("'xxx")
    assert excerpt(10**100_000) == "<an integer of about 100001 digits>"  # str() of it would raise ValueError
    assert excerpt(-(10**5000)).startswith("-<an integer of about 5001 digits")
    assert excerpt(12345) == "12345"
    assert excerpt(np.float64(0.5)) == "0.5"
    nested: list = [0]
    for _ in range(30):  # an alias bomb's shape: each level holds the one below many times
        nested = [nested] * 9
    text = excerpt(nested)  # 9^30 leaves if written out
    assert len(text) <= errors.EXCERPT_LENGTH + 1
    assert len(excerpt(list(range(10**6)))) <= errors.EXCERPT_LENGTH + 1


def test_control_characters_in_an_error_reach_stderr_escaped(tmp_path):
    target = tmp_path / "missing\x1b]0;owned\x07" / "x.md"
    result = run("step", "--output", str(target), code=2)
    line = one_line_error(result, "does not exist")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "\\x1b]0;owned\\x07" in line


def test_a_line_separator_in_a_file_name_stays_escaped_on_one_line(tmp_path):
    result = run("step", "--output", str(tmp_path / "no\u2028dir" / "x.md"), code=2)
    one_line_error(result, "no\\u2028dir/x.md: the directory")
    assert "\u2028" not in result.stderr


def test_a_mistake_before_the_command_is_one_line_too():
    one_line_error(run("--bogus", code=2), "nodeclf: error: No such option: --bogus (see '")
    assert "Commands:" in run(code=2).stderr  # `nodeclf` alone still shows the help


# --- unexpected exceptions: one line, exit status 2 ------------------------------------------------


def failing(exception: BaseException):
    def fail(*args, **kwargs):
        raise exception

    return fail


def test_an_unexpected_exception_is_one_line_naming_the_version(monkeypatch):
    from nodeclf_cli import __version__, handwork

    monkeypatch.setattr(handwork, "gradient_step", failing(ZeroDivisionError("x" * 5000)))
    result = run("step", code=2)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("nodeclf: internal error: ZeroDivisionError: xxx")
    assert lines[0].endswith(f"(nodeclf {__version__}; please report it with the command you ran)")
    assert len(lines[0]) < 400


def test_an_error_line_is_cut_at_2000_characters(monkeypatch):
    from nodeclf_cli import handwork

    monkeypatch.setattr(handwork, "gradient_step", failing(errors.NodeclfError("a" * 100_000 + " the end", "p.yaml")))
    line = one_line_error(run("step", code=2))
    assert len(line) <= 2000 and line.startswith("nodeclf: error: p.yaml: aaa") and line.endswith("a the end")
    assert " … " in line


def test_nodeclf_debug_shows_the_traceback(monkeypatch):
    from typer.testing import CliRunner

    from nodeclf_cli import handwork
    from nodeclf_cli.cli import app

    monkeypatch.setattr(handwork, "gradient_step", failing(ZeroDivisionError("boom")))
    result = CliRunner().invoke(app, ["step"], env={"NODECLF_DEBUG": "1"})
    assert isinstance(result.exception, ZeroDivisionError)


@pytest.mark.parametrize(
    "exception, fragment",
    [(MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000) and data type float64"),
      "nodeclf: error: not enough memory for this input (Unable to allocate 74.5 GiB"),
     (RecursionError("maximum recursion depth exceeded"), "nodeclf: error: the input is nested too deeply to read")],
)
def test_memory_and_recursion_errors_are_one_line(monkeypatch, exception, fragment):
    from nodeclf_cli import handwork

    monkeypatch.setattr(handwork, "gradient_step", failing(exception))
    assert one_line_error(run("step", code=2)).startswith(fragment)


def test_numpy_warnings_never_reach_stderr(monkeypatch):
    from nodeclf_cli import handwork

    real = handwork.gradient_step

    def overflowing(*args, **kwargs):
        np.exp(np.float64(1000.0))  # RuntimeWarning: overflow encountered in exp
        np.float64(0.0) / np.float64(0.0)  # RuntimeWarning: invalid value
        return real(*args, **kwargs)

    monkeypatch.setattr(handwork, "gradient_step", overflowing)
    with pytest.warns(RuntimeWarning):  # the probe does warn where nodeclf is not running it
        np.exp(np.float64(1000.0))
    result = run("step")
    assert result.stderr == ""


def test_float32_training_that_overflows_prints_no_warning(tmp_path):
    np.save(tmp_path / "z.npy", np.full((20, 3), 1e30, dtype=np.float32))
    np.save(tmp_path / "y.npy", np.arange(20) % 2)
    done = nodeclf("train", "--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"),
                   "--dtype", "float32", "--lr", "1e30", "--epochs", "5", "--quiet", "--no-plot")
    stderr = done.stderr.decode()
    assert "Warning" not in stderr and "Traceback" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 1, stderr


# --- output files: checked up front ----------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second",
    [("s.yaml", "s.yaml"), ("s.yaml", "./s.yaml"), ("s.yaml", "ABS/s.yaml"), ("s.yaml", "sub/../s.yaml"),
     ("s.yaml", "link.yaml"), ("existing.yaml", "hard.yaml")],
)
def test_two_outputs_naming_one_file_are_refused_up_front(tmp_path, monkeypatch, first, second):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "existing.yaml").write_text("mine")
    os.link(tmp_path / "existing.yaml", tmp_path / "hard.yaml")
    (tmp_path / "link.yaml").symlink_to("s.yaml")  # dangling until s.yaml exists: create it
    (tmp_path / "s.yaml").write_text("mine")
    second = second.replace("ABS", str(tmp_path))
    one_line_error(run("train", "--quiet", "--epochs", "1", "--save", first, "--history", second, "--force", code=2),
                   "--save and --history must be different files")
    assert (tmp_path / "s.yaml").read_text() == "mine" and (tmp_path / "existing.yaml").read_text() == "mine"


def test_any_pair_of_train_outputs_is_checked(tmp_path):
    same = str(tmp_path / "x.png")
    for pair in (("--save", "--plot"), ("--history", "--plot")):
        args = [pair[0], same, pair[1], same]
        one_line_error(run("train", "--quiet", "--epochs", "1", *args, code=2), f"{pair[0]} and {pair[1]}")
    assert not Path(same).exists()


def test_generate_output_and_answers_through_a_symlink_are_one_file(tmp_path):
    (tmp_path / "p.yaml").write_text("mine")
    (tmp_path / "alias.yaml").symlink_to(tmp_path / "p.yaml")
    one_line_error(run("generate", "-o", str(tmp_path / "p.yaml"), "--answers", str(tmp_path / "alias.yaml"),
                       "--force", code=2), "--output and --answers must be different files")
    assert (tmp_path / "p.yaml").read_text() == "mine"


def test_a_directory_is_refused_with_or_without_a_trailing_slash(tmp_path):
    (tmp_path / "d").mkdir()
    one_line_error(run("step", "-o", str(tmp_path / "d"), "--force", code=2), "is a directory; give a file name")
    one_line_error(run("step", "-o", f"{tmp_path / 'd'}/", code=2), "ends in a slash, so it names a directory")
    one_line_error(run("step", "-o", f"{tmp_path / 'newdir'}/", code=2), "names a directory")
    one_line_error(run("train", "--quiet", "--save", f"{tmp_path / 'newdir'}/", code=2), "names a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"] and not any((tmp_path / "d").iterdir())


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_dangling_symlink_is_never_replaced(tmp_path, force):
    link = tmp_path / "out.md"
    link.symlink_to(tmp_path / "nowhere.md")
    one_line_error(run("step", "-o", str(link), *force, code=2), "is a symbolic link to", "which does not exist")
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "nowhere.md")
    assert not (tmp_path / "nowhere.md").exists()


def test_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    one_line_error(run("step", "-o", str(tmp_path / "a"), "--force", code=2), "is a symbolic link loop")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_force_through_a_symlink_writes_its_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    one_line_error(run("step", "-o", str(link), code=2), "already exists; pass --force")
    result = run("step", "-o", str(link), "--force")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("## One gradient step")
    assert result.stderr == f"nodeclf: wrote {link}\n"


def test_a_fifo_is_written_as_a_stream(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run("step", "--format", "json", "-o", str(fifo))
    received = reader.communicate(timeout=30)[0]
    assert json.loads(received)["loss"] == pytest.approx(1.1464926025)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a file
    assert "wrote" in result.stderr


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_dev_null_stays_a_device(force):
    before = os.stat("/dev/null")
    run("step", "-o", "/dev/null", *force)
    run("train", "--quiet", "--epochs", "1", "--history", "/dev/null", *force)
    run("generate", "-o", "/dev/null", "--answers", "/dev/null", *force)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


@pytest.mark.skipif(not Path("/dev/stdout").exists(), reason="needs /dev/stdout")
def test_output_to_dev_stdout_appends_to_what_stdout_is(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("kept\n")
    with log.open("a") as stdout:
        done = nodeclf("step", "--format", "json", "-o", "/dev/stdout", stdout=stdout)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert text.startswith("kept\n{") and json.loads(text[5:])["loss"] == pytest.approx(1.1464926025)
    piped = nodeclf("step", "--format", "json", "-o", "/dev/stdout")
    assert piped.returncode == 0 and json.loads(piped.stdout)["loss"] == pytest.approx(1.1464926025)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX")
def test_a_socket_and_a_block_device_are_refused_even_with_force(tmp_path, monkeypatch):
    import socket

    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock")
        one_line_error(run("step", "-o", "sock", "--force", code=2), "sock: is not a regular file (a socket)")
    disk = tmp_path / "disk"
    disk.write_text("mine")
    real_stat = os.stat

    def block_device(path, *args, **kwargs):  # a real one is not written to by a test, whatever happens
        found = real_stat(path, *args, **kwargs)
        if str(path) == str(disk):
            return os.stat_result((stat.S_IFBLK | 0o660, *tuple(found)[1:]))
        return found

    monkeypatch.setattr(os, "stat", block_device)
    one_line_error(run("step", "-o", str(disk), "--force", code=2), "is not a regular file (a block device)")
    assert disk.read_text() == "mine"


@pytest.mark.skipif(not Path("/dev/stdout").exists(), reason="needs /dev/stdout")
def test_output_to_dev_stdout_uses_its_encoding():
    done = nodeclf("step", "-o", "/dev/stdout", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert "L = (1/N) sum_i l_i = 1.1465" in done.stdout.decode("ascii")


def test_a_file_name_that_is_not_utf8_is_refused_before_work(tmp_path):
    name = os.fsdecode(b"\xff.yaml")
    result = run("generate", "-o", str(tmp_path / name), "--answers", str(tmp_path / "key.yaml"), code=2)
    one_line_error(result, "\\udcff.yaml: the file name is not valid UTF-8")
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_refuses_new_files_is_found_before_training(tmp_path, monkeypatch):
    import tempfile

    real = tempfile.mkstemp

    def read_only_filesystem(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == tmp_path:
            raise OSError(30, "Read-only file system")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only_filesystem)
    from nodeclf_cli import train

    monkeypatch.setattr(train.Trainer, "__iter__", failing(AssertionError("trained although the save must fail")))
    one_line_error(run("train", "--quiet", "--save", str(tmp_path / "w.yaml"), code=2),
                   "cannot write here: Read-only file system")


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only directories")
def test_a_read_only_directory_is_found_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        one_line_error(run("train", "--quiet", "--save", str(folder / "w.yaml"), code=2), "permission denied")
    finally:
        folder.chmod(0o755)


# --- output files: published without losing anything ---------------------------------------------------


def train_then(monkeypatch, meanwhile):
    """Make ``meanwhile`` run after training, before the files are written."""
    from nodeclf_cli import cli

    real = cli._run

    def run_then(*args, **kwargs):
        result = real(*args, **kwargs)
        meanwhile()
        return result

    monkeypatch.setattr(cli, "_run", run_then)


def test_a_file_created_during_training_is_kept_and_the_weights_go_beside_it(tmp_path, monkeypatch):
    save, history = tmp_path / "w.yaml", tmp_path / "h.csv"

    def someone_writes():
        save.write_text("theirs")
        history.write_text("theirs")
        (tmp_path / "w.1.yaml").write_text("theirs too")

    train_then(monkeypatch, someone_writes)
    result = run("train", str(EXAMPLE), "--quiet", "--epochs", "3", "--save", str(save), "--history", str(history))
    assert save.read_text() == "theirs" and history.read_text() == "theirs"
    assert (tmp_path / "w.1.yaml").read_text() == "theirs too"
    beside = tmp_path / "w.2.yaml"
    assert saved_weights(beside).shape == (3, 4)
    assert (tmp_path / "h.1.csv").read_text().splitlines()[0] == "epoch,loss,accuracy"
    lines = result.stderr.splitlines()
    assert f"nodeclf: warning: {save} appeared meanwhile and was left alone; wrote the trained weights to " \
        f"{beside} instead" in lines
    step = run("step", str(beside), "--format", "json")  # the file beside it is a working problem
    assert np.array(json.loads(step.stdout)["W"]) == pytest.approx(saved_weights(beside))


def test_a_second_run_with_the_same_save_does_not_replace_the_first(tmp_path, monkeypatch):
    save = tmp_path / "w.yaml"
    second = []

    def second_run():
        if not second:  # once: the second run trains too
            second.append("running")
            run("train", str(EXAMPLE), "--quiet", "--epochs", "1", "--save", str(save))

    train_then(monkeypatch, second_run)
    run("train", str(EXAMPLE), "--quiet", "--epochs", "5", "--save", str(save))
    assert "1 epoch," in save.read_text() and "5 epochs" in (tmp_path / "w.1.yaml").read_text()


def test_publish_does_not_clobber_where_links_are_not_supported(tmp_path, monkeypatch):
    def no_links(source, destination, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = output.check_output("--save", tmp_path / "w.csv", False)
    (tmp_path / "w.csv").write_text("theirs")
    written = output.publish(target, "ours")
    assert (tmp_path / "w.csv").read_text() == "theirs"
    assert written.path == tmp_path / "w.1.csv" and written.path.read_text() == "ours"
    assert written.instead == f"{tmp_path / 'w.csv'} appeared meanwhile and was left alone"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.1.csv", "w.csv"]  # no temporary file left


def test_force_replaces_atomically_keeping_permissions(tmp_path):
    target_path = tmp_path / "w.csv"
    target_path.write_text("old")
    target_path.chmod(0o640)
    target = output.check_output("--save", target_path, True)
    assert output.publish(target, "new") == output.Written(target_path)
    assert target_path.read_text() == "new" and stat.S_IMODE(target_path.stat().st_mode) == 0o640


def test_weights_reach_the_user_when_the_directory_fails_after_training(tmp_path, monkeypatch):
    """The save directory turns unwritable after the check: the problem file goes to the
    current directory, with its data files named relative to where it now is."""
    import shutil
    import tempfile

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(CSV_PROBLEM, data / "p.yaml")
    shutil.copytree(ROOT / "data" / "csv", data / "csv")
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    real = tempfile.mkstemp
    broken = {"now": False}

    def permission_denied(*args, dir=None, **kwargs):
        if broken["now"] and dir is not None and Path(dir) == out:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", permission_denied)
    train_then(monkeypatch, lambda: broken.update(now=True))
    result = run("train", str(data / "p.yaml"), "--quiet", "--epochs", "4", "--save", str(out / "w.yaml"))
    fallback = elsewhere / "w.yaml"
    assert f"nodeclf: warning: {out / 'w.yaml'} could not be written (Permission denied); wrote the trained " \
        f"weights to {fallback} instead" in result.stderr.splitlines()
    assert list(out.iterdir()) == []
    assert 'embeddings: "../data/csv/embeddings.csv"' in fallback.read_text()
    step = json.loads(run("step", str(fallback), "--format", "json").stdout)
    assert np.array(step["W"]) == pytest.approx(saved_weights(fallback))


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only directories")
def test_weights_reach_the_user_when_the_directory_turns_read_only(tmp_path, monkeypatch):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    train_then(monkeypatch, lambda: out.chmod(0o555))
    try:
        result = run("train", str(EXAMPLE), "--quiet", "--epochs", "2", "--save", str(out / "w.yaml"))
    finally:
        out.chmod(0o755)
    assert "could not be written" in result.stderr and saved_weights(elsewhere / "w.yaml").shape == (3, 4)


def test_weights_reach_the_user_when_the_problem_file_cannot_be_made(tmp_path, monkeypatch):
    from nodeclf_cli import render_train

    monkeypatch.setattr(render_train, "trained_problem_yaml", failing(TypeError("an id nodeclf cannot write")))
    (tmp_path / "w.csv").write_text("mine")
    result = run("train", str(EXAMPLE), "--quiet", "--epochs", "3", "--save", str(tmp_path / "w.yaml"))
    assert f"nodeclf: warning: could not make the problem file {tmp_path / 'w.yaml'} (TypeError: an id nodeclf " \
        f"cannot write); wrote the trained weights alone to {tmp_path / 'w.1.csv'} instead (please report it)" \
        in result.stderr.splitlines()
    assert (tmp_path / "w.csv").read_text() == "mine" and not (tmp_path / "w.yaml").exists()
    rows = (tmp_path / "w.1.csv").read_text().splitlines()
    assert rows[0] == "class,b,w_0,w_1,w_2,w_3" and [row.split(",")[0] for row in rows[1:]] == ["0", "1", "2"]


def test_nowhere_to_write_is_one_line_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    target = tmp_path / "out.md"
    one_line_error(run("step", "-o", str(target), code=2), "out.md: cannot write the file: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd"] and list((tmp_path / "cwd").iterdir()) == []


def test_stale_temporary_files_of_ours_are_removed_and_nothing_else(tmp_path):
    hour_ago = time.time() - 2 * output.STALE_AFTER_SECONDS
    names = {
        ".w.yaml.abcd_123.nodeclf-tmp": True,  # ours and old: removed
        ".w.yaml.zzzz9999.nodeclf-tmp": False,  # ours but recent (a run in progress): kept
        ".w.yaml.abcd1234.tmp": False,  # not our suffix
        "w.yaml.abcd1234.nodeclf-tmp": False,  # not hidden
        ".w.yaml.abc.nodeclf-tmp": False,  # not tempfile's eight characters
    }
    for name in names:
        (tmp_path / name).write_text("x")
        if name != ".w.yaml.zzzz9999.nodeclf-tmp":
            os.utime(tmp_path / name, (hour_ago, hour_ago))
    (tmp_path / ".d.abcd1234.nodeclf-tmp").mkdir()  # a directory is never ours
    os.utime(tmp_path / ".d.abcd1234.nodeclf-tmp", (hour_ago, hour_ago))
    output.publish(output.check_output("--save", tmp_path / "w.csv", False), "ours")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*(name for name, gone in names.items() if not gone), ".d.abcd1234.nodeclf-tmp", "w.csv"])


def test_temporary_files_are_hidden_and_named_as_ours(tmp_path, monkeypatch):
    seen = []
    real = os.fsync

    def look(fd):
        if not seen:  # the temporary file's: the first fsync
            seen.extend(p.name for p in tmp_path.iterdir())
        real(fd)

    monkeypatch.setattr(os, "fsync", look)
    output.publish(output.check_output("--save", tmp_path / ("n" * 250 + ".csv"), False), "ours")
    assert len(seen) == 1 and output._OUR_TEMPORARY.fullmatch(seen[0]) and seen[0].startswith(".nnn")


def test_the_answer_key_names_the_problem_where_it_went(tmp_path, monkeypatch):
    problem = tmp_path / "hw.yaml"
    real = output.publish

    def taken_meanwhile(target, content):
        if target.option == "--output":
            problem.write_text("theirs")
        return real(target, content)

    monkeypatch.setattr(output, "publish", taken_meanwhile)
    run("generate", "-o", str(problem), "--answers", str(tmp_path / "key.yaml"))
    assert problem.read_text() == "theirs"
    assert yaml.safe_load((tmp_path / "key.yaml").read_text())["problem"] == "hw.1.yaml"


# --- signals -------------------------------------------------------------------------------------------


def wait_for_cpu_time(process: subprocess.Popen, seconds: float) -> None:
    """Wait until ``process`` has used ``seconds`` of CPU (read from /proc: a loaded
    machine slows it down, not the test's verdict), or for 3 s where /proc is missing."""
    stat_file = Path(f"/proc/{process.pid}/stat")
    if not stat_file.exists():
        time.sleep(3)
        return
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        fields = stat_file.read_text().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") >= seconds:  # utime + stime
            return
        time.sleep(0.1)


def test_sigterm_during_training_saves_and_exits_143(tmp_path):
    save, history = tmp_path / "w.yaml", tmp_path / "h.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "nodeclf_cli", "train", str(KARATE), "--epochs", "100000000", "--save", str(save),
         "--history", str(history), "--quiet", "--no-plot", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for_cpu_time(process, 1.5)  # into training: starting takes well under a second of CPU
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == errors.EXIT_TERMINATED == 143, err
    assert err.splitlines()[-1].startswith("nodeclf: terminated after epoch ") and "Traceback" not in err
    epochs = int(err.split("terminated after epoch ")[1].split()[0])
    assert 0 < epochs < 100000000
    assert f"{epochs} epochs" in save.read_text() and saved_weights(save).shape == (2, 4)
    assert len(json.loads(history.read_text())) == epochs
    assert json.loads(out)["history"][-1]["epoch"] == epochs
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_sigterm_outside_training_exits_143_with_a_line(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # no reader: opening it to write waits
    process = subprocess.Popen([sys.executable, "-m", "nodeclf_cli", "step", "-o", str(fifo)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (143, "nodeclf: terminated\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_an_ignored_sigterm_stays_ignored(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    process = subprocess.Popen([sys.executable, "-m", "nodeclf_cli", "step", "--format", "json", "-o", str(fifo)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert process.poll() is None  # as nohup or a supervisor asked
    loss = json.loads(fifo.read_text())["loss"]  # reading lets it finish
    assert process.wait(timeout=60) == 0 and loss == pytest.approx(1.1464926025)


# --- stdout in every state -----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
@pytest.mark.parametrize(
    "args, code",
    [(["step", "--explain"], 0), (["check", "article"], 1), (["train", "--epochs", "40", "--quiet"], 0)],
)
def test_an_encoding_without_the_symbols_gets_ascii_ones(encoding, args, code):
    done = nodeclf(*args, env={"PYTHONIOENCODING": encoding})
    assert done.returncode == code, done.stderr.decode()
    assert done.stderr == b""
    text = done.stdout.decode(encoding)  # strictly: every byte is of that encoding
    assert "\\u" not in text and "\\x" not in text  # every symbol nodeclf prints has its replacement


@pytest.mark.parametrize("args", [["check", "article"], ["step", "--carry", "rounded", "--explain"]])
def test_ascii_symbols_replace_exactly_the_symbols(args):
    ascii_lines = nodeclf(*args, env={"PYTHONIOENCODING": "ascii"}).stdout.decode("ascii").splitlines()
    utf8_lines = nodeclf(*args).stdout.decode().splitlines()
    drawn = {"│": "|", "┃": "|"}  # a table row's sides; Rich draws its boxes in ASCII itself
    compared = [line for line in utf8_lines if not any("\u2500" <= c <= "\u257f" and c not in drawn for c in line)]
    symbols = {char for line in compared for char in line if char in output.ASCII_SYMBOLS}
    assert len(compared) > 20 and len(symbols) >= 3, symbols
    for line in compared:  # only the symbols change, and a table row keeps its width
        assert "".join(drawn.get(c) or output.ASCII_SYMBOLS.get(c, c) for c in line) in ascii_lines, line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["step"], ["train", "--epochs", "2", "--quiet"], ["--help"], ["--version"],
                                  ["check", "article"]])
def test_a_full_disk_on_stdout_is_one_line_and_status_2(args):
    with open("/dev/full", "w") as full:
        done = nodeclf(*args, stdout=full)
    assert done.returncode == 2
    assert done.stderr.decode() == "nodeclf: error: cannot write the output: No space left on device\n"


def test_a_closed_stdout_is_one_line_and_status_2(tmp_path):
    script = f"exec {sys.executable} -m nodeclf_cli step >&-"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, "nodeclf: error: cannot write the output: stdout is closed\n")
    target = tmp_path / "out.json"
    script = f"exec {sys.executable} -m nodeclf_cli step --format json -o {target} >&-"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text())["loss"] == pytest.approx(1.1464926025)


# --- threads ---------------------------------------------------------------------------------------------


def test_threads_beyond_the_usable_cores_are_clamped_with_a_note(monkeypatch):
    from nodeclf_cli import train

    monkeypatch.setattr(train, "usable_cores", lambda: 3)
    chosen = []
    real_init = train.Trainer.__init__

    def record(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        chosen.append((self.settings.threads, self._cores))

    monkeypatch.setattr(train.Trainer, "__init__", record)
    result = run("train", "--threads", "100000", "--epochs", "2", "--quiet", "--no-plot")
    assert "nodeclf: note: --threads 100000 is more than the 3 cores nodeclf may run on; using 3" in result.stderr
    assert chosen == [(3, 3)]
    chosen.clear()
    assert run("train", "--threads", "2", "--epochs", "2", "--quiet", "--no-plot").stderr == ""
    assert chosen == [(2, 2)]


def test_names_with_escape_codes_are_shown_escaped_in_every_format(tmp_path):
    """A node or class name holding an ANSI escape (or another control character)
    reaches no terminal or document raw: tables, Markdown and LaTeX show it escaped."""
    path = tmp_path / "p.yaml"
    path.write_text('embeddings: {"a\\e[31mred": [0.5, 0.6], b: [0.3, 0.8]}\n'
                    'labels: {"a\\e[31mred": "x\\u202ey", b: z}\nclasses: ["x\\u202ey", z]\n'
                    'weights: {W: [[0.1, 0.2], [0.3, 0.4]], b: [0.0, 0.0]}\nlearning_rate: 0.1\n')
    for form in ("table", "markdown", "latex"):
        out = run("step", str(path), "--format", form, "--explain").stdout
        assert "\x1b" not in out and "\u202e" not in out, form
        assert "\\x1b[31mred" in out.replace("\\textbackslash{}", "\\"), form


def test_a_narrow_terminal_splits_tables_but_never_cuts_a_number():
    from typer.testing import CliRunner

    from nodeclf_cli.cli import app

    out = CliRunner().invoke(app, ["step"], env={"COLUMNS": "10"}).stdout
    # each table split a column at a time, each number whole (not "0." as a cropped table shows)
    assert "│    1 │ 0.5 │" in out and "│    1 │ 0.33 │" in out and "│    1 │ 0.69* │" in out
    assert "│    1 │ 0. │" not in out


def test_a_big_output_into_a_closed_pipe_is_141_even_unbuffered():
    """Under PYTHONUNBUFFERED a big write into a pipe whose reader has gone must not be
    cut short in silence (status 0): it is a closed pipe, 141."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "nodeclf_cli", "train", "karate", "--epochs", "3000", "--format", "json",
               "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    process.stdout.read(10)
    process.stdout.close()
    process.wait(timeout=120)
    assert process.returncode == 141, process.stderr.read()


def test_no_output_replaces_what_the_command_reads_even_with_force(tmp_path):
    problem = tmp_path / "p.yaml"
    problem.write_text((ROOT / "data" / "example.yaml").read_text())
    before = problem.read_bytes()
    one_line_error(run("step", str(problem), "-o", str(problem), "--format", "markdown", "--force", code=2),
                   "--output names", "which this command reads")
    one_line_error(run("train", str(problem), "--epochs", "2", "--quiet", "--save", str(problem), "--force",
                       code=2), "--save names")
    assert problem.read_bytes() == before
    import shutil

    shutil.copytree(ROOT / "data" / "class", tmp_path / "cls")
    manifest, sheet = tmp_path / "cls" / "hw" / "manifest.csv", tmp_path / "cls" / "sheets" / "ana.yaml"
    kept = manifest.read_bytes(), sheet.read_bytes()
    for gradebook in (manifest, sheet):
        one_line_error(run("check", str(tmp_path / "cls" / "sheets"), "--manifest", str(manifest), "--gradebook",
                           str(gradebook), "--force", code=2), "--gradebook names")
    assert (manifest.read_bytes(), sheet.read_bytes()) == kept
