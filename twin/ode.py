"""ODE twins: batched, differentiable integration of dx/dt = f(x, t; θ) with torchdiffeq."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch
from torchdiffeq import odeint

from twin.core import NoiseModel, Parameter, Twin, Variable, add_noise, check_finite, resolve_device
from twin.dataset import Dataset
from twin.expressions import Evaluator, compile_expression, parse_expression

ParamValues = Mapping[str, float | np.ndarray | torch.Tensor]
MAX_STEPS = 200_000
BLOW_UP_BOUND = 1e8


@dataclass
class OdeTwin(Twin):
    """A system of first-order ODEs; the state variables are the inputs (initial conditions).

    ``rhs`` maps each state name to an expression of the states, the parameters and ``t``.
    ``invariants`` holds conserved quantities (energy, angular momentum) where the physics has them.
    """

    rhs: dict[str, sp.Expr] = field(default_factory=dict)
    invariants: dict[str, sp.Expr] = field(default_factory=dict)
    t_end: float = 10.0
    n_steps: int = 1000
    reference_x0: list[list[float]] = field(default_factory=list)
    launch_inputs: list[Variable] = field(default_factory=list)
    launch: dict[str, sp.Expr] = field(default_factory=dict)
    _compiled: list[Evaluator] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = "ode"
        if [v.name for v in self.inputs] != list(self.rhs):
            raise ValueError(f"twin {self.name!r}: rhs keys must match the state variables in order")
        self._compiled = [compile_expression(self.rhs[name]) for name in self.input_names]
        if self.ground_truth is None:
            self.ground_truth = dict(self.rhs)
        if set(self.launch) - set(self.state_names):
            raise ValueError(f"twin {self.name!r}: launch expressions must name states, got {list(self.launch)}")

    @property
    def state_names(self) -> list[str]:
        return self.input_names

    def vector_field(self, t: torch.Tensor, state: torch.Tensor, params: ParamValues) -> torch.Tensor:
        """dx/dt for a batch of states (B, S)."""
        values: dict[str, object] = {n: state[:, i] for i, n in enumerate(self.state_names)}
        values.update(params)
        values["t"] = t
        columns = []
        for fn in self._compiled:
            out = fn(values)
            if not isinstance(out, torch.Tensor) or out.dim() == 0:
                out = torch.as_tensor(out, dtype=state.dtype, device=state.device).expand(state.shape[0])
            columns.append(out.expand(state.shape[0]))
        return torch.stack(columns, dim=1)

    def trajectories(
        self,
        x0: torch.Tensor,
        t: torch.Tensor,
        params: ParamValues,
        method: str = "rk4",
    ) -> torch.Tensor:
        """Integrate a batch of initial states; returns (B, T, S), differentiable in tensor params."""
        tensors = {
            k: v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=x0.dtype, device=x0.device)
            for k, v in params.items()
        }
        solution = odeint(lambda tt, xx: self.vector_field(tt, xx, tensors), x0, t, method=method)
        return solution.permute(1, 0, 2)

    def simulate(
        self,
        x0: np.ndarray | None = None,
        params: Mapping[str, float | Sequence[float]] | None = None,
        t_end: float | None = None,
        n_steps: int | None = None,
        noise: float = 0.0,
        noise_model: NoiseModel = "gaussian",
        seed: int = 0,
        device: str = "auto",
        method: str = "rk4",
    ) -> Dataset:
        """Integrate from initial states ``x0`` (B, S) (default: the reference ones) on a uniform grid.

        A parameter may be one value or one value per trajectory. Divergence raises ``SimulationError``.
        """
        x0 = np.asarray(self.reference_x0 if x0 is None else x0, dtype=float)
        if x0.ndim != 2 or x0.shape[1] != len(self.inputs):
            raise ValueError(
                f"twin {self.name!r} expects initial states of shape (B, {len(self.inputs)}) "
                f"for {self.state_names}, got {x0.shape}"
            )
        t_end = self.t_end if t_end is None else float(t_end)
        n_steps = self.n_steps if n_steps is None else int(n_steps)
        if not 1 <= n_steps <= MAX_STEPS or t_end <= 0:
            raise ValueError(f"need 0 < t_end and 1 <= n_steps <= {MAX_STEPS}, got {t_end}, {n_steps}")
        resolved = self._resolve_batch_params(params, x0.shape[0])
        dev = resolve_device(device)
        t = torch.linspace(0.0, t_end, n_steps + 1, dtype=torch.float64, device=dev)
        with torch.no_grad():
            states = self.trajectories(
                torch.as_tensor(x0, dtype=torch.float64, device=dev),
                t,
                {k: torch.as_tensor(v, dtype=torch.float64, device=dev) for k, v in resolved.items()},
                method=method,
            )
        summary = {k: (v if np.ndim(v) == 0 else f"{len(v)} values") for k, v in resolved.items()}
        check_finite(states, self.name, summary, bound=BLOW_UP_BOUND)
        states_np = add_noise(states.cpu().numpy(), noise, noise_model, np.random.default_rng(seed))
        return Dataset(
            twin=self.name,
            kind="ode",
            arrays={"t": t.cpu().numpy(), "states": states_np, "x0": x0},
            input_names=self.state_names,
            output_names=self.state_names,
            units={v.name: v.unit for v in self.inputs},
            params={k: (float(v) if np.ndim(v) == 0 else list(map(float, v))) for k, v in resolved.items()},
            noise={"sigma": noise, "model": noise_model},
            seed=seed,
            meta={"method": method, "t_end": t_end, "n_steps": n_steps},
        )

    def _resolve_batch_params(self, params, batch: int) -> dict[str, float | np.ndarray]:
        merged: dict[str, float | np.ndarray] = dict(self.default_params)
        for key, value in (params or {}).items():
            if key not in merged:
                raise ValueError(f"twin {self.name!r} has no parameter {key!r} (parameters: {list(merged)})")
            array = np.asarray(value, dtype=float)
            if array.ndim == 0:
                merged[key] = float(array)
            elif array.shape == (batch,):
                merged[key] = array
            else:
                raise ValueError(f"parameter {key!r} needs one value or {batch} values, got {array.shape}")
        return merged

    def initial_states(self, values: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
        """Initial states (B, S) for runs given by ``values`` (per run, or one value): a state named there takes
        those values; a state with a launch expression (a pendulum released from rest at amplitude A, a
        projectile's vx = v0·cos(angle)) is computed from the launch coordinates, the unnamed ones at their range's
        middle; every other state keeps the last reference state."""
        unknown = set(values) - set(self.state_names) - {v.name for v in self.launch_inputs}
        if unknown:
            raise ValueError(f"twin {self.name!r} has no state or launch coordinate {sorted(unknown)}")
        given = {k: np.broadcast_to(np.asarray(v, dtype=float), (batch,)) for k, v in values.items()}
        coordinates = {v.name: given.get(v.name, np.full(batch, (v.low + v.high) / 2)) for v in self.launch_inputs}
        x0 = np.tile(np.asarray(self.reference_x0[-1], dtype=float), (batch, 1))
        for i, name in enumerate(self.state_names):
            if name in given:
                x0[:, i] = given[name]
            elif name in self.launch:
                x0[:, i] = np.broadcast_to(compile_expression(self.launch[name])(coordinates), (batch,))
        return x0

    def invariant_values(self, states: np.ndarray, params: Mapping[str, float] | None = None) -> dict:
        """Each invariant evaluated along trajectories (B, T, S) -> (B, T)."""
        values: dict[str, object] = {n: states[..., i] for i, n in enumerate(self.state_names)}
        values.update(self.resolve_params(params))
        return {name: np.broadcast_to(compile_expression(e)(values), states.shape[:-1])
                for name, e in self.invariants.items()}


def from_ode(
    equations: Mapping[str, str],
    ranges: Mapping[str, tuple[float, float]],
    params: Mapping[str, float] | None = None,
    name: str = "custom_ode",
    t_end: float = 10.0,
    n_steps: int = 1000,
    units: Mapping[str, str] | None = None,
) -> OdeTwin:
    """Build an ODE twin from text: ``{"x": "v", "v": "-k*x"}`` means dx/dt = v, dv/dt = -k·x.

    ``ranges`` gives each state's initial-condition range; ``t`` may appear in the equations.
    """
    params = dict(params or {})
    units = dict(units or {})
    if list(equations) != list(ranges):
        raise ValueError("give one equation and one initial-condition range per state, in the same order")
    if "t" in equations or "t" in params:
        raise ValueError("'t' is time and cannot name a state or parameter")
    names = [*equations, *params, "t"]
    rhs = {state: parse_expression(text, names) for state, text in equations.items()}
    return OdeTwin(
        name=name,
        description="custom ODE " + "; ".join(f"d{s}/dt = {t}" for s, t in equations.items()),
        kind="ode",
        inputs=[Variable(s, units.get(s, ""), float(lo), float(hi)) for s, (lo, hi) in ranges.items()],
        outputs=[Variable(s, units.get(s, "")) for s in equations],
        parameters=[Parameter(p, float(v), units.get(p, "")) for p, v in params.items()],
        rhs=rhs,
        t_end=t_end,
        n_steps=n_steps,
        reference_x0=[[(lo + hi) / 2 for lo, hi in ranges.values()]],
    )
