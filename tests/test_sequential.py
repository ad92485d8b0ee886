"""Sequential design for discovery (tools.sequential): the acquisition separates rival laws, the design records its
rounds, and a session that used it replays."""

import numpy as np
import pytest
import sympy as sp

from agent import Agent, load_events, replay
from agent.planner import plan
from tools.results import Candidate, Discovery
from tools.sequential import (Committee, SequentialDesign, SequentialOptions, next_inputs, reachable, refuted,
                              widened_bounds)
from twin import from_expression


def test_one_round_separates_a_law_from_a_stand_in_that_agrees_in_the_box():
    twin = from_expression("sqrt(1 + x)", {"x": (0.0, 0.3)}, name="toy")
    x = sp.Symbol("x", real=True)
    law = Candidate(sp.sqrt(1 + x), "toy", 1.0e-4, 6)
    stand_in = Candidate(1 + x / 2 - x**2 / 8, "toy", 0.9e-4, 9)  # its Taylor polynomial, chosen on the box
    found = Discovery(stand_in, [law, stand_in], True, 0.0, ["x"], candidates=[stand_in, law])
    options = SequentialOptions()
    box = twin.input_bounds()
    grid = twin.simulate(np.linspace(0, 0.3, 50)[:, None])
    assert np.allclose(grid.y[:, 0], 1 + grid.X[:, 0] / 2 - grid.X[:, 0] ** 2 / 8, rtol=2e-3)  # they agree there

    pool = np.linspace(*widened_bounds(box, options.widen)[0], 400)[:, None]
    committee = Committee.of(found, pool, ["x"], options)
    assert len(committee.members) == 2 and committee.members[0] is stand_in
    spread = committee.disagreement(pool, ["x"], scale=0.04)
    batch = next_inputs(pool, spread, 8, box, options.explore, seed=0)
    chosen = batch[int(round(options.explore * 8)):]
    at = committee.disagreement(chosen, ["x"], scale=0.04)
    inside = committee.disagreement(grid.X, ["x"], scale=0.04)
    assert chosen.max() > 0.3 and at.mean() > 5 * inside.mean()  # where they part, beyond the box's edge
    taken = twin.simulate(batch)
    eliminated = refuted(committee, taken.X, taken.y[:, 0], ["x"], options)
    assert [e["formula"] for e in eliminated] == [stand_in.text]  # the law survives, the stand-in does not


def test_runs_leave_the_box_only_when_the_box_cannot_decide():
    x = sp.Symbol("x", real=True)
    box = np.array([[0.0, 1.0]])
    pool = np.linspace(*widened_bounds(box, 0.25)[0], 401)[:, None]
    inside = (pool[:, 0] >= 0) & (pool[:, 0] <= 1)
    options = SequentialOptions()

    def reach(rival: sp.Expr, error: float, noise: float = 0.0) -> np.ndarray:
        law = Candidate(sp.sin(3 * x), "toy", error, 4)
        other = Candidate(rival, "toy", 2 * error, 6)
        found = Discovery(law, [law, other], True, 0.0, ["x"], candidates=[law, other])
        spread = Committee.of(found, pool, ["x"], options).disagreement(pool, ["x"], scale=1.0)
        return reachable(pool, spread, box, error, noise, options)

    # a rival that parts from sin 3x inside the box: the next runs stay in it
    assert np.array_equal(reach(3 * x - 4.5 * x**3, 1e-4), inside)
    # its Taylor polynomial to x^11 agrees to 1e-7 in the box (its error there is noise-sized): the runs may leave
    taylor = sum((-1) ** k * (3 * x) ** (2 * k + 1) / sp.factorial(2 * k + 1) for k in range(6))
    assert reach(taylor, 1e-4).all()
    # ... but not while the chosen law does not explain the box (R² 0.99), unless the noise accounts for that
    assert np.array_equal(reach(taylor, 1e-2), inside)
    assert reach(taylor, 1e-2, noise=0.1).all()
    assert reachable(pool, np.ones(len(pool)), box, 1e-4, 0.0, SequentialOptions(box_first=False)).all()


def test_widened_bounds_keep_the_sign_of_one_signed_ranges():
    wide = widened_bounds(np.array([[1.0, 16.0], [-8.0, -2.0], [-1.0, 3.0]]), 0.25)
    assert np.allclose(wide, [[0.5, 32.0], [-8 * 2**0.5, -2 / 2**0.5], [-2.0, 4.0]])


def test_schedule_and_bad_budgets():
    assert SequentialDesign(400).schedule() == [25, 50, 100, 200, 400]
    assert SequentialDesign(60).schedule() == [25, 50, 60]
    with pytest.raises(ValueError, match="at least 25"):
        SequentialDesign(20).schedule()


def test_the_planner_designs_in_rounds_when_asked():
    steps = plan("Find Coulomb's law with as few runs as possible", 7.0)
    assert next(steps) == ("select_twin", {"name": "coulomb_force"})
    assert steps.send({}) == ("run_experiment", {"twin": "coulomb_force", "samples": 400, "method": "sequential",
                                                 "search_seconds": 7.0})
    assert steps.send({"dataset": "data_1", "laws": [{"discovery": "law_1"}]}) == (
        "verify_law", {"discovery": "law_1"})  # the design's last search, not searched again
    steps = plan("What law governs Coulomb's force?", 7.0)
    next(steps)
    assert steps.send({})[1]["method"] == "sobol"
    # an ODE twin's initial states are designed by default, the goal's search seconds shared among the 3 rounds,
    # and the last round's laws are verified without searching again
    steps = plan("Find the equations of motion of the Lotka-Volterra system", 7.5)
    next(steps)
    assert steps.send({}) == ("run_experiment", {"twin": "lotka_volterra", "samples": 16, "method": "sequential",
                                                 "search_seconds": 2.5})
    assert steps.send({"laws": [{"discovery": "law_1"}, {"discovery": "law_2"}]}) == (
        "verify_law", {"discovery": "law_1"})
    steps = plan("What equation governs the Fisher-KPP field? Design the experiments.", 7.0)
    next(steps)
    assert steps.send({}) == ("run_experiment", {"twin": "fisher_kpp", "samples": 4, "method": "sequential"})


def test_a_sequential_session_records_its_rounds_and_replays(tmp_path):
    stream = Agent(runs_dir=tmp_path, discovery_seconds=2).stream("Find Coulomb's law with as few runs as possible")
    results = []
    for event in stream:
        if event["type"] == "tool_result":
            results.append(event)
        if len(results) == 2:  # the twin and the designed experiment; stopped before the final search
            break
    stream.close()
    experiment = results[1]["result"]
    rounds = experiment["rounds"]
    assert len(rounds) >= 2 and rounds[0]["runs"] == 25 and experiment["simulator_calls"] == rounds[-1]["calls"]
    assert all(later["runs"] > earlier["runs"] for earlier, later in zip(rounds, rounds[1:]))
    assert experiment["stopped"] in ("one law left", "budget spent")
    session = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert any(e["type"] == "tool_result" and "rounds" in e.get("result", {}) for e in load_events(session))
    result = replay(session, runs_dir=tmp_path / "replays")
    assert result["reproduced"] and result["steps"] == 2, result["diffs"]


def test_a_range_that_ends_at_zero_is_widened_outward_only():
    wide = widened_bounds(np.array([[0.0, 1.0], [-2.0, 0.0]]), 0.25)
    np.testing.assert_allclose(wide, [[0.0, 1.25], [-2.5, 0.0]])
