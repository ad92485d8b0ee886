import numpy as np
import pytest

from tools.calibrate import NotIdentifiable, calibrate
from tools.design import design
from tools.registry import TOOLS, ToolContext, ToolError, call_tool, session_names
from tools.resonance import find_resonance
from tools.tool import GRAMMAR_MAX_LENGTH, GRAMMAR_STRING_LENGTH
from twin import from_expression, get_twin


@pytest.mark.parametrize("method", ["grid", "uniform", "lhs", "sobol"])
def test_designs_fill_the_box_and_are_seeded(method):
    bounds = np.array([[0.0, 1.0], [-2.0, 2.0]])
    a = design(bounds, 64, method, seed=1)
    b = design(bounds, 64, method, seed=1)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 64 and (a >= bounds[:, 0]).all() and (a <= bounds[:, 1]).all()
    with pytest.raises(ValueError):
        design(bounds, 0, method)


def test_resonance_of_the_driven_oscillator():
    found = find_resonance(get_twin("driven_oscillator_resonance"), points=2000)
    omega0, gamma = 2.0, 0.15
    peak = np.sqrt(omega0**2 - gamma**2 / 2)
    assert abs(found.peak_frequency - peak) < 0.01
    assert abs(found.quality_factor - omega0 / gamma) / (omega0 / gamma) < 0.05
    with pytest.raises(ValueError, match="no drive frequency"):
        find_resonance(get_twin("lorenz"))


def test_calibration_recovers_oscillator_parameters_within_uncertainty():
    t = get_twin("driven_oscillator_resonance")
    X = design(t.input_bounds(), 200, "sobol", 0)
    truth = {"F0": 1.3, "omega0": 2.2, "gamma": 0.3}
    observed = t.simulate(X, params=truth, noise=0.01, seed=5).y
    result = calibrate(t, observed, X=X, restarts=4, seed=0)
    for name, value in truth.items():
        assert abs(result.params[name] - value) < 4 * result.stderr[name] + 1e-9, name


def test_calibration_recovers_pendulum_length_from_a_trajectory():
    t = get_twin("damped_pendulum")
    data = t.simulate(np.array([[1.0, 0.0]]), params={"L": 2.0, "gamma": 0.3}, t_end=5.0, n_steps=500,
                      noise=0.005, seed=2)
    states = data.arrays["states"][0]
    result = calibrate(t, states, ["L", "gamma"], t=data.arrays["t"], x0=np.array([1.0, 0.0]), restarts=2, seed=0)
    assert abs(result.params["L"] - 2.0) < 4 * result.stderr["L"] + 1e-6
    assert abs(result.params["gamma"] - 0.3) < 4 * result.stderr["gamma"] + 1e-6


def test_a_calibration_that_fits_exactly_ends_its_restarts():
    t = get_twin("damped_pendulum")
    data = t.simulate(np.array([[1.0, 0.0]]), params={"L": 2.0, "gamma": 0.3}, t_end=5.0, n_steps=200)
    exact = calibrate(t, data.arrays["states"][0], ["L", "gamma"], t=data.arrays["t"], x0=np.array([1.0, 0.0]),
                      restarts=4, seed=0)
    assert exact.restarts < 4 and exact.rmse < 1e-9 and abs(exact.params["L"] - 2.0) < 1e-9
    law = from_expression("a*x**2", {"x": (0, 1)}, params={"a": 1.0})
    X = np.linspace(0, 1, 30)[:, None]
    noisy = 3 * X[:, 0] ** 2 + np.random.default_rng(0).normal(0, 0.01, 30)
    assert calibrate(law, noisy, X=X, restarts=3).restarts == 3  # noise keeps the cost above zero: every start


def test_a_calibration_stops_starts_far_worse_than_its_best_and_finds_the_same_fit(monkeypatch):
    t = get_twin("damped_pendulum")
    data = t.simulate(np.array([[1.0, 0.0]]), params={"L": 2.0, "gamma": 0.3}, t_end=5.0, n_steps=100, noise=0.01,
                      seed=2)

    def fit():
        return calibrate(t, data.arrays["states"][0], ["L", "gamma"], t=data.arrays["t"], x0=np.array([1.0, 0.0]),
                         restarts=3, seed=0)

    pruned = fit()
    monkeypatch.setattr("tools.calibrate.PRUNE_RATIO", np.inf)
    whole = fit()
    assert pruned.params == whole.params and pruned.rmse == whole.rmse
    assert whole.cost_spread < 1e-9 < pruned.cost_spread  # a start was stopped on its way to the same minimum


