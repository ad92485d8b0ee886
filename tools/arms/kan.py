"""The KAN arm: a small Kolmogorov–Arnold network (pykan) read out as a formula."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tools.arms.base import Arm, Problem, Proposals, SearchState


@dataclass(frozen=True)
class KanArm(Arm):
    """pykan: a [d, 1, 1] KAN (which spans f(Σ gᵢ(xᵢ)): sums, products through exp/log, velocity addition
    through tanh/arctanh) with grid refinement, then ``auto_symbolic`` over a wide library; the raw formula's
    constants are refitted downstream like every other proposal.

    Runs when the budget is at least ``min_budget`` seconds and nothing is exact yet, and takes ``budget_share``
    of the arms' remaining budget; proposes for at most ``max_inputs`` inputs, trained on ``rows`` seeded rows
    for ``steps`` steps per grid of ``grids``.
    """

    name: ClassVar[str] = "kan"
    budget_share: ClassVar[float] = 0.4
    rows: int = 300
    max_inputs: int = 3
    min_budget: float = 30.0
    steps: int = 30
    grids: tuple[int, ...] = (5, 10)

    def applies(self, state: SearchState) -> bool:
        return state.time_budget >= self.min_budget and not state.exact()

    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        from tools.train import kan_formula, train_kan  # torch/pykan only when this arm runs

        X, y, names = problem.X, problem.y, problem.names
        state.notify("kan", {"inputs": len(names)})
        if X.shape[1] > self.max_inputs:
            return Proposals()
        rows = np.random.default_rng(state.seed).permutation(len(y))[:self.rows]
        try:
            result = train_kan(X[rows], y[rows], hidden=(1,), grids=self.grids, steps=self.steps, seed=state.seed,
                               device="cpu")
            expr = kan_formula(result, X[rows], names, state.seed)
        except (ValueError, RuntimeError):  # a diverged fit or a singular edge fit: this arm proposes nothing
            return Proposals()
        return Proposals([expr] if expr is not None else [])
