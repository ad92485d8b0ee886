"""The sequential design of an ODE twin's initial states: the next runs start where rival systems part."""

import dataclasses
from functools import partial

import numpy as np
import pytest
import sympy as sp

from tools.derived import derivative_table
from tools.registry import ToolContext, ToolError, call_tool
from tools.results import Candidate
from tools.sequential import next_inputs
from tools.state_design import RivalSystems, StateDesign, StateDesignOptions
from tools.verify import exact_match
from twin import from_ode


def test_the_next_initial_states_go_where_a_law_and_its_stand_in_part():
    # dx/dt = −x and −x − 0.3x³ agree near 0, where the first box lies; they part from larger initial states
    x = sp.Symbol("x", real=True)
    committee = RivalSystems([{"x": -x}, {"x": -x - 0.3 * x**3}], np.array([0.5, 0.5]))
    box = np.array([[-0.5, 0.5]])
    pool = np.linspace(-0.75, 0.75, 61)[:, None]
    spread = committee.disagreement(pool, np.linspace(0, 3, 31), ["x"], substeps=2)
    assert spread[np.abs(pool[:, 0]) > 0.7].min() > 10 * spread[np.abs(pool[:, 0]) < 0.2].max()
    batch = next_inputs(pool, spread, 4, box, 0.0, seed=0)
    assert (np.abs(batch) > 0.5).all()
    # a member that blows up disagrees as much as the most, not infinitely
    blowing = RivalSystems([{"x": -x}, {"x": x**3}], np.array([0.5, 0.5]))
    assert np.isfinite(blowing.disagreement(np.array([[0.1], [5.0]]), np.linspace(0, 3, 31), ["x"], 2)).all()


def test_new_runs_refute_the_stand_in_that_fitted_the_first_box():
    # the stand-in −x − 0.3x³ fitted runs near 0 almost as well as the law −x; runs from larger states refute it
    x = sp.Symbol("x", real=True)
    law, stand_in = Candidate(-x, "test", 1e-10, 3), Candidate(-x - 0.3 * x**3, "test", 1e-6, 8)
    committee = RivalSystems([{"x": -x}, {"x": stand_in.expression}], np.array([0.5, 0.5]), {"x": [law, stand_in]})
    twin = from_ode({"x": "-x"}, {"x": (1.0, 2.0)}, t_end=1.0, n_steps=100)
    new_runs = derivative_table(twin.simulate(np.array([[1.5], [2.0]]), seed=0))
    refuted = committee.refuted(new_runs, StateDesignOptions())
    assert [r["formula"] for r in refuted] == [f"dx/dt = {stand_in.text}"] and refuted[0]["new_runs_nmse"] > 1e-3


def test_a_sequential_design_of_initial_states_finds_the_law_and_replays():
    twin = from_ode({"x": "-0.7*x + 0.2*x**2"}, {"x": (0.2, 1.0)}, t_end=4.0, n_steps=200)
    options = StateDesignOptions(initial=2, search_budget=1.0, arms=("sparse", "rational"), pool=32)
    design = StateDesign(4, seed=0, options=options).run(twin)
    assert design.data_.arrays["states"].shape[0] == 4 and design.data_.meta["design"] == "sequential"
    assert [r.runs for r in design.rounds_] == [2, 4] and design.rounds_[1].new_runs == 2
    x = sp.Symbol("x", real=True)
    assert exact_match(design.discovery_["x"].best.expression, -sp.Rational(7, 10) * x + x**2 / 5)
    again = StateDesign(4, seed=0, options=options).run(twin)
    assert np.array_equal(again.data_.arrays["x0"], design.data_.arrays["x0"])
    assert design.record()["simulator_calls"] == 4


def test_the_design_stops_when_one_system_is_left():
    # the law is found from the first 2 runs and found again, unrefuted, from 4, its rivals agreeing everywhere:
    # the last 4 of the 8 runs the budget allows are not taken (with the rule off they are)
    twin = from_ode({"x": "-0.7*x + 0.2*x**2"}, {"x": (0.2, 1.0)}, t_end=4.0, n_steps=200)
    options = StateDesignOptions(initial=2, search_budget=1.0, arms=("sparse", "rational"), pool=32)
    design = StateDesign(8, seed=0, options=options).run(twin)
    assert [r.runs for r in design.rounds_] == [2, 4] and design.stopped_because_ == "one system left"
    assert design.rounds_[1].one_system_left and not design.rounds_[0].one_system_left
    assert design.record()["stopped"] == "one system left" and design.data_.arrays["x0"].shape[0] == 4
    full = StateDesign(8, seed=0, options=dataclasses.replace(options, stop=False)).run(twin)
    assert [r.runs for r in full.rounds_] == [2, 4, 8] and full.stopped_because_ == "budget spent"


def test_run_experiment_designs_an_ode_twins_initial_states(tmp_path, monkeypatch):
    import tools.registry

    # the tool's wiring, with a search of one arm (the design itself is tested above)
    monkeypatch.setattr(tools.registry, "StateDesignOptions", partial(StateDesignOptions, arms=("sparse",), pool=32))
    ctx = ToolContext(tmp_path, seed=0)
    data = call_tool(ctx, "run_experiment", {"twin": "harmonic_oscillator", "samples": 5, "method": "sequential",
                                             "search_seconds": 1.0})
    assert data["shapes"]["x0"] == [5, 2] and [r["runs"] for r in data["rounds"]] == [4, 5]
    assert data["simulator_calls"] == 5 and data["stopped"] in ("budget spent", "one system left")
    # the last round's laws, of the runs' derivative table, are kept for verify_law (no second search)
    table = ctx.datasets[data["laws"][0]["dataset"]]
    assert table.meta["source_dataset"] == data["dataset"] and [law["output"] for law in data["laws"]] == (
        table.output_names)
    assert all(call_tool(ctx, "verify_law", {"discovery": law["discovery"]})["exact"] for law in data["laws"])
    with pytest.raises(ToolError, match="runs a closed-form twin at chosen inputs"):
        call_tool(ctx, "run_experiment", {"twin": "harmonic_oscillator", "method": "resonance"})


def test_a_design_of_initial_states_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="at least"):
        StateDesign(2, options=StateDesignOptions(initial=4)).schedule()
    assert StateDesign(32).schedule() == [4, 8, 16, 32]



def test_an_equations_of_motion_goal_designs_its_states_verifies_the_designs_laws_and_replays(tmp_path):
    from agent import Agent, load_events, replay

    report = Agent(runs_dir=tmp_path, seed=0, discovery_seconds=3).run(
        "Find the equations of motion of the harmonic oscillator")
    assert report.exact is True and [law["exact"] for law in report.laws] == [True, True]
    assert any("the runs were designed in" in finding for finding in report.laws[0]["findings"])
    called = [e["name"] for e in load_events(report.session) if e["type"] == "tool_call"]
    assert called == ["select_twin", "run_experiment", "verify_law", "verify_law"]  # no second search
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]
