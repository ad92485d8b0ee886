"""What a symbolic search produces: scored candidate formulas, the search's outcome, and the data split
they are scored on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from tools.constants import nmse
from twin.expressions import to_text


@dataclass
class Candidate:
    """A formula with its scores; ``text`` reads back through the safe parser."""

    expression: sp.Expr
    source: str
    val_nmse: float
    complexity: int
    test_r2: float | None = None

    @property
    def text(self) -> str:
        return to_text(self.expression)

    def as_dict(self) -> dict:
        return {"formula": self.text, "latex": sp.latex(self.expression), "source": self.source,
                "val_nmse": self.val_nmse, "complexity": self.complexity, "r2_test": self.test_r2}


@dataclass
class Discovery:
    """The outcome of a search: the chosen candidate, the Pareto front, and whether to trust it;
    ``candidates``: every polished candidate (the front is their Pareto subset)."""

    best: Candidate
    pareto: list[Candidate]
    confident: bool
    seconds: float
    input_names: list[str]
    arms_run: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"formula": self.best.text, "latex": sp.latex(self.best.expression),
                "r2_test": self.best.test_r2, "complexity": self.best.complexity,
                "confident": self.confident, "seconds": self.seconds, "arms": self.arms_run,
                "findings": self.findings, "pareto": [c.as_dict() for c in self.pareto]}


@dataclass
class Split:
    """Training rows (the arms and refits see these), validation rows (the choice) and test rows (the report)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split(X: np.ndarray, y: np.ndarray, seed: int, fractions: tuple[float, float] = (0.6, 0.2)) -> Split:
    """Seeded train/validation/test split."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(fractions[0] * len(y))
    n_val = int(fractions[1] * len(y))
    a, b, c = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
    return Split(X[a], y[a], X[b], y[b], X[c], y[c])


def r2_score(prediction: np.ndarray, target: np.ndarray) -> float:
    """1 − NMSE (``tools.constants.nmse``)."""
    return 1.0 - nmse(prediction, target)
