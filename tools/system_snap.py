"""Snapping a refitted system's constants to simple values where the information criterion allows, and rival
right-hand sides snapped as well, compared by description length."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from tools.constants import nice_values, parameterise
from tools.refit_options import DEFAULT, RefitOptions
from tools.shooting import SystemFit, Windows, prior_cost, try_fit
from twin.expressions import count_nodes


def rival_structures(current: SystemFit, rivals: Mapping[str, Sequence[tuple[float, sp.Expr]]], windows: Windows,
                      scale2: float, notify: Callable[[str, dict], None], trials: list[dict],
                      options: RefitOptions = DEFAULT) -> SystemFit:
    """Compare the snapped system with rival right-hand sides snapped as well, by description length.

    BIC with fitted floats cannot tell two structures that fit equally well apart, but snapping can: on ODEBench
    26 at σ = 1 %, −x₀x₁ − 0.2x₁³ + 0.37x₁ + 0.86 fitted the trajectories as well as the law x₁(2 − x₀ − x₁)
    with the same number of constants, was chosen first, and snapped to 1/5, 7/20, 9/10 where the law snaps to
    integers. A rival can only win if its RSS alone (every constant snapped at no cost) is below the snapped
    system's score, and it may not be larger than the chosen formula by more than ``options.rival_extra_nodes`` (the
    description length counts constants, not structure: on ODEBench 6 a 20-node exp-of-sine step function with
    one free constant beat the law 21x/10 − x²/2 by it). Of those, the ``options.rivals_per_state`` of least BIC (their RSS
    and own constants) per state are refitted in the snapped system, snapped, and replace the state's formula
    where their description length is lower, or within ``options.structure_tie`` where they are smaller: on ODEBench 54 at
    σ = 1 %, 5.1(x₁ − x₀) − 5.1/x₂⁴ (the term's constant tied to the law's, so BIC charged nothing for it) fitted
    the trajectories 1.3σ² better than the law, by chance. ``rivals``: per state, the right-hand sides tried and
    not chosen, with the RSS of the system they were fitted in.
    """
    n = windows.n_observations
    for state in current.formulas:
        score, nodes = current.description(scale2, n), count_nodes(current.formulas[state])
        hopeful = sorted((fit for fit in rivals[state] if count_nodes(fit[1]) <= nodes + options.rival_extra_nodes and
                          fit[0] / scale2 < score + (count_nodes(fit[1]) < nodes) * options.structure_tie),
                         key=lambda fit: fit[0] / scale2 + len(parameterise(fit[1])[1]) * np.log(n))
        for _, expr in hopeful[:options.rivals_per_state]:
            notify("trajectory_refit", {"state": state, "rival": str(expr)})
            fitted = try_fit({**current.formulas, state: expr}, windows, options)
            if fitted is None:
                continue
            fitted.priors = {s: p for s, p in current.priors.items() if s != state}
            rival = snap_system(fitted, windows, scale2, notify, options)
            smaller = count_nodes(rival.formulas[state]) < count_nodes(current.formulas[state])
            better = bool(rival.description(scale2, n) < current.description(scale2, n) + smaller * options.structure_tie)
            trials.append({"state": state, "formula": str(expr), "rss": rival.rss, "constants": rival.n_constants,
                           "rival": True, "snapped": str(rival.formulas[state]), "accepted": better})
            if better:
                current = rival
    return current


def _roundings(value: float) -> set[sp.Rational]:
    """``value`` rounded to one and two significant digits, as exact rationals."""
    if value == 0 or not np.isfinite(value):
        return set()
    exponent = int(np.floor(np.log10(abs(value))))
    return {sp.Rational(round(value / 10.0**(exponent - d))) * sp.Rational(10) ** (exponent - d) for d in (0, 1)}


def snap_system(current: SystemFit, windows: Windows, scale2: float, notify: Callable[[str, dict], None],
                options: RefitOptions = DEFAULT) -> SystemFit:
    """Greedy snapping: each constant may become 0 (dropping its term), one of its three nearest simple values,
    its roundings to one and two significant digits (0.0749 → 0.07, 3/40; safe here: trajectory fits pin
    constants far tighter than the derivative fits that tools.constants.snap works with), or a value already
    snapped elsewhere in the system, at a low prior cost. Across all constants, the option of least
    prior cost + z²/2 (z: distance in standard errors) is tried first; it is kept when the refit lowers
    BIC by more than twice its prior cost (the description-length view: a snapped constant saves ln(n)/2 and
    costs its prior and its misfit). A constant no simple value fits stays a fitted float.

    Measured on ODEBench at σ = 1 %: accepting any snap that lowers BIC let 0.886 become 8/9 3.6 standard errors
    away; offering 3-digit roundings instead kept 0.886 but turned −1 into −0.997 where the fit was 3 standard
    errors off (Lotka–Volterra-type ODEBench 26).

    Correlated constants make the order matter: logistic growth fitted as 2.07x − 0.493x², each ± 1 %,
    must snap 0.493 → 1/2 first, after which only 21/10 fits the other; snapping the nearer 207/100 first
    would leave 0.493 pinned where no simple value fits. Options beyond √(2·ln n) standard errors are not
    integrated: BIC rejects a snap that costs more than ln n in RSS/s², i.e. beyond √(ln n) standard errors,
    and the margin covers the refit of the others.
    """
    n = windows.n_observations
    reach = np.sqrt(2 * np.log(n))
    failed: set[tuple[str, sp.Expr]] = set()
    trials = 0
    while trials < options.snap_refits:
        offers = []
        reusable = {abs(r) for e in current.formulas.values() for r in e.atoms(sp.Rational) if not r.is_Integer}
        # A fitted constant that sympy folded into another on substitution is written nowhere and cannot be snapped.
        written = {f for e in current.formulas.values() for f in e.atoms(sp.Float)}
        for constant, error in ((c, e) for c, e in current.stderr.items() if c in written):
            value = float(constant)
            reused = {r if value > 0 else -r for r in reusable}
            for option in {sp.Integer(0), *nice_values(value)[:3], *_roundings(value), *reused}:
                z = abs(float(option) - value) / max(error, 1e-300)
                if z <= reach and (f"{value:.3g}", option) not in failed:
                    prior = min(options.reuse_cost, prior_cost(option)) if option in reused else prior_cost(option)
                    offers.append((prior + z**2 / 2, str(option), constant, option, prior))
        for *_, constant, option, prior in sorted(offers, key=lambda o: o[:2]):
            if trials >= options.snap_refits:
                break
            notify("trajectory_refit", {"snap": str(constant), "to": str(option)})
            trial, trials = try_fit({s: e.xreplace({constant: option}) for s, e in current.formulas.items()},
                                     windows, options), trials + 1
            if trial is not None and trial.bic(scale2, n) + 2 * prior < current.bic(scale2, n):
                owner = next(s for s, e in current.formulas.items() if e.has(constant))
                trial.priors = {**current.priors, owner: current.priors.get(owner, 0.0) + prior}
                current = trial
                break
            failed.add((f"{float(constant):.3g}", option))
        else:
            break
    return current