def test_calibration_refuses_bad_problems():
    law = from_expression("a*b*x", {"x": (0, 1)}, params={"a": 1.0, "b": 2.0})
    X = np.linspace(0, 1, 30)[:, None]
    with pytest.raises(NotIdentifiable, match="do not determine"):
        calibrate(law, 3 * X, X=X)
    with pytest.raises(ValueError, match="zero variance"):
        calibrate(law, np.ones((30, 1)), X=X)
    with pytest.raises(ValueError, match="restarts"):
        calibrate(law, 3 * X, ["a"], X=X, restarts=0)
    with pytest.raises(ValueError, match="not differentiable"):
        calibrate(get_twin("heat_lattice"), np.arange(5.0))


def test_registry_schemas_and_errors(tmp_path):
    ctx = ToolContext(tmp_path)
    for tool in TOOLS.values():
        schema = tool.schema()
        assert schema["function"]["name"] == tool.name and "properties" in schema["function"]["parameters"]
    with pytest.raises(ToolError) as info:
        call_tool(ctx, "no_such_tool", {})
    assert info.value.code == "unknown_tool"
    with pytest.raises(ToolError) as info:
        call_tool(ctx, "run_experiment", {"twin": "lorenz", "samples": 10**9})
    assert info.value.code == "bad_arguments" and "samples" in info.value.message
    with pytest.raises(ToolError) as info:
        call_tool(ctx, "run_experiment", {"twin": "lorenz", "unexpected": 1})
    assert info.value.code == "bad_arguments"
    with pytest.raises(ToolError) as info:
        call_tool(ctx, "discover_law", {"dataset": "data_9"})
    assert info.value.code == "unknown_dataset"
    with pytest.raises(ToolError) as info:  # a model wrote this; it once failed inside the design
        call_tool(ctx, "measure_observable", {"twin": "damped_pendulum", "observable": "frequency", "inputs": []})
    assert info.value.code == "bad_arguments" and "inputs" in info.value.message
    with pytest.raises(ToolError) as info:
        call_tool(ctx, "twin_from_expression", {"expression": "__import__('os')", "ranges": {"x": [0, 1]}})
    assert info.value.code == "bad_expression"


def test_the_names_a_held_model_may_write_are_what_the_session_holds_of_each_kind(tmp_path):
    ctx = ToolContext(tmp_path, seed=0)
    names = session_names(ctx)
    assert "coulomb_force" in names["twin"] and "coulomb_force" not in names["ode_twin"] and "lorenz" in names[
        "ode_twin"] and names["dataset"] == names["table"] == names["discovery"] == []
    assert TOOLS["discover_law"].compact_schema(names) is None  # nothing to search yet: not offered
    call_tool(ctx, "run_experiment", {"twin": "coulomb_force", "samples": 50})
    call_tool(ctx, "run_experiment", {"twin": "damped_pendulum", "samples": 4})
    names = session_names(ctx)
    assert names["table"] == ["data_1"] and names["series"] == ["data_2"] and names["snapshots"] == []
    schema = TOOLS["discover_law"].compact_schema(names)["function"]["parameters"]
    assert schema["properties"]["dataset"] == {"type": "string", "enum": ["data_1"]}
    assert TOOLS["discover_pde"].compact_schema(names) is None
    held = TOOLS["twin_from_csv"].compact_schema({})["function"]["parameters"]["properties"]
    listed = TOOLS["twin_from_csv"].compact_schema()["function"]["parameters"]["properties"]
    assert held["target"]["maxLength"] == 100 and "maxLength" not in listed["target"]  # a grammar bounds strings
    assert {"type": "string", "maxLength": GRAMMAR_STRING_LENGTH} in [  # a unit too has an end
        option.get("additionalProperties") for option in held["units"]["anyOf"]]
    # a grammar spells a length as nested optionals: a formula's 2,000 crashed llama-cpp-python's server
    formula = TOOLS["test_hypothesis"].compact_schema(names)["function"]["parameters"]["properties"]["formula"]
    assert formula["maxLength"] == GRAMMAR_MAX_LENGTH < TOOLS["test_hypothesis"].input_model.model_json_schema()[
        "properties"]["formula"]["maxLength"]
    assert TOOLS["verify_law"].references() == {"discovery": "discovery"}


