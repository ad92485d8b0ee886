"""Sequential design of a field twin's runs (tools.field_design): the next initial fields are those from which the
rival PDEs part, a field the twin cannot integrate is dropped and counted, and the rounds are recorded."""

import numpy as np
import pytest
import sympy as sp

from tools.field_design import FieldDesign, FieldDesignOptions, FieldRuns, RivalLaws
from tools.registry import ToolContext, call_tool
from twin import Grid, InitialState, from_pde, get_twin


def _twin(spec: str, name: str):
    return from_pde(spec, Grid((2 * np.pi,), (32,), 1.0, 21), InitialState(2, 0.5), name=name)


def test_rivals_part_where_the_nonlinear_term_shows():
    runs = FieldRuns(_twin("u_t = 0.1*u_xx", "heat_small"))
    u, u_xx = sp.symbols("u u_xx", real=True)
    laws = RivalLaws([{"u": 0.1 * u_xx}, {"u": 0.1 * u_xx - 0.3 * u**3}], np.array([0.5, 0.5]))
    rng = np.random.default_rng(0)
    shape = runs.draw(rng)
    starts = [{"u": 0.2 * shape["u"]}, {"u": 2.0 * shape["u"]}]  # one field, a small and a large amplitude
    spread = laws.disagreement(runs, starts, 1, np.linspace(0, 0.5, 6), "RK45", 20_000)
    assert spread[1] > 100 * spread[0]  # u³ is 1000× larger at 10× the amplitude; in units of the pool's spread


def test_a_field_design_records_its_rounds_and_finds_the_law():
    twin = get_twin("heat_lattice")
    heard = []
    design = FieldDesign(4, seed=0, progress=lambda stage, info: heard.append(info)).run(twin, noise=0.01)
    assert [r.runs for r in design.rounds_] == [1, 2, 4] and [h["round"] for h in heard] == [1, 2, 3]
    assert heard[-1]["law"] == design.rounds_[-1].equation  # what the CLI and the lab show
    # its first run is the twin's own first run at this seed: a one-shot design of the same seed shares it
    assert np.array_equal(design.data_.arrays["u"][0], twin.snapshots(runs=1, seed=0, noise=0.01).arrays["u"][0])
    assert design.data_.arrays["u"].shape[0] == 4 and design.data_.meta["design"] == "sequential"
    assert all(len(r.amplitudes) == r.new_runs for r in design.rounds_)
    assert "u_xx" in design.discovery_.equation
    record = design.record()
    assert record["simulator_calls"] == 4 and len(record["rounds"]) == 3
    again = FieldDesign(4, seed=0).run(twin, noise=0.01)  # deterministic
    assert np.array_equal(again.data_.arrays["u"], design.data_.arrays["u"])


def test_fields_the_twin_cannot_integrate_are_dropped_and_counted():
    # logistic growth from below zero blows up: a start well below zero fails, the next one is taken
    twin = _twin("u_t = u*(1 - u)", "logistic_field")
    runs = FieldRuns(twin)
    ok = {"u": np.full(32, 0.5)}
    bad = {"u": np.full(32, -5.0)}
    taken, used, failed = runs.take([bad, ok, ok], 1, 0.0, "gaussian", 0)
    assert len(taken) == 1 and used == [1] and failed == 1


def test_a_field_design_needs_a_field_twin_and_a_budget():
    with pytest.raises(ValueError, match="field twin"):
        FieldRuns(get_twin("coulomb_force"))
    with pytest.raises(ValueError, match="at least 2"):
        FieldDesign(1, options=FieldDesignOptions(initial=2)).schedule()


def test_run_experiment_designs_a_field_twins_initial_fields(tmp_path):
    data = call_tool(ToolContext(tmp_path, seed=0), "run_experiment",
                     {"twin": "heat_lattice", "samples": 2, "method": "sequential"})
    assert data["shapes"]["u"][0] == 2 and [r["runs"] for r in data["rounds"]] == [1, 2]
    assert data["simulator_calls"] == 2 and data["stopped"] == "budget spent"
