"""The arm interface: what every search arm is, and the search state it sees.

An arm proposes formulas (sympy expressions over the problem's input names); the search loop
(``tools.symbolic.discover``) polishes and scores every proposal the same way, so an arm need not fit its
constants well, only propose the right structure. Modelled on pysindy's strategy objects: one arm per file,
its settings as constructor arguments.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import sympy as sp

from tools.results import Candidate, Split

if TYPE_CHECKING:  # the search options live with the search loop, which imports the arms
    from tools.symbolic import SearchOptions

Progress = Callable[[str, dict], None]


def _same(expr: sp.Expr) -> sp.Expr:
    return expr


@dataclass
class Problem:
    """Data an arm searches and the map of its formulas back to the original inputs: the problem as given
    (tag ""), its Buckingham-π reductions ("π·"), without screened-out columns ("sel·"), or a reduction found on
    a network of the data ("sym·")."""

    tag: str
    X: np.ndarray
    y: np.ndarray
    names: list[str]
    lift: Callable[[sp.Expr], sp.Expr] = _same
    omitted: frozenset[sp.Symbol] = frozenset()  #: the inputs a "sel·" problem leaves out


@dataclass
class Proposals:
    """What an arm returns: formulas over the problem's names, and optionally sub-problems for the per-problem
    arms to search and findings in words."""

    expressions: list[sp.Expr] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


@dataclass
class SearchState:
    """What the arms may see of a search in progress (never a twin's ground truth).

    ``problems[0]`` is the training data as given; ``candidates`` holds every polished proposal so far (the search
    loop's ``consider``, handed to ``Arm.run``, adds to it); ``arm_budget`` is the seconds still free for arms that
    take a share of the budget.
    """

    data: Split
    names: list[str]
    seed: int
    time_budget: float
    arms: Sequence[Arm]
    options: SearchOptions
    units: Mapping[str, str] = field(default_factory=dict)
    target_unit: str | None = ""
    notify: Progress = lambda stage, info: None
    problems: list[Problem] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    arms_run: list[Arm] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def exact(self) -> bool:
        """Whether a candidate already explains the validation data to machine precision."""
        return bool(self.candidates) and self.best() < self.options.exact_nmse

    def best(self) -> float:
        """The best validation NMSE so far (inf before any candidate)."""
        return min((c.val_nmse for c in self.candidates), default=math.inf)

    def arm_budget(self) -> float:
        """Seconds of the budget left to arms after the shares of those that ran (``Arm.budget_share``)."""
        left = self.options.arm_budget_fraction * self.time_budget
        return left * math.prod(1 - arm.budget_share for arm in self.arms_run)

    def searchable(self) -> list[Problem]:
        """The problems worth an expensive arm's time: all but those that leave out an input the candidates so
        far show to matter — one used by a candidate that fits ``options.screen_refuted`` times better than every
        candidate without it (an effect of a few per cent the screen took for noise)."""
        def refuted(problem: Problem) -> bool:
            if not problem.omitted:
                return False
            using = [c.val_nmse for c in self.candidates if c.expression.free_symbols & problem.omitted]
            without = [c.val_nmse for c in self.candidates if not c.expression.free_symbols & problem.omitted]
            return min(using, default=math.inf) * self.options.screen_refuted < min(without, default=math.inf)

        return [problem for problem in self.problems if not refuted(problem)]

    def per_problem_arms(self) -> list[Arm]:
        return [arm for arm in self.arms if arm.per_problem]


class Arm(ABC):
    """A search arm.

    Class attributes say how the search loop runs it:

    - ``name``: how users select it (``discover(arms=[...])``); ``source``: the tag its candidates carry.
    - ``per_problem``: proposes on every problem (as given, each reduction, each sub-problem another arm finds),
      before the arms that run once; these are also the arms the network arm uses on separable sides.
    - ``fits_constants``: its proposals come with fitted constants (a long one only gets a short refit).
    - ``budget_share``: the fraction of the remaining arm budget it takes when it runs (``SearchState.arm_budget``).
    - ``default``: run when the user names no arms.

    Subclasses implement ``propose``; ``applies`` says whether to run at all on this search; an arm that must
    interleave proposals with the search (several runs, stopping once exact) overrides ``run``.
    """

    name: ClassVar[str]
    source: ClassVar[str] = ""
    per_problem: ClassVar[bool] = False
    fits_constants: ClassVar[bool] = False
    budget_share: ClassVar[float] = 0.0
    default: ClassVar[bool] = True

    @property
    def tag(self) -> str:
        return self.source or self.name

    def applies(self, state: SearchState) -> bool:
        """Whether to run on this search (inputs, budget, an exact formula already in hand)."""
        return True

    @abstractmethod
    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        """Formulas for ``problem`` (over ``problem.names``), with any sub-problems and findings."""

    def run(self, state: SearchState, consider: Callable[[list[sp.Expr], str, Arm], None]) -> None:
        """Propose on the problem as given and hand the proposals to ``consider`` (which polishes and scores
        them); sub-problems and findings go to the state."""
        found = self.propose(state.problems[0], state)
        consider(found.expressions, self.tag, self)
        state.problems += found.problems
        state.findings += found.findings

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DataArm(Arm):
    """An arm that needs only the data: ``propose_data(X, y, names)`` on each problem."""

    per_problem = True

    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        return Proposals(self.propose_data(problem.X, problem.y, problem.names))

    @abstractmethod
    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        """Formulas y ≈ f(X) over ``names``."""
