"""Observables of simulated motions (tools.observables): each read off the twin's runs to the precision the physics
gives, the law of one discovered from the measurements, and the questions that cannot be answered refused."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from agent.planner import plan
from tools.constants import evaluate
from tools.observables import ObservableOptions, measure_observable
from tools.registry import ToolContext, ToolError, call_tool
from tools.results import Candidate
from tools.verify import exact_match
from twin import get_twin

FEW = ObservableOptions(runs=16)


def test_a_spring_period_is_measured_to_the_physics_period():
    data = measure_observable(get_twin("mass_on_spring"), "period", ["m", "k"], FEW)
    m, k = data.X.T
    assert data.input_names == ["m", "k"] and data.units["period"] == "s"
    np.testing.assert_allclose(data.y[:, 0], 2 * np.pi * np.sqrt(m / k), rtol=1e-5)


def test_a_drag_free_range_is_the_textbook_range_and_runs_are_extended_until_the_body_lands():
    data = measure_observable(get_twin("projectile_drag"), "range", ["v0", "angle"], FEW, params={"k": 0.0})
    v0, angle = data.X.T
    assert data.params == {"g": 9.81, "k": 0.0} and data.meta["dropped"] == 0  # flights last up to 6 s > t_end 3 s
    np.testing.assert_allclose(data.y[:, 0], v0**2 * np.sin(2 * angle) / 9.81, rtol=1e-6)


def test_a_decay_time_is_two_over_the_damping_rate_for_a_linear_oscillator():
    data = measure_observable(get_twin("driven_damped_oscillator"), "decay_time", ["gamma"], FEW, params={"F": 0.0})
    gamma = data.X[:, 0]
    settled = gamma > 0.05
    np.testing.assert_allclose(data.y[settled, 0], 2 / gamma[settled], rtol=1e-3)


@pytest.mark.parametrize("arguments, says", [
    ({"twin": "mass_on_spring", "observable": "period", "inputs": ["colour"]}, "cannot vary 'colour'"),
    ({"twin": "van_der_pol", "observable": "range"}, "height state named 'y'"),
    ({"twin": "coulomb_force", "observable": "period"}, "read off simulated motions"),
    ({"twin": "mass_on_spring", "observable": "period", "inputs": ["m", "m"]}, "each input once"),
])
def test_questions_that_cannot_be_measured_are_refused_before_any_run(tmp_path, arguments, says):
    with pytest.raises(ToolError, match=says):
        call_tool(ToolContext(tmp_path), "measure_observable", arguments)


def test_the_planner_answers_the_question_asked_not_the_equations_of_motion():
    steps = plan("How does the period of a pendulum depend on its length and amplitude?", 5)
    assert next(steps) == ("select_twin", {"name": "damped_pendulum"})
    assert steps.send({}) == ("measure_observable", {"twin": "damped_pendulum", "observable": "period",
                                                     "inputs": ["L", "A"]})
    designed = plan("How does the period of a mass on a spring depend on its mass, with as few runs as possible?", 5)
    next(designed)
    assert designed.send({}) == ("measure_observable", {"twin": "mass_on_spring", "observable": "period",
                                                        "inputs": ["m"], "method": "sequential", "runs": 200,
                                                        "search_seconds": 5})
    refused = plan("How does the period of a pendulum depend on its colour?", 5)
    with pytest.raises(StopIteration, match="cannot vary 'colour'.*A \\(amplitude"):
        next(refused)


def test_the_search_clock_estimates_the_budget_left_over_the_outputs_to_come(monkeypatch):
    from agent.eta import SearchClock

    now = [100.0]
    monkeypatch.setattr("agent.eta.time.perf_counter", lambda: now[0])
    clock = SearchClock()
    clock.hear({"type": "tool_call", "name": "discover_law"})
    assert clock.left() is None and clock.describe() == ""
    clock.hear({"type": "progress", "stage": "output", "step": 1, "of": 2, "budget": 30.0})
    now[0] += 10
    assert clock.left() == 50.0 and clock.fraction() == pytest.approx(1 / 6)
    assert clock.describe() == "output 1 of 2, about 50 s of search left (estimate)"
    now[0] += 40  # past the budget: polishing and scoring
    assert clock.left() == 30.0
    clock.hear({"type": "progress", "stage": "output", "step": 2, "of": 2, "budget": 30.0})
    now[0] += 45
    assert clock.left() == 0.0 and "past the budget's estimate, the arms still fitting" in clock.describe()


def test_the_rounds_clock_estimates_a_designs_time_left_from_its_rounds():
    from agent.eta import RoundsClock

    clock = RoundsClock()
    clock.hear({"type": "tool_call", "name": "run_experiment"})
    assert clock.left() is None and clock.describe() == ""
    clock.hear({"type": "progress", "stage": "design_round", "round": 1, "of": 3, "seconds": 20.0})
    clock.hear({"type": "progress", "stage": "design_round", "round": 2, "of": 3, "seconds": 40.0})
    assert clock.left() == 30.0
    assert clock.describe() == "designed round 2 of at most 3, at most about 30 s left (estimate)"
    clock.hear({"type": "tool_call", "name": "verify_law"})
    assert clock.left() is None


def test_the_law_of_a_measured_period_is_discovered_and_checked_on_new_runs_beyond_its_box(tmp_path):
    ctx = ToolContext(tmp_path)
    table = call_tool(ctx, "measure_observable", {"twin": "mass_on_spring", "observable": "period",
                                                  "inputs": ["m", "k"], "runs": 32})
    assert table["rows"] == 32 and set(table["inputs"]) == {"m", "k"}
    law = call_tool(ctx, "discover_law", {"dataset": table["dataset"], "time_budget": 5})["laws"][0]
    m, k = np.array([0.5, 2.0, 7.0]), np.array([3.0, 50.0, 1.5])
    found = evaluate(ctx.discoveries[law["discovery"]].best.expression, np.column_stack([m, k]), ["m", "k"])
    np.testing.assert_allclose(found, 2 * np.pi * np.sqrt(m / k), rtol=1e-4)
    m, k = sp.symbols("m k", positive=True)  # the law itself, however it is written (2π√m/√k or 2π√(m/k))
    best = ctx.discoveries[law["discovery"]].best.expression
    assert exact_match(best, 2 * sp.pi * sp.sqrt(m / k), positive={"m", "k"})
    verdict = call_tool(ctx, "verify_law", {"discovery": "law_1"})
    assert verdict["r2_extrapolation"] > 0.999999 and verdict["confident"]
    # A stand-in that is the law within 0.1 % inside the box (m up to 10) and parts from it beyond.
    stand_in = 2 * sp.pi * sp.sqrt(m / k) * (1 + sp.Rational(1, 1000) * (m / 10) ** 8)
    found = ctx.discoveries["law_1"]
    ctx.discoveries["law_1"] = dataclasses.replace(found, best=Candidate(stand_in, "test", 0.0, 12))
    verdict = call_tool(ctx, "verify_law", {"discovery": "law_1"})
    assert verdict["r2_test"] > 0.9999 and verdict["r2_extrapolation"] < 0.99 and not verdict["confident"]


def test_a_sequential_design_chooses_the_next_runs_of_an_observable(tmp_path):
    ctx = ToolContext(tmp_path)
    table = call_tool(ctx, "measure_observable", {"twin": "mass_on_spring", "observable": "period", "inputs": ["k"],
                                                  "method": "sequential", "runs": 35, "search_seconds": 1})
    # the rivals of the first law still differ inside the box (noise-free runs resolve them there): the box first
    assert [r["runs"] for r in table["rounds"]] == [25, 35] and table["rounds"][1]["outside_box"] == 0
    data = ctx.datasets[table["dataset"]]
    assert data.kind == "observable" and data.meta["design"] == "sequential" and data.n_samples == 35
    law = table["laws"][0]  # the last round's search, on every run taken, kept for verify_law
    assert law["dataset"] == table["dataset"] and call_tool(ctx, "verify_law", {"discovery": law["discovery"]})[
        "confident"]
    k = np.array([0.5, 20.0, 300.0])
    found = evaluate(ctx.discoveries[law["discovery"]].best.expression, k[:, None], ["k"])
    np.testing.assert_allclose(found, 2 * np.pi / np.sqrt(k), rtol=1e-4)
