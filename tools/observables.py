"""Observables of simulated motions: a pendulum's period, a projectile's range, a decay time, measured from each
run of an ODE twin, so that the law of the observable (not the equations of motion) can be discovered.

Each observable reads one trajectory through a cubic spline of its states (scipy's ``CubicSpline`` and its
``roots``), so events between grid points are located to the spline's accuracy rather than the grid's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.interpolate import CubicSpline

from tools.design import design
from twin.core import SimulationError, Variable
from twin.dataset import Dataset
from twin.ode import OdeTwin

#: One trajectory's times (T,) and states (T, S) with the state names -> the observable, or NaN when the run does
#: not show it (no second maximum, the projectile never came down).
Measure = Callable[[np.ndarray, np.ndarray, list[str]], float]


def _maxima(t: np.ndarray, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of the interior maxima of a sampled series."""
    spline = CubicSpline(t, series)
    slope = spline.derivative()
    turns = slope.roots(extrapolate=False)
    turns = turns[(turns > t[0]) & (turns < t[-1])]
    peaks = turns[slope.derivative()(turns) < 0]
    return peaks, spline(peaks)


def period(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """Time between the first two maxima of the first state (its displacement)."""
    peaks, _ = _maxima(t, states[:, 0])
    return float(peaks[1] - peaks[0]) if len(peaks) >= 2 else np.nan


def frequency(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """Cycles per unit time: one over the period."""
    return 1.0 / period(t, states, names)


def decay_time(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """The e-folding time of the first state's envelope: a straight line through the logarithms of its maxima
    (at least three), τ = −1/slope; NaN when the maxima do not fall."""
    peaks, heights = _maxima(t, states[:, 0])
    if len(peaks) < 3 or np.any(heights <= 0):
        return np.nan
    slope = np.polyfit(peaks, np.log(heights), 1)[0]
    return float(-1.0 / slope) if slope < 0 else np.nan


def _landing(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """The time the height state ``y`` first comes back down through its starting value (a projectile lands)."""
    height = CubicSpline(t, states[:, names.index("y")] - states[0, names.index("y")])
    crossings = height.roots(extrapolate=False)
    falling = crossings[(crossings > t[1]) & (height.derivative()(crossings) < 0)]
    return float(falling[0]) if len(falling) else np.nan


def flight_time(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """Time from launch to landing at the launch height."""
    return _landing(t, states, names)


def horizontal_range(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """Horizontal distance ``x`` covered from launch to landing at the launch height."""
    landed = _landing(t, states, names)
    if np.isnan(landed):
        return np.nan
    x = states[:, names.index("x")]
    return float(CubicSpline(t, x)(landed) - x[0])


def max_height(t: np.ndarray, states: np.ndarray, names: list[str]) -> float:
    """Highest point of ``y`` above its start, before landing."""
    landed = _landing(t, states, names)
    if np.isnan(landed):
        return np.nan
    peaks, heights = _maxima(t, states[:, names.index("y")] - states[0, names.index("y")])
    return float(heights[peaks < landed].max()) if np.any(peaks < landed) else np.nan


@dataclass(frozen=True)
class Observable:
    """A quantity measured from each run: its function and its unit, as a power of seconds or as the unit of the
    state it is read from."""

    measure: Measure
    description: str
    unit: str
    needs: tuple[str, ...] = ()  # the states it is read from by name (a landing needs a height y)


OBSERVABLES: dict[str, Observable] = {
    "period": Observable(period, "time between successive maxima of the displacement", "s"),
    "frequency": Observable(frequency, "cycles per second (one over the period)", "1/s"),
    "decay_time": Observable(decay_time, "e-folding time of the oscillation's envelope", "s"),
    "range": Observable(horizontal_range, "horizontal distance to landing at the launch height", "state x",
                        ("x", "y")),
    "flight_time": Observable(flight_time, "time from launch to landing at the launch height", "s", ("y",)),
    "max_height": Observable(max_height, "highest point above the launch height", "state y", ("y",)),
}

OBSERVABLE_NAMES = tuple(OBSERVABLES)


@dataclass(frozen=True)
class ObservableOptions:
    """How an observable's runs are designed: ``runs`` Sobol points over the chosen inputs; runs that do not show
    the observable in the twin's time span are run again over spans up to ``max_extensions`` doublings longer, and
    every run again with its step halved (up to ``max_refinements`` times) until the value changes by less than
    ``tolerance`` (relative); a parameter with no declared range varies ``spread`` times either side of its
    default."""

    runs: int = 64
    max_extensions: int = 4
    max_refinements: int = 4
    tolerance: float = 1e-5
    spread: float = 2.0
    min_runs: int = 8


def _unit(twin: OdeTwin, observable: str) -> str:
    """The observable's unit; none for a twin whose states carry no units (its time unit is not known)."""
    unit = OBSERVABLES[observable].unit
    if unit.startswith("state "):
        return next((v.unit for v in twin.inputs if v.name == unit.removeprefix("state ")), "")
    return unit if any(v.unit for v in twin.inputs) else ""


def observable_inputs(twin: OdeTwin, names: list[str] | None, spread: float = 2.0) -> list[tuple[Variable, str]]:
    """The inputs an observable is measured over, each as a variable with its range and its role ('parameter',
    'launch' or 'state'). Without names: the twin's launch coordinates and its parameters with a declared range
    (a pendulum's amplitude, length and damping), else its states whose range is not a point."""
    launch = {v.name: v for v in twin.launch_inputs}
    states = {v.name: v for v in twin.inputs}
    parameters = {}
    for p in twin.parameters:
        low, high = (p.low, p.high) if p.low is not None and p.high is not None else sorted(
            (p.default / spread, p.default * spread))
        parameters[p.name] = Variable(p.name, p.unit, low, high, p.description)
    if names is None:
        ranged = [(parameters[p.name], "parameter") for p in twin.parameters if p.low is not None]
        chosen = [(v, "launch") for v in launch.values()] + ranged
        return chosen or [(v, "state") for v in twin.inputs if v.high > v.low]
    chosen = []
    for name in names:
        if name in parameters:
            chosen.append((parameters[name], "parameter"))
        elif name in launch:
            chosen.append((launch[name], "launch"))
        elif name in states and states[name].high > states[name].low:
            chosen.append((states[name], "state"))
        else:
            known = [*launch, *parameters, *(n for n, v in states.items() if v.high > v.low)]
            raise ValueError(f"twin {twin.name!r} cannot vary {name!r}; it can vary {known}")
    if len({v.name for v, _ in chosen}) != len(chosen):
        raise ValueError(f"each input once, got {names}")
    return chosen


def measure_observable(twin: OdeTwin, observable: str, inputs: list[str] | None = None,
                       options: ObservableOptions = ObservableOptions(), seed: int = 0,
                       params: Mapping[str, float] | None = None, device: str = "auto",
                       points: np.ndarray | None = None) -> Dataset:
    """Run ``twin`` over a Sobol design of ``inputs`` and measure ``observable`` from each run.

    Parameters
    ----------
    twin : OdeTwin
        The simulated system.
    observable : str
        A key of :data:`OBSERVABLES`.
    inputs : list of str, optional
        Parameters, launch coordinates or states to vary (default: :func:`observable_inputs`).
    options : ObservableOptions
        Runs, time-span extensions, spread of unranged parameters.
    seed : int
        Seed of the design.
    params : mapping, optional
        Values for the parameters that are held fixed.
    points : array (n, len(inputs)), optional
        The runs' inputs, in place of the Sobol design (verification runs them outside the design's box).

    Returns
    -------
    Dataset
        A table (kind ``"observable"``) of the inputs and the observable, one row per run that showed it; how
        many did not, and the inputs' roles and ranges, are in ``meta``.
    """
    if observable not in OBSERVABLES:
        raise ValueError(f"unknown observable {observable!r}: use one of {sorted(OBSERVABLES)}")
    missing = [n for n in OBSERVABLES[observable].needs if n not in twin.state_names]
    if missing:
        raise ValueError(f"a {observable.replace('_', ' ')} needs states named {missing} (a height state named "
                         f"'y'); {twin.name!r} has {twin.state_names}")
    chosen = observable_inputs(twin, inputs, options.spread)
    varied = {v.name for v, _ in chosen}
    held = {k: v for k, v in (params or {}).items() if k not in varied}
    twin.resolve_params(held)  # unknown names fail here, before any run
    bounds = np.array([[v.low, v.high] for v, _ in chosen])
    X = design(bounds, options.runs, "sobol", seed) if points is None else np.asarray(points, dtype=float)
    by_role = {role: {v.name: X[:, j] for j, (v, r) in enumerate(chosen) if r == role}
               for role in ("parameter", "launch", "state")}
    x0 = twin.initial_states({**by_role["launch"], **by_role["state"]}, len(X))
    run_params = {**held, **by_role["parameter"]}
    measure = OBSERVABLES[observable].measure

    def run(rows: np.ndarray, longer: int, finer: int) -> np.ndarray:
        """The observable of runs ``rows`` over a span 2**longer times the twin's, 2**finer times more finely."""
        sub = {k: (v[rows] if np.ndim(v) else v) for k, v in run_params.items()}
        try:
            runs = twin.simulate(x0[rows], params=sub, t_end=twin.t_end * 2**longer,
                                 n_steps=twin.n_steps * 2 ** (longer + finer), device=device)
        except SimulationError:
            return np.full(len(rows), np.nan)  # blew up over this span: these runs do not show the observable
        return np.array([measure(runs.arrays["t"], states, twin.state_names) for states in runs.arrays["states"]])

    values, span = np.full(len(X), np.nan), np.zeros(len(X), dtype=int)
    for longer in range(options.max_extensions + 1):
        missing = np.flatnonzero(np.isnan(values))
        if len(missing):
            values[missing], span[missing] = run(missing, longer, 0), longer
    # An event between grid points is read off a spline: halve the step until the value settles (fast runs).
    unsettled = np.isfinite(values)
    for finer in range(1, options.max_refinements + 1):
        for longer in np.unique(span[unsettled]):
            rows = np.flatnonzero(unsettled & (span == longer))
            refined = run(rows, int(longer), finer)
            unsettled[rows] = ~(np.abs(refined - values[rows]) <= options.tolerance * np.abs(refined))
            values[rows] = refined
    kept = np.isfinite(values)
    if kept.sum() < options.min_runs:
        raise ValueError(f"only {int(kept.sum())} of {len(X)} runs of {twin.name!r} showed a {observable} within "
                         f"{twin.t_end * 2**options.max_extensions:g} time units; it needs {options.min_runs}")
    return Dataset(
        twin=twin.name, kind="observable",
        arrays={"X": X[kept], "y": values[kept, None]},
        input_names=[v.name for v, _ in chosen], output_names=[observable],
        units={**{v.name: v.unit for v, _ in chosen}, observable: _unit(twin, observable)},
        params={k: v for k, v in twin.resolve_params(held).items() if k not in varied}, seed=seed,
        meta={"observable": observable, "description": OBSERVABLES[observable].description,
              "inputs": {v.name: {"role": role, "range": [v.low, v.high], "unit": v.unit, "description": v.description}
                         for v, role in chosen},
              "runs": len(X), "dropped": int((~kept).sum())},
    )


@dataclass
class ObservableRuns:
    """An observable of an ODE twin as a function of chosen inputs, run the way a closed-form twin is: each row of
    inputs is one simulation and its output the observable read off it. A sequential design
    (``tools.sequential.SequentialDesign``) runs it to choose each round's launch coordinates and parameters where
    the rival laws of the observable disagree.

    Parameters
    ----------
    twin : OdeTwin
        The simulated system.
    observable : str
        A key of :data:`OBSERVABLES`.
    varied : list of str, optional
        The inputs (default: :func:`observable_inputs`'s).
    options : ObservableOptions
        How each run is extended and refined.
    device : str
        Where the runs are integrated.
    """

    twin: OdeTwin
    observable: str
    varied: list[str] | None = None
    options: ObservableOptions = field(default_factory=ObservableOptions)
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.observable not in OBSERVABLES:
            raise ValueError(f"unknown observable {self.observable!r}: use one of {sorted(OBSERVABLES)}")
        self.inputs = [v for v, _ in observable_inputs(self.twin, self.varied, self.options.spread)]
        self.outputs = [Variable(self.observable, _unit(self.twin, self.observable))]
        self.name, self.kind = self.twin.name, "observable"

    @property
    def input_names(self) -> list[str]:
        return [v.name for v in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [self.observable]

    def input_bounds(self) -> np.ndarray:
        return np.array([[v.low, v.high] for v in self.inputs], dtype=float)

    def resolve_params(self, params: Mapping[str, float] | None) -> dict[str, float]:
        """The parameters held fixed (the varied ones left out)."""
        return {k: v for k, v in self.twin.resolve_params(params).items() if k not in self.input_names}

    def simulate(self, X: np.ndarray, params: Mapping[str, float] | None = None, drop_invalid: bool = True
                 ) -> Dataset:
        """One run per row of ``X``; rows whose run shows no observable are dropped (counted in ``meta``)."""
        return measure_observable(self.twin, self.observable, self.input_names, replace(self.options, min_runs=0),
                                  params=params, device=self.device, points=X)
