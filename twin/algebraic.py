"""Closed-form twins: outputs given by expressions of the inputs and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch

from twin.core import NoiseModel, Parameter, Twin, Variable, add_noise, check_finite, resolve_device
from twin.dataset import Dataset
from twin.expressions import Evaluator, compile_expression, parse_expression


@dataclass
class ExpressionTwin(Twin):
    """A closed-form law ``y = f(x; θ)``, vectorised in torch (differentiable in θ) on CPU or CUDA."""

    expressions: dict[str, sp.Expr] = field(default_factory=dict)
    _compiled: dict[str, Evaluator] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = "algebraic"
        self._compiled = {name: compile_expression(e) for name, e in self.expressions.items()}
        if self.ground_truth is None:
            self.ground_truth = dict(self.expressions)

    def evaluate(self, X: torch.Tensor, params: Mapping[str, torch.Tensor | float]) -> torch.Tensor:
        """Outputs (n, k) for inputs ``X`` (n, d); differentiable with respect to tensor ``params``."""
        values: dict[str, torch.Tensor | float] = {n: X[:, i] for i, n in enumerate(self.input_names)}
        values.update(params)
        columns = []
        for name in self.output_names:
            out = self._compiled[name](values)
            columns.append(out.expand(X.shape[0]) if isinstance(out, torch.Tensor) else
                           torch.full((X.shape[0],), float(out), dtype=X.dtype, device=X.device))
        return torch.stack(columns, dim=1)

    def simulate(
        self,
        X: np.ndarray,
        params: Mapping[str, float] | None = None,
        noise: float = 0.0,
        noise_model: NoiseModel = "gaussian",
        seed: int = 0,
        device: str = "auto",
        drop_invalid: bool = False,
    ) -> Dataset:
        """Evaluate the law at the rows of ``X``; add seeded noise.

        Rows where the law is undefined (NaN/inf) raise :class:`SimulationError`, or are dropped and
        counted in ``meta["dropped"]`` when ``drop_invalid`` is set.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.inputs):
            raise ValueError(
                f"twin {self.name!r} expects inputs of shape (n, {len(self.inputs)}) "
                f"for {self.input_names}, got {X.shape}"
            )
        resolved = self.resolve_params(params)
        dev = resolve_device(device)
        with torch.no_grad():
            y = self.evaluate(torch.as_tensor(X, dtype=torch.float64, device=dev), resolved).cpu().numpy()
        dropped = 0
        if drop_invalid:
            keep = np.isfinite(y).all(axis=1)
            dropped = int((~keep).sum())
            X, y = X[keep], y[keep]
        check_finite(y, self.name, resolved, bound=np.inf)
        rng = np.random.default_rng(seed)
        y = add_noise(y, noise, noise_model, rng)
        return Dataset(
            twin=self.name,
            kind="algebraic",
            arrays={"X": X, "y": y},
            input_names=self.input_names,
            output_names=self.output_names,
            units={v.name: v.unit for v in self.inputs + self.outputs},
            params=resolved,
            noise={"sigma": noise, "model": noise_model},
            seed=seed,
            meta={"dropped": dropped},
        )


def from_expression(
    text: str | Mapping[str, str],
    ranges: Mapping[str, tuple[float, float]],
    params: Mapping[str, float] | None = None,
    name: str = "custom_expression",
    units: Mapping[str, str] | None = None,
    output: str = "y",
) -> ExpressionTwin:
    """Build a closed-form twin from text (through the safe parser).

    ``text`` is one expression (output ``output``) or a mapping output name -> expression; ``ranges``
    gives each input's (low, high); ``params`` the constants with their default values.
    """
    params = dict(params or {})
    units = dict(units or {})
    texts = {output: text} if isinstance(text, str) else dict(text)
    if not ranges:
        raise ValueError("give at least one input with its range, e.g. {'x': (0, 1)}")
    overlap = set(ranges) & set(params)
    if overlap:
        raise ValueError(f"names used both as inputs and parameters: {sorted(overlap)}")
    names = list(ranges) + list(params)
    expressions = {out: parse_expression(t, names) for out, t in texts.items()}
    unused = set(ranges) - set().union(*(map(str, e.free_symbols) for e in expressions.values()))
    if unused:
        raise ValueError(f"inputs {sorted(unused)} do not appear in the expression")
    return ExpressionTwin(
        name=name,
        description=f"custom law {', '.join(f'{o} = {t}' for o, t in texts.items())}",
        kind="algebraic",
        inputs=[Variable(n, units.get(n, ""), float(lo), float(hi)) for n, (lo, hi) in ranges.items()],
        outputs=[Variable(o, units.get(o, "")) for o in texts],
        parameters=[Parameter(n, float(v), units.get(n, "")) for n, v in params.items()],
        expressions=expressions,
    )

