"""Field twins on a periodic 1-D lattice (method of lines, integrated with torchdiffeq).

Each run starts from a single Fourier mode u(x, 0) = A·cos(k·x) at rest, so that experiments over the
wavenumber k probe dispersion and decay laws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch
from torchdiffeq import odeint

from twin.core import NoiseModel, Parameter, Twin, Variable, add_noise, check_finite, resolve_device
from twin.dataset import Dataset
from twin.pde import Grid, InitialState


def _laplacian(u: torch.Tensor, a: float) -> torch.Tensor:
    return (torch.roll(u, -1, dims=-1) + torch.roll(u, 1, dims=-1) - 2.0 * u) / a**2


def _gradient(u: torch.Tensor, a: float) -> torch.Tensor:
    return (torch.roll(u, -1, dims=-1) - torch.roll(u, 1, dims=-1)) / (2.0 * a)


Rhs = Callable[[torch.Tensor, Mapping[str, float | torch.Tensor]], torch.Tensor]


def _heat(u: torch.Tensor, p: Mapping[str, float]) -> torch.Tensor:
    return p["D"] * _laplacian(u, p["a"])


def _burgers(u: torch.Tensor, p: Mapping[str, float]) -> torch.Tensor:
    return -u * _gradient(u, p["a"]) + p["nu"] * _laplacian(u, p["a"])


def _wave(state: torch.Tensor, p: Mapping[str, float]) -> torch.Tensor:
    phi, pi = state.chunk(2, dim=-1)
    return torch.cat([pi, p["c"] ** 2 * _laplacian(phi, p["a"])], dim=-1)


def _klein_gordon(state: torch.Tensor, p: Mapping[str, float]) -> torch.Tensor:
    phi, pi = state.chunk(2, dim=-1)
    return torch.cat([pi, p["c"] ** 2 * _laplacian(phi, p["a"]) - p["m"] ** 2 * phi], dim=-1)


@dataclass
class FieldTwin(Twin):
    """A lattice field of ``sites`` points with spacing parameter ``a``; inputs are (k, amplitude)."""

    equation: str = "heat"
    sites: int = 64
    second_order: bool = False
    t_end: float = 10.0
    n_steps: int = 1000
    #: Snapshot runs (:meth:`snapshots`): their time window, number of snapshots and random initial states.
    snapshot_t_end: float | None = None
    snapshot_times: int = 101
    snapshot_initial: InitialState = InitialState(4, 0.5, decay=1.0)

    def __post_init__(self) -> None:
        self.kind = "field"
        if self.equation not in _RHS:
            raise ValueError(f"unknown field equation {self.equation!r}; known: {sorted(_RHS)}")

    def lattice_wavenumbers(self, a: float) -> np.ndarray:
        """The wavenumbers a periodic lattice supports: k_n = 2πn/(L·a), n = 1..L/2."""
        return 2 * np.pi * np.arange(1, self.sites // 2 + 1) / (self.sites * a)

    def evolve(self, u0: torch.Tensor, t: torch.Tensor, params: Mapping[str, float | torch.Tensor]) -> torch.Tensor:
        """Integrate initial fields (B, L) — (B, 2L) with velocities for second-order equations — over
        the grid ``t``; returns (B, T, L). Differentiable in tensor ``params``."""
        rhs = _RHS[self.equation]
        solution = odeint(lambda _t, u: rhs(u, params), u0, t, method="rk4").permute(1, 0, 2)
        return solution[..., : self.sites]

    def initial_fields(self, X: np.ndarray, a: float, device: torch.device | str = "cpu",
                       ) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """For rows (k, amplitude): the wavenumbers snapped to lattice modes, the site positions and the
        initial fields A·cos(k·x) (at rest for second-order equations)."""
        allowed = self.lattice_wavenumbers(a)
        k = allowed[np.abs(allowed[None, :] - X[:, :1]).argmin(axis=1)]
        x = torch.arange(self.sites, dtype=torch.float64, device=device) * a
        k_t = torch.as_tensor(k, dtype=torch.float64, device=device)[:, None]
        amp = torch.as_tensor(X[:, 1], dtype=torch.float64, device=device)[:, None]
        u0 = amp * torch.cos(k_t * x[None, :])
        if self.second_order:
            u0 = torch.cat([u0, torch.zeros_like(u0)], dim=-1)
        return k, x, u0

    def simulate(
        self,
        X: np.ndarray,
        params: Mapping[str, float] | None = None,
        t_end: float | None = None,
        n_steps: int | None = None,
        noise: float = 0.0,
        noise_model: NoiseModel = "gaussian",
        seed: int = 0,
        device: str = "auto",
    ) -> Dataset:
        """Run one simulation per row of ``X`` = (k, amplitude); k snaps to the nearest lattice mode."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"twin {self.name!r} expects rows of (k, amplitude), got shape {X.shape}")
        p = self.resolve_params(params)
        t_end = self.t_end if t_end is None else float(t_end)
        n_steps = self.n_steps if n_steps is None else int(n_steps)
        dev = resolve_device(device)
        k, x, u0 = self.initial_fields(X, p["a"], dev)
        t = torch.linspace(0.0, t_end, n_steps + 1, dtype=torch.float64, device=dev)
        with torch.no_grad():
            u = self.evolve(u0, t, p)
        check_finite(u, self.name, p, bound=1e8)
        u_np = add_noise(u.cpu().numpy(), noise, noise_model, np.random.default_rng(seed))
        return Dataset(
            twin=self.name,
            kind="field",
            arrays={"X": np.column_stack([k, X[:, 1]]), "x": x.cpu().numpy(), "t": t.cpu().numpy(), "u": u_np},
            input_names=self.input_names,
            output_names=self.output_names,
            units={v.name: v.unit for v in self.inputs + self.outputs},
            params=p,
            noise={"sigma": noise, "model": noise_model},
            seed=seed,
            meta={"equation": self.equation, "sites": self.sites, "t_end": t_end, "n_steps": n_steps},
        )

    def field_equations(self, params: Mapping[str, float] | None = None) -> dict[str, sp.Expr]:
        """The continuum PDE the lattice discretises, keyed ``u_t`` / ``u_tt`` (verification and benchmarks only:
        discovery never reads it). The lattice's differences approximate it to O(a²·k²)."""
        p = self.resolve_params(params)
        u, u_x, u_xx = sp.symbols("u u_x u_xx", real=True)
        rhs = {"heat": p.get("D", 0) * u_xx, "burgers": -u * u_x + p.get("nu", 0) * u_xx,
               "wave": p.get("c", 0) ** 2 * u_xx,
               "klein_gordon": p.get("c", 0) ** 2 * u_xx - p.get("m", 0) ** 2 * u}[self.equation]
        return {"u_tt" if self.second_order else "u_t": sp.nsimplify(rhs, rational=False)}

    def snapshot_grid(self, params: Mapping[str, float] | None = None) -> Grid:
        """The lattice and the snapshot times of ``snapshots`` (the sites spaced by the parameter ``a``)."""
        return Grid((self.sites * self.resolve_params(params)["a"],), (self.sites,),
                    self.snapshot_t_end or self.t_end, self.snapshot_times)

    def snapshots(self, runs: int = 4, params: Mapping[str, float] | None = None, noise: float = 0.0,
                  noise_model: NoiseModel = "gaussian", seed: int = 0, device: str = "auto",
                  initial: np.ndarray | None = None) -> Dataset:
        """Runs from random smooth initial fields (or the rows of ``initial``, (runs, sites)), released at rest, as
        a ``snapshots`` dataset for PDE discovery: ``u`` (runs, times, sites) with the axes ``t`` and ``x``."""
        if not 1 <= runs <= 256:
            raise ValueError(f"runs must be within 1..256, got {runs}")
        p = self.resolve_params(params)
        grid = self.snapshot_grid(p)
        t_end = grid.t_end
        rng = np.random.default_rng(seed)
        if initial is not None:
            start = np.asarray(initial, dtype=float).reshape(-1, self.sites)
            if len(start) != runs or not np.isfinite(start).all():
                raise ValueError(f"initial must hold {runs} finite fields of {self.sites} sites")
        else:
            start = np.stack([self.snapshot_initial.draw(["u"], grid, rng)["u"] for _ in range(runs)])
        dev = resolve_device(device)
        u0 = torch.as_tensor(start, dtype=torch.float64, device=dev)
        if self.second_order:
            u0 = torch.cat([u0, torch.zeros_like(u0)], dim=-1)
        stride = max(1, round(self.n_steps * t_end / self.t_end / (self.snapshot_times - 1)))
        t = torch.linspace(0.0, t_end, stride * (self.snapshot_times - 1) + 1, dtype=torch.float64, device=dev)
        with torch.no_grad():
            u = self.evolve(u0, t, p)[:, ::stride]
        check_finite(u, self.name, p, bound=1e8)
        u_np = add_noise(u.cpu().numpy(), noise, noise_model, np.random.default_rng(seed + 1))
        return Dataset(
            twin=self.name, kind="snapshots", arrays={"u": u_np, "t": t[::stride].cpu().numpy(), "x": grid.axes()[0]},
            input_names=["x"], output_names=["u"], units={"x": "m", "u": self.outputs[0].unit}, params=p,
            noise={"sigma": noise, "model": noise_model}, seed=seed,
            meta={"order": 2 if self.second_order else 1, "periodic": True, "runs": runs},
        )


