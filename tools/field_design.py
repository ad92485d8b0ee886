"""Sequential design of a field twin's runs: the next initial fields are those from which the rival PDEs part.

The field counterpart of ``tools.state_design`` (ODE twins) and ``tools.sequential`` (closed forms): one run from a
random smooth initial field; the PDE of each field discovered from the snapshots taken so far
(``tools.pde.discover_pde``); then rounds that choose the next initial fields by query-by-committee over rival
laws — the chosen law and, for each field, the law with that field's right-hand side replaced by one of its
plausible rivals (another set of terms whose cross-validated residual is within a factor of the best), each
weighted by its plausibility — integrated over the first part of the twin's time span from every initial field of
a pool. The pool holds random smooth fields of the twin's own kind with their amplitude scaled about the first
run's (a nonlinear term that the first amplitude left unresolved shows at a larger one), and the next runs start
from the pool's fields where the weighted spread of the predicted snapshots is largest. Data only: nothing here
reads a twin's ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import sympy as sp

from tools.pde import FieldData, discover_pde
from tools.pde.discover import PdeDiscovery
from tools.pde.verify import term_coefficients
from tools.sequential import Progress, RoundsDesign, committee_spread
from twin import Dataset, FieldTwin, PdeTwin, SimulationError
from twin.core import add_noise
from twin.pde import Grid, InitialState


@dataclass(frozen=True)
class FieldDesignOptions:
    """Settings of the sequential design of initial fields.

    Parameters
    ----------
    initial : int
        Runs (random initial fields) of the first design.
    growth : float
        Each round multiplies the runs taken so far by this factor (2: 1, 2, 4, 8).
    rivals : int
        Rival right-hand sides per field, each making one rival law with the other fields' chosen ones.
    plausible : float
        A term set whose cross-validated residual (relative, not squared) is within this factor of the best is a
        rival.
    pool : int
        Candidate initial fields scored per round.
    widen : float
        The pool's amplitudes are the twin's own scaled by (1 + widen)^u, u uniform on [-1, 1].
    horizon : float
        Share of the twin's time span over which the rivals are integrated and compared ...
    horizon_points : int
        ... at this many snapshots.
    method : str, optional
        ``scipy.integrate.solve_ivp`` method integrating the rivals (the PDE twin's own, or RK45, when None) ...
    evaluations : int
        ... with at most this many evaluations of a rival's right-hand side per run: a rival that needs more is
        taken as blown up (it is then as far from the others as the farthest).
    """

    initial: int = 1
    growth: float = 2.0
    rivals: int = 2
    plausible: float = 10.0
    pool: int = 8
    widen: float = 0.5
    horizon: float = 0.25
    horizon_points: int = 11
    method: str | None = None
    evaluations: int = 20_000


@dataclass
class FieldRound:
    """One round: the runs taken so far (``calls`` also counts initial fields the twin could not integrate), the
    law then chosen, how many rival laws voted on the next runs, the largest disagreement in the pool and the
    amplitude scale of each new run's initial field."""

    runs: int
    calls: int
    new_runs: int
    equation: str
    confident: bool
    rivals: int
    disagreement: float
    amplitudes: list[float]
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


class FieldRuns:
    """A field twin run from given initial fields: a PDE twin (``twin.pde.PdeTwin``) or a lattice twin's
    snapshots (``twin.fields.FieldTwin``), with its grid and its own random initial fields."""

    def __init__(self, twin: PdeTwin | FieldTwin, params: Mapping[str, float] | None = None):
        if not isinstance(twin, (PdeTwin, FieldTwin)):
            raise ValueError(f"a sequential design of initial fields runs a field twin; {twin.name!r} is {twin.kind}")
        self.twin = twin
        self.params = dict(params or {})
        if isinstance(twin, PdeTwin):
            self.grid, self.initial, self.fields = twin.grid, twin.initial, tuple(twin.fields)
        else:
            self.grid, self.initial, self.fields = twin.snapshot_grid(params), twin.snapshot_initial, ("u",)

    def draw(self, rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
        """A random smooth initial field of the twin's kind, its deviation from its mean scaled by ``scale``."""
        fields = self.initial.draw(self.fields, self.grid, rng)
        return {f: v.mean() + scale * (v - v.mean()) for f, v in fields.items()}

    def run(self, start: dict[str, np.ndarray], noise: float, noise_model: str, seed: int) -> Dataset:
        """Snapshots of one run from the initial field ``start`` (noise seeded by ``seed``); raises
        ``SimulationError`` where the twin cannot integrate it."""
        if isinstance(self.twin, FieldTwin):
            return self.twin.snapshots(1, self.params, noise, noise_model, seed, device="cpu", initial=start["u"])
        return self.twin.simulate(params=self.params, noise=noise, noise_model=noise_model, seed=seed, initial=start)

    def take(self, starts: list[dict[str, np.ndarray]], count: int, noise: float, noise_model: str,
             seed: int) -> tuple[list[Dataset], list[int], int]:
        """Runs from the first ``count`` of ``starts`` the twin can integrate (in order): the runs, which starts
        they came from, and how many starts failed (a field driven out of the equation's domain: a logistic
        growth from below zero blows up)."""
        taken, used, failed = [], [], 0
        for k, start in enumerate(starts):
            if len(taken) == count:
                break
            try:
                taken.append(self.run(start, noise, noise_model, seed + 7919 * k))
                used.append(k)
            except SimulationError:
                failed += 1
        return taken, used, failed


def merged(runs: list[Dataset]) -> Dataset:
    """Snapshot datasets on one grid as one dataset (runs stacked)."""
    first = runs[0]
    if len(runs) == 1:
        return first
    arrays = {**first.arrays, **{f: np.concatenate([d.arrays[f] for d in runs]) for f in first.output_names}}
    return Dataset(twin=first.twin, kind="snapshots", arrays=arrays, input_names=first.input_names,
                   output_names=first.output_names, units=first.units, params=first.params, noise=first.noise,
                   seed=first.seed, meta={**first.meta, "runs": sum(d.meta["runs"] for d in runs)})


@dataclass
class _BoundedPde(PdeTwin):
    """A rival law's twin whose integration gives up (``SimulationError``) after ``evaluations`` evaluations of its
    right-hand side (``used`` counts them): a rival that blows up slowly, or is far stiffer than the chosen law,
    would otherwise hold the design for minutes (scipy's solvers take no budget of their own)."""

    evaluations: int = 20_000
    used: int = 0

    def _rhs(self, params: Mapping[str, float], derivative):
        inner = super()._rhs(params, derivative)

        def rhs(t: float, state: np.ndarray) -> np.ndarray:
            self.used += 1
            if self.used > self.evaluations:
                raise SimulationError("a rival law needed more evaluations than its budget")
            return inner(t, state)

        return rhs


@dataclass
class RivalLaws:
    """Rival PDEs (a right-hand side per target field) and their plausibility weights; the chosen law first."""

    laws: list[dict[str, sp.Expr]]
    weights: np.ndarray

    @classmethod
    def of(cls, found: PdeDiscovery, options: FieldDesignOptions) -> RivalLaws:
        """The chosen law and, for each field, the laws with one of that field's ``options.rivals`` most plausible
        other term sets."""
        chosen = {f: law.rhs for f, law in found.laws.items()}
        laws, weights = [chosen], [1.0]
        for name, law in found.laws.items():
            terms = set(term_coefficients(law.rhs))
            best = min((c["validation"] for c in law.candidates), default=1.0) or 1e-12
            seen = [terms]
            for candidate, rhs in zip(law.candidates, law.candidate_rhs):
                other = set(term_coefficients(rhs))
                if candidate["validation"] > options.plausible * best or other in seen:
                    continue
                seen.append(other)
                laws.append(chosen | {name: rhs})
                weights.append(float(best / candidate["validation"]))
                if len(seen) > options.rivals:
                    break
        weights = np.minimum(np.array(weights), 1.0)
        return cls(laws, weights / weights.sum())

    def snapshots(self, runs: FieldRuns, start: dict[str, np.ndarray], order: int, t: np.ndarray,
                  method: str, evaluations: int, members: list[int]) -> np.ndarray:
        """The laws ``members`` (the chosen law, 0, first) integrated from ``start`` (released at rest if second
        order) on the times ``t``: (members, fields × times × sites); NaN for a law that cannot be integrated (it
        blew up). The chosen law gets ``evaluations`` of its right-hand side, a rival four times what the chosen
        law used (at least 2,000): one far stiffer than it on this horizon is taken as blown up."""
        grid = Grid(runs.grid.lengths, runs.grid.points, float(t[-1]), len(t))
        size = len(runs.fields) * len(t) * int(np.prod(grid.points))
        out = np.full((len(members), size), np.nan)
        budget = evaluations
        for m, law in enumerate(self.laws[i] for i in members):
            twin = _BoundedPde(name="rival_pde", description="a rival law", kind="pde", inputs=[], outputs=[],
                               fields=runs.fields, equations=law, order=order, grid=grid, initial=InitialState(),
                               method=method, velocity_of=getattr(runs.twin, "velocity_of", ""),
                               evaluations=budget)
            try:
                data = twin.simulate(initial=start)
                out[m] = np.concatenate([data.arrays[f][0].ravel() for f in runs.fields])
            except (SimulationError, ValueError):
                pass
            if m == 0:
                budget = max(4 * twin.used, 2000)
        return out

    def disagreement(self, runs: FieldRuns, starts: list[dict[str, np.ndarray]], order: int, t: np.ndarray,
                     method: str, evaluations: int) -> np.ndarray:
        """The weighted variance of the members' snapshots from each initial field of ``starts``, in units of the
        chosen law's spread over the pool, averaged over times and sites; a member that blows up where others do
        not disagrees there by the largest finite amount seen. A rival that blew up from the first two starts is
        not run from the others, and one that blew up from every start it ran from is left out: it says nothing
        about where to run."""
        if len(self.laws) < 2:
            return np.zeros(len(starts))
        paths = np.full((len(self.laws), len(starts), len(runs.fields) * len(t) * int(np.prod(runs.grid.points))),
                        np.nan)
        alive = list(range(len(self.laws)))
        for j, start in enumerate(starts):
            paths[alive, j] = self.snapshots(runs, start, order, t, method, evaluations, alive)
            if j == 1:
                alive = [m for m in alive if m == 0 or np.isfinite(paths[m, :2]).all(axis=1).any()]
        keep = [m for m in range(len(self.laws)) if m == 0 or np.isfinite(paths[m]).all(axis=1).any()]
        if len(keep) < 2:
            return np.zeros(len(starts))
        paths, weights = paths[keep], self.weights[keep] / self.weights[keep].sum()
        reference = paths[0][np.isfinite(paths[0])]
        scale = float(np.std(reference)) if reference.size else 1.0
        return committee_spread((paths / (scale or 1.0))[..., None], weights)


class FieldDesign(RoundsDesign):
    """Design a field twin's runs round by round where the rival PDEs part, discovering after each round.

    Parameters
    ----------
    budget : int
        Runs (initial fields) in all, the first design's included.
    seed : int
        Seed of every random choice (initial fields, the pool, noise).
    options : FieldDesignOptions, optional
        Settings of the rounds and the committee.
    progress : callable, optional
        Hears ``("design_round", info)`` after each round.

    Attributes
    ----------
    data_ : twin.Dataset
        Every run's snapshots, in the order taken.
    rounds_ : list of FieldRound
        What each round chose and the amplitudes of its new runs.
    discovery_ : tools.pde.discover.PdeDiscovery
        The last round's search.
    seconds_ : float
        Wall time of the whole design, searches included.
    """

    options_type = FieldDesignOptions
    runs_of = "initial fields"

    def __init__(self, budget: int = 8, seed: int = 0, options: FieldDesignOptions | None = None,
                 progress: Progress | None = None):
        super().__init__(budget, seed, options, progress)

    def run(self, twin: PdeTwin | FieldTwin, params: Mapping[str, float] | None = None, noise: float = 0.0,
            noise_model: str = "gaussian") -> FieldDesign:
        """Run the rounds on ``twin``; returns ``self`` with the fitted attributes set. Each round's noise is
        seeded apart."""
        options = self.options or FieldDesignOptions()
        runs = FieldRuns(twin, params)
        started = time.perf_counter()
        sizes = self.schedule()
        rng = np.random.default_rng(self.seed)
        batch = [runs.draw(rng) for _ in range(4 * sizes[0])]  # spares for fields the twin cannot integrate
        scales = np.ones(len(batch))
        taken: list[Dataset] = []
        rounds: list[FieldRound] = []
        calls = 0
        for r in range(len(sizes)):
            round_start = time.perf_counter()
            need = sizes[r] - len(taken)
            # the first run is the twin's own first run at this seed (its initial field and noise), so that a
            # one-shot design of the same seed shares it; later runs' noise is seeded apart
            new, used, failed = runs.take(batch, need, noise, noise_model, self.seed + 7919 * 256 * r)
            calls += len(new) + failed
            if not taken and not new:
                raise SimulationError(f"twin {twin.name!r} could not be integrated from any of its first initial "
                                      "fields")
            taken += new
            data = merged(taken)
            found = discover_pde(FieldData.from_dataset(data))
            committee = RivalLaws.of(found, options)
            spread = np.zeros(0)
            if r + 1 < len(sizes):
                pool_rng = np.random.default_rng([self.seed, 1000 + r])
                size = max(options.pool, 2 * (sizes[r + 1] - sizes[r]))
                pool_scales = (1 + options.widen) ** pool_rng.uniform(-1, 1, size)
                pool = [runs.draw(pool_rng, s) for s in pool_scales]
                t = np.linspace(0.0, options.horizon * runs.grid.t_end, options.horizon_points)
                method = options.method or getattr(twin, "method", "RK45")
                spread = committee.disagreement(runs, pool, found.order, t, method, options.evaluations)
            rounds.append(FieldRound(len(taken), calls, len(new), found.equation, found.confident,
                                     len(committee.laws) - 1, float(spread.max(initial=0.0)),
                                     [float(scales[k]) for k in used], time.perf_counter() - round_start))
            if self.progress:
                self.progress("design_round", {"round": r + 1, "of": len(sizes), "law": found.equation,
                                               **rounds[-1].as_dict()})
            if r + 1 < len(sizes):  # the pool by falling disagreement: the twin runs the first it can integrate
                order = np.argsort(-spread, kind="stable")
                batch, scales = [pool[i] for i in order], pool_scales[order]
        self._fitted(data, noise, noise_model, rounds, found, started)
        return self
