"""The GPU path: twins, training and the train_model tool on CUDA give what they give on CPU.
Skipped where no CUDA device is present (CI); run on a GPU machine with `pytest tests/test_cuda.py`."""

import numpy as np
import pytest
import torch

from tools.constants import evaluate, nmse
from tools.registry import ToolContext, call_tool
from tools.train import kan_formula, train_kan, train_mlp, train_neural_ode
from twin import get_twin

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_twins_agree_between_cpu_and_cuda():
    law = get_twin("relativistic_velocity_addition")
    X = np.random.default_rng(0).uniform(-0.9, 0.9, size=(1000, 2))
    np.testing.assert_allclose(law.simulate(X, device="cuda").y, law.simulate(X, device="cpu").y, rtol=1e-12)
    ode = get_twin("duffing")
    x0 = np.random.default_rng(0).uniform(-1, 1, size=(8, 2))
    on_gpu = ode.simulate(x0, n_steps=500, device="cuda").arrays["states"]
    np.testing.assert_allclose(on_gpu, ode.simulate(x0, n_steps=500, device="cpu").arrays["states"], atol=1e-9)


def test_mlp_and_neural_ode_train_on_cuda():
    X = np.random.default_rng(0).uniform(-1, 1, size=(2000, 2))
    y = np.sin(2 * X[:, 0]) * X[:, 1]
    result = train_mlp(X, y, hidden=(32, 32), steps=800, seed=0, device="cuda")
    assert result.device.startswith("cuda") and nmse(result.predict(X)[:, 0], y) < 0.01
    t = np.linspace(0, 2, 41)
    states = (np.linspace(0.5, 2.0, 6)[:, None] * np.exp(-0.7 * t)[None, :])[:, :, None]
    field = train_neural_ode(t, states, hidden=(16,), steps=300, window=5, seed=0, device="cuda")
    grid = np.linspace(0.6, 1.8, 7)[:, None]
    assert np.abs(field.predict(grid)[:, 0] + 0.7 * grid[:, 0]).max() < 0.05


def test_kan_on_cuda_replays_and_yields_a_formula():
    X = np.random.default_rng(0).uniform(-1, 1, (200, 2))
    y = np.exp(X[:, 0]) + X[:, 1] ** 2  # the CPU test's law (tests/test_train.py)
    first = train_kan(X, y, hidden=(1,), grids=(5,), steps=20, seed=0, device="cuda")
    again = train_kan(X, y, hidden=(1,), grids=(5,), steps=20, seed=0, device="cuda")
    assert first.device.startswith("cuda") and first.history["val_loss"] == again.history["val_loss"]
    expr = kan_formula(first, X, ["a", "b"], seed=0)
    assert expr is not None and nmse(evaluate(expr, X, ["a", "b"]), y) < 0.05
    assert torch.get_default_dtype() == torch.float32


def test_train_model_tool_on_cuda(tmp_path):
    ctx = ToolContext(run_dir=tmp_path, device="cuda")
    data = call_tool(ctx, "run_experiment", {"twin": "relativistic_velocity_addition", "samples": 200})
    for kind in ("mlp", "kan"):
        trained = call_tool(ctx, "train_model", {"dataset": data["dataset"], "kind": kind, "steps": 50})
        assert trained["device"].startswith("cuda") and (tmp_path / trained["checkpoint"]).exists()
