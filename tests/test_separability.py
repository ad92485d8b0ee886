"""Separability and symmetry tests (tools.separability) on known functions, and the network arm."""

import numpy as np
import pytest

from tools.dimensions import combined_unit, parse_unit
from tools.separability import separable_splits, symmetries
from tools.symbolic import discover

X = np.random.default_rng(0).uniform(0.5, 2.0, size=(400, 3))


def _predict(law):
    return lambda Z: law(Z[:, 0], Z[:, 1], Z[:, 2])


@pytest.mark.parametrize("law, kind, left", [
    (lambda a, b, c: np.sin(a) + b * c, "additive", (0,)),
    (lambda a, b, c: a**2 * np.exp(b) * c, "multiplicative", (0,)),
    (lambda a, b, c: np.cos(a * b) + c**2, "additive", (0, 1)),
])
def test_separable_splits_find_the_split(law, kind, left):
    splits = separable_splits(_predict(law), X, model_error=1e-3, seed=0)
    assert any(s.kind == kind and s.left == left for s in splits)
    assert splits[0].violation < 1e-6


def test_a_coupled_law_has_no_split_and_a_noisy_model_is_judged_by_its_error():
    assert separable_splits(_predict(lambda a, b, c: np.sin(a * b * c)), X, model_error=1e-3) == []
    noise = np.random.default_rng(1)
    noisy = lambda Z: Z[:, 0] + Z[:, 1] * Z[:, 2] + 0.05 * noise.standard_normal(len(Z))  # noqa: E731
    assert separable_splits(noisy, X, model_error=1e-4) == []  # model claims 1e-4: the test is strict


def test_symmetries_find_differences_and_ratios_only():
    found = symmetries(_predict(lambda a, b, c: np.cos(a - b) * c), X, model_error=1e-3)
    assert [(s.kind, s.i, s.j) for s in found] == [("difference", 0, 1)]
    found = symmetries(_predict(lambda a, b, c: a / b + c), X, model_error=1e-3)
    assert ("ratio", 0, 1) in [(s.kind, s.i, s.j) for s in found]
    # An input the law ignores is not a symmetry (moving it alone changes nothing either).
    assert symmetries(_predict(lambda a, b, c: np.exp(a) * b), X, model_error=1e-3) == []


def test_units_of_combined_inputs():
    assert parse_unit(combined_unit("ratio", "m^1 * s^(-1)", "s^1")) == {"m": 1, "s": -2}
    assert combined_unit("difference", "m^1", "m^1") == "m^1"
    assert combined_unit("difference", "m^1", "s^1") is None  # unlike quantities do not subtract


def test_network_arm_reports_a_symmetry_and_finds_the_law_through_it():
    data = np.random.default_rng(2).uniform(0.5, 3.0, size=(600, 3))
    y = np.cos(data[:, 0] - data[:, 1]) * np.exp(-data[:, 2])
    found = discover(data, y, ["a", "b", "c"], time_budget=15, seed=0,
                     arms=["powerlaw", "sparse", "cross", "network"])
    assert "network" in found.arms_run
    assert any("a - b" in finding for finding in found.findings)
    assert found.best.source == "sym·cross" and found.best.test_r2 > 0.999999
