"""Settings of the trajectory refit (tools.trajectory_refit), each with the measurement behind its default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RefitOptions:
    """Settings of the trajectory refit. The work is bounded by counts, not by the clock, so that a replay makes
    the same choices.

    Parameters
    ----------
    window_steps : int
        Integration steps per shooting window, at most: long enough for the dynamics to show, short enough that
        chaotic or stiff systems do not wander off (0.5 time units on the benchmark grids).
    window_time_scales : float
        A window spans at most this many time scales of the fastest state, std(x)/rms(x′) ...
    min_window_steps : int
        ... and at least this many steps (over 12 steps a constant right-hand side fitted the logistic law's
        trajectories to 1.1σ² per value, measured at σ = 1 %: too short a window cannot tell structures apart).
    max_evaluations : int
        Least-squares evaluations per system fit (per constant and start state).
    blow_up_residual : float
        Residual of a window that leaves the finite numbers, in units of σ.
    candidates_per_component : int
        Front candidates per component compared with the chosen one (the nearest in complexity).
    candidate_nmse_factor : float
        Only candidates whose derivative fit is within this factor of the best on the front are worth integrating.
    polynomial_candidates : int
        Sparse polynomial right-hand sides per component compared as well (the sizes whose derivative fit comes
        within ``polynomial_rss_factor`` of the fullest one's, smallest first), of at most ``polynomial_terms``
        monomials.
    polynomial_rss_factor : float
        Wide because the derivatives are biased: on ODEBench at σ = 1 % a cubic fitted the derivatives of the linear
        law 0.32 − 0.6x with 1.5× less residual than the line.
    integral_rss_factor : float
        The same for the integral form, whose residual is mostly the observation noise: a size that misses a term
        shows as a small relative excess only.
    front_terms : int
        Distinct terms of a state's front formulas in the library that recombines them.
    shared_terms : int
        Distinct terms of the other states' current formulas added to that library.
    rational_candidates : int
        Rational candidates per state, among the denominators whose fit comes within ``rational_rss_spread`` of
        the best.
    rational_rss_spread : float
    polynomial_terms : int
    sweeps : int
        Sweeps over the states: a state is tried again when a state after it changed. On ODEBench 26 at σ = 1 %,
        with the derivative search's wrong x₀′ still in place, x₁′ = x₁(2 − x₀ − x₁) lost to a five-term polynomial
        that made up for it; x₀′ became the law right after.
    snap_refits : int
        Snap refits per system.
    rivals_per_state : int
        Rival right-hand sides per state compared with the chosen one after both are snapped.
    rival_extra_nodes : int
        How much larger (expression nodes) than the chosen formula a rival may be: one more constant term.
    reuse_cost : float
        Prior cost (in units of z²/2) of a snap to a value the system already holds: naming it again costs little.
    structure_tie : float
        Description lengths closer than this (RSS in σ² with the same constants and priors: under 2σ² over every
        observation) do not tell two snapped right-hand sides apart; the one of fewer nodes wins.
    adequate_rss : float
        Above this RSS/σ² per observation the refitted system does not reproduce the trajectories and is not used.
    """

    window_steps: int = 50
    window_time_scales: float = 6.0
    min_window_steps: int = 20
    max_evaluations: int = 40
    blow_up_residual: float = 1e3
    candidates_per_component: int = 5
    candidate_nmse_factor: float = 4.0
    polynomial_candidates: int = 3
    polynomial_rss_factor: float = 3.0
    integral_rss_factor: float = 1.1
    front_terms: int = 24
    shared_terms: int = 8
    rational_candidates: int = 2
    rational_rss_spread: float = 1.2
    polynomial_terms: int = 6
    sweeps: int = 2
    snap_refits: int = 30
    rivals_per_state: int = 2
    rival_extra_nodes: int = 2
    reuse_cost: float = 1.0
    structure_tie: float = 2.0
    adequate_rss: float = 1.5


DEFAULT = RefitOptions()
