"""`nodeclf train`: the trainer against step, hand-written references and PyTorch."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from nodeclf_cli import core
from nodeclf_cli.problem import load_problem
from nodeclf_cli.train import Settings, Trainer, chunk_bounds, split_groups

from .conftest import EXAMPLE, ROOT
from .test_cli_step import run, table_row

KARATE = ROOT / "data" / "karate.yaml"


def train_json(*args: str, code: int = 0) -> dict:
    return json.loads(run("train", *args, "--format", "json", "--quiet", code=code).stdout)


def reference_sgd(Z, y, W, b, epochs, lr, momentum=0.0, weight_decay=0.0, reduction="mean"):
    """Plain full-batch SGD written out directly, as torch.optim.SGD defines it."""
    W, b = W.copy(), b.copy()
    v_W = v_b = None
    losses = []
    for _ in range(epochs):
        step = core.gradient_step(Z, y, W, b, lr, reduction)
        losses.append(step.loss)
        g_W = step.grad_W + weight_decay * W
        g_b = step.grad_b + weight_decay * b
        if momentum:
            v_W = g_W if v_W is None else momentum * v_W + g_W
            v_b = g_b if v_b is None else momentum * v_b + g_b
            g_W, g_b = v_W, v_b
        W, b = W - lr * g_W, b - lr * g_b
    return np.array(losses), W, b


def test_one_epoch_equals_step(article):
    trained = train_json(str(EXAMPLE), "--epochs", "1")
    stepped = json.loads(run("step", "--format", "json").stdout)
    assert_allclose(trained["W"], stepped["W_new"], atol=1e-12, rtol=0)
    assert_allclose(trained["b"], stepped["b_new"], atol=1e-12, rtol=0)
    assert trained["history"][0]["loss"] == pytest.approx(article.loss, abs=1e-10)
    assert trained["history"][0]["accuracy"] == 0.0  # the article predicts every node wrong


def test_loss_decreases_on_the_example():
    history = train_json("--epochs", "30")["history"]
    losses = [h["loss"] for h in history]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.8 * losses[0]


def test_chunks_and_threads_do_not_change_the_result():
    problem = load_problem(KARATE)
    rng = np.random.default_rng(1)
    W, b = rng.normal(0, 0.1, (2, 4)), np.zeros(2)
    results = []
    for chunk, threads in [(34, 1), (5, 1), (5, 3), (1, 2), (17, 1), (17, 2)]:
        trainer = Trainer(problem.Z, problem.y, W, b, Settings(8, 0.5, chunk_nodes=chunk, threads=threads))
        losses = [e.loss for e in trainer]
        results.append((np.array(losses), trainer.W.copy(), trainer.b.copy()))
    same_chunks = results[4], results[5]  # the same two chunks on 1 and on 2 cores: the same bits
    assert all(np.array_equal(a, b) for a, b in zip(*same_chunks))
    for losses, W_end, b_end in results[1:]:
        assert_allclose(losses, results[0][0], rtol=1e-13)
        assert_allclose(W_end, results[0][1], rtol=1e-12, atol=1e-15)
        assert_allclose(b_end, results[0][2], rtol=1e-12, atol=1e-15)


def test_a_slow_core_takes_fewer_chunks_and_the_bits_stay_the_same(monkeypatch):
    # each worker takes the next chunk when it is done with one; the results are
    # summed in chunk order, so who took which chunk cannot change a bit
    rng = np.random.default_rng(3)
    Z, y = rng.standard_normal((600, 5)), rng.integers(0, 3, 600)
    W, b = rng.normal(0, 0.1, (3, 5)), rng.normal(0, 0.1, 3)

    def trained(threads: int) -> tuple:
        trainer = Trainer(Z, y, W, b, Settings(3, 0.5, momentum=0.5, chunk_nodes=25, threads=threads))
        return [e.loss for e in trainer], trainer.W, trainer.b

    alone = trained(1)
    taken: dict[int, list[int]] = {}
    first: dict[str, int] = {}
    chunk = Trainer._chunk

    def slow_on_one_worker(self, index):
        worker = threading.get_ident()
        taken.setdefault(worker, []).append(index)
        if first.setdefault("worker", worker) == worker:  # the first worker to take a chunk runs 20x slower
            time.sleep(0.002)
        return chunk(self, index)

    monkeypatch.setattr(Trainer, "_chunk", slow_on_one_worker)
    losses, W_end, b_end = trained(2)
    assert losses == alone[0]
    assert np.array_equal(W_end, alone[1]) and np.array_equal(b_end, alone[2])
    assert len(taken) == 2
    slow = taken.pop(first["worker"])
    (fast,) = taken.values()
    assert sorted(slow + fast) == sorted(list(range(24)) * 3)  # every chunk once an epoch
    assert len(fast) > 2 * len(slow)


def test_an_error_in_one_worker_stops_the_epoch_instead_of_hanging_it(monkeypatch):
    # the other worker would otherwise wait for the failed chunk's results
    rng = np.random.default_rng(4)
    Z, y = rng.standard_normal((600, 5)), rng.integers(0, 3, 600)
    chunk = Trainer._chunk

    def fails_on_chunk_1(self, index):
        if index == 1:
            time.sleep(0.05)  # the other worker is far ahead by now, waiting
            raise MemoryError("chunk 1")
        return chunk(self, index)

    monkeypatch.setattr(Trainer, "_chunk", fails_on_chunk_1)
    trainer = Trainer(Z, y, np.zeros((3, 5)), np.zeros(3), Settings(2, 0.5, chunk_nodes=10, threads=2))
    raised: list[BaseException] = []

    def train() -> None:
        try:
            list(trainer)
        except MemoryError as error:
            raised.append(error)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive() and str(raised[0]) == "chunk 1"


def test_workers_follow_the_cores_this_process_may_run_on(monkeypatch):
    import nodeclf_cli.train as train_module

    rng = np.random.default_rng(9)
    Z, y = rng.standard_normal((400, 3)), rng.integers(0, 2, 400)
    settings = Settings(1, 0.5, chunk_nodes=10)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(train_module, "cgroup_cpu_limit", lambda: None)  # whatever this machine's cgroup says
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert train_module.usable_cores() == 3
    assert Trainer(Z, y, np.zeros((2, 3)), np.zeros(2), settings)._workers == 3  # as under taskset -c 0,3,5
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # where there is no such call
    assert Trainer(Z, y, np.zeros((2, 3)), np.zeros(2), settings)._workers == 8


def _cgroup_tree(tmp_path, self_cgroup: str, files: dict[str, str]):
    """A /proc/self/cgroup and a /sys/fs/cgroup made of ``files`` (path: text)."""
    cgroups = tmp_path / "cgroup"
    cgroups.write_text(self_cgroup)
    mounts = tmp_path / "fs"
    for name, text in files.items():
        (mounts / name).parent.mkdir(parents=True, exist_ok=True)
        (mounts / name).write_text(text)
    return cgroups, mounts


@pytest.mark.parametrize(
    "self_cgroup, files, limit",
    [
        # cgroup v2, inside a container (its cgroup is the root): docker --cpus 1.5
        ("0::/\n", {"cpu.max": "150000 100000\n"}, 1.5),
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),
        # v2 outside a container: the smallest limit of the cgroup and those above it
        ("0::/a/b\n", {"a/b/cpu.max": "max 100000\n", "a/cpu.max": "300000 100000\n"}, 3.0),
        ("0::/a/b\n", {"a/b/cpu.max": "100000 100000\n", "a/cpu.max": "300000 100000\n"}, 1.0),
        # v1 (cpu,cpuacct), with other controllers listed first
        ("4:memory:/x\n1:cpu,cpuacct:/\n0::/\n",
         {"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ("1:cpu,cpuacct:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        # v1 in a container without its own cgroup namespace: the host's path is not mounted
        ("1:cpu:/docker/1234\n", {"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        # nothing readable, or nothing set
        ("0::/\n", {}, None),
        ("garbled\n", {"cpu.max": "150000 100000\n"}, None),
        ("0::/\n", {"cpu.max": "lots 0\n"}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path, self_cgroup, files, limit):
    from nodeclf_cli.train import cgroup_cpu_limit

    assert cgroup_cpu_limit(*_cgroup_tree(tmp_path, self_cgroup, files)) == limit


def test_cgroup_cpu_limit_without_cgroups(tmp_path):
    from nodeclf_cli.train import cgroup_cpu_limit

    assert cgroup_cpu_limit(tmp_path / "no such file", tmp_path) is None


@pytest.mark.parametrize("limit, workers", [(None, 3), (2.5, 2), (1.0, 1), (0.5, 1), (16.0, 3)])
def test_workers_are_at_most_the_whole_cpus_a_cgroup_limit_gives(monkeypatch, limit, workers):
    import nodeclf_cli.train as train_module

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(train_module, "cgroup_cpu_limit", lambda: limit)
    assert train_module.usable_cores() == workers
    rng = np.random.default_rng(9)
    Z, y = rng.standard_normal((400, 3)), rng.integers(0, 2, 400)
    assert Trainer(Z, y, np.zeros((2, 3)), np.zeros(2), Settings(1, 0.5, chunk_nodes=10))._workers == workers


def test_one_thread_means_one_blas_thread_too():
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    problem = load_problem(KARATE)
    trainer = Trainer(problem.Z, problem.y, np.zeros((2, 4)), np.zeros(2), Settings(3, 0.5, threads=1))
    epochs = iter(trainer)
    next(epochs)
    assert blas_threads() == [1] * len(before)
    epochs.close()  # and the limit goes with the run
    assert blas_threads() == before


@given(st.integers(1, 100_000), st.integers(1, 9_000), st.integers(1, 8))
def test_chunk_bounds_cover_the_nodes_in_even_shares(n_nodes, most, workers):
    bounds = chunk_bounds(n_nodes, most, workers)
    starts, stops = [s for s, _ in bounds], [s for _, s in bounds]
    assert starts[0] == 0 and stops[-1] == n_nodes and starts[1:] == stops[:-1]
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) <= most and max(sizes) - min(sizes) <= 1
    if n_nodes <= most:  # one chunk will do: no threads
        assert bounds == [(0, n_nodes)]
    else:  # a multiple of the workers, unless there are too few nodes: one per chunk
        assert len(bounds) % workers == 0 or max(sizes) == 1


def test_default_chunks_fit_the_budget_and_sum_to_the_whole_step():
    from nodeclf_cli.train import CHUNK_BYTES, chunk_size

    for d, C, dtype in [(128, 40, np.float32), (128, 40, np.float64), (4, 2, np.float64), (5000, 500, np.float64)]:
        n = chunk_size(d, C, np.dtype(dtype))
        assert n == 256 or n * (d + C) * np.dtype(dtype).itemsize <= CHUNK_BYTES
    rng = np.random.default_rng(5)
    N, d, C = 40_000, 64, 7  # several default-sized chunks
    Z, y = rng.standard_normal((N, d)), rng.integers(0, C, N)
    W, b = rng.normal(0, 0.1, (C, d)), rng.normal(0, 0.1, C)
    trainer = Trainer(Z, y, W, b, Settings(1, 0.3))
    assert len(trainer._chunks) > 2
    epoch = next(iter(trainer))
    step = core.gradient_step(Z, y, W, b, 0.3)
    assert epoch.loss == pytest.approx(step.loss, rel=1e-12)
    assert epoch.accuracy == np.mean(step.predicted == y)
    assert_allclose(trainer.W, step.W_new, rtol=1e-12, atol=1e-15)
    assert_allclose(trainer.b, step.b_new, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("momentum, weight_decay, reduction", [(0.9, 0.0, "mean"), (0.5, 0.01, "sum"), (0.0, 0.1, "mean")])
def test_momentum_and_weight_decay_match_a_hand_written_reference(momentum, weight_decay, reduction):
    problem = load_problem(KARATE)
    rng = np.random.default_rng(2)
    W, b = rng.normal(0, 0.1, (2, 4)), rng.normal(0, 0.1, 2)
    lr = 0.05 if reduction == "sum" else 0.5
    settings = Settings(12, lr, reduction, momentum, weight_decay, chunk_nodes=7, threads=2)
    trainer = Trainer(problem.Z, problem.y, W, b, settings)
    losses = [e.loss for e in trainer]
    ref_losses, ref_W, ref_b = reference_sgd(problem.Z, problem.y, W, b, 12, lr, momentum, weight_decay, reduction)
    assert_allclose(losses, ref_losses, rtol=1e-12)
    assert_allclose(trainer.W, ref_W, rtol=1e-11, atol=1e-14)
    assert_allclose(trainer.b, ref_b, rtol=1e-11, atol=1e-14)


def test_float32_agrees_with_float64():
    f64 = train_json(str(KARATE), "--epochs", "20", "--init", "random", "--momentum", "0.5")
    f32 = train_json(str(KARATE), "--epochs", "20", "--init", "random", "--momentum", "0.5", "--dtype", "float32")
    assert_allclose([h["loss"] for h in f32["history"]], [h["loss"] for h in f64["history"]], rtol=1e-5)
    assert_allclose(f32["W"], f64["W"], rtol=1e-5, atol=1e-5)


def test_karate_reaches_high_accuracy():
    data = train_json(str(KARATE), "--epochs", "100")
    assert data["history"][-1]["accuracy"] >= 0.94
    assert data["classes"] == ["Mr. Hi", "Officer"] and data["epochs"] == 100
    assert train_json("karate", "--epochs", "100") == data  # the bundled copy, by name


def test_a_bundled_example_is_titled_by_its_name():
    result = run("train", "karate", "--epochs", "2", "--quiet", "--no-plot")
    assert result.stdout.startswith("Training on the karate club example: 34 nodes")


def test_json_confusion_matrix_is_the_final_weights_on_the_counted_nodes(tmp_path):
    problem = load_problem(KARATE)
    data = train_json(str(KARATE), "--epochs", "30")
    predicted = (problem.Z @ np.array(data["W"]).T + data["b"]).argmax(axis=1)
    expected = [[int(((problem.y == t) & (predicted == p)).sum()) for p in range(2)] for t in range(2)]
    assert data["confusion"] == expected and sum(map(sum, expected)) == 34
    labels, splits = _split_problem(tmp_path)  # with a split: the train nodes only
    split_data = train_json(str(KARATE), "--labels", str(labels), "--epochs", "5")
    predicted = (problem.Z @ np.array(split_data["W"]).T + split_data["b"]).argmax(axis=1)
    train = np.array([s == "train" for s in splits] + [False, False])
    expected = [[int(((problem.y == t) & (predicted == p) & train).sum()) for p in range(2)] for t in range(2)]
    assert split_data["confusion"] == expected and sum(map(sum, expected)) == 20


def test_more_classes_than_fit_point_to_the_json_confusion_matrix(tmp_path):
    rng = np.random.default_rng(8)
    np.save(tmp_path / "z.npy", rng.standard_normal((100, 3)))
    np.save(tmp_path / "y.npy", np.arange(100) % 16)
    args = ["--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"), "--epochs", "2"]
    table = run("train", *args, "--quiet", "--no-plot").stdout
    assert "(no confusion matrix for 16 classes: it would not fit; --format json gives it)" in table
    confusion = np.array(train_json(*args)["confusion"])
    assert confusion.shape == (16, 16) and confusion.sum() == 100 and confusion.sum(axis=1).tolist() == [7] * 4 + [6] * 12


def test_save_round_trips_through_step(tmp_path):
    saved = tmp_path / "trained.yaml"
    data = train_json(str(KARATE), "--epochs", "15", "--save", str(saved))
    text = saved.read_text()
    assert text.startswith("# Trained by nodeclf train on")
    # the header's loss is the last epoch's, from its forward pass before its update
    last = data["history"][-1]
    assert f"# epoch 15, before its update: loss {last['loss']:.6g}, accuracy {last['accuracy']:.4g}\n" in text
    stepped = json.loads(run("step", str(saved), "--format", "json").stdout)
    assert stepped["loss"] < last["loss"]  # the saved weights are one update further on
    assert stepped["W"] == data["W"] and stepped["b"] == data["b"]  # exactly, not approximately
    assert stepped["node_ids"] == list(range(1, 35))
    assert stepped["learning_rate"] == 0.5
    # one more epoch from the saved weights is what a 16th epoch would have given
    sixteen = train_json(str(KARATE), "--epochs", "16")
    assert_allclose(stepped["W_new"], sixteen["W"], atol=1e-12)


def test_save_as_csv_writes_the_weights_alone_for_weights(tmp_path):
    saved = tmp_path / "w.csv"
    data = train_json(str(KARATE), "--epochs", "4", "--save", str(saved))
    assert saved.read_text().startswith("class,b,w_0,w_1,w_2,w_3\nMr. Hi,")
    stepped = json.loads(run("step", "karate", "--weights", str(saved), "--format", "json").stdout)
    assert stepped["W"] == data["W"] and stepped["b"] == data["b"]  # exactly
    # a class name holding the delimiter is quoted, and read back as it was
    problem = tmp_path / "p.yaml"
    problem.write_text("embeddings: {1: [1.0], 2: [-1.0]}\nlabels: {1: 'a,b', 2: c}\nclasses: ['a,b', c]\n")
    run("train", str(problem), "--epochs", "2", "--quiet", "--no-plot", "--save", str(tmp_path / "named.csv"))
    again = json.loads(run("step", str(problem), "--weights", str(tmp_path / "named.csv"), "--lr", "0.1",
                           "--format", "json").stdout)
    assert again["classes"] == ["a,b", "c"]


def test_save_refuses_other_formats_before_training(tmp_path):
    result = run("train", "--epochs", "2", "--save", str(tmp_path / "w.txt"), "--quiet", code=2)
    assert result.stderr.endswith("w.txt: --save writes a problem file (.yaml) or the weights alone (.csv)\n")
    assert not (tmp_path / "w.txt").exists()


def test_counts_of_one_are_worded_in_the_singular(tmp_path):
    np.save(tmp_path / "z.npy", np.array([[0.5], [-0.5], [1.0]]))
    np.save(tmp_path / "y.npy", np.array([1, 0, 1]))
    saved = tmp_path / "t.yaml"
    args = ["--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"), "--epochs", "1"]
    table = run("train", *args, "--quiet", "--no-plot", "--save", str(saved)).stdout
    assert table.startswith("Training on z.npy and y.npy: 3 nodes, 1 feature, 2 classes;")
    assert saved.read_text().startswith("# Trained by nodeclf train on z.npy and y.npy: 1 epoch, lr 0.1\n")


def test_save_refers_to_the_files_it_came_from(tmp_path):
    save_dir = tmp_path / "out"
    save_dir.mkdir()
    saved = save_dir / "w.yaml"
    train_json(str(ROOT / "data" / "example-csv.yaml"), "--epochs", "3", "--save", str(saved))
    text = saved.read_text()
    assert f'embeddings: "{os.path.relpath(ROOT / "data" / "csv" / "embeddings.csv", save_dir)}"' in text
    run("step", str(saved))


def test_save_refuses_to_overwrite_before_training(tmp_path):
    saved = tmp_path / "w.yaml"
    saved.write_text("precious")
    result = run("train", "--epochs", "2", "--save", str(saved), "--quiet", code=2)
    assert "already exists; pass --force" in result.stderr and saved.read_text() == "precious"


def test_history_csv_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    history, plot = tmp_path / "h.csv", tmp_path / "loss.png"
    data = train_json("--epochs", "4", "--history", str(history), "--plot", str(plot))
    lines = history.read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy" and len(lines) == 5
    assert float(lines[1].split(",")[1]) == data["history"][0]["loss"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000


def test_plot_without_matplotlib_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as where the extra "plot" is not installed
    trained = []
    monkeypatch.setattr(Trainer, "__iter__", lambda self: trained.append(self) or iter(()))
    saved, plot = tmp_path / "w.yaml", tmp_path / "loss.png"
    result = run("train", "--epochs", "2", "--quiet", "--save", str(saved), "--plot", str(plot), code=2)
    assert result.stderr == 'nodeclf: error: --plot needs matplotlib: pip install "nodeclf[plot]"\n'
    assert result.stdout == "" and not trained
    assert not saved.exists() and not plot.exists()


@pytest.mark.parametrize("epochs", [3, 7, 20, 130])
def test_plot_image_shows_whole_epochs_and_names_the_train_accuracy_with_a_split(epochs):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from nodeclf_cli.render_train import loss_figure
    from nodeclf_cli.train import Epoch

    history = [Epoch(e, 1 / e, 0.5, 0.4, 0.3) for e in range(1, epochs + 1)]
    figure = loss_figure(history)
    loss_axis, accuracy_axis = figure.axes
    ticks = [t for t in loss_axis.get_xticks() if 1 <= t <= epochs]
    assert ticks and all(t == int(t) for t in ticks)
    assert [line.get_label() for line in accuracy_axis.lines] == ["train accuracy", "val accuracy"]
    plt.close(figure)
    figure = loss_figure([Epoch(e, 1 / e, 0.5, None, None) for e in range(1, epochs + 1)])
    assert [line.get_label() for line in figure.axes[1].lines] == ["accuracy"]
    plt.close(figure)


def test_table_output_has_the_history_weights_and_confusion():
    out = run("train", str(KARATE), "--epochs", "40", "--quiet", "--no-plot").stdout
    assert "│     1 │ 0.6939 │    50.0% │" in out
    assert "Confusion matrix" in out and "Accuracy per class" in out and "Trained weights" in out
    rows = [line for line in out.splitlines() if line.startswith("│") and "%" in line]
    assert 20 <= len(rows) <= 25  # about 20 of the 40 epochs, first and last included


def _split_problem(tmp_path):
    labels = tmp_path / "labels.csv"
    splits = ["train"] * 20 + ["val"] * 7 + ["test"] * 5  # nodes 33 and 34 unlabelled
    problem = load_problem(KARATE)
    rows = [f"{i + 1},{problem.classes[c]},{s}" for i, (c, s) in enumerate(zip(problem.y, splits))]
    labels.write_text("id,label,split\n" + "\n".join(rows) + "\n")
    return labels, splits


def test_history_csv_with_a_split_holds_plain_numbers_equal_to_the_json(tmp_path):
    labels, _ = _split_problem(tmp_path)
    history = tmp_path / "h.csv"
    data = train_json(str(KARATE), "--labels", str(labels), "--epochs", "3", "--history", str(history))
    rows = list(csv.DictReader(history.read_text().splitlines()))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_accuracy", "test_accuracy"]
    assert [{key: float(value) for key, value in row.items()} for row in rows] == data["history"]


def test_history_as_json_for_a_json_file(tmp_path):
    history = tmp_path / "h.json"
    data = train_json(str(KARATE), "--epochs", "3", "--history", str(history))
    assert json.loads(history.read_text()) == data["history"]


def test_split_trains_on_train_nodes_and_counts_accuracy_on_the_right_nodes(tmp_path):
    labels, splits = _split_problem(tmp_path)
    data = train_json(str(KARATE), "--labels", str(labels), "--epochs", "5", "--init", "zeros")
    problem = load_problem(KARATE)
    groups = np.array([{"train": 0, "val": 1, "test": 2}[s] for s in splits] + [-1, -1])
    y = problem.y
    train = groups == 0
    ref_losses, W, b = reference_sgd(problem.Z[train], y[train], np.zeros((2, 4)), np.zeros(2), 5, 0.5)
    assert_allclose([h["loss"] for h in data["history"]], ref_losses, rtol=1e-12)
    assert_allclose(data["W"], W, rtol=1e-11, atol=1e-14)
    # the last epoch's accuracies come from the weights before its update
    _, W4, b4 = reference_sgd(problem.Z[train], y[train], np.zeros((2, 4)), np.zeros(2), 4, 0.5)
    predicted = (problem.Z @ W4.T + b4).argmax(axis=1)
    for key, k in [("accuracy", 0), ("val_accuracy", 1), ("test_accuracy", 2)]:
        mask = groups == k
        assert data["history"][-1][key] == pytest.approx((predicted[mask] == y[mask]).mean(), abs=1e-12)
    table = run("train", str(KARATE), "--labels", str(labels), "--epochs", "5", "--init", "zeros", "--quiet",
                "--no-plot").stdout
    assert table_row(table, "epoch") == ["epoch", "loss", "train accuracy", "val accuracy", "test accuracy"]
    last = data["history"][-1]
    shown = [f"{100 * last[key]:.1f}%" for key in ("accuracy", "val_accuracy", "test_accuracy")]
    assert table_row(table, "5") == ["5", f"{last['loss']:.4f}", *shown]
    assert re.search(r"overall train: \d+\.\d%, val: \d+\.\d%, test: \d+\.\d%\n", table)


def test_split_counts_add_up_over_chunks_and_cores(tmp_path):
    labels, splits = _split_problem(tmp_path)
    problem = load_problem(KARATE, labels=labels, allow_unlabelled=True)
    groups = split_groups(problem.split, problem.y)
    W, b = np.random.default_rng(6).normal(0, 0.1, (2, 4)), np.zeros(2)
    whole, chunked = (
        list(Trainer(problem.Z, problem.y, W, b, Settings(6, 0.5, chunk_nodes=chunk, threads=threads), groups))
        for chunk, threads in [(None, 1), (4, 3)]
    )
    assert [(e.accuracy, e.val_accuracy, e.test_accuracy) for e in chunked] == [
        (e.accuracy, e.val_accuracy, e.test_accuracy) for e in whole
    ]
    assert_allclose([e.loss for e in chunked], [e.loss for e in whole], rtol=1e-13)
    assert whole[0].val_accuracy is not None and 0 < whole[-1].test_accuracy <= 1


def test_split_groups_mark_unlabelled_nodes():
    groups = split_groups(np.array(["train", "val", "", "test"]), np.array([0, 1, -1, 0]))
    assert groups.tolist() == [0, 1, -1, 2]


def test_npy_files_alone_are_a_problem(tmp_path):
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(200, 6)).astype(np.float32)
    y = np.where(Z[:, 2] > 1, 2, (Z[:, 0] + Z[:, 1] > 0).astype(np.int64))
    np.save(tmp_path / "z.npy", Z)
    np.save(tmp_path / "y.npy", y)
    data = train_json("--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"),
                      "--epochs", "60", "--dtype", "float32", "--lr", "1.0")
    assert data["classes"] == [0, 1, 2] and data["learning_rate"] == 1.0
    assert data["history"][-1]["accuracy"] > 0.8
    assert np.array(data["W"]).shape == (3, 6)
    table = run("train", "--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"),
                "--epochs", "1", "--quiet", "--no-plot").stdout
    assert table.startswith("Training on z.npy and y.npy: 200 nodes, 6 features, 3 classes")


def test_ctrl_c_stops_after_the_epoch_saves_and_exits_130(tmp_path):
    saved = tmp_path / "w.yaml"
    env = {**os.environ, "COLUMNS": "100"}
    process = subprocess.Popen(
        [sys.executable, "-m", "nodeclf_cli", "train", str(KARATE), "--epochs", "100000000",
         "--save", str(saved), "--quiet", "--no-plot"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted after epoch" in err and "Traceback" not in err
    epochs = int(err.split("interrupted after epoch ")[1].split()[0])
    assert 0 < epochs < 100000000
    assert f"{epochs} epochs" in saved.read_text()
    assert "Trained weights" in out


def test_matches_pytorch_sgd_when_available():
    torch = pytest.importorskip("torch")
    problem = load_problem(KARATE)
    rng = np.random.default_rng(4)
    W, b = rng.normal(0, 0.1, (2, 4)), rng.normal(0, 0.1, 2)
    trainer = Trainer(problem.Z, problem.y, W, b, Settings(10, 0.3, momentum=0.9, weight_decay=0.01))
    losses = [e.loss for e in trainer]
    layer = torch.nn.Linear(4, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W))
        layer.bias.copy_(torch.tensor(b))
    optimiser = torch.optim.SGD(layer.parameters(), lr=0.3, momentum=0.9, weight_decay=0.01)
    Z, y = torch.tensor(problem.Z), torch.tensor(problem.y)
    torch_losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(Z), y)
        loss.backward()
        optimiser.step()
        torch_losses.append(loss.item())
    assert_allclose(losses, torch_losses, rtol=1e-12)
    assert_allclose(trainer.W, layer.weight.detach().numpy(), atol=1e-12)


def test_wide_weights_are_summarised_per_class(tmp_path):
    """More than 16 features: per class b_c, ||w_c|| and the largest weight, computed
    here from the JSON's full-precision W."""
    rng = np.random.default_rng(5)
    np.save(tmp_path / "z.npy", rng.normal(size=(60, 20)))
    np.save(tmp_path / "y.npy", rng.integers(0, 3, size=60))
    args = ["--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.npy"), "--epochs", "5", "--lr", "1"]
    data = train_json(*args)
    out = run("train", *args, "--quiet", "--no-plot").stdout
    assert "w_c[19]" not in out and "W is 3 x 20, too wide to print" in out
    W, b = np.array(data["W"]), np.array(data["b"])
    weights = out[out.index("Trained weights"):]
    for c in range(3):
        j = int(np.argmax(np.abs(W[c])))
        cells = table_row(weights, str(c))
        assert cells == [str(c), f"{b[c]:.4f}", f"{np.linalg.norm(W[c]):.4f}", str(j), f"{W[c, j]:.4f}"]


def test_a_split_without_val_nodes_still_gives_test_accuracy(tmp_path):
    labels = tmp_path / "labels.csv"
    problem = load_problem(KARATE)
    splits = ["train"] * 24 + ["test"] * 8  # no val node; 33 and 34 unlabelled
    rows = [f"{i + 1},{problem.classes[c]},{s}" for i, (c, s) in enumerate(zip(problem.y, splits))]
    labels.write_text("id,label,split\n" + "\n".join(rows) + "\n")
    history = tmp_path / "h.csv"
    data = train_json(str(KARATE), "--labels", str(labels), "--epochs", "3", "--init", "zeros",
                      "--history", str(history))
    first = data["history"][0]
    assert "val_accuracy" not in first
    # with zero weights every logit ties, and argmax picks the first class
    test_y = problem.y[24:32]
    assert first["test_accuracy"] == pytest.approx(np.mean(test_y == 0))
    assert history.read_text().splitlines()[0] == "epoch,loss,accuracy,test_accuracy"
