"""The network arm: separability and symmetry found on a neural network of the data (AI Feynman's tests)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools import dimensions
from tools.arms.base import Arm, Problem, Proposals, SearchState
from tools.constants import evaluate, nmse
from twin.expressions import make_symbols


@dataclass(frozen=True)
class NetworkArm(Arm):
    """Fits an MLP to the data and tests it for separability and symmetry (tools.separability).

    Proposes g ∘ h for the best separable split (each side found by the per-problem arms on the network's values
    with the other side held at the data's median), and returns as sub-problems the reductions where y depends on
    two inputs through xᵢ − xⱼ or xᵢ/xⱼ (and their Buckingham-π reductions when units are known), which the search
    gives to the per-problem arms; the findings in words.

    Runs for ``min_inputs``–``max_inputs`` inputs when the budget is at least ``min_budget`` seconds and nothing is
    exact yet, and takes ``budget_share`` of the arms' remaining budget. The network: ``hidden`` layers, ``steps``
    steps with early-stopping ``patience``, on ``rows`` seeded rows; ``keep`` proposals per separable side.
    """

    name: ClassVar[str] = "network"
    source: ClassVar[str] = "separable"
    budget_share: ClassVar[float] = 0.25
    min_budget: float = 15.0
    min_inputs: int = 2
    max_inputs: int = 8
    hidden: tuple[int, ...] = (64, 64)
    steps: int = 1500
    patience: int = 300
    rows: int = 500
    keep: int = 3

    def applies(self, state: SearchState) -> bool:
        return (state.time_budget >= self.min_budget and self.min_inputs <= len(state.names) <= self.max_inputs
                and not state.exact())

    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        from tools.separability import separable_splits, symmetries
        from tools.train import train_mlp  # torch only when this arm runs

        names, seed, notify = problem.names, state.seed, state.notify
        notify("network", {"inputs": len(names)})
        rows = np.random.default_rng(seed).permutation(len(problem.y))[:self.rows]
        X, y = problem.X[rows], problem.y[rows]
        result = train_mlp(X, y, hidden=self.hidden, steps=self.steps, patience=self.patience, seed=seed,
                           device="cpu", progress=lambda stage, info: notify("network", info))
        model_error = math.sqrt(min(result.history["val_loss"]))

        def predict(Z: np.ndarray) -> np.ndarray:
            return result.predict(Z)[:, 0]

        found = Proposals()
        splits = separable_splits(predict, X, model_error, seed)
        if splits:
            found.expressions += self._separable(splits[0], X, predict, names, state)
            split = splits[0]
            found.findings.append(f"{split.kind}ly separable: ({', '.join(names[i] for i in split.left)}) and "
                                  f"({', '.join(names[i] for i in split.right)}), violation {split.violation:.2g}")
        for symmetry in symmetries(predict, X, model_error, seed)[:2]:
            self._reduce(symmetry, X, y, names, state, found)
        return found

    def _separable(self, split, X: np.ndarray, predict, names: list[str], state: SearchState) -> list[sp.Expr]:
        """g + h − centre or g·h/centre, each side's best proposals on the network with the other side held."""
        left, right = list(split.left), list(split.right)
        anchor = np.median(X, axis=0)
        arms = state.per_problem_arms()

        def side(keep: list[int], held: list[int]) -> list[sp.Expr]:
            Z = X.copy()
            Z[:, held] = anchor[held]
            state.notify("network", {"separable_side": [names[k] for k in keep]})
            part_X, part_y, part_names = X[:, keep], predict(Z), [names[k] for k in keep]
            side_problem = Problem("", part_X, part_y, part_names)
            proposals = [e for arm in arms for e in arm.propose(side_problem, state).expressions]
            scored = sorted((nmse(evaluate(e, part_X, part_names), part_y), i) for i, e in enumerate(proposals))
            return [proposals[i] for error, i in scored[:self.keep] if np.isfinite(error)]

        centre = sp.Float(float(predict(anchor[None])[0]), 15)
        return [g + h - centre if split.kind == "additive" else g * h / centre
                for g, h in itertools.product(side(left, right), side(right, left))]

    @staticmethod
    def _reduce(symmetry, X: np.ndarray, y: np.ndarray, names: list[str], state: SearchState,
                found: Proposals) -> None:
        """The sub-problem in which inputs i, j enter as one (and its π reductions when units are known)."""
        symbols = [make_symbols(names)[n] for n in names]
        units = state.units
        i, j = symmetry.i, symmetry.j
        a, b = symbols[i], symbols[j]
        joint, combined = (a - b, X[:, i] - X[:, j]) if symmetry.kind == "difference" else (a / b, X[:, i] / X[:, j])
        found.findings.append(f"depends on {names[i]}, {names[j]} only through {joint} "
                              f"(violation {symmetry.violation:.2g})")
        stem = next(f"u{k}" for k in itertools.count() if f"u{k}" not in names)
        kept = [k for k in range(len(names)) if k not in (i, j)]
        reduced_names = [stem] + [names[k] for k in kept]
        new_symbol = make_symbols([stem])[stem]
        reduced_X = np.column_stack([combined, X[:, kept]])

        def lift(e: sp.Expr, s: sp.Symbol = new_symbol, r: sp.Expr = joint) -> sp.Expr:
            return e.xreplace({s: r})

        found.problems.append(Problem("sym·", reduced_X, y, reduced_names, lift))
        joint_unit = dimensions.combined_unit(symmetry.kind, units[names[i]], units[names[j]]) \
            if names[i] in units and names[j] in units else None
        if joint_unit is not None:
            reduced_units = {stem: joint_unit} | {names[k]: units[names[k]] for k in kept if names[k] in units}
            for reduction in dimensions.reductions(reduced_names, reduced_units, state.target_unit):
                applied = reduction.apply(reduced_X, y)
                if applied is not None and reduction.group_names:
                    found.problems.append(Problem("sym·π·", *applied, reduction.group_names,
                                                  lambda e, r=reduction, up=lift: up(r.lift(e))))
