"""Sequential design for discovery: the next runs go where the rival laws disagree.

A small space-filling first design; discover; then rounds that choose new inputs by query-by-committee over the
search's own candidates: the plausible laws (within a factor of the best validation error, distinct in what they
predict) vote, each weighted by its plausibility (inverse RMS error), and the next runs go where their weighted
disagreement is largest, in a pool that reaches beyond the first box (extrapolation is where a smooth stand-in and
the law part ways), with a share of each batch kept space-filling inside the box. After each round the rivals of
the round before are checked against the new runs and those the runs refute are reported as eliminated. The
design stops when one law remains within the noise (DESIGN §7's stop rule applied to laws): the law chosen a round
before predicted the round's new runs (a test of it where its rivals disagreed, often beyond the box) and no rival
the data cannot tell from it (within the final choice's validation margin) disagrees with it anywhere in the pool.

Closed-form twins, and the observables of ODE twins (``tools.observables.ObservableRuns``: each round then chooses
the next launch coordinates and parameters): twins that can be run at any input. The search is data only:
nothing here reads a twin's ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tools.constants import evaluate, nmse
from tools.design import design
from tools.results import Candidate, Discovery
from tools.selection import margin, selection_tolerance
from tools.observables import ObservableRuns
from tools.symbolic import discover
from tools.verify import widened_bounds
from twin import Dataset, ExpressionTwin
from twin.core import add_noise

Progress = Callable[[str, dict], None]


@dataclass(frozen=True)
class SequentialOptions:
    """Settings of the sequential design.

    Parameters
    ----------
    initial : int
        Runs of the first (Sobol) design.
    growth : float
        Each round multiplies the runs taken so far by this factor (2: 25, 50, 100, 200, 400).
    search_budget : float
        Seconds of search (counted as work) per round's discovery.
    committee : int
        At most this many rival laws vote on the next runs.
    plausible : float
        Candidates whose validation error is within this factor of the best (floored at ``resolution``) are rivals.
    resolution : float
        Normalised squared differences below this cannot be told apart in double precision: the floor of every
        error and disagreement compared here.
    explore : float
        Share of each batch placed space-filling in the first box (so that a law chosen at the edges is still
        checked inside).
    widen : float
        How far the candidate pool reaches beyond the first box: a positive range [a, b] becomes
        [a·(b/a)^-w, b·(b/a)^w] (the sign kept), any other ±w of its span.
    box_first : bool
        Choose the next runs inside the first box while the chosen law does not yet explain it (validation NMSE
        above ``fits``, or (2σ)² under noise σ) or the rivals still disagree there by more than ``agree`` times its
        validation error; reach beyond it only when the box can no longer tell them apart.
    fits : float
        The validation NMSE (relative to the output's variance) below which a law explains the box.
    pool : int
        Candidate inputs scored per round.
    eliminate : float
        A rival is refuted when its error on a round's new runs exceeds this factor times the larger of its own
        validation error and the best rival's error on those runs.
    agree : float
        The stop rule's tolerance: the rivals tied with the chosen law on validation error agree with it when their
        largest disagreement over the pool is below this factor times its validation error.
    stop : bool
        Stop when one law remains; otherwise run until the budget is spent (a benchmark's fixed ladder).
    """

    initial: int = 25
    growth: float = 2.0
    search_budget: float = 10.0
    committee: int = 8
    plausible: float = 100.0
    resolution: float = 1e-12
    explore: float = 0.25
    widen: float = 0.25
    box_first: bool = True
    fits: float = 1e-3
    pool: int = 4096
    eliminate: float = 10.0
    agree: float = 4.0
    stop: bool = True


@dataclass
class Round:
    """One round: the runs taken so far (``calls`` counts those the twin could not evaluate too), the law then
    chosen, its rivals and the rivals the new runs refuted."""

    runs: int
    calls: int
    new_runs: int
    formula: str
    confident: bool
    val_nmse: float
    rivals: list[str]
    eliminated: list[dict]
    disagreement: float
    outside_box: int
    one_law_left: bool
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Committee:
    """The rival laws that vote on the next runs, with their plausibility weights."""

    members: list[Candidate]
    weights: np.ndarray

    @classmethod
    def of(cls, found: Discovery, pool: np.ndarray, names: list[str], options: SequentialOptions) -> Committee:
        """The chosen law first, then the most plausible candidates that predict something else on ``pool``."""
        floor = options.resolution
        best_error = max(min(c.val_nmse for c in found.candidates), floor)
        ranked = sorted((c for c in found.candidates if c.val_nmse <= options.plausible * best_error),
                        key=lambda c: c.val_nmse)
        members, predictions = [], []
        scale = None
        for candidate in [found.best, *ranked]:
            values = evaluate(candidate.expression, pool, names)
            if scale is None:  # the chosen law's spread on the pool sets what "the same prediction" means
                finite = values[np.isfinite(values)]
                scale = float(np.std(finite)) if finite.size else 1.0
                scale = scale if scale > 0 else 1.0
            if any(_distance(values, other, scale) < floor for other in predictions):
                continue
            members.append(candidate)
            predictions.append(values)
            if len(members) == options.committee:
                break
        errors = np.array([max(c.val_nmse, floor) for c in members])
        weights = 1.0 / np.sqrt(errors)
        return cls(members, weights / weights.sum())

    def tied(self, tolerance: float) -> Committee:
        """The members whose validation error the data cannot tell from the chosen law's: within ``tolerance``
        (relative) of the best (``tools.selection.margin``, the final choice's own margin)."""
        threshold = margin(self.members, tolerance)
        keep = [i for i, c in enumerate(self.members) if i == 0 or c.val_nmse <= threshold]
        return Committee([self.members[i] for i in keep], self.weights[keep] / self.weights[keep].sum())

    def disagreement(self, X: np.ndarray, names: list[str], scale: float) -> np.ndarray:
        """The weighted variance of the members' predictions at each row of ``X``, in units of ``scale``²;
        a member undefined at a row disagrees there by the largest finite amount seen."""
        if len(self.members) < 2:
            return np.zeros(len(X))
        values = np.stack([evaluate(c.expression, X, names) for c in self.members]) / scale
        with np.errstate(all="ignore"):
            values = np.clip(values, -1e150, 1e150)
            mean = np.nansum(self.weights[:, None] * values, axis=0) / np.sum(
                self.weights[:, None] * np.isfinite(values), axis=0)
            spread = np.sum(self.weights[:, None] * (values - mean) ** 2, axis=0)
        finite = np.isfinite(spread)
        top = float(spread[finite].max()) if finite.any() else 1.0
        return np.where(finite, spread, top)


def committee_spread(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted variance of committee members' predictions at each row: ``values`` (members, rows, times,
    components), already in comparable units; summed over components and averaged over times. A row where some
    member's prediction is not finite (it blew up) disagrees there by the largest finite amount seen."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(values)
        w = weights[:, None, None, None]
        mean = np.nansum(w * values, axis=0) / np.sum(w * finite, axis=0)
        spread = np.nanmean(np.sum(np.nansum(w * (values - mean) ** 2, axis=0), axis=-1), axis=-1)
    broken = ~finite.all(axis=(0, 2, 3)) | ~np.isfinite(spread)
    top = float(spread[~broken].max()) if (~broken).any() else 1.0
    return np.where(broken, top, spread)


def growth_schedule(initial: int, growth: float, budget: int) -> list[int]:
    """Runs taken after each round of a design: ``initial``, then ``growth`` times more (at least one) each round,
    up to ``budget``."""
    if growth <= 1:
        raise ValueError(f"growth must exceed 1, got {growth}")
    sizes = [initial]
    while sizes[-1] < budget:
        sizes.append(min(budget, max(sizes[-1] + 1, int(round(sizes[-1] * growth)))))
    return sizes


def _distance(a: np.ndarray, b: np.ndarray, scale: float) -> float:
    """Mean squared difference of two predictions in units of ``scale``² (infinite where they are not both
    defined)."""
    both = np.isfinite(a) & np.isfinite(b)
    if both.mean() < 0.99:
        return float("inf") if (np.isfinite(a) != np.isfinite(b)).any() else 0.0
    with np.errstate(all="ignore"):
        value = float(np.mean(((a[both] - b[both]) / scale) ** 2))
    return value if np.isfinite(value) else float("inf")


def next_inputs(pool: np.ndarray, spread: np.ndarray, take: int, bounds: np.ndarray, explore: float,
                seed: int) -> np.ndarray:
    """The next batch of ``take`` runs: the ``explore`` share space-filling in the first box ``bounds``, the rest
    from ``pool`` where the committee's disagreement ``spread`` is largest (with no rival left, spread over the
    pool, most of it beyond the box, where the one law left is least supported)."""
    explore = int(round(explore * take))
    parts = [design(bounds, explore, "sobol", seed)] if explore else []
    if take > explore:
        parts.append(_spread_out(pool, spread, take - explore))
    return np.vstack(parts)


def _spread_out(X: np.ndarray, scores: np.ndarray, take: int) -> np.ndarray:
    """``take`` rows of ``X`` by falling score, each at least a typical spacing away (in the pool's unit box) from
    the rows taken before, the spacing halved whenever too few rows qualify. (A greedy batch rule written here: the
    batch acquisition libraries, BoTorch's among them, assume a Gaussian-process model, which a committee of
    formulas is not.)"""
    if take >= len(X):
        return X
    order = np.argsort(-scores, kind="stable")
    low, span = X.min(axis=0), np.ptp(X, axis=0)
    U = (X - low) / np.where(span > 0, span, 1.0)
    spacing = 0.5 * take ** (-1.0 / X.shape[1])
    while True:
        picked: list[int] = []
        nearest = np.full(len(X), np.inf)  # each row's distance to the nearest row taken so far
        for i in order:
            if nearest[i] >= spacing:
                picked.append(i)
                if len(picked) == take:
                    return X[picked]
                nearest = np.minimum(nearest, np.linalg.norm(U - U[i], axis=1))
        spacing /= 2


def reachable(pool: np.ndarray, spread: np.ndarray, bounds: np.ndarray, error: float, noise: float,
              options: SequentialOptions) -> np.ndarray:
    """Which rows of ``pool`` the next runs may take: with ``box_first``, those inside the first box ``bounds``
    while the chosen law's validation ``error`` shows it does not yet explain the box (above ``fits``, or (2σ)²
    under relative noise ``noise``) or the committee's disagreement ``spread`` there exceeds the stop rule's
    tolerance (``agree`` times that error); else the whole pool. Runs beyond the box widen what the search must fit
    (more periods of a periodic input, more decades of a power), so they are spent only where the box cannot
    decide between laws that explain it."""
    everywhere = np.ones(len(pool), dtype=bool)
    if not options.box_first:
        return everywhere
    inside = ((pool >= bounds[:, 0]) & (pool <= bounds[:, 1])).all(axis=1)
    if not inside.any():
        return everywhere
    unexplained = error > max(options.fits, (2 * noise) ** 2)
    undecided = spread[inside].max() > options.agree * max(error, options.resolution)
    return inside if unexplained or undecided else everywhere


def refuted(committee: Committee, X: np.ndarray, y: np.ndarray, names: list[str],
             options: SequentialOptions) -> list[dict]:
    """The members whose error on the new runs ``(X, y)`` exceeds ``eliminate`` times the larger of their
    validation error and the best member's error there."""
    if len(y) < 2:
        return []
    errors = [nmse(evaluate(c.expression, X, names), y) for c in committee.members]
    return [{"formula": c.text, "val_nmse": c.val_nmse, "new_runs_nmse": e}
            for c, e in refuted_by(committee.members, errors, options.eliminate, options.resolution)]


def refuted_by(members: Sequence[Candidate], errors: Sequence[float], eliminate: float,
               resolution: float) -> list[tuple[Candidate, float]]:
    """The rule every design refutes by: the members (with their error on new runs, ``errors``) whose error there
    exceeds ``eliminate`` times the larger of their validation error and the best member's error there (floored at
    ``resolution``)."""
    best_new = max(min(errors), resolution)
    return [(c, e) for c, e in zip(members, errors) if e > eliminate * max(c.val_nmse, best_new)]


class RoundsDesign:
    """What the sequential designs share (closed forms here, ``tools.state_design`` for ODE twins' initial states,
    ``tools.field_design`` for field twins' initial fields): the settings they store and their schedule of rounds.

    Parameters
    ----------
    budget : int
        Runs in all, the first design's included.
    seed : int
        Seed of every random choice.
    options : dataclass, optional
        The design's settings (an ``options_type``; its defaults when None).
    progress : callable, optional
        Hears ``("design_round", info)`` after each round, and the searches' own progress (a callback that raises
        stops the design).
    """

    options_type: type = object
    #: What a design chooses, for its errors ("initial states").
    runs_of = "runs"

    def __init__(self, budget: int, seed: int = 0, options=None, progress: Progress | None = None):
        self.budget = budget
        self.seed = seed
        self.options = options
        self.progress = progress

    def least(self, options) -> int:
        """The smallest budget the design can run with."""
        return max(options.initial, 1)

    def schedule(self) -> list[int]:
        """Runs taken after each round: the first design, then growth by ``growth`` up to ``budget``."""
        options = self.options or self.options_type()
        if options.initial < 1 or self.budget < self.least(options):
            what = "" if self.runs_of == "runs" else f" of {self.runs_of}"
            raise ValueError(f"a sequential design{what} needs a budget of at least {self.least(options)} runs, "
                             f"got {self.budget}")
        return growth_schedule(options.initial, options.growth, self.budget)

    def _fitted(self, data: Dataset, noise: float, noise_model: str, rounds: list, found, started: float) -> None:
        """Set the fitted attributes: every run taken (``data``, marked as designed), the rounds, the last search,
        the wall time since ``started``."""
        self.data_ = Dataset(twin=data.twin, kind=data.kind, arrays=data.arrays, input_names=data.input_names,
                             output_names=data.output_names, units=data.units, params=data.params,
                             noise={"sigma": noise, "model": noise_model}, seed=self.seed,
                             meta={**data.meta, "design": "sequential", "rounds": len(rounds)})
        self.rounds_ = rounds
        self.discovery_ = found
        self.seconds_ = time.perf_counter() - started

    def record(self) -> dict:
        """The fitted design in JSON-ready form: twin runs made (failed ones included), why it stopped, each
        round."""
        return {"simulator_calls": self.rounds_[-1].calls, "stopped": getattr(self, "stopped_because_", "budget spent"),
                "rounds": [r.as_dict() for r in self.rounds_]}


class SequentialDesign(RoundsDesign):
    """Design a twin's runs round by round where the rival laws disagree, discovering after each round.

    Parameters
    ----------
    budget : int
        Twin runs in all (the first design's included).
    seed : int
        Seed of every random choice (designs, noise, the searches).
    options : SequentialOptions, optional
        Settings of the rounds, the committee and the stop rule.
    progress : callable, optional
        Hears ``("design_round", info)`` after each round, and the searches' own progress (a callback that raises
        stops the design).

    Attributes
    ----------
    data_ : twin.Dataset
        Every run taken, in the order taken.
    rounds_ : list of Round
        What each round chose, refuted and found.
    discovery_ : tools.results.Discovery
        The last round's search.
    stopped_because_ : str
        ``"one law left"`` or ``"budget spent"``.
    seconds_ : float
        Wall time of the whole design, searches included.
    """

    options_type = SequentialOptions

    def __init__(self, budget: int = 400, seed: int = 0, options: SequentialOptions | None = None,
                 progress: Progress | None = None):
        super().__init__(budget, seed, options, progress)

    def least(self, options: SequentialOptions) -> int:
        return max(options.initial, 10)

    def run(self, twin: ExpressionTwin | ObservableRuns, params: Mapping[str, float] | None = None, noise: float = 0.0,
            noise_model: str = "gaussian", units: Mapping[str, str] | None = None,
            target_unit: str | None = None) -> SequentialDesign:
        """Run the rounds on ``twin`` (its first output); returns ``self`` with the fitted attributes set.

        ``noise`` is σ relative to the RMS of the first design's outputs, the same for every later run (a run far
        outside the box is not made noisier by the size of its output).
        """
        if not isinstance(twin, (ExpressionTwin, ObservableRuns)):
            raise ValueError(f"a sequential design runs a closed-form twin (or an ODE twin's observable) at chosen "
                             f"inputs; {twin.name!r} is {twin.kind}")
        options = self.options or SequentialOptions()
        started = time.perf_counter()
        sizes = self.schedule()
        names = twin.input_names
        units = dict(units if units is not None else {v.name: v.unit for v in twin.inputs})
        target_unit = twin.outputs[0].unit if target_unit is None else target_unit
        bounds = twin.input_bounds()
        wide = widened_bounds(bounds, options.widen)
        rng = np.random.default_rng(self.seed)
        X = np.empty((0, len(names)))
        y = np.empty((0, 1))
        batch = design(bounds, sizes[0], "sobol", self.seed)
        rms, dropped = None, 0
        rounds: list[Round] = []
        committee: Committee | None = None
        self.stopped_because_ = "budget spent"
        for r in range(len(sizes)):
            round_start = time.perf_counter()
            taken = twin.simulate(batch, params=params, drop_invalid=True)
            dropped += taken.meta["dropped"]
            rms = np.sqrt(np.mean(taken.y ** 2, axis=0, keepdims=True)) if rms is None else rms
            new_X, new_y = taken.X, add_noise(taken.y, noise, noise_model, rng, rms=rms)[:, 0]
            X, y = np.vstack([X, new_X]), np.vstack([y, new_y[:, None]])
            eliminated = [] if committee is None else refuted(committee, new_X, new_y, names, options)
            found = discover(X, y[:, 0], names, options.search_budget, self.seed, progress=self.progress,
                             units=units, target_unit=target_unit)
            pool = design(wide, options.pool, "sobol", self.seed + 1000 + r)
            committee = Committee.of(found, pool, names, options)
            scale = float(np.std(y)) or 1.0
            spread = committee.disagreement(pool, names, scale)
            predicted = r > 0 and rounds[-1].formula not in {e["formula"] for e in eliminated}
            # rivals the data cannot tell from the chosen law (the final choice's margin, on the validation share
            # of tools.results.split) must agree with it everywhere in the pool
            tied = committee.tied(selection_tolerance(int(0.2 * len(y))))
            left = tied.disagreement(pool, names, scale).max()
            one_left = bool(predicted and left <= options.agree * max(found.best.val_nmse, options.resolution))
            outside = int(((new_X < bounds[:, 0]) | (new_X > bounds[:, 1])).any(axis=1).sum())
            rounds.append(Round(len(X), len(X) + dropped, len(new_X), found.best.text, found.confident,
                                found.best.val_nmse, [c.text for c in committee.members[1:]], eliminated,
                                float(spread.max()), outside, one_left, time.perf_counter() - round_start))
            if self.progress:
                self.progress("design_round", {"round": r + 1, "of": len(sizes), "law": found.best.text,
                                               **rounds[-1].as_dict()})
            if one_left and options.stop:
                self.stopped_because_ = "one law left"
                break
            if r + 1 < len(sizes):
                reach = reachable(pool, spread, bounds, found.best.val_nmse, noise, options)
                batch = next_inputs(pool[reach], spread[reach], max(1, sizes[r + 1] - len(X) - dropped), bounds,
                                    options.explore, self.seed + 2000 + r)
        data = Dataset(twin=twin.name, kind=taken.kind, arrays={"X": X, "y": y}, input_names=names,
                       output_names=twin.output_names[:1], units={v.name: v.unit for v in twin.inputs + twin.outputs},
                       params=twin.resolve_params(params), seed=self.seed, meta={**taken.meta, "dropped": dropped})
        self._fitted(data, noise, noise_model, rounds, found, started)
        return self
