"""The estimator faces: scikit-learn's contract for SymbolicRegressor, the ODE system counterpart, the facade."""

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from sklearn.utils.estimator_checks import check_estimator

from tools.design import design
from tools.symbolic import SearchOptions
from twinsight import SymbolicRegressor, SystemRegressor, get_twin


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # the array-API check needs SCIPY_ARRAY_API
def test_symbolic_regressor_passes_scikit_learns_estimator_checks():
    # fast arms and no screen: the checks fit dozens of times on random data
    estimator = SymbolicRegressor(time_budget=2, arms=("powerlaw", "sparse"), options=SearchOptions(screen_inputs=False))
    results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 45


def test_symbolic_regressor_finds_a_law_with_names_and_units_from_a_dataframe():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"m": rng.uniform(1, 5, 300), "v": rng.uniform(1, 3, 300), "noise": rng.uniform(0, 1, 300)})
    energy = 0.5 * frame["m"] * frame["v"] ** 2
    model = SymbolicRegressor(time_budget=5, seed=1).fit(frame, energy, X_units=["kg", "m/s", ""], y_units="J")
    m, v = sp.symbols("m v", real=True)
    assert model.sympy() == m * v**2 / 2
    assert model.latex() == sp.latex(m * v**2 / 2)
    assert model.confident_ and model.variable_names_ == ["m", "v", "noise"]
    assert np.allclose(model.predict(frame), energy)
    assert model.score(frame, energy) > 0.999999
    assert {"complexity", "loss", "equation", "sympy_format", "latex"} <= set(model.equations_.columns)
    assert model.sympy(len(model.equations_) - 1) == model.equations_["sympy_format"].iloc[-1]
    with pytest.raises(ValueError, match="identifier"):
        SymbolicRegressor(time_budget=1).fit(frame.to_numpy(), energy, variable_names=["m", "v [m/s]", "n"])


def test_system_regressor_finds_a_noiseless_system_and_integrates_it():
    ode = get_twin("lotka_volterra")
    runs = ode.simulate(design(ode.input_bounds(), 8, "sobol", seed=0), seed=0)
    model = SystemRegressor(time_budget=2, arms=("sparse",)).fit(runs)
    x, y = sp.symbols("x y", real=True)
    assert model.sympy() == {"x": -2 * x * y / 5 + 11 * x / 10, "y": x * y / 10 - 2 * y / 5}
    predicted = model.predict(runs.arrays["x0"][0], runs.arrays["t"])
    assert np.allclose(predicted, runs.arrays["states"][0], rtol=1e-4, atol=1e-4)
    with pytest.raises(TypeError, match="Dataset"):
        SystemRegressor().fit(np.zeros((3, 3)))