_RHS: dict[str, Rhs] = {"heat": _heat, "burgers": _burgers, "wave": _wave, "klein_gordon": _klein_gordon}


def field_twins() -> list[FieldTwin]:
    """The lattice field twins of the catalogue."""
    k, c, m, a, D = sp.symbols("k c m a D", positive=True)
    inputs = [Variable("k", "1/m", 0.1, 3.0, "wavenumber of the initial mode"),
              Variable("amplitude", "", 0.01, 1.0, "initial amplitude")]
    common = {"kind": "field", "inputs": inputs, "sites": 64}
    return [
        FieldTwin(
            name="heat_lattice", description="heat equation u_t = D·u_xx on a periodic lattice",
            outputs=[Variable("u", "K")], parameters=[Parameter("D", 0.5), Parameter("a", 0.1)],
            equation="heat", t_end=0.5, n_steps=500, group="field",
            aliases=("heat equation", "heat field", "diffusion equation"),
            keywords=("heat", "diffus", "conduct", "rod", "decay rate"),
            ground_truth={"decay_rate": 4 * D / a**2 * sp.sin(k * a / 2) ** 2}, **common,
        ),
        FieldTwin(
            name="wave_lattice", description="wave equation u_tt = c²·u_xx on a periodic lattice",
            outputs=[Variable("u", "m")], parameters=[Parameter("c", 1.0), Parameter("a", 0.1)],
            equation="wave", second_order=True, t_end=20.0, n_steps=2000, group="field", snapshot_t_end=10.0,
            snapshot_times=201,
            aliases=("wave equation", "wave field", "vibrating string"),
            keywords=("wave", "string", "dispersion"),
            ground_truth={"omega": 2 * c / a * sp.Abs(sp.sin(k * a / 2))}, **common,
        ),
        FieldTwin(
            name="klein_gordon_lattice",
            description="Klein–Gordon field φ_tt = c²·φ_xx − m²·φ on a periodic lattice",
            outputs=[Variable("phi", "")], parameters=[Parameter("c", 1.0), Parameter("m", 1.0), Parameter("a", 0.1)],
            equation="klein_gordon", second_order=True, t_end=40.0, n_steps=4000, group="field",
            snapshot_t_end=10.0, snapshot_times=201,
            aliases=("klein-gordon", "klein gordon", "kg field"),
            keywords=("klein", "gordon", "dispersion", "relativistic field", "mass"),
            ground_truth={"omega": sp.sqrt(m**2 + 4 * c**2 / a**2 * sp.sin(k * a / 2) ** 2)}, **common,
        ),
        FieldTwin(
            name="burgers_lattice", description="viscous Burgers u_t + u·u_x = ν·u_xx on a periodic lattice",
            outputs=[Variable("u", "m/s")], parameters=[Parameter("nu", 0.1), Parameter("a", 0.1)],
            equation="burgers", t_end=2.0, n_steps=2000, group="field",
            aliases=("burgers equation", "burgers field", "burgers' equation"),
            keywords=("burgers", "shock", "viscous"), ground_truth=None,
            snapshot_initial=InitialState(4, 0.2, decay=1.0), **common,
        ),
    ]
