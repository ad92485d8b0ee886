"""Refit of a found PDE's coefficients against the snapshots themselves (method of lines), as the ODE path refits
against trajectories: weak-form regression sees the noise through integrals of the data, which can bias the
constants of small terms; integrating the candidate law from observed states and matching what follows is meant
to avoid that (measured so far, it does not: docs/pde.md).

Windows of a few snapshots, each started from a low-pass filtered observed state, keep chaotic fields (KS) from
parting with the data, and bound the cost. Periodic domains only (the integrator is spectral).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

from tools.pde.data import FieldData
from twin.core import Parameter, SimulationError
from twin.pde import Grid, InitialState, PdeTwin


@dataclass(frozen=True)
class RefitOptions:
    """Windows (``windows`` per run, ``window`` snapshots long, at most ``runs`` runs), integrator, iterations."""

    windows: int = 3
    window: int = 10
    runs: int = 2
    method: str = "LSODA"
    max_nfev: int = 12


def low_pass(values: np.ndarray, noise: float, dims: int) -> np.ndarray:
    """Keep the Fourier modes of a periodic snapshot that stand above white noise of σ = ``noise`` (absolute)."""
    axes = tuple(range(-dims, 0))
    spectrum = np.fft.fftn(values, axes=axes)
    size = int(np.prod(values.shape[-dims:]))
    return np.real(np.fft.ifftn(np.where(np.abs(spectrum) ** 2 > 4 * size * noise**2, spectrum, 0), axes=axes))


def integrated_twin(data: FieldData, rhs: dict[str, sp.Expr], order: int, params: dict[str, float],
                    method: str, t_end: float, n_times: int) -> PdeTwin:
    """A twin of a law over jet symbols on ``data``'s periodic grid (time from 0 to ``t_end``)."""
    lengths = tuple(float(len(a) * (a[1] - a[0])) for a in data.axes)
    grid = Grid(lengths, data.shape, t_end, n_times)
    return PdeTwin(name="found_pde", description="a found PDE", kind="pde", inputs=[], outputs=[],
                   parameters=[Parameter(k, v) for k, v in params.items()], fields=tuple(data.target_names),
                   equations=rhs, order=order, grid=grid, initial=InitialState(), method=method,
                   velocity_of=data.velocity_of)


@dataclass
class RefitResult:
    """Refitted coefficients with standard errors, and the windows' relative error before and after (the caller
    keeps the refit only where it lowered that error)."""

    coefficients: dict[str, dict[str, float]]  # field → term → coefficient
    standard_errors: dict[str, dict[str, float]]
    error_before: float
    error_after: float


def refit_pde(data: FieldData, terms: dict[str, dict[str, sp.Expr]], start: dict[str, dict[str, float]],
              order: int, noise: dict[str, float], options: RefitOptions = RefitOptions()) -> RefitResult:
    """Least-squares refit of the coefficients (``start``) of each field's ``terms`` (term text → strong form)
    against windows of the snapshots; the relative error of the integrated windows before and after."""
    data.check_integrable()
    fields = data.target_names
    names = [(f, key) for f in fields for key in terms[f]]
    symbols = {pair: sp.Symbol(f"c{i}", real=True) for i, pair in enumerate(names)}
    rhs = {f: sum((symbols[(f, key)] * expr for key, expr in terms[f].items()), sp.Integer(0)) for f in fields}
    window = min(options.window, data.n_times - 1)
    starts = np.linspace(1, data.n_times - window, options.windows).round().astype(int)
    runs = range(min(options.runs, data.runs))
    rms = data.rms()
    twin = integrated_twin(data, rhs, order, {s.name: 0.0 for s in symbols.values()}, options.method,
                           data.dt * (window - 1), window)

    def smooth(f: str, r: int, s: int) -> np.ndarray:
        return low_pass(data.fields[f][r, s], noise[f] * rms[f], data.dims)

    initial = {(r, s): {f: smooth(f, r, s) for f in fields} for r in runs for s in starts}
    # Second order in time: each window also starts from a velocity, the central difference of filtered states.
    velocity = {(r, s): {f: (smooth(f, r, s + 1) - smooth(f, r, s - 1)) / (2 * data.dt) for f in fields}
                for r in runs for s in starts} if order == 2 else {}
    size = len(initial) * window * len(fields) * int(np.prod(data.shape))

    def residuals(x: np.ndarray) -> np.ndarray:
        params = {s.name: float(v) for s, v in zip(symbols.values(), x)}
        out = []
        for (r, s), state in initial.items():
            try:
                run = twin.simulate(params=params, initial=state, initial_velocity=velocity.get((r, s)))
            except SimulationError:
                return np.full(size, 1e3)
            for f in fields:
                out.append(((run.arrays[f][0] - data.fields[f][r, s:s + window]) / rms[f]).ravel())
        return np.concatenate(out)

    x0 = np.array([start[f][key] for f, key in names])
    before = residuals(x0)
    fit = least_squares(residuals, x0, x_scale=np.abs(x0) + 1e-12, max_nfev=options.max_nfev, diff_step=1e-4)
    after = fit.fun
    dof = max(1, len(after) - len(x0))
    try:
        covariance = np.linalg.inv(fit.jac.T @ fit.jac) * float(after @ after) / dof
        errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    except np.linalg.LinAlgError:
        errors = np.full(len(x0), np.inf)
    coefficients = {f: {} for f in fields}
    standard_errors = {f: {} for f in fields}
    for (f, key), value, error in zip(names, fit.x, errors):
        coefficients[f][key], standard_errors[f][key] = float(value), float(error)
    norm = np.sqrt(len(before))
    return RefitResult(coefficients, standard_errors, float(np.linalg.norm(before) / norm),
                       float(np.linalg.norm(after) / norm))
