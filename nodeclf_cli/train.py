"""Full-batch gradient descent for many epochs, on problems of any size.

Each epoch runs :func:`kernel.chunk_loss_and_grad` over the nodes in cache-sized
chunks (the data is read once per epoch), spread over the machine's cores with
single-threaded BLAS calls: each core takes the next chunk when it is done with one,
and the chunks' results are added in chunk order, whichever core worked them out.
Then it updates the weights with one of :mod:`optim`'s rules, as ``torch.optim`` does:
``sgd`` (the default; ``SGD`` with momentum, dampening, Nesterov's momentum and weight
decay), ``adam`` (``Adam``: weight decay joins the gradient) or ``adamw`` (``AdamW``: W and
b decay first, apart from it):

    g := dL/dW + weight_decay * W          (sgd, adam)
    v := momentum * v + (1 - dampening) g  (sgd; v := g on the first step)
    W := W - lr * v                        (sgd; W - lr (g + momentum v) with Nesterov's; the same for b)

Training starts from an optimiser's state (t steps taken, and its buffers) where one is
given, as a problem's ``optimizer: state:`` holds it: the epochs then go on from there, as
one longer run would (Adam's bias corrections use the continued t).

A loss convention (:mod:`conventions`) adds class weights and label smoothing to the
kernel's loss, and an L2 penalty's share ∂R/∂W (∂R/∂b) to g, or its weight decay
(λ W, and λ b where the bias is penalised) as ``weight_decay`` does.

An epoch's loss and accuracy are those of its forward pass, before its update; with an
L2 penalty term in the loss, so is its penalty R (of W and b before the update), and
the epoch reports L and L + R.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from threadpoolctl import threadpool_limits

from . import conventions as conv
from . import optim
from .core import loss_scale
from .kernel import chunk_loss_and_grad, chunk_scratch, penalty, true_class_positions

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class Settings:
    """How to train (the defaults are plain gradient descent on the mean loss)."""

    epochs: int
    learning_rate: float
    reduction: str = "mean"
    momentum: float = 0.0  # classical momentum, as torch.optim.SGD (sgd only)
    weight_decay: float = 0.0  # added to the gradient (sgd, adam), or decoupled decay (adamw), as torch.optim
    convention: conv.LossConvention = conv.PLAIN  # class weights, label smoothing, an L2 penalty
    dtype: str = "float64"  # float32 halves memory and time on big data
    chunk_nodes: int | None = None  # at most this many nodes per chunk; None: see chunk_size
    threads: int | None = None  # cores to use; None: each core this process may run on (at most 8)
    optimizer: str = "sgd"  # one of optim.TRAINER_RULES
    beta1: float = 0.9  # Adam's β1, β2 and ε (adam, adamw), PyTorch's defaults
    beta2: float = 0.999
    eps: float = 1e-8
    dampening: float = 0.0  # τ of torch.optim.SGD (sgd with momentum)
    nesterov: bool = False  # Nesterov's momentum, as torch.optim.SGD(nesterov=True) (sgd with momentum)


CHUNK_BYTES = 4 * 2**20  # a chunk's Z and H^T together: well inside the shared cache


def usable_cores() -> int:
    """The cores this process may run on: those ``taskset`` or a container's cpuset
    allow, and no more than the whole CPUs a cgroup CPU limit gives it (``docker
    --cpus``, a Kubernetes CPU limit). More worker threads than that only take turns."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return cores if limit is None else max(1, min(cores, int(limit)))


