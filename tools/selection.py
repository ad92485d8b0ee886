"""The final choice among polished candidates: the Pareto front, the validation margin within which candidates
tie, and the shortest description among them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sympy as sp

from tools.results import Candidate

#: Validation NMSE at which noiseless data is explained to machine precision: the search stops.
EXACT_NMSE = 1e-20
#: Validation NMSE differences below this count as ties when choosing the simplest formula.
TIE_NMSE = 1e-10
#: Nats per node of a formula's description (``description_nats``): one choice among about ten symbols.
NODE_NATS = math.log(10)
#: How ``choose`` ranks the admissible candidates: by description length, or by node count (see ``discover``).
CHOICE_RULES = ("description", "nodes")


def pareto_front(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates not beaten in both validation error and complexity, by complexity."""
    front: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.complexity, c.val_nmse)):
        if not front or c.val_nmse < front[-1].val_nmse * (1 - 1e-9):
            front.append(c)
    return front


def selection_tolerance(n_validation: int) -> float:
    """Relative validation-error margin within which a simpler candidate is preferred: two standard errors
    of an NMSE estimated on ``n_validation`` points (√(2/n) for Gaussian residuals), at least 10 %.

    With 80 validation points (a 400-sample Feynman problem) that is 32 %: at σ = 1 % a genetic-programming
    formula that adds an intercept and a cosine to m·g·z fits the validation set 5–10 % better by chance.
    """
    return max(0.1, 2 * np.sqrt(2 / max(n_validation, 1)))


def description_nats(candidate: Candidate, n_fit: int) -> float:
    """What it takes to write a formula down, in nats: ln 10 per node (a choice among about ten operators,
    inputs and constants), ln|p| + ln q per rational p/q, and per fitted float ln(n_fit)/2 for the precision
    ``n_fit`` samples pin it to (the BIC's cost of a parameter) plus ln 10 for its order of magnitude, so that
    a float never undercuts a fraction of one- and two-digit terms (11/12: 4.9 nats). A node count alone
    calls 10E/7 − 4L²/9 − 4U/5 as simple as 2E − L² − 2U."""
    numbers = candidate.expression.atoms(sp.Number)
    rationals = sum(math.log(abs(int(r.p))) + math.log(int(r.q)) for r in numbers if r.is_Rational and r != 0)
    floats = sum(1 for r in numbers if r.is_Float)
    return candidate.complexity * NODE_NATS + rationals + floats * (math.log(max(n_fit, 2)) / 2 + NODE_NATS)


def margin(candidates: Sequence[Candidate], tolerance: float) -> float:
    """The largest validation error that ties with the best: ``(1 + tolerance)`` times the best, plus a floor so
    that noiseless ties at machine precision count as ties."""
    return min(c.val_nmse for c in candidates) * (1 + tolerance) + TIE_NMSE


def choose(candidates: Sequence[Candidate], tolerance: float = 0.1, n_fit: int = 100,
           by: str = "description") -> Candidate:
    """Of the candidates within the ``margin`` of the best validation error, the one shortest to write down
    (``description_nats``), or with ``by="nodes"`` the one of fewest nodes (see ``discover``'s ``choose_by``)."""
    cost = {"description": lambda c: description_nats(c, n_fit), "nodes": lambda c: c.complexity}[by]
    threshold = margin(candidates, tolerance)
    return min((c for c in candidates if c.val_nmse <= threshold), key=lambda c: (cost(c), c.val_nmse))
