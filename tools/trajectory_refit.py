"""Refine a discovered ODE system against the noisy trajectories themselves, not the estimated derivatives.

Derivatives estimated from noisy trajectories are biased where the smoother flattens peaks (constants off by
≈ 2 % on the Strogatz systems at σ = 1 %), and regression on them inherits the bias: constants miss the
3-significant-digit rule, and a more flexible formula can fit the biased targets better than the law does.
Here the system is integrated instead, by multiple shooting: each trajectory is cut into windows, and the
integrated windows are compared with the observations, each state weighted by its estimated noise (so the
residual sum of squares is in units of σ²). Least squares (scipy) fits the constants of every component and
every window's start state at once (starts from the smoothing spline; fixing them there biased the constants
by ≈ 1 % on Lotka–Volterra, measured), with a forward-difference Jacobian from one batched fixed-step RK4
integration (``rk4_path``). For each component, its Pareto-front candidates near the chosen one and sparse polynomial and
rational right-hand sides (``sparse_candidates``), and sums of terms of the other components' current formulas
(``tools.system_proposals.shared_candidates``), are compared by the Bayesian information criterion, then
constants snap to simple values (or to 0, dropping a term) where the criterion allows, and rival right-hand
sides snapped as well may replace the choice by description length. Data only: nothing here reads a ground
truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp

from tools.refit_options import RefitOptions
from tools.results import Candidate
from tools.shooting import free, shooting_windows, try_fit, window_steps
from tools.system_proposals import SparseForms, alternatives, proposals, shape_of, shared_candidates
from tools.system_snap import rival_structures, snap_system
from twin import Dataset
from twin.expressions import count_nodes


@dataclass
class Refinement:
    """The outcome: the refined formula per state and what was compared on the way."""

    formulas: dict[str, sp.Expr]
    rss: float
    rss_chosen: float
    n_observations: int
    trials: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    #: The residual variance per observation (in σ² units) the comparisons assumed: s² of BIC.
    scale2: float = 1.0
    adequate: bool = True
    #: Integration steps per shooting window.
    window_steps: int = RefitOptions.window_steps

    def as_dict(self) -> dict:
        return {"formulas": {s: str(e) for s, e in self.formulas.items()}, "rss_over_sigma2": self.rss,
                "rss_chosen": self.rss_chosen, "observations": self.n_observations, "trials": self.trials,
                "seconds": self.seconds, "noise_scale2": self.scale2, "adequate": self.adequate,
                "window_steps": self.window_steps}


def refine_system(
    data: Dataset,
    fronts: Mapping[str, Sequence[Candidate]],
    chosen: Mapping[str, Candidate],
    steps: int | None = None,
    progress: Callable[[str, dict], None] | None = None,
    options: RefitOptions | None = None,
) -> Refinement:
    """Re-choose and refit each state's formula against the trajectories ``data`` (noisy ODE data).

    ``fronts`` and ``chosen`` come from discovering each state's derivative (tools.symbolic.discover); each
    state's front candidates, ``sparse_candidates`` and ``shared_candidates`` are tried in turn, the state of
    the largest chosen formula first, and a state once more (with its derivative choice) where a state after it changed. The system that minimises
    BIC = RSS/s² + k·ln n wins, s² being the least residual variance of the systems fitted (1 when one fits to the
    noise);
    then its constants are snapped (``snap_system``) and rival right-hand sides compared after snapping
    (``rival_structures``). The work is bounded by counts (``options``: candidates per component,
    sweeps, snap refits, rivals per state, evaluations per fit), not by the clock; ``progress`` hears of every fit (and may
    raise to stop the refinement). ``steps`` per shooting window: ``window_steps(data)`` unless given.
    """
    start = time.perf_counter()
    notify = progress or (lambda stage, info: None)
    if data.kind != "ode":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not ODE trajectories")
    if list(chosen) != list(data.input_names):
        raise ValueError(f"give one formula per state {data.input_names}, got {list(chosen)}")
    options = options or RefitOptions()
    steps = steps or window_steps(data, options)
    windows = shooting_windows(data, steps)
    n = windows.n_observations
    current = try_fit({s: free(c.expression) for s, c in chosen.items()}, windows, options)
    if current is None:
        raise ValueError("the chosen system cannot be integrated through the shooting windows")
    scale2 = max(1.0, current.rss / max(1, n - current.n_constants))
    rss_chosen = current.rss
    trials: list[dict] = []
    # Every integrable right-hand side tried, with the RSS of its system: the rivals of the final choice.
    tried = {state: {str(c.expression): (current.rss, free(c.expression))} for state, c in chosen.items()}
    in_use = {state: str(c.expression) for state, c in chosen.items()}
    forms = SparseForms(data, steps, options)
    proposed = proposals(forms, fronts)
    # The state whose chosen formula is largest first: every fit integrates the whole system, and while a
    # 125-node right-hand side with a dozen constants stood, each alternative of the other state took 10–30 s
    # (Strogatz's bacterial respiration at σ = 1 %: 545 s of refit, 92 s once it was replaced first; same formulas).
    queue = sorted(data.input_names, key=lambda s: -count_nodes(chosen[s].expression))
    choices = {s: [chosen[s].expression, *alternatives(fronts[s], chosen[s], options), *proposed[s]] for s in queue}
    shapes = {s: {shape_of(e) for e in choices[s]} for s in queue}
    for sweep in range(1, options.sweeps + 1):
        last_change = -1
        for position, state in enumerate(queue):
            shared = [e for e in shared_candidates(forms, state, current.formulas)
                      if shape_of(e) not in shapes[state]]
            shapes[state] |= {shape_of(e) for e in shared}
            choices[state] += shared  # and tried again with the others in a later sweep
            for alternative in choices[state]:
                if str(alternative) == in_use[state]:
                    continue
                notify("trajectory_refit", {"state": state, "candidate": str(alternative)})
                trial = try_fit({**current.formulas, state: free(alternative)}, windows, options)
                if trial is not None:
                    # s² is the least residual variance of any system fitted: a first fit that did not converge
                    # (ODEBench 55: RSS 29σ² per value) would otherwise make every later comparison lenient.
                    scale2 = max(1.0, min(scale2, trial.rss / max(1, n - trial.n_constants)))
                better = bool(trial is not None and trial.bic(scale2, n) < current.bic(scale2, n))
                trials.append({"state": state, "formula": str(alternative), "sweep": sweep, "accepted": better,
                               "rss": None if trial is None else trial.rss,
                               "constants": None if trial is None else trial.n_constants})
                if trial is not None:
                    tried[state][str(alternative)] = (trial.rss, free(alternative))
                if better:
                    current, in_use[state], last_change = trial, str(alternative), position
        # A state refined before another one changed chose beside that one's old formula: it is tried again.
        queue = queue[:max(last_change, 0)]
    seconds = lambda: time.perf_counter() - start  # noqa: E731
    if current.rss > options.adequate_rss * n:
        # The integrated system does not reproduce the trajectories: its fit cannot judge constants (an inflated
        # s² would let every term snap to 0), so the derivative-based formulas stand.
        formulas = {s: c.expression for s, c in chosen.items()}
        return Refinement(formulas, current.rss, rss_chosen, n, trials, seconds(), scale2, adequate=False,
                          window_steps=steps)
    current = snap_system(current, windows, scale2, notify, options)
    rivals = {state: [fit for text, fit in tried[state].items() if text != in_use[state]] for state in tried}
    current = rival_structures(current, rivals, windows, scale2, notify, trials, options)
    return Refinement(current.formulas, current.rss, rss_chosen, n, trials, seconds(), scale2, window_steps=steps)
