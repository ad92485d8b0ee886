"""Checks of a found PDE: term-by-term agreement with a known law, and how well the integrated law reproduces
held-out runs (its initial state in, its later snapshots compared)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from tools.pde.data import FieldData
from tools.pde.refit import integrated_twin
from twin.core import SimulationError


def term_coefficients(expr: sp.Expr) -> dict[sp.Expr, float]:
    """The expanded law as {monomial over jet symbols: coefficient}."""
    expanded = sp.expand(expr)
    return {term: float(coefficient) for term, coefficient in expanded.as_coefficients_dict().items()
            if coefficient != 0}


def matches(found: dict[str, sp.Expr], truth: dict[str, sp.Expr], tolerance: float) -> bool:
    """The same left-hand sides, the same terms, and every coefficient within ``tolerance`` (relative)."""
    if set(found) != set(truth):
        return False
    for lhs, expr in truth.items():
        want, got = term_coefficients(expr), term_coefficients(found[lhs])
        if set(want) != set(got):
            return False
        if any(abs(got[t] - c) > tolerance * abs(c) for t, c in want.items()):
            return False
    return True


def integrated_score(data: FieldData, laws: dict[str, sp.Expr], order: int, run: int,
                     method: str = "LSODA") -> tuple[float, dict[str, np.ndarray]]:
    """R² of the found law integrated from run ``run``'s first snapshot against that run's snapshots (all fields
    pooled), and the integrated fields. Periodic data only; a law that blows up scores −inf."""
    data.check_integrable()
    twin = integrated_twin(data, laws, order, {}, method, float(data.t[-1] - data.t[0]), data.n_times)
    initial = {f: data.fields[f][run, 0] for f in data.target_names}
    velocity = None
    if order == 2:
        velocity = {f: (data.fields[f][run, 1] - data.fields[f][run, 0]) / data.dt for f in data.target_names}
    try:
        simulated = twin.simulate(initial=initial, initial_velocity=velocity)
    except SimulationError:
        return float("-inf"), {}
    observed = np.concatenate([data.fields[f][run].ravel() for f in data.target_names])
    predicted = np.concatenate([simulated.arrays[f][0].ravel() for f in data.target_names])
    score = 1.0 - np.sum((observed - predicted) ** 2) / (np.sum((observed - observed.mean()) ** 2) or 1.0)
    return float(score), {f: simulated.arrays[f][0] for f in data.target_names}
