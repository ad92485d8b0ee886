"""Calibration: fit a twin's parameters to observations through the differentiable twin.

Least squares (scipy's trust-region solver) is driven by the twin's Jacobian: exact forward-mode
autograd for closed-form twins; for ODE twins, central differences computed in one batched
integration (each parameter set is one trajectory of the batch). Reverse-mode autograd would need one
backward pass per observation and forward-mode through torchdiffeq's step loop measured ~40x the
cost of a solve, while the batched differences cost one solve. Seeded restarts guard against local
minima; the Jacobian covariance gives each parameter's uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import OptimizeResult, least_squares
from torch.autograd.functional import jacobian

from twin import ExpressionTwin, OdeTwin, Twin

MAX_RESTARTS = 32
MAX_EVALUATIONS = 80  # per restart: converging fits need far fewer; stuck ones should give up early
UNIDENTIFIABLE_CONDITION = 1e12
#: Relative RMS residual at which a fit ends the restarts: the cost cannot go below zero, so no other start can do
#: more than match it (an ODE twin's calibration to its own trajectory took 63 s for four restarts, the first of
#: them exact; every solve of a 400-step trajectory is 0.3 s of two cores).
EXACT_FIT = 1e-6
#: A restart still costing this many times the best fit so far after ``PRUNE_AFTER`` iterations is stopped, where a
#: far better fit is already in hand: on a noisy trajectory the starts that went on to the best minimum still cost
#: 10,000 times it after 12 iterations, and the others ended in minima 3,000 times worse; each iteration is two
#: solves, 0.6 s of two cores for 400 steps. A start stopped could miss only a minimum below that far better fit.
PRUNE_RATIO = 100.0
PRUNE_AFTER = 5


class NotIdentifiable(ValueError):
    """The data cannot pin down a parameter (flat or degenerate directions of the fit)."""


@dataclass
class Calibration:
    """A fit: the parameters, their standard errors, the RMS residual, the starts fitted (``restarts``) and the
    spread of their final costs (a stopped start's where it stopped)."""

    params: dict[str, float]
    stderr: dict[str, float]
    rmse: float
    restarts: int
    cost_spread: float

    def as_dict(self) -> dict:
        return {"params": self.params, "stderr": self.stderr, "rmse": self.rmse,
                "restarts": self.restarts, "cost_spread": self.cost_spread}


Model = Callable[[torch.Tensor], torch.Tensor]


def _model(twin: Twin, names: Sequence[str], X: np.ndarray | None, t: np.ndarray | None,
           x0: np.ndarray | None) -> tuple[Model, Callable[[np.ndarray], np.ndarray]]:
    """The prediction as a function of the parameter vector, and its Jacobian."""
    fixed = {k: v for k, v in twin.default_params.items() if k not in names}
    if isinstance(twin, ExpressionTwin):
        X_t = torch.tensor(X, dtype=torch.float64)

        def model(theta: torch.Tensor) -> torch.Tensor:
            return twin.evaluate(X_t, fixed | dict(zip(names, theta))).reshape(-1)

        def jac(theta: np.ndarray) -> np.ndarray:
            return jacobian(model, torch.as_tensor(theta, dtype=torch.float64),
                            strategy="forward-mode", vectorize=True).numpy()

        return model, jac
    if isinstance(twin, OdeTwin):
        t_t = torch.tensor(t, dtype=torch.float64)  # a copy: a CSV's columns may be read-only arrays
        x0_t = torch.tensor(x0, dtype=torch.float64)[None, :]

        def model(theta: torch.Tensor) -> torch.Tensor:
            return twin.trajectories(x0_t, t_t, fixed | dict(zip(names, theta)))[0].reshape(-1)

        def jac(theta: np.ndarray) -> np.ndarray:
            steps = 1e-6 * np.maximum(np.abs(theta), 1e-3)
            shifts = np.concatenate([np.diag(steps), -np.diag(steps)])
            batch = torch.as_tensor(theta[None, :] + shifts, dtype=torch.float64)
            with torch.no_grad():
                runs = twin.trajectories(x0_t.expand(len(batch), -1), t_t,
                                         fixed | {n: batch[:, i] for i, n in enumerate(names)})
            flat = runs.reshape(len(batch), -1).numpy()
            return ((flat[: len(theta)] - flat[len(theta):]) / (2 * steps[:, None])).T

        return model, jac
    raise ValueError(f"twin {twin.name!r} ({twin.kind}) is not differentiable; calibrate closed-form or ODE twins")


def calibrate(
    twin: Twin,
    observed: np.ndarray,
    names: Sequence[str] | None = None,
    X: np.ndarray | None = None,
    t: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    restarts: int = 4,
    seed: int = 0,
) -> Calibration:
    """Fit parameters ``names`` (default: all) so the twin reproduces ``observed``.

    Closed-form twins take inputs ``X`` and outputs ``observed`` (n, k); ODE twins take the time grid
    ``t``, the initial state ``x0`` and the observed states (T, S). At most ``restarts`` seeded starts are fitted
    (the first from the twin's defaults); a fit that reproduces the data to ``EXACT_FIT`` ends them, and a start
    that still costs ``PRUNE_RATIO`` times the best fit after ``PRUNE_AFTER`` iterations is stopped there.
    """
    names = list(names or twin.default_params)
    unknown = set(names) - set(twin.default_params)
    if unknown:
        raise ValueError(f"twin {twin.name!r} has no parameters {sorted(unknown)}")
    if not names:
        raise ValueError(f"twin {twin.name!r} has no parameters to calibrate")
    if not 1 <= restarts <= MAX_RESTARTS:
        raise ValueError(f"restarts must be between 1 and {MAX_RESTARTS}")
    target = np.asarray(observed, dtype=float).reshape(-1)
    if not np.isfinite(target).all():
        raise ValueError("observations hold NaN or inf")
    if np.ptp(target) == 0:
        raise ValueError("observations have zero variance: nothing to calibrate against")
    if len(target) <= len(names):
        raise ValueError(f"{len(target)} observations cannot determine {len(names)} parameters")
    model, raw_jac = _model(twin, names, X, t, x0)
    target_t = torch.as_tensor(target, dtype=torch.float64)

    def residuals(theta: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            r = (model(torch.as_tensor(theta, dtype=torch.float64)) - target_t).numpy()
        return np.where(np.isfinite(r), r, 1e6)

    def jac(theta: np.ndarray) -> np.ndarray:
        j = raw_jac(theta)
        return np.where(np.isfinite(j), j, 0.0)

    lower, upper = _bounds(twin, names)
    exact_cost = 0.5 * EXACT_FIT**2 * float(target @ target)
    fits = []
    for start in _starts(twin, names, restarts, seed):
        fits.append(least_squares(residuals, np.clip(start, lower, upper), jac=jac, method="trf",
                                  max_nfev=MAX_EVALUATIONS, bounds=(lower, upper),
                                  callback=_pruning(min((f.cost for f in fits), default=np.inf))))
        if fits[-1].cost <= exact_cost:
            break
    best = min(fits, key=lambda f: f.cost)
    J = best.jac
    dof = max(1, len(target) - len(names))
    sigma2 = 2 * best.cost / dof
    information = J.T @ J
    if np.linalg.cond(information) > UNIDENTIFIABLE_CONDITION:
        weak = [names[i] for i in np.argsort(np.abs(np.linalg.eigh(information)[1][:, 0]))[::-1][:2]]
        raise NotIdentifiable(
            f"the data do not determine {' and '.join(weak)} of twin {twin.name!r}: the fit is flat along "
            "a combination of them; fix one, or collect data where they act differently"
        )
    covariance = sigma2 * np.linalg.inv(information)
    stderr = np.sqrt(np.clip(np.diag(covariance), 0, None))
    return Calibration(
        params=dict(zip(names, map(float, best.x))),
        stderr=dict(zip(names, map(float, stderr))),
        rmse=float(np.sqrt(2 * best.cost / len(target))),
        restarts=len(fits),
        cost_spread=float(np.ptp([f.cost for f in fits])),
    )


def _pruning(best_cost: float) -> Callable[[OptimizeResult], None]:
    """``least_squares``'s callback that stops a start still costing ``PRUNE_RATIO`` times ``best_cost`` after
    ``PRUNE_AFTER`` iterations (scipy reads the parameter's name, ``intermediate_result``)."""

    def prune(intermediate_result: OptimizeResult) -> None:
        if intermediate_result.nit >= PRUNE_AFTER and intermediate_result.cost > PRUNE_RATIO * best_cost:
            raise StopIteration

    return prune


def _bounds(twin: Twin, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Physical bounds where a parameter declares them, unbounded otherwise."""
    by_name = {p.name: p for p in twin.parameters}
    lower = np.array([-np.inf if by_name[n].low is None else by_name[n].low for n in names], dtype=float)
    upper = np.array([np.inf if by_name[n].high is None else by_name[n].high for n in names], dtype=float)
    return lower, upper


def _starts(twin: Twin, names: Sequence[str], restarts: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    by_name = {p.name: p for p in twin.parameters}
    starts = [np.array([by_name[n].default for n in names], dtype=float)]
    for _ in range(restarts - 1):
        point = []
        for n in names:
            p = by_name[n]
            low = p.low if p.low is not None else (0.5 * p.default if p.default else -1.0)
            high = p.high if p.high is not None else (2.0 * p.default if p.default else 1.0)
            point.append(rng.uniform(min(low, high), max(low, high)))
        starts.append(np.array(point))
    return starts
