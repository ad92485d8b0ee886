"""Training (KAN, MLP, neural ODE), dimensional analysis and the train_model tool."""

import os
import random

import numpy as np
import pytest
import sympy as sp
import torch

from tools.constants import evaluate, nmse
from tools.dimensions import parse_unit, reductions, units_consistent
from tools.registry import ToolContext, ToolError, call_tool
from tools.symbolic import discover
from tools.train import kan_formula, train_kan, train_mlp, train_neural_ode
from tools.verify import exact_match


def _global_rng_states():
    return torch.random.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate()


def test_units_parse_and_reduce_to_pi_groups():
    assert parse_unit("m^2 * s^(-2) * kg^1") == {"m": 2, "s": -2, "kg": 1}
    assert parse_unit("") == {} and parse_unit("Dimensionless") == {}
    with pytest.raises(ValueError, match="cannot read unit"):
        parse_unit("metres per second")
    units = {"m_0": "kg^1", "v": "m^1 * s^(-1)", "c": "m^1 * s^(-1)"}
    found = reductions(["m_0", "v", "c"], units, "kg^1")
    assert found and len(found[0].groups) == 1  # m = m_0·F(v/c): one variable instead of three
    assert reductions(["m_0", "v"], {"m_0": "kg^1", "v": "m^1"}, "s^1") == []  # no product has the units
    m_0, v, c = sp.symbols("m_0 v c", real=True)
    assert units_consistent(m_0 / sp.sqrt(1 - v**2 / c**2), units, "kg^1") is True
    assert units_consistent(m_0 / sp.sqrt(1 - v**2), units, "kg^1") is False  # 1 − v² adds unlike things
    assert units_consistent(m_0 * sp.exp(v), units, "kg^1") is False
    assert units_consistent(m_0 * v / c, units, "m^1") is None  # homogeneous; a constant could carry m/kg
    with pytest.raises(ValueError, match="not one of"):
        parse_unit("c")  # "in units of c" is not a base unit: nothing is inferred from it
    assert reductions(["u", "v"], {"u": "c", "v": "c"}, "c") == []
    assert units_consistent(m_0, {}, "kg^1") is None


def test_discovery_uses_units_to_find_relativistic_mass():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(1, 5, 300), rng.uniform(1, 2, 300), rng.uniform(3, 10, 300)])
    y = X[:, 0] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    units = {"m_0": "kg^1", "v": "m^1 * s^(-1)", "c": "m^1 * s^(-1)"}
    found = discover(X, y, ["m_0", "v", "c"], time_budget=4, seed=0, arms=("transform",), units=units,
                     target_unit="kg^1")
    m_0, v, c = sp.symbols("m_0 v c", real=True)
    assert exact_match(found.best.expression, m_0 / sp.sqrt(1 - v**2 / c**2))
    assert found.best.source.startswith("π·")


def test_mlp_is_seeded_isolated_and_early_stops():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    before = _global_rng_states()
    a = train_mlp(X, y, hidden=(32,), steps=800, lr=1e-2, seed=3, device="cpu")
    after = _global_rng_states()
    b = train_mlp(X, y, hidden=(32,), steps=800, lr=1e-2, seed=3, device="cpu")
    assert a.history == b.history
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1]) and before[2] == after[2]
    assert nmse(a.predict(X)[:, 0], y) < 0.02
    flat = train_mlp(X, rng.normal(size=300), hidden=(8,), steps=2000, patience=50, seed=0, device="cpu")  # noise: nothing to learn
    assert flat.stopped_early and flat.history["step"][-1] < 2000
    with pytest.raises(ValueError, match="NaN"):
        train_mlp(np.full((20, 2), np.nan), np.zeros(20))


def test_kan_trains_quietly_and_yields_a_formula(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = np.exp(X[:, 0]) + X[:, 1] ** 2
    before = _global_rng_states()
    result = train_kan(X, y, hidden=(1,), grids=(5,), steps=20, seed=0, device="cpu")
    expr = kan_formula(result, X, ["a", "b"], seed=0)
    after = _global_rng_states()
    assert os.listdir(tmp_path) == []  # no ./model, ./figures or copy_temp files
    assert capsys.readouterr().out == ""
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert result.history["val_loss"][-1] < 0.02  # standardised MSE after 20 LBFGS steps
    assert expr is not None and nmse(evaluate(expr, X, ["a", "b"]), y) < 0.05
    assert torch.get_default_dtype() == torch.float32


def test_neural_ode_learns_a_linear_field():
    t = np.linspace(0, 2, 41)
    x0 = np.linspace(0.5, 2.0, 6)
    states = (x0[:, None] * np.exp(-0.7 * t)[None, :])[:, :, None]
    result = train_neural_ode(t, states, hidden=(16,), steps=300, window=5, seed=0, device="cpu")
    grid = np.linspace(0.6, 1.8, 7)[:, None]
    assert np.abs(result.predict(grid)[:, 0] - (-0.7 * grid[:, 0])).max() < 0.05
    with pytest.raises(ValueError, match="states must be"):
        train_neural_ode(t, states[:, :, 0])


def test_train_model_tool_and_its_errors(tmp_path):
    ctx = ToolContext(run_dir=tmp_path, device="cpu")
    data = call_tool(ctx, "run_experiment", {"twin": "relativistic_velocity_addition", "samples": 200})
    model = call_tool(ctx, "train_model", {"dataset": data["dataset"], "kind": "mlp", "steps": 300, "hidden": 16})
    assert model["r2_test"] > 0.9 and (tmp_path / model["checkpoint"]).exists()
    assert len(model["history"]["val_loss"]) <= 200 and model["device"] == "cpu"
    with pytest.raises(ToolError, match="needs ODE trajectories"):
        call_tool(ctx, "train_model", {"dataset": data["dataset"], "kind": "neural_ode"})
    with pytest.raises(ToolError, match="no neural_ode model"):
        call_tool(ctx, "derive_table", {"dataset": data["dataset"], "kind": "vector_field", "model": model["model"]})
    with pytest.raises(ToolError, match="steps"):
        call_tool(ctx, "train_model", {"dataset": data["dataset"], "steps": 10**6})
