"""Sequential design of an ODE twin's initial states: the next runs start where the rival systems part.

The ODE counterpart of ``tools.sequential`` (closed-form twins): a few Sobol initial states; each state's derivative
discovered from the trajectories (``tools.system.discover_derivatives``); then rounds that choose the next initial
states by query-by-committee over rival systems — the chosen system and, for each state, the system with that
state's formula replaced by one of its plausible rivals (within a factor of the best validation error, distinct in
what they predict), each weighted by its plausibility — integrated from every initial state of a Sobol pool that
reaches beyond the first box. The next runs start where the weighted spread of the predicted trajectories is
largest (two vector fields that agree on the states seen so far part along the trajectories from states not seen),
with a share of each batch kept space-filling in the first box. Data only: nothing here reads a twin's ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import sympy as sp

from tools.arms import DEFAULT_ARMS
from tools.constants import evaluate, nmse
from tools.derived import derivative_table
from tools.design import design
from tools.results import Candidate, Discovery
from tools.sequential import Progress, RoundsDesign, committee_spread, next_inputs, refuted_by
from tools.system import discover_derivatives
from tools.verify import widened_bounds
from twin import Dataset, OdeTwin, SimulationError, compile_expression


@dataclass(frozen=True)
class StateDesignOptions:
    """Settings of the sequential design of initial states.

    Parameters
    ----------
    initial : int
        Initial states of the first (Sobol) design.
    growth : float
        Each round multiplies the runs taken so far by this factor (2: 4, 8, 16, 32).
    search_budget : float
        Seconds of search (counted as work) per state and round ...
    arms : tuple of str, optional
        ... by these arms (``tools.arms``; the default arms when None).
    rows : int
        Rows of the derivative table searched (a seeded choice), as the ODE benchmarks search.
    rivals : int
        Rival formulas per state, each making one rival system with the other states' chosen formulas.
    plausible : float
        A candidate within this factor of its state's best validation error (floored at ``resolution``) is a rival.
    pool : int
        Candidate initial states scored per round.
    widen : float
        How far the pool reaches beyond the first box (``tools.verify.widened_bounds``).
    explore : float
        Share of each batch placed space-filling in the first box.
    horizon_points : int
        Points of the twin's time span at which the rival systems' trajectories are compared ...
    substeps : int
        ... each interval integrated in this many classical Runge–Kutta steps.
    resolution : float
        Normalised squared differences below this cannot be told apart: the floor of every error and distance.
    eliminate : float
        A formula of the round before is refuted when its error on the new runs' derivatives exceeds this factor
        times the larger of its validation error and its state's best formula's error there.
    agree : float
        The stop rule's tolerance: the committee's largest disagreement over the pool (``RivalSystems.disagreement``)
        at or below which no rival system is left.
    stop : bool
        Stop when one system is left: the search chose the same system as a round before, none of its formulas was
        refuted by the new runs, and its rivals agree with it over the whole pool within ``agree``.
    """

    initial: int = 4
    growth: float = 2.0
    search_budget: float = 10.0
    arms: tuple[str, ...] | None = None
    rows: int = 2000
    rivals: int = 2
    plausible: float = 100.0
    pool: int = 128
    widen: float = 0.25
    explore: float = 0.25
    horizon_points: int = 50
    substeps: int = 4
    resolution: float = 1e-12
    eliminate: float = 10.0
    agree: float = 1e-6
    stop: bool = True


@dataclass
class StateRound:
    """One round: the runs taken so far (``calls`` also counts the runs the twin could not integrate), the system
    then chosen, how many rival systems voted on the next runs, the largest disagreement in the pool, how many of
    the new runs started outside the first box, the formulas of the round before that the new runs refuted
    (``eliminated``: ``dx/dt = …``, its validation error and its error on the new runs), and whether one system was
    left (the stop rule, ``StateDesignOptions.stop``)."""

    runs: int
    calls: int
    new_runs: int
    formulas: dict[str, str]
    rivals: int
    disagreement: float
    outside_box: int
    seconds: float
    eliminated: list[dict]
    one_system_left: bool

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RivalSystems:
    """Rival ODE systems (a formula per state) and their plausibility weights; the chosen system first."""

    systems: list[dict[str, sp.Expr]]
    weights: np.ndarray
    #: Every formula that voted, by state: the chosen one first, then its rivals.
    members: dict[str, list[Candidate]] = field(default_factory=dict)

    @classmethod
    def of(cls, found: Mapping[str, Discovery], X: np.ndarray, names: list[str],
           options: StateDesignOptions) -> RivalSystems:
        """The chosen system and, for each state, the system with one of that state's ``options.rivals`` most
        plausible rival formulas (distinct from the chosen one and each other on the table's states ``X``)."""
        chosen = {state: found[state].best.expression for state in names}
        systems, weights = [chosen], [1.0]
        members = {state: [found[state].best] for state in names}
        with np.errstate(all="ignore"):  # a rival may reach 1e200 on a state: it is then simply distinct
            for state in names:
                cls._add_rivals(found[state], state, chosen, X, names, options, systems, weights, members[state])
        weights = np.minimum(np.array(weights), 1.0)
        return cls(systems, weights / weights.sum(), members)

    @staticmethod
    def _add_rivals(found: Discovery, state: str, chosen: dict[str, sp.Expr], X: np.ndarray, names: list[str],
                    options: StateDesignOptions, systems: list[dict[str, sp.Expr]], weights: list[float],
                    members: list[Candidate]) -> None:
        """Append the systems with one of ``state``'s rival formulas (see ``of``) to ``systems`` and ``weights``,
        and the formulas to ``members``."""
        floor = options.resolution
        best = found.best
        values = [evaluate(best.expression, X, names)]
        scale = float(np.std(values[0])) or 1.0
        best_error = max(min(c.val_nmse for c in found.candidates), floor)
        ranked = sorted((c for c in found.candidates if c.val_nmse <= options.plausible * best_error),
                        key=lambda c: c.val_nmse)
        taken = 0
        for candidate in ranked:
            predicted = evaluate(candidate.expression, X, names)
            if not np.isfinite(predicted).all() or any(np.mean(((predicted - v) / scale) ** 2) < floor for v in values):
                continue
            values.append(predicted)
            members.append(candidate)
            systems.append(chosen | {state: candidate.expression})
            weights.append(float(np.sqrt(max(best.val_nmse, floor) / max(candidate.val_nmse, floor))))
            taken += 1
            if taken == options.rivals:
                break

    def refuted(self, table: Dataset, options: StateDesignOptions) -> list[dict]:
        """The formulas the derivative ``table`` of new runs refutes, state by state (``tools.sequential.refuted_by``:
        an error there above ``options.eliminate`` times the larger of their validation error and their state's best
        formula's error there)."""
        out = []
        with np.errstate(all="ignore"):
            for column, state in enumerate(table.input_names):
                members = self.members.get(state, [])
                errors = [nmse(evaluate(c.expression, table.X, table.input_names), table.y[:, column])
                          for c in members]
                out += [{"formula": f"d{state}/dt = {c.text}", "val_nmse": c.val_nmse, "new_runs_nmse": e}
                        for c, e in (refuted_by(members, errors, options.eliminate, options.resolution)
                                     if members else [])]
        return out

    def trajectories(self, x0: np.ndarray, t: np.ndarray, names: list[str], substeps: int) -> np.ndarray:
        """Each system integrated from every row of ``x0`` (B, S) on the grid ``t``: (members, B, T, S); a
        trajectory that leaves the finite numbers is NaN from there on. (Fixed-step classical Runge–Kutta over
        the whole pool at once, written here: scipy's solvers take one initial state at a time, and a rival's
        trajectories need only be compared, not resolved to the solver's tolerance.)"""
        out = np.full((len(self.systems), len(x0), len(t), len(names)), np.nan)
        for m, system in enumerate(self.systems):
            evaluators = [compile_expression(system[state]) for state in names]  # once, not at every step

            def rhs(x: np.ndarray) -> np.ndarray:
                values = {name: x[:, i] for i, name in enumerate(names)}
                return np.column_stack([np.broadcast_to(np.asarray(f(values), dtype=float), (len(x),))
                                        for f in evaluators])

            x = np.asarray(x0, dtype=float).copy()
            out[m, :, 0] = x
            with np.errstate(all="ignore"):
                for k in range(1, len(t)):
                    h = (t[k] - t[k - 1]) / substeps
                    for _ in range(substeps):
                        k1 = rhs(x)
                        k2 = rhs(x + h / 2 * k1)
                        k3 = rhs(x + h / 2 * k2)
                        k4 = rhs(x + h * k3)
                        x = np.clip(x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), -1e150, 1e150)
                    out[m, :, k] = x
        return out

    def disagreement(self, x0: np.ndarray, t: np.ndarray, names: list[str], substeps: int) -> np.ndarray:
        """The weighted variance of the members' trajectories from each row of ``x0``, each state in units of the
        chosen system's spread over the pool, averaged over time; a member that blows up where the others do not
        disagrees there by the largest finite amount seen."""
        if len(self.systems) < 2:
            return np.zeros(len(x0))
        paths = self.trajectories(x0, t, names, substeps)
        with np.errstate(all="ignore"):
            scale = np.nanstd(paths[0], axis=(0, 1))
        return committee_spread(paths / np.where(np.isfinite(scale) & (scale > 0), scale, 1.0), self.weights)


