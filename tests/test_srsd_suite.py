"""The SRSD-Feynman suites as transcribed: every equation reads back, inputs are drawn as SRSD draws them."""

import numpy as np

from benchmarks import srsd
from benchmarks.discovery import SUITES, closed_form_problem


def test_the_three_tiers_hold_srsds_120_equations_with_and_without_dummy_columns():
    names = srsd.problem_names()
    assert len(names) == 240
    for variant in ("", "_dummy"):
        assert [sum(n.startswith(SUITES[f"srsd_{t}{variant}"]) for n in names)
                for t in ("easy", "medium", "hard")] == [30, 40, 50]


def test_dummy_columns_are_inputs_the_law_does_not_use_and_the_same_every_run():
    twin, data, truth, samples = closed_form_problem("srsd_dummy_hard_bonus_7", 0.0, 0)
    plain, *_ = closed_form_problem("srsd_hard_bonus_7", 0.0, 0)
    dummies = srsd.equations()["srsd_dummy_hard_bonus_7"]["dummies"]
    assert 1 <= len(dummies) <= 3 and set(twin.input_names) == set(plain.input_names) | set(dummies)
    assert {s.name for s in truth.free_symbols} == set(plain.input_names)
    assert data.X.shape == (400, len(twin.input_names)) and np.isfinite(data.y).all()
    assert np.array_equal(data.X, closed_form_problem("srsd_dummy_hard_bonus_7", 0.0, 0)[1].X)


def test_log_samplers_span_orders_of_magnitude_with_the_allowed_signs():
    name = "srsd_hard_i_15_3t"  # t in [1e-6, 1e-4] positive; u in ±[1e5, 1e7]; x in ±[1, 100]
    X = srsd.samples(name, 2000, seed=0)
    t, u = X[:, 0], X[:, 1]
    assert (t > 0).all() and t.min() < 1e-5 < t.max() and 1e-6 <= t.min() and t.max() <= 1e-4
    assert (u < 0).any() and (u > 0).any() and np.abs(u).min() >= 1e5 and np.abs(u).max() <= 1e7
    # log-uniform: about as many draws in each decade
    decades = np.histogram(np.log10(t), bins=[-6, -5, -4])[0]
    assert abs(decades[0] - decades[1]) < 0.1 * len(t)
    assert np.array_equal(X, srsd.samples(name, 2000, seed=0))


def test_a_problem_keeps_400_rows_where_its_law_is_defined():
    twin, data, truth, samples = closed_form_problem("srsd_hard_bonus_7", 0.0, 0)  # a square root, often negative
    assert data.X.shape == (400, 3) and np.isfinite(data.y).all()
    assert {s.name for s in truth.free_symbols} == set(twin.input_names) == set(samples)
