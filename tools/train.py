"""Training: KAN (pykan), an MLP baseline and a neural ODE (torchdiffeq), on CPU or CUDA.

Every trainer is seeded, quiet, early-stopped on a validation split, reports a loss history and
calls an optional progress callback. pykan needs care (read in its 0.2.8 source): it re-seeds the
*global* RNGs, writes checkpoints under ``./model`` unless ``auto_save`` is off (and ``refine``/``prune``
switch it back on), prints and draws tqdm bars; ``pykan_session`` contains all of that.
"""

from __future__ import annotations

import contextlib
import copy
import io
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch

from twin.core import resolve_device
from twin.expressions import make_symbols

Progress = Callable[[str, dict], None]

#: The KAN edge library searched by ``kan_formula`` (pykan names); wider than pykan's default choice
#: because laws such as velocity addition need arctanh/tanh (measured: issue #6).
KAN_LIBRARY = ("x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "exp", "log", "sin", "tanh", "arctanh", "arctan")


@dataclass
class Standardiser:
    """Affine maps to zero mean / unit spread and back (networks train far better on such data)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardiser:
        scale = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def forward(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.scale + self.mean


@dataclass
class TrainResult:
    """A trained model with its loss history (per step, standardised MSE) and how training ended."""

    model: torch.nn.Module
    history: dict[str, list[float]]
    seconds: float
    device: str
    stopped_early: bool
    x_scaler: Standardiser | None = None
    y_scaler: Standardiser | None = None
    extra: dict = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Model output in the data's units."""
        device = next(self.model.parameters()).device
        dtype = next(self.model.parameters()).dtype
        inputs = self.x_scaler.forward(X) if self.x_scaler else X
        with torch.no_grad():
            out = self.model(torch.as_tensor(inputs, dtype=dtype, device=device)).cpu().numpy()
        return self.y_scaler.inverse(out) if self.y_scaler else out


@contextlib.contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """Seed torch, numpy and ``random`` for the block and restore their global states afterwards, so
    that libraries that re-seed globally (pykan) neither depend on nor leak into the caller's state."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


def _check(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    y = y.reshape(len(y), -1)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be (n, d) with one target row per sample; got {X.shape} and {y.shape}")
    if len(X) < 10:
        raise ValueError(f"need at least 10 samples to train, got {len(X)}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("training data holds NaN or inf")
    return X, y


def _validation_split(n: int, seed: int, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, int(fraction * n))
    return order[cut:], order[:cut]


class EarlyStopping:
    """Stop when the validation loss has not improved by ``min_delta`` (relative) plus ``floor``
    (absolute, in standardised units: below it a fit is already perfect) for ``patience`` checks;
    keeps the best weights."""

    def __init__(self, patience: int, min_delta: float = 1e-4, floor: float = 1e-9) -> None:
        self.patience, self.min_delta, self.floor = patience, min_delta, floor
        self.best, self.best_state, self.waited = np.inf, None, 0

    def update(self, loss: float, model: torch.nn.Module) -> bool:
        """Record ``loss``; True when training should stop."""
        if loss < self.best * (1 - self.min_delta) - self.floor:
            self.best, self.waited = loss, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.waited += 1
        return self.waited >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def mlp(n_in: int, n_out: int, hidden: Sequence[int]) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for width in hidden:
        layers += [torch.nn.Linear(n_in, width), torch.nn.SiLU()]
        n_in = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(n_in, n_out))


def _fit_loop(model: torch.nn.Module, loss_on: Callable[[np.ndarray], torch.Tensor], train_rows: np.ndarray,
              val_rows: np.ndarray, steps: int, lr: float, batch: int, patience: int, seed: int,
              progress: Progress | None, label: str) -> tuple[dict[str, list[float]], bool]:
    """Adam with minibatches (seeded), validation every 10 steps, early stopping on the best weights."""
    # The fused CUDA kernel updates every parameter in one launch (same arithmetic, less overhead).
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, fused=next(model.parameters()).is_cuda)
    rng = np.random.default_rng(seed)
    stopper = EarlyStopping(patience=max(1, patience // 10))
    history: dict[str, list[float]] = {"step": [], "train_loss": [], "val_loss": []}
    stopped = False
    for step in range(1, steps + 1):
        rows = rng.choice(train_rows, min(batch, len(train_rows)), replace=False)
        loss = loss_on(rows)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 10 == 0 or step == steps:
            with torch.no_grad():
                val_loss = float(loss_on(val_rows))
            train_loss = float(loss.detach())
            history["step"].append(step)
            history["train_loss"].append(train_loss)
            history["val_loss"].append(val_loss)
            if progress:
                progress(label, {"step": step, "of": steps, "train_loss": train_loss, "val_loss": val_loss})
            if not np.isfinite(val_loss):
                raise ValueError(f"{label} training diverged at step {step} (loss {val_loss}); lower the learning rate")
            if stopper.update(val_loss, model):
                stopped = True
                break
    stopper.restore(model)
    return history, stopped


def train_mlp(X: np.ndarray, y: np.ndarray, hidden: Sequence[int] = (64, 64), steps: int = 3000,
              lr: float = 3e-3, batch: int = 256, patience: int = 300, seed: int = 0,
              device: str = "auto", progress: Progress | None = None) -> TrainResult:
    """An MLP baseline y ≈ net(X) on standardised data."""
    X, y = _check(X, y)
    target = resolve_device(device)
    x_scaler, y_scaler = Standardiser.fit(X), Standardiser.fit(y)
    inputs = torch.as_tensor(x_scaler.forward(X), dtype=torch.float32, device=target)
    outputs = torch.as_tensor(y_scaler.forward(y), dtype=torch.float32, device=target)
    train_rows, val_rows = _validation_split(len(X), seed)
    start = time.perf_counter()
    with isolated_rng(seed):
        model = mlp(X.shape[1], y.shape[1], hidden).to(target)

        def loss_on(rows: np.ndarray) -> torch.Tensor:
            return torch.mean((model(inputs[rows]) - outputs[rows]) ** 2)

        history, stopped = _fit_loop(model, loss_on, train_rows, val_rows, steps, lr, batch, patience, seed,
                                     progress, "mlp")
    return TrainResult(model.eval(), history, time.perf_counter() - start, str(target), stopped, x_scaler, y_scaler)


# --- KAN (pykan) ---------------------------------------------------------------------------------

@contextlib.contextmanager
def pykan_session(seed: int) -> Iterator[str]:
    """Seeded, silent, float64 pykan work whose checkpoints go to a temporary directory (yielded)."""
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with isolated_rng(seed), tempfile.TemporaryDirectory(prefix="twinsight-kan-") as scratch, \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        # pykan builds its tensors in the default dtype; float64 makes symbolic fits of edges precise.
        torch.set_default_dtype(torch.float64)
        # Measured: pykan's backward uses ops whose default CPU kernels are not bitwise reproducible, and
        # LBFGS amplifies last-bit differences into different fits. Deterministic kernels on one thread
        # make a session replay bit for bit.
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
        try:
            yield scratch
        finally:
            torch.set_default_dtype(dtype)
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def _quiet(model):
    """pykan's refine/prune return models with auto_save hard-coded on: switch it off again."""
    model.auto_save = False
    return model


def _snapshot(model, inputs: torch.Tensor):
    """A deep copy of a KAN. pykan caches the last forward pass (graph tensors cannot be deep-copied,
    and ``refine``/``auto_symbolic`` read that cache): redo it on ``inputs`` without a graph first."""
    with torch.no_grad():
        model(inputs)
    return copy.deepcopy(model)


def _with_activations(result: TrainResult, X: np.ndarray, rows: int, seed: int):
    """A copy of the trained KAN whose cached activations are those of ≤ ``rows`` seeded samples of X:
    pykan's ``attribute``, ``auto_symbolic`` and ``plot`` read the last forward pass. Call inside
    ``pykan_session``."""
    model = _snapshot(result.model, torch.as_tensor(result.x_scaler.forward(X[:10]), device=result.model.device))
    model.save_act = True
    sample = X[np.random.default_rng(seed).permutation(len(X))[:rows]]
    model(torch.as_tensor(result.x_scaler.forward(sample), device=model.device))
    return model


def train_kan(X: np.ndarray, y: np.ndarray, hidden: Sequence[int] = (1,), grids: Sequence[int] = (5, 10, 20),
              steps: int = 100, lamb: float = 0.0, seed: int = 0, device: str = "auto",
              progress: Progress | None = None) -> TrainResult:
    """A KAN [d, *hidden, 1] trained by LBFGS with grid refinement (``grids``), inputs and target
    standardised. The model is left ready for ``kan_formula`` (symbolic branch on). ``"auto"`` means CPU:
    KANs of this size are bound by pykan's Python and kernel launches, and measured slower on an H100
    (201 ms per LBFGS step) than on one CPU thread of its host (128 ms; results/train_speed_h100.json)."""
    from kan import KAN  # heavy import (matplotlib, sklearn) only when a KAN is trained

    X, y = _check(X, y)
    if y.shape[1] != 1:
        raise ValueError("train_kan fits one target column")
    target = torch.device("cpu") if str(device) == "auto" else resolve_device(device)
    x_scaler, y_scaler = Standardiser.fit(X), Standardiser.fit(y)
    train_rows, val_rows = _validation_split(len(X), seed)
    history: dict[str, list[float]] = {"step": [], "train_loss": [], "val_loss": [], "grid": []}
    start = time.perf_counter()
    with pykan_session(seed) as scratch:
        inputs = torch.as_tensor(x_scaler.forward(X), device=target)
        outputs = torch.as_tensor(y_scaler.forward(y), device=target)
        dataset = {"train_input": inputs[train_rows], "train_label": outputs[train_rows],
                   "test_input": inputs[val_rows], "test_label": outputs[val_rows]}
        model = _quiet(KAN(width=[X.shape[1], *hidden, 1], grid=grids[0], k=3, seed=seed, auto_save=False,
                           ckpt_path=scratch, device=str(target), symbolic_enabled=False))
        best_val, best_model = np.inf, None
        for index, grid in enumerate(grids):
            if index:
                model = _quiet(model.refine(grid))
            model.symbolic_enabled = False  # the symbolic branch costs ~17x per step; off while fitting
            result = model.fit(dataset, opt="LBFGS", steps=steps, lamb=lamb, update_grid=index == 0)
            offset = len(history["step"])
            for i, (train_loss, val_loss) in enumerate(zip(result["train_loss"], result["test_loss"])):
                history["step"].append(offset + i + 1)
                history["train_loss"].append(float(train_loss) ** 2)
                history["val_loss"].append(float(val_loss) ** 2)
                history["grid"].append(grid)
            val = history["val_loss"][-1]
            if progress:
                progress("kan", {"grid": grid, "step": len(history["step"]), "of": steps * len(grids), "val_loss": val})
            if not np.isfinite(val):
                break
            if val < best_val:
                best_val, best_model = val, _snapshot(model, dataset["train_input"])
            elif val > 2 * best_val:  # refinement overfits: keep the coarser grid
                break
    if best_model is None:
        raise ValueError("KAN training diverged (NaN loss) at the first grid")
    best_model.symbolic_enabled = True
    return TrainResult(best_model, history, time.perf_counter() - start, str(target), False, x_scaler, y_scaler,
                       extra={"width": [X.shape[1], *hidden, 1]})


def kan_attribution(result: TrainResult, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per-input importance scores (pykan ``feature_score`` after ``attribute``) on a sample of X."""
    with pykan_session(seed), torch.no_grad():
        model = _with_activations(result, X, 300, seed)
        model.attribute(plot=False)
        return model.feature_score.cpu().numpy().copy()


def kan_formula(result: TrainResult, X: np.ndarray, names: Sequence[str], seed: int = 0,
                library: Sequence[str] = KAN_LIBRARY, weight_simple: float = 0.0) -> sp.Expr | None:
    """pykan ``auto_symbolic`` over ``library`` on a copy of the model, mapped back to the data's units.

    The activations are taken on ≤ 200 training samples (pykan uses the *last forward pass*, and its
    fit allocates N×101² per edge). Returns None when an edge stays non-symbolic or the formula is not
    finite; the caller refits constants and re-scores on data.
    """
    symbols = [make_symbols(list(names))[n] for n in names]
    with pykan_session(seed):
        model = _with_activations(result, X, 200, seed)
        model.auto_symbolic(lib=list(library), weight_simple=weight_simple, verbose=0)
        scaled = [(s - float(m)) / float(d) for s, m, d in zip(symbols, result.x_scaler.mean, result.x_scaler.scale)]
        with torch.no_grad():  # its affine constants are parameters: read them without a graph
            formulas = model.symbolic_formula(var=scaled)
    if formulas is None:
        return None
    expr = formulas[0][0] * float(result.y_scaler.scale[0]) + float(result.y_scaler.mean[0])
    if not isinstance(expr, sp.Expr) or not expr.free_symbols or expr.has(sp.nan, sp.zoo, sp.oo):
        return None
    return expr


# --- neural ODE -------------------------------------------------------------------------------------

def train_neural_ode(t: np.ndarray, states: np.ndarray, hidden: Sequence[int] = (64, 64), steps: int = 1500,
                     lr: float = 3e-3, window: int = 10, batch: int = 64, patience: int = 300, seed: int = 0,
                     device: str = "auto", progress: Progress | None = None) -> TrainResult:
    """Learn a vector field dx/dt = f(x) from trajectories ``states`` (trajectories, times, dim) sampled
    at ``t``: short windows are integrated with torchdiffeq (RK4) from observed states and matched to
    the observations that follow (multiple shooting). ``predict(X)`` returns f at states X."""
    from torchdiffeq import odeint

    t = np.asarray(t, dtype=float)
    states = np.asarray(states, dtype=float)
    if states.ndim != 3 or states.shape[1] != len(t) or len(t) < window + 1:
        raise ValueError(f"states must be (trajectories, {len(t)} times, dim) with more than {window} times")
    if not np.isfinite(states).all():
        raise ValueError("trajectories hold NaN or inf")
    target = resolve_device(device)
    dim = states.shape[2]
    x_scaler = Standardiser.fit(states.reshape(-1, dim))
    dt = float(np.mean(np.diff(t)))
    # Windows (trajectory, start index), split by trajectory-time into train and validation.
    trajectory, first = np.meshgrid(np.arange(states.shape[0]), np.arange(0, len(t) - window, max(1, window // 2)),
                                    indexing="ij")
    trajectory = torch.as_tensor(trajectory.ravel(), device=target)
    first = torch.as_tensor(first.ravel(), device=target)
    offsets = torch.arange(window + 1, device=target)
    train_rows, val_rows = _validation_split(len(first), seed)
    scaled = torch.as_tensor(x_scaler.forward(states), dtype=torch.float32, device=target)
    grid = offsets.to(torch.float32) * dt
    start_time = time.perf_counter()
    with isolated_rng(seed):
        net = mlp(dim, dim, hidden).to(target)
        # The field in data units is f(x) = scale · net((x − mean)/scale); train in standardised units.

        def loss_on(rows: np.ndarray) -> torch.Tensor:
            rows = torch.as_tensor(rows, device=target)
            # One gather of all windows: (window + 1, batch, dim), the layout odeint returns.
            observed = scaled[trajectory[rows][None, :], first[rows][None, :] + offsets[:, None]]
            predicted = odeint(lambda _, x: net(x), observed[0], grid, method="rk4")
            return torch.mean((predicted - observed) ** 2)

        history, stopped = _fit_loop(net, loss_on, train_rows, val_rows, steps, lr, batch, patience, seed,
                                     progress, "neural_ode")
    return TrainResult(net.eval(), history, time.perf_counter() - start_time, str(target), stopped, x_scaler,
                       Standardiser(np.zeros(dim), x_scaler.scale), extra={"dt": dt, "window": window})


def kan_diagram(result: TrainResult, X: np.ndarray, names: Sequence[str], path: str, seed: int = 0) -> str:
    """pykan's network diagram (edge activations on a sample of X) saved as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no window, safe in worker threads
    import matplotlib.pyplot as plt

    with pykan_session(seed) as scratch, torch.no_grad():
        model = _with_activations(result, X, 200, seed)
        model.plot(folder=scratch, in_vars=list(names), out_vars=["y"], beta=3)
        plt.savefig(path, bbox_inches="tight", dpi=100)
        plt.close("all")
    return path


def thin_history(history: dict[str, list[float]], points: int = 200) -> dict[str, list[float]]:
    """At most ``points`` evenly spaced entries of each series (for plots and tool results)."""
    n = len(next(iter(history.values()), []))
    keep = np.unique(np.linspace(0, n - 1, min(points, n)).astype(int)) if n else np.array([], dtype=int)
    return {k: [v[i] for i in keep] for k, v in history.items()}