def test_registry_pipeline_and_hypothesis(tmp_path):
    ctx = ToolContext(tmp_path, seed=0)
    call_tool(ctx, "select_twin", {"name": "coulomb"})
    data = call_tool(ctx, "run_experiment", {"twin": "coulomb_force", "samples": 200})
    assert (tmp_path / "data" / f"{data['dataset']}.npz").exists()
    laws = call_tool(ctx, "discover_law", {"dataset": data["dataset"], "time_budget": 3})["laws"]
    verdict = call_tool(ctx, "verify_law", {"discovery": laws[0]["discovery"]})
    assert verdict["exact"] is True and verdict["r2_extrapolation"] > 0.9999
    hypothesis = call_tool(ctx, "test_hypothesis", {"dataset": data["dataset"], "formula": "k*q1*q2/r**2"})
    assert hypothesis["r2_test"] > 0.999999 and abs(hypothesis["constants"]["k"] - 8.9875517923e-3) < 1e-9
    wrong = call_tool(ctx, "test_hypothesis", {"dataset": data["dataset"], "formula": "k*q1/r"})
    assert wrong["r2_test"] < 0.9
    with pytest.raises(ToolError) as info:
        call_tool(ctx, "test_hypothesis", {"dataset": data["dataset"], "formula": "open('x')"})
    assert info.value.code == "bad_formula"


def test_lattice_dispersion_law_through_the_periodic_arm(tmp_path):
    """The Klein–Gordon lattice's ω(k) = √(m² + 4c²/a²·sin²(ka/2)) needs a constant inside a cosine, which only
    the periodic arm fits; discover_law adds it for dispersion tables, and the law comes back exact."""
    ctx = ToolContext(tmp_path, seed=0)
    call_tool(ctx, "select_twin", {"name": "klein_gordon_lattice"})
    data = call_tool(ctx, "run_experiment", {"twin": "klein_gordon_lattice", "samples": 32})
    table = call_tool(ctx, "derive_table", {"dataset": data["dataset"], "kind": "dispersion"})
    law = call_tool(ctx, "discover_law", {"dataset": table["dataset"], "time_budget": 3})["laws"][0]
    assert "periodic" in law["arms"]
    assert call_tool(ctx, "verify_law", {"discovery": law["discovery"]})["exact"] is True


def test_a_tool_is_one_typed_function_and_its_result_reads_back(tmp_path):
    ctx = ToolContext(tmp_path)
    run = TOOLS["run_experiment"]
    assert run.description.startswith("Design inputs") and run.input_model.model_fields["samples"].default == 400
    result = call_tool(ctx, "run_experiment", {"twin": "coulomb_force", "samples": 50})
    assert run.read(result).as_dict() == result  # the session records the whole answer, and reads it back
    assert run.read(result).describe() == f"dataset `{result['dataset']}`: {result['shapes']}"
    assert TOOLS["list_twins"].read(call_tool(ctx, "list_twins", {"query": "coulomb"})).describe() is None


def test_units_as_people_write_them_are_read_and_nothing_is_guessed():
    from fractions import Fraction

    from tools.dimensions import parse_unit, reductions

    assert parse_unit("m^2 * s^(-2) * kg^1") == {"m": 2, "s": -2, "kg": 1}  # the Feynman unit file's form
    assert parse_unit("kg m^2/s^2") == parse_unit("J") == parse_unit("N*m") == {"kg": 1, "m": 2, "s": -2}
    assert parse_unit("W/(m^2 K^4)") == {"kg": 1, "s": -3, "K": -4}
    assert parse_unit("1/s") == parse_unit("Hz") == {"s": -1} and parse_unit("m^(1/2)") == {"m": Fraction(1, 2)}
    for unreadable in ("uC", "c", "m/", "2 m", "m^x"):
        with pytest.raises(ValueError, match="cannot read unit"):
            parse_unit(unreadable)
    assert reductions(["m", "v"], {"m": "kg", "v": "m/s"}, None) == []  # the target's unit unknown: no reduction
    assert reductions(["m", "v"], {"m": "kg", "v": "m/s"}, "J")