def cgroup_cpu_limit(
    cgroups: Path = Path("/proc/self/cgroup"), mounts: Path = Path("/sys/fs/cgroup")
) -> float | None:
    """CPUs' worth of time a period that this process's cgroup, and those it is in,
    allow (the smallest limit): ``quota / period`` from ``cpu.max`` (cgroup v2) or
    ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (v1). None where no limit is set
    or there are no cgroups to read (not Linux)."""
    try:
        lines = cgroups.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:  # "hierarchy:controllers:path", one line a hierarchy
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2
            folders, read = [mounts, mounts / "unified"], _v2_limit
        elif "cpu" in controllers.split(","):  # v1
            folders, read = [mounts / "cpu", mounts / controllers], _v1_limit
        else:
            continue
        # the process's cgroup and those above it; inside a container whose cgroup
        # folder is mounted as the root, only the root exists
        inner = Path(path.strip("/"))
        places = [inner, *inner.parents]
        found = (read(folder / place) for folder in folders for place in places)
        limits += [limit for limit in found if limit is not None]
    return min(limits, default=None)


def _v2_limit(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_limit(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError, ZeroDivisionError):
        return None


def chunk_size(n_features: int, n_classes: int, dtype: np.dtype) -> int:
    """Nodes per chunk such that the chunk's Z (n, d) and H^T (C, n) take
    about CHUNK_BYTES: big enough to keep per-chunk overhead small, small enough to
    stay in cache between the two products (measured best, float32 and float64, on
    2-core machines with 1-2 MB of L2 per core; for d=128, C=40 in float32, chunks
    of 4,500 to 6,300 nodes ran alike, and 1,500 or 10,000 nodes were slower than
    this 6,200)."""
    per_node = (n_features + n_classes) * np.dtype(dtype).itemsize
    return max(256, CHUNK_BYTES // per_node)


def chunk_bounds(n_nodes: int, most: int, workers: int) -> list[tuple[int, int]]:
    """(start, stop) of chunks of at most ``most`` nodes, their sizes differing by at
    most one. Where one chunk will not do, their number is a multiple of ``workers``
    (where there are enough nodes): cores that run alike then take as many chunks each,
    and none is left with a last chunk while the others wait for the epoch's end."""
    count = -(-n_nodes // most)
    if count > 1:
        count = min(-(-count // workers) * workers, n_nodes)
    edges = [n_nodes * k // max(count, 1) for k in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


@dataclass(frozen=True)
class Epoch:
    """One epoch's figures, from its forward pass (before its update)."""

    epoch: int
    loss: float  # the data loss L
    accuracy: float
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    penalty: float | None = None  # R of the weights before the update, with an L2 penalty term in the loss

    @property
    def regularized_loss(self) -> float | None:
        """L + R, with a penalty term (else None)."""
        return None if self.penalty is None else self.loss + self.penalty


def split_groups(split: np.ndarray | None, y: np.ndarray) -> np.ndarray | None:
    """Per node 0 (train), 1 (val), 2 (test) or -1 (unlabelled, or no split given)."""
    if split is None:
        return None
    groups = np.array([SPLIT_CODES.get(s, -1) for s in split], dtype=np.int8)
    groups[y < 0] = -1
    return groups


def initial_state(
    settings: Settings, state: optim.MomentumState | optim.AdamState | None, W: np.ndarray, b: np.ndarray
) -> optim.MomentumState | optim.AdamState:
    """The optimiser's state training starts from: ``state`` (its buffers shaped as W and b, converted to
    their dtype), or zero (t = 0, no buffers). A state of another optimiser is refused (ValueError)."""
    kind = optim.MomentumState if settings.optimizer == "sgd" else optim.AdamState
    if state is None:
        return kind()
    if not isinstance(state, kind):
        raise ValueError(f"a {type(state).__name__} is not the state of {settings.optimizer}")
    buffers = {}
    for key in ("velocity",) if kind is optim.MomentumState else ("m", "v"):
        pair = getattr(state, key)
        if pair is None:
            continue
        if len(pair) != 2 or pair[0].shape != W.shape or pair[1].shape != b.shape:
            raise ValueError(f"the state's {key} is not shaped as W {W.shape} and b {b.shape}")
        buffers[key] = tuple(np.array(part, dtype=W.dtype) for part in pair)
    return kind(t=state.t, **buffers)


class Trainer:
    """Trains W (C, d) and b (C,) on Z (N, d) and y (N,); iterate it for epochs.

    With ``groups`` (from :func:`split_groups`) only train nodes (0) are trained on;
    val (1) and test (2) nodes are only evaluated. The weights after the last epoch
    taken are ``trainer.W`` and ``trainer.b``, even when iteration stops early.
    ``state`` is the optimiser's state to start from (:func:`initial_state`; None: zero).
    """

    def __init__(
        self,
        Z: np.ndarray,
        y: np.ndarray,
        W: np.ndarray,
        b: np.ndarray,
        settings: Settings,
        groups: np.ndarray | None = None,
        state: optim.MomentumState | optim.AdamState | None = None,
    ) -> None:
        dtype = np.dtype(settings.dtype)
        self.settings = settings
        self.Z = Z  # kept as given (a .npy stays memory-mapped); chunks are converted as read
        self.y = np.asarray(y, dtype=np.int64)
        self.W = np.array(W, dtype=dtype)
        self.b = np.array(b, dtype=dtype)
        self.groups = groups
        self.n_train = int(len(y) if groups is None else (groups == 0).sum())
        self.n_val = 0 if groups is None else int((groups == 1).sum())
        self.n_test = 0 if groups is None else int((groups == 2).sum())
        self.scale = loss_scale(max(self.n_train, 1), settings.reduction)
        if not settings.convention.plain and self.n_train:  # the weighted mean: 1 / Σ_train w_{y_i}
            trained = self.y if groups is None else self.y[groups == 0]
            self.scale = conv.loss_scale(trained, settings.reduction, settings.convention)
        self.epochs_done = 0
        self._state = initial_state(settings, state, self.W, self.b)
        self.steps_before = self._state.t  # the optimiser's t when training started (0: from zero)
        self._scratch = threading.local()  # each worker thread's, for the largest chunk, kept between epochs
        self._cores = cores = settings.threads or min(usable_cores(), 8)
        most = settings.chunk_nodes or chunk_size(self.W.shape[1], len(self.W), dtype)
        self._chunks = chunk_bounds(len(y), most, cores)
        self._largest = max((stop - start for start, stop in self._chunks), default=0)
        self._positions = [  # each chunk's true-class entries in its (C, n) logits
            true_class_positions(self.y[start:stop]) for start, stop in self._chunks
        ]
        self._trains = [  # with a split, each chunk's train nodes: 1 (trained on) or 0, in W's dtype
            None if groups is None else (groups[start:stop] == 0).astype(dtype) for start, stop in self._chunks
        ]
        self._workers = max(1, min(cores, len(self._chunks)))

    @property
    def optimizer_state(self) -> optim.MomentumState | optim.AdamState:
        """The optimiser's state after the epochs taken: t (one step an epoch) and its buffers, as
        :mod:`optim` keeps them (torch.optim's ``momentum_buffer``, or ``exp_avg`` and ``exp_avg_sq``),
        for a step to continue from."""
        return self._state

    def _chunk(self, index: int) -> tuple:
        """One chunk's loss sum, correct counts per group (train, val, test) and
        gradient share, worked out in the calling thread's scratch. Overflow is not
        warned about: a diverging run shows in its loss."""
        W, b = self.W, self.b
        largest = getattr(self._scratch, "arrays", None)
        if largest is None:
            largest = self._scratch.arrays = chunk_scratch(self._largest, W)
        start, stop = self._chunks[index]
        n = stop - start
        work = largest if n == self._largest else chunk_scratch(n, W, within=largest)
        Z, y = self.Z[start:stop], self.y[start:stop]
        groups, trains = None if self.groups is None else self.groups[start:stop], self._trains[index]
        with np.errstate(over="ignore", invalid="ignore"):  # numpy's error state is per thread
            part = chunk_loss_and_grad(Z, y, W, b, self.scale, trains, work, self._positions[index],
                                       self.settings.convention)
        if groups is None:
            loss_sum = float(part.loss_per_node.sum(dtype=np.float64))
            correct = np.array([np.count_nonzero(part.correct), 0, 0])
        else:
            loss_sum = float(part.loss_per_node[groups == 0].sum(dtype=np.float64))
            correct = np.bincount(groups[part.correct & (groups >= 0)], minlength=3)[:3]
        return loss_sum, correct, part.grad_W, part.grad_b

    def _run_epoch(self, pool: ThreadPoolExecutor | None) -> tuple:
        """One epoch's forward pass and gradient over all chunks, on the calling thread
        or on the pool's workers: the loss sum, correct counts per group, dL/dW, dL/db.
        ``pool.map`` gives the chunks' results in chunk order, whichever worker finished
        first, so the sums do not depend, to the last bit, on which core was faster. A
        finished chunk's results wait for the earlier ones' (as many as a slow core falls
        behind by)."""
        chunks = range(len(self._chunks))
        parts = map(self._chunk, chunks) if pool is None else pool.map(self._chunk, chunks)
        loss_sum, correct = 0.0, np.zeros(3, dtype=np.int64)
        grad_W, grad_b = np.zeros_like(self.W), np.zeros_like(self.b)
        for part_loss, part_correct, part_W, part_b in parts:
            loss_sum += part_loss
            correct += part_correct
            grad_W += part_W
            grad_b += part_b
        return loss_sum, correct, grad_W, grad_b

    def _update(self, grad_W: np.ndarray, grad_b: np.ndarray) -> None:
        s = self.settings
        if s.convention.penalised:  # ∂R/∂θ, or λθ for weight-decay, as core.gradient_step adds it
            share_W, share_b = conv.penalty_gradients(self.W, self.b, s.convention, self.scale)
            grad_W, grad_b = grad_W + share_W, grad_b + share_b
        params, grads = (self.W, self.b), (grad_W, grad_b)
        if s.optimizer == "sgd":
            params, self._state = optim.sgd(params, grads, self._state, s.learning_rate, momentum=s.momentum,
                                            dampening=s.dampening, weight_decay=s.weight_decay, nesterov=s.nesterov)
        else:
            rule = optim.adam if s.optimizer == "adam" else optim.adamw
            params, self._state = rule(params, grads, self._state, s.learning_rate, beta1=s.beta1,
                                       beta2=s.beta2, eps=s.eps, weight_decay=s.weight_decay)
        self.W, self.b = params

    def __iter__(self) -> Iterator[Epoch]:
        pool = None
        limits = None
        if self._workers > 1 or self._cores == 1:
            limits = threadpool_limits(limits=1)  # one BLAS thread per worker
        if self._workers > 1:
            pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="nodeclf-chunks")
        try:
            for _ in range(self.settings.epochs):
                loss_sum, correct, grad_W, grad_b = self._run_epoch(pool)
                convention = self.settings.convention
                with np.errstate(over="ignore", invalid="ignore"):
                    R = penalty(self.W, self.b, convention, self.scale) if convention.has_penalty_term else None
                    self._update(grad_W, grad_b)
                self.epochs_done += 1
                yield Epoch(
                    epoch=self.epochs_done,
                    loss=self.scale * loss_sum,
                    accuracy=int(correct[0]) / max(self.n_train, 1),
                    val_accuracy=int(correct[1]) / self.n_val if self.n_val else None,
                    test_accuracy=int(correct[2]) / self.n_test if self.n_test else None,
                    penalty=R,
                )
        finally:
            if pool is not None:
                pool.shutdown()
            if limits is not None:
                limits.restore_original_limits()

    def predict(self) -> np.ndarray:
        """Each node's predicted class with the current weights."""
        out = np.empty(len(self.y), dtype=np.int64)
        for start, stop in self._chunks:
            Z = np.asarray(self.Z[start:stop], self.W.dtype)
            out[start:stop] = (Z @ self.W.T + self.b).argmax(axis=1)
        return out
