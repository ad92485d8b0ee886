"""Resonance: physical resonances of driven twins from a frequency sweep (peak, half-power width, Q),
and the ГРА mechanisms of DESIGN §7 — the resonance score ω(x), the threshold τ, selection
probabilities (A), loss weights (B), the step multiplier (C) and the stop rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin import ExpressionTwin, FieldTwin, OdeTwin, Twin

MAX_SWEEP_POINTS = 20_000


@dataclass
class Resonance:
    peak_frequency: float
    peak_response: float
    width: float | None
    quality_factor: float | None
    frequencies: np.ndarray
    response: np.ndarray

    def as_dict(self) -> dict:
        return {"peak_frequency": self.peak_frequency, "peak_response": self.peak_response,
                "width": self.width, "quality_factor": self.quality_factor, "points": len(self.frequencies)}


def sweep(twin: Twin, points: int = 400, low: float | None = None, high: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Response amplitude against drive frequency.

    Closed-form twins with one input are evaluated along it; ODE twins with a drive parameter
    ``Omega`` are integrated from rest, one trajectory per frequency, and the steady-state amplitude
    of the first state is read from the last quarter of each run.
    """
    if not 8 <= points <= MAX_SWEEP_POINTS:
        raise ValueError(f"sweep points must be between 8 and {MAX_SWEEP_POINTS}")
    if isinstance(twin, ExpressionTwin) and len(twin.inputs) == 1:
        var = twin.inputs[0]
        freqs = np.linspace(var.low if low is None else low, var.high if high is None else high, points)
        return freqs, np.abs(twin.simulate(freqs[:, None]).y[:, 0])
    if isinstance(twin, OdeTwin) and "Omega" in twin.default_params:
        drive = next(p for p in twin.parameters if p.name == "Omega")
        lo = low if low is not None else (drive.low if drive.low is not None else 0.1 * drive.default)
        hi = high if high is not None else (drive.high if drive.high is not None else 3.0 * drive.default)
        freqs = np.linspace(lo, hi, points)
        t_end = max(twin.t_end, 60.0)
        n_steps = int(t_end / min(0.01, 0.05 / hi))
        data = twin.simulate(np.zeros((points, len(twin.inputs))), params={"Omega": freqs},
                             t_end=t_end, n_steps=n_steps)
        tail = data.arrays["states"][:, -n_steps // 4:, 0]
        return freqs, (tail.max(axis=1) - tail.min(axis=1)) / 2
    raise ValueError(
        f"twin {twin.name!r} has no drive frequency to sweep: need a closed-form law of one input "
        "or an ODE twin with a parameter 'Omega'"
    )


def find_resonance(twin: Twin, points: int = 400, low: float | None = None, high: float | None = None) -> Resonance:
    """Locate the largest peak; its width is the full width where the response exceeds peak/√2
    (half power), and Q = peak frequency / width."""
    freqs, response = sweep(twin, points, low, high)
    peak = int(np.argmax(response))
    half_power = response[peak] / np.sqrt(2)
    left = _crossing(freqs[: peak + 1][::-1], response[: peak + 1][::-1], half_power)
    right = _crossing(freqs[peak:], response[peak:], half_power)
    width = None if left is None or right is None else right - left
    return Resonance(
        peak_frequency=float(freqs[peak]), peak_response=float(response[peak]),
        width=None if width is None else float(width),
        quality_factor=None if not width else float(freqs[peak] / width),
        frequencies=freqs, response=response,
    )


def _crossing(freqs: np.ndarray, response: np.ndarray, level: float) -> float | None:
    """First frequency (walking away from the peak) where the response falls to ``level``, interpolated."""
    below = np.nonzero(response < level)[0]
    if not len(below):
        return None
    i = below[0]
    f0, f1, r0, r1 = freqs[i - 1], freqs[i], response[i - 1], response[i]
    return float(f0 + (level - r0) * (f1 - f0) / (r1 - r0))


# --- ГРА: resonance score, threshold, loss weights, step multiplier, stop rule (DESIGN §7) ---------

EPSILON = 1e-12


def _parameter_scales(params: dict[str, float]) -> np.ndarray:
    """s_k: the magnitude of each parameter (1 where it is zero), so that sensitivities are relative."""
    values = np.array(list(params.values()), dtype=float)
    return np.where(np.abs(values) > 0, np.abs(values), 1.0)


def parameter_jacobian(twin: Twin, X: np.ndarray, params: dict[str, float] | None = None,
                       method: str = "autograd", unknown: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Outputs f(x; θ) (n,) and their Jacobian ∂f/∂θ (n, P) at the rows of ``X``, θ the ``unknown``
    parameters (default: all; the others are known and held at their values).

    Closed-form twins use forward-mode autograd ("autograd") or central differences ("fd"); ODE twins
    (rows = initial states) use the trajectory's final first state and central differences in one
    batched integration; field twins (rows = (k, amplitude)) the field at the first site at the end of
    the run (a single mode's amplitude), with central differences; their spacing ``a`` must be known.
    """
    import torch
    from torch.autograd.functional import jacobian

    resolved = twin.resolve_params(params)
    names = list(resolved if unknown is None else unknown)
    if not names:
        raise ValueError(f"twin {twin.name!r} has no parameters: the resonance score needs some")
    if set(names) - set(resolved):
        raise ValueError(f"twin {twin.name!r} has no parameters {sorted(set(names) - set(resolved))}")
    known = {k: v for k, v in resolved.items() if k not in names}
    theta = np.array([resolved[n] for n in names], dtype=float)
    X = np.asarray(X, dtype=float)
    if isinstance(twin, ExpressionTwin):
        X_t = torch.as_tensor(X, dtype=torch.float64)

        def model(th: torch.Tensor) -> torch.Tensor:
            return twin.evaluate(X_t, known | dict(zip(names, th)))[:, 0]

        th = torch.as_tensor(theta, dtype=torch.float64)
        with torch.no_grad():
            values = model(th).numpy()
        if method == "autograd":
            return values, jacobian(model, th, strategy="forward-mode", vectorize=True).numpy()
        steps = 1e-6 * np.maximum(np.abs(theta), 1e-3)
        columns = []
        for k, h in enumerate(steps):
            shift = np.zeros_like(theta)
            shift[k] = h
            with torch.no_grad():
                plus = model(torch.as_tensor(theta + shift)).numpy()
                minus = model(torch.as_tensor(theta - shift)).numpy()
            columns.append((plus - minus) / (2 * h))
        return values, np.column_stack(columns)
    if isinstance(twin, OdeTwin):
        steps = 1e-6 * np.maximum(np.abs(theta), 1e-3)
        shifts = np.concatenate([np.zeros((1, len(theta))), np.diag(steps), -np.diag(steps)])
        n = len(X)
        batch_params = known | {name: np.repeat(theta[k] + shifts[:, k], n) for k, name in enumerate(names)}
        data = twin.simulate(np.tile(X, (len(shifts), 1)), params=batch_params)
        final = data.arrays["states"][:, -1, 0].reshape(len(shifts), n)
        P = len(theta)
        return final[0], ((final[1:P + 1] - final[P + 1:]) / (2 * steps[:, None])).T
    if isinstance(twin, FieldTwin):
        if "a" in names:
            raise ValueError("the lattice spacing 'a' sets the lattice modes: treat it as known")

        def final(th: np.ndarray) -> np.ndarray:
            data = twin.simulate(X, params=known | dict(zip(names, th)), device="cpu")
            return data.arrays["u"][:, -1, 0]

        steps = 1e-6 * np.maximum(np.abs(theta), 1e-3)
        shifts = np.diag(steps)
        return final(theta), np.column_stack([(final(theta + h) - final(theta - h)) / (2 * h[k])
                                              for k, h in enumerate(shifts)])
    raise ValueError(f"twin {twin.name!r} ({twin.kind}) is not differentiable: the score needs a "
                     "closed-form, ODE or field twin")


def resonance_score(twin: Twin, X: np.ndarray, params: dict[str, float] | None = None,
                    kind: str = "sensitivity", method: str = "autograd",
                    unknown: Sequence[str] | None = None) -> np.ndarray:
    """ω(x) for each row of ``X``, with respect to the ``unknown`` parameters (default: all).

    ``sensitivity``: (1/P)·Σ_k |∂f/∂θ_k|·s_k / (|f| + ε), the relative sensitivity of DESIGN §7;
    ``fisher``: (1/P)·Σ_k (∂f/∂θ_k·s_k)², the diagonal Fisher information for unit noise, relative to
    the parameter scales.
    """
    values, J = parameter_jacobian(twin, X, params, method, unknown)
    resolved = twin.resolve_params(params)
    scales = _parameter_scales({k: resolved[k] for k in (resolved if unknown is None else unknown)})
    scaled = np.abs(J) * scales[None, :]
    if kind == "sensitivity":
        return scaled.mean(axis=1) / (np.abs(values) + EPSILON)
    if kind == "fisher":
        return (scaled**2).mean(axis=1)
    raise ValueError(f"unknown score kind {kind!r}: use 'sensitivity' or 'fisher'")


def disagreement_score(predictions: np.ndarray) -> np.ndarray:
    """Alternative ω(x): the spread of candidate models' predictions (models × points) at each point."""
    predictions = np.asarray(predictions, dtype=float)
    if predictions.ndim != 2 or predictions.shape[0] < 2:
        raise ValueError("need predictions of at least two candidate models, shape (models, points)")
    return predictions.std(axis=0)


def threshold(scores: np.ndarray, quantile: float = 0.5) -> float:
    """τ: a quantile of ω over the candidate inputs (default the median)."""
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    return float(np.quantile(scores, quantile))


def selection_probabilities(scores: np.ndarray, tau: float, beta: float = 1.0, cap: float = 50.0) -> np.ndarray:
    """Mechanism A: p(x) ∝ clip(exp(β(ω(x) − τ)), 1/cap, cap), normalised."""
    if beta < 0:
        raise ValueError("beta must be non-negative")
    weights = np.clip(np.exp(np.clip(beta * (scores - tau), -700, 700)), 1.0 / cap, cap)
    return weights / weights.sum()


@dataclass
class LossWeights:
    weights: np.ndarray
    effective_sample_size: float
    fallback: bool


def loss_weights(scores: np.ndarray, tau: float, w_min: float = 0.1, w_max: float = 10.0,
                 min_ess_fraction: float = 0.3) -> LossWeights:
    """Mechanism B: w_i = clip(exp(ω_i − τ), w_min, w_max) normalised to mean 1; uniform weights when
    the effective sample size (Σw)²/Σw² falls below ``min_ess_fraction``·n."""
    if not 0 < w_min <= w_max:
        raise ValueError("need 0 < w_min <= w_max")
    weights = np.clip(np.exp(np.clip(scores - tau, -700, 700)), w_min, w_max)
    weights = weights / weights.mean()
    ess = float(weights.sum() ** 2 / np.sum(weights**2))
    if ess < min_ess_fraction * len(weights):
        return LossWeights(np.ones_like(weights), ess, True)
    return LossWeights(weights, ess, False)


class ResonanceStepMultiplier:
    """Mechanism C: per-parameter learning rate η·(1 + α·clip(ŝ_k, 0, c)) around any torch optimizer.

    Gradients are rescaled before the wrapped optimizer's step, so step sizes change but stationary
    points (zero gradient) do not. Off when α = 0.
    """

    def __init__(self, optimizer, sensitivities: list, alpha: float = 0.0, cap: float = 3.0):
        import torch

        if alpha < 0 or cap < 0:
            raise ValueError("alpha and cap must be non-negative")
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if len(sensitivities) != len(params):
            raise ValueError(f"need one sensitivity tensor per parameter ({len(params)})")
        self.optimizer = optimizer
        self.factors = [1.0 + alpha * torch.clamp(torch.as_tensor(s, dtype=p.dtype), 0.0, cap)
                        for s, p in zip(sensitivities, params)]
        self._params = params

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        for p, factor in zip(self._params, self.factors):
            if p.grad is not None:
                p.grad.mul_(factor)
        self.optimizer.step()


@dataclass
class StopRule:
    """Stop when the validation loss has not improved by ``min_delta`` for ``patience`` checks, when
    the parameter uncertainty is below ``tolerance``, or when ``budget`` checks are spent."""

    patience: int = 20
    min_delta: float = 0.0
    tolerance: float | None = None
    budget: int = 10_000
    best: float = float("inf")
    stale: int = 0
    checks: int = 0
    reason: str | None = None

    def update(self, validation_loss: float, uncertainty: float | None = None) -> bool:
        """Record one check; True when training should stop (``reason`` says why)."""
        self.checks += 1
        if validation_loss < self.best - self.min_delta:
            self.best, self.stale = validation_loss, 0
        else:
            self.stale += 1
        if self.tolerance is not None and uncertainty is not None and uncertainty < self.tolerance:
            self.reason = "parameter uncertainty below tolerance"
        elif self.stale >= self.patience:
            self.reason = f"validation loss stalled for {self.patience} checks"
        elif self.checks >= self.budget:
            self.reason = "budget spent"
        return self.reason is not None
