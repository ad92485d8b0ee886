"""ODE systems from trajectories: each state's derivative discovered from a derivative table, then, for noisy
data, the system re-chosen and refitted against the trajectories themselves (tools.trajectory_refit).

One code path for the ``discover_law`` tool, the ``SystemRegressor`` estimator and the ODE benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from tools.arms import DEFAULT_ARMS, Arm
from tools.arms.base import Progress
from tools.constants import evaluate, nmse
from tools.derived import derivative_table
from tools.refit_options import RefitOptions
from tools.results import Candidate, Discovery, r2_score, split
from tools.symbolic import SearchOptions, discover
from tools.trajectory_refit import Refinement, refine_system
from twin.dataset import Dataset
from twin.expressions import count_nodes

#: Derivative tables choose by node count (``SearchOptions.choose_by``): the description length was measured on
#: the closed-form suites only.
DERIVATIVE_CHOICE = "nodes"


def discover_derivatives(table: Dataset, time_budget: float, seed: int, arms: Sequence[str | Arm] = DEFAULT_ARMS,
                         progress: Progress | None = None, options: SearchOptions | None = None,
                         rows: np.ndarray | None = None) -> dict[str, Discovery]:
    """Each state's derivative dx/dt = f(x) from a derivative table (tools.derived.derivative_table), on
    ``rows`` of it when given; keyed by state name."""
    X = table.X if rows is None else table.X[rows]
    found = {}
    for column, state in enumerate(table.input_names):
        y = table.y[:, column] if rows is None else table.y[rows, column]
        found[state] = discover(X, y, table.input_names, time_budget, seed, arms, progress=progress,
                                units=table.units, target_unit=table.units.get(table.output_names[column]),
                                choose_by=DERIVATIVE_CHOICE, options=options)
    return found


def refine(trajectories: Dataset, table: Dataset, found: Mapping[str, Discovery], seed: int,
           progress: Progress | None = None, rows: np.ndarray | None = None,
           options: RefitOptions | None = None) -> Refinement:
    """Refit the system of ``found`` against the noisy ``trajectories``; where the integrated system reproduces
    them, each state's chosen formula becomes the refit's (scored on the table's held-out rows) and the findings
    say so; otherwise the derivative results stand and the findings say why. Raises ValueError when the chosen
    system cannot be integrated."""
    if progress:
        progress("trajectory_refit", {"states": len(found)})
    refined = refine_system(trajectories, {s: f.pareto for s, f in found.items()}, {s: f.best for s, f in found.items()},
                            progress=progress, options=options)
    if not refined.adequate:
        for discovery in found.values():
            discovery.findings.append(f"not refitted against the trajectories: integrated, the system leaves RSS/σ² "
                                      f"{refined.rss:.0f} on {refined.n_observations} values (noise alone: about "
                                      f"{refined.n_observations})")
        return refined
    X = table.X if rows is None else table.X[rows]
    for column, (state, discovery) in enumerate(found.items()):
        expr = refined.formulas[state]
        parts = split(X, table.y[:, column] if rows is None else table.y[rows, column], seed)
        discovery.best = Candidate(expr, "trajectory refit",
                                   nmse(evaluate(expr, parts.X_val, table.input_names), parts.y_val), count_nodes(expr),
                                   r2_score(evaluate(expr, parts.X_test, table.input_names), parts.y_test))
        discovery.findings.append("refitted against the trajectories (multiple shooting): "
                                  f"RSS/σ² {refined.rss_chosen:.0f} → {refined.rss:.0f} on {refined.n_observations} values")
    return refined


def noisy(trajectories: Dataset) -> bool:
    """Whether the trajectories carry noise, so that a refit against them can correct the derivatives' bias."""
    return bool(trajectories.noise.get("sigma"))


@dataclass
class SystemDiscovery:
    """Each state's law, the derivative search's own choice beside it, and the refit (None for noiseless data)."""

    laws: dict[str, Discovery]
    derivative_choice: dict[str, Candidate]
    refinement: Refinement | None = None
    findings: list[str] = field(default_factory=list)

    @property
    def formulas(self) -> dict[str, sp.Expr]:
        return {state: law.best.expression for state, law in self.laws.items()}


def discover_system(trajectories: Dataset, time_budget: float = 20.0, seed: int = 0,
                    arms: Sequence[str | Arm] = DEFAULT_ARMS, progress: Progress | None = None,
                    options: SearchOptions | None = None, refit_options: RefitOptions | None = None,
                    ) -> SystemDiscovery:
    """dx/dt = f(x) for every state of ODE ``trajectories`` (a twin's simulation or a user's data): derivative
    table, per-state search of ``time_budget`` seconds each (``options``), refit against the trajectories when they
    are noisy (``refit_options``)."""
    if trajectories.kind != "ode":
        raise ValueError(f"need ODE trajectories, got a {trajectories.kind} dataset")
    table = derivative_table(trajectories)
    laws = discover_derivatives(table, time_budget, seed, arms, progress, options)
    found = SystemDiscovery(laws, {state: law.best for state, law in laws.items()})
    if noisy(trajectories):
        try:
            found.refinement = refine(trajectories, table, laws, seed, progress, options=refit_options)
        except ValueError as error:  # the derivative results stand, and say why
            found.findings.append(f"not refitted against the trajectories: {error}")
    return found