class StateDesign(RoundsDesign):
    """Design an ODE twin's initial states round by round where the rival systems part, discovering after each.

    Parameters
    ----------
    budget : int
        Runs (initial states) in all, the first design's included.
    seed : int
        Seed of every random choice (designs, noise, rows, the searches).
    options : StateDesignOptions, optional
        Settings of the rounds and the committee.
    progress : callable, optional
        Hears ``("design_round", info)`` after each round, and the searches' own progress (a callback that raises
        stops the design).

    Attributes
    ----------
    data_ : twin.Dataset
        Every trajectory taken, in the order taken (``x0`` holds the initial states).
    rounds_ : list of StateRound
        What each round chose and where its new runs started.
    discovery_ : dict of str to tools.results.Discovery
        The last round's search, by state.
    stopped_because_ : str
        ``"one system left"`` or ``"budget spent"``.
    seconds_ : float
        Wall time of the whole design, searches included.
    """

    options_type = StateDesignOptions
    runs_of = "initial states"

    def __init__(self, budget: int = 32, seed: int = 0, options: StateDesignOptions | None = None,
                 progress: Progress | None = None):
        super().__init__(budget, seed, options, progress)

    def run(self, twin: OdeTwin, params: Mapping[str, float] | None = None, noise: float = 0.0,
            noise_model: str = "gaussian", n_steps: int | None = None) -> StateDesign:
        """Run the rounds on ``twin``; returns ``self`` with the fitted attributes set. Each round's noise is
        seeded apart (``seed + round``)."""
        if not isinstance(twin, OdeTwin):
            raise ValueError(f"a sequential design of initial states runs an ODE twin; {twin.name!r} is {twin.kind}")
        options = self.options or StateDesignOptions()
        started = time.perf_counter()
        sizes = self.schedule()
        names = twin.state_names
        bounds = twin.input_bounds()
        wide = widened_bounds(bounds, options.widen)
        rng = np.random.default_rng(self.seed)
        batch = design(bounds, sizes[0], "sobol", self.seed)
        runs: list[Dataset] = []
        calls = 0
        rounds: list[StateRound] = []
        committee: RivalSystems | None = None
        self.stopped_because_ = "budget spent"
        for r in range(len(sizes)):
            round_start = time.perf_counter()
            calls += len(batch)
            new_runs = _simulate(twin, batch, params, noise, noise_model, self.seed + r, n_steps)
            runs += new_runs
            if not runs:
                raise SimulationError(f"twin {twin.name!r} could not be integrated from any of the first initial "
                                      "states")
            eliminated = committee.refuted(derivative_table(_merged(new_runs)), options) if (
                committee and new_runs) else []
            data = _merged(runs)
            table = derivative_table(data)
            rows = rng.permutation(table.n_samples)[: options.rows]
            found = discover_derivatives(table, options.search_budget, self.seed, options.arms or DEFAULT_ARMS,
                                         progress=self.progress, rows=rows)
            committee = RivalSystems.of(found, table.X[rows], names, options)
            pool = design(wide, options.pool, "sobol", self.seed + 1000 + r)
            horizon = np.linspace(0.0, float(data.arrays["t"][-1]), options.horizon_points + 1)
            spread = committee.disagreement(pool, horizon, names, options.substeps)
            outside = int(((batch < bounds[:, 0]) | (batch > bounds[:, 1])).any(axis=1).sum())
            formulas = {s: found[s].best.text for s in names}
            refuted_texts = {e["formula"] for e in eliminated}
            one_left = bool(rounds and rounds[-1].formulas == formulas
                            and not any(f"d{s}/dt = {f}" in refuted_texts for s, f in formulas.items())
                            and spread.max(initial=0.0) <= options.agree)
            rounds.append(StateRound(data.n_samples, calls, len(batch), formulas, len(committee.systems) - 1,
                                     float(spread.max(initial=0.0)), outside, time.perf_counter() - round_start,
                                     eliminated, one_left))
            if self.progress:
                law = "; ".join(f"d{s}/dt = {f}" for s, f in rounds[-1].formulas.items())
                self.progress("design_round", {"round": r + 1, "of": len(sizes), "law": law, **rounds[-1].as_dict()})
            if one_left and options.stop:
                self.stopped_because_ = "one system left"
                break
            if r + 1 < len(sizes):
                batch = next_inputs(pool, spread, max(1, sizes[r + 1] - calls), bounds, options.explore,
                                    self.seed + 2000 + r)
        self._fitted(data, noise, noise_model, rounds, found, started)
        return self


