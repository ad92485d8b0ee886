"""The objects every twin shares: variables, parameters, noise, devices and the ``Twin`` base class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch

TwinKind = Literal["algebraic", "ode", "field", "pde", "data"]
NoiseModel = Literal["gaussian", "multiplicative"]


class SimulationError(RuntimeError):
    """A simulation produced NaN/inf or blew up; the message names the twin and its parameters."""


@dataclass(frozen=True)
class Variable:
    """An input or output quantity: name, SI unit (free text, may be empty) and sampling range."""

    name: str
    unit: str = ""
    low: float = -1.0
    high: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"variable {self.name!r}: low {self.low} is above high {self.high}")


@dataclass(frozen=True)
class Parameter:
    """A fixed physical constant of a twin, with its default value (and a plausible range)."""

    name: str
    default: float
    unit: str = ""
    low: float | None = None
    high: float | None = None
    description: str = ""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def add_noise(
    values: np.ndarray, sigma: float, model: NoiseModel, rng: np.random.Generator, rms: np.ndarray | None = None
) -> np.ndarray:
    """Gaussian noise with σ relative to the RMS of ``values`` (or to a given ``rms`` per column, so that runs
    taken in several batches share one noise level), or multiplicative noise (1 + σ·N)."""
    if sigma < 0:
        raise ValueError(f"noise sigma must be non-negative, got {sigma}")
    if sigma == 0:
        return values
    draws = rng.standard_normal(values.shape)
    if model == "gaussian":
        if rms is None:
            rms = np.sqrt(np.mean(values**2, axis=tuple(range(values.ndim - 1)), keepdims=True))
        return values + sigma * rms * draws
    if model == "multiplicative":
        return values * (1.0 + sigma * draws)
    raise ValueError(f"unknown noise model {model!r}: use 'gaussian' or 'multiplicative'")


def check_finite(values: Any, twin: str, params: Mapping[str, float], bound: float = 1e12) -> None:
    """Raise :class:`SimulationError` when a result holds NaN/inf or values beyond ``bound``."""
    array = values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(values)
    finite = torch.isfinite(array)
    if not bool(finite.all()):
        share = 1.0 - float(finite.double().mean())
        raise SimulationError(
            f"twin {twin!r} diverged: {share:.1%} of values are NaN/inf with parameters {dict(params)}"
        )
    if array.numel() and float(array.abs().max()) > bound:
        raise SimulationError(
            f"twin {twin!r} blew up: values exceed {bound:g} with parameters {dict(params)}"
        )


@dataclass
class Twin:
    """A digital twin: a simulator with named inputs, outputs, parameters and optional ground truth.

    ``ground_truth`` maps output names to sympy expressions. Only verification and benchmarks may
    read it; discovery never does.
    """

    name: str
    description: str
    kind: TwinKind
    inputs: list[Variable]
    outputs: list[Variable]
    parameters: list[Parameter] = field(default_factory=list)
    ground_truth: dict[str, sp.Expr] | None = None
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    group: str = "custom"

    @property
    def input_names(self) -> list[str]:
        return [v.name for v in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [v.name for v in self.outputs]

    @property
    def default_params(self) -> dict[str, float]:
        return {p.name: p.default for p in self.parameters}

    def resolve_params(self, params: Mapping[str, float] | None) -> dict[str, float]:
        """Defaults overridden by ``params``; unknown names are an error."""
        merged = self.default_params
        for key, value in (params or {}).items():
            if key not in merged:
                known = ", ".join(merged) or "none"
                raise ValueError(f"twin {self.name!r} has no parameter {key!r} (parameters: {known})")
            merged[key] = float(value)
        return merged

    def input_bounds(self) -> np.ndarray:
        """Array of shape (d, 2) with the low/high of each input."""
        return np.array([[v.low, v.high] for v in self.inputs], dtype=float)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (for the catalogue listing); never includes the ground truth."""
        return {
            "name": self.name,
            "kind": self.kind,
            "group": self.group,
            "description": self.description,
            "inputs": [vars(v) for v in self.inputs],
            "outputs": [vars(v) for v in self.outputs],
            "parameters": [vars(p) for p in self.parameters],
            "aliases": list(self.aliases),
        }
