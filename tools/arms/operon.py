"""The genetic-programming arm: pyoperon's symbolic regression, several short differently seeded runs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import Arm, Problem, Proposals, SearchState
from twin.expressions import make_symbols, parse_expression

#: Operator sets: arithmetic only, and with the transcendental functions (every third run).
OPERON_SYMBOLS = ("add,sub,mul,div,constant,variable",
                  "add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,tanh")


@dataclass(frozen=True)
class OperonArm(Arm):
    """pyoperon genetic programming with MSE model selection; each run returns its whole Pareto front.

    Runs last, on what the arms' budget has left (``SearchState.arm_budget``), split into runs of about
    ``run_seconds`` that cycle over the searchable problems (as given, reductions, sub-problems;
    ``SearchState.searchable``), until a formula is exact.

    Parameters
    ----------
    rows : int
        Seeded rows each run sees.
    run_seconds : float
        Several short, differently seeded runs find exact structure more often than one long run.
    evals_per_row_second : float
        Operon evaluations per second per training row on one core (measured on our 2-core machine): budgets
        are counted in evaluations, not wall time, so that a run replays to the same formula (with a wall-time
        cap of three times the seconds as a guard).
    max_length, population_size : int
        pyoperon's tree length limit and population.
    """

    name: ClassVar[str] = "operon"
    fits_constants: ClassVar[bool] = True
    rows: int = 500
    run_seconds: float = 3.0
    evals_per_row_second: float = 2.5e7
    max_length: int = 30
    population_size: int = 1000

    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        return Proposals(self.regress(problem.X, problem.y, problem.names, state.arm_budget(), state.seed))

    def run(self, state: SearchState, consider: Callable[[list[sp.Expr], str, Arm], None]) -> None:
        budget = state.arm_budget()  # counted from the budget, not the clock, so that a replay runs the same
        runs = max(1, int(budget / self.run_seconds))
        for run in range(runs):
            if state.exact():
                break
            problems = state.searchable()
            problem = problems[run % len(problems)]
            if not problem.names:
                continue
            state.notify("operon", {"run": run + 1, "of": runs})
            symbols = OPERON_SYMBOLS[0] if run % 3 != 2 else OPERON_SYMBOLS[1]
            proposals = self.regress(problem.X, problem.y, problem.names, budget / runs, state.seed + run, symbols)
            consider([problem.lift(e) for e in proposals], problem.tag + self.tag, self)

    def regress(self, X: np.ndarray, y: np.ndarray, names: list[str], seconds: float, seed: int,
                symbols: str = OPERON_SYMBOLS[0]) -> list[sp.Expr]:
        """One pyoperon run of about ``seconds`` on at most ``rows`` seeded rows: its Pareto front as formulas."""
        from pyoperon.sklearn import SymbolicRegressor  # heavy import, only when this arm runs

        if len(y) > self.rows:
            rows = np.random.default_rng(seed).choice(len(y), self.rows, replace=False)
            X, y = X[rows], y[rows]
        regressor = SymbolicRegressor(
            allowed_symbols=symbols, model_selection_criterion="mean_squared_error",
            objectives=["r2", "length"], max_length=self.max_length, population_size=self.population_size,
            generations=100_000, max_evaluations=int(seconds * self.evals_per_row_second / max(len(y), 100)),
            n_threads=1, random_state=seed, max_time=max(1, int(3 * seconds)),
        )
        try:
            with warnings.catch_warnings():  # overflow in pyoperon's own scaling of a model of extreme values
                warnings.simplefilter("ignore", RuntimeWarning)
                regressor.fit(X, y)
        except ValueError:  # pyoperon scores its front with scikit-learn, which refuses a model's NaN: one run lost
            return []
        placeholder = [f"X{i + 1}" for i in range(len(names))]
        proposals = []
        for model in regressor.pareto_front_:
            text = regressor.get_model_string(model["tree"], 12, placeholder)
            try:
                expr = parse_expression(text, placeholder)
            except ValueError:
                continue
            proposals.append(expr.xreplace({sp.Symbol(p, real=True): make_symbols([n])[n]
                                            for p, n in zip(placeholder, names)}))
        return proposals