def _simulate(twin: OdeTwin, x0: np.ndarray, params: Mapping[str, float] | None, noise: float, noise_model: str,
              seed: int, n_steps: int | None) -> list[Dataset]:
    """The twin's trajectories from the rows of ``x0``, each on its own where the batch diverges (a run the twin
    cannot integrate is dropped; the design counts it as a call)."""
    def one(rows: np.ndarray, k: int) -> Dataset:
        return twin.simulate(rows, params=params, noise=noise, noise_model=noise_model, seed=seed * 4096 + k,
                             n_steps=n_steps, device="cpu")

    try:
        return [one(x0, 0)]
    except SimulationError:
        taken = []
        for k, row in enumerate(x0):
            try:
                taken.append(one(row[None, :], k + 1))
            except SimulationError:
                continue
        return taken


def _merged(runs: list[Dataset]) -> Dataset:
    """Trajectories of several simulations on one time grid as one dataset."""
    first = runs[0]
    arrays = {"t": first.arrays["t"], "states": np.concatenate([d.arrays["states"] for d in runs]),
              "x0": np.concatenate([d.arrays["x0"] for d in runs])}
    return Dataset(twin=first.twin, kind="ode", arrays=arrays, input_names=first.input_names,
                   output_names=first.output_names, units=first.units, params=first.params, noise=first.noise,
                   seed=first.seed, meta=first.meta)
