"""Field twins of partial differential equations on a periodic grid (1-D or 2-D in space).

A :class:`PdeTwin` holds one right-hand side per field, written over *jet* symbols (``u``, ``u_x``, ``u_xx``,
``u_xy``, …, see :func:`jet_name`) and parsed by the safe parser; its runs start from random smooth initial
states (a few Fourier modes per field) and are integrated by the method of lines: spectral derivatives on the
periodic grid and scipy's ``solve_ivp`` in time. Each run's snapshots land in a ``snapshots`` dataset whose arrays
are the fields, ``(runs, times, nx)`` or ``(runs, times, ny, nx)``, and the axes ``t``, ``x`` (and ``y``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

from twin.core import NoiseModel, Parameter, SimulationError, Twin, Variable, add_noise, check_finite
from twin.dataset import Dataset
from twin.expressions import compile_expression, parse_expression

#: Highest total order of a spatial derivative a right-hand side may use.
MAX_DERIVATIVE = 4
_JET = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:_(x+)?(y+)?)?$")
_LHS = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)_(t{1,2})\s*$")
RESERVED = ("t", "x", "y")


def jet_name(name: str, nx: int = 0, ny: int = 0) -> str:
    """The symbol of ∂ₓ^nx ∂ᵧ^ny of field ``name``: ``u``, ``u_x``, ``u_xxy``."""
    return name if nx == ny == 0 else f"{name}_" + "x" * nx + "y" * ny


def parse_jet(symbol: str) -> tuple[str, int, int] | None:
    """``'u_xxy'`` → ``('u', 2, 1)``, ``'u'`` → ``('u', 0, 0)``; a name of another form → None."""
    match = _JET.match(symbol)
    if match is None or symbol.endswith("_"):
        return None
    return match.group(1), len(match.group(2) or ""), len(match.group(3) or "")


def jet_names(fields: Iterable[str], dims: int, max_order: int = MAX_DERIVATIVE) -> list[str]:
    """Every jet symbol of ``fields`` up to total order ``max_order`` in ``dims`` spatial dimensions."""
    names = []
    for f in fields:
        for order in range(max_order + 1):
            for ny in range(order + 1 if dims == 2 else 1):
                names.append(jet_name(f, order - ny, ny))
    return names


def parse_pde(spec: str | Mapping[str, str], parameters: Iterable[str] = (), dims: int = 1,
              extra_fields: Iterable[str] = ()) -> tuple[tuple[str, ...], int, dict[str, sp.Expr]]:
    """Read ``"u_t = 0.1*u_xx - u*u_x; v_t = …"`` (or a mapping ``{"u_t": "…"}``) through the safe parser.

    Returns the field names, the order in time (1 or 2, the same for every field) and each field's right-hand side;
    ``extra_fields`` are fields the equations may use without evolving them (a flow's velocity). Raises
    ``ValueError`` naming the faulty part.
    """
    if isinstance(spec, str):
        parts = [p for p in re.split(r"[;\n]", spec) if p.strip()]
        pairs = []
        for part in parts:
            if part.count("=") != 1:
                raise ValueError(f"each equation needs one '=' (e.g. 'u_t = 0.1*u_xx'), got {part.strip()!r}")
            pairs.append(tuple(s.strip() for s in part.split("=")))
    else:
        pairs = list(spec.items())
    if not pairs:
        raise ValueError("the PDE spec holds no equation")
    fields, orders = [], set()
    for lhs, _ in pairs:
        match = _LHS.match(lhs)
        if match is None:
            raise ValueError(f"left-hand side {lhs!r} must be a field's time derivative, like 'u_t' or 'u_tt'")
        if match.group(1) in RESERVED or match.group(1) in fields:
            raise ValueError(f"field name {match.group(1)!r} is reserved or repeated")
        fields.append(match.group(1))
        orders.add(len(match.group(2)))
    if len(orders) != 1:
        raise ValueError("every field must have the same order in time (all u_t or all u_tt)")
    names = [*jet_names([*fields, *extra_fields], dims), *parameters]
    rhs = {f: parse_expression(text, names) for f, (_, text) in zip(fields, pairs)}
    return tuple(fields), orders.pop(), rhs


@dataclass(frozen=True)
class Grid:
    """A periodic spatial grid (``lengths`` and ``points`` per dimension, x first) and the snapshot times."""

    lengths: tuple[float, ...] = (2 * np.pi,)
    points: tuple[int, ...] = (128,)
    t_end: float = 1.0
    n_times: int = 101

    def __post_init__(self) -> None:
        if len(self.lengths) != len(self.points) or len(self.points) not in (1, 2):
            raise ValueError("a grid has one or two spatial dimensions, with a length and a point count for each")
        if min(self.points) < 8 or max(self.points) > 1024 or min(self.lengths) <= 0:
            raise ValueError("grid points must be 8..1024 per dimension and lengths positive")
        if not self.t_end > 0 or not 3 <= self.n_times <= 10_000:
            raise ValueError("t_end must be positive and n_times within 3..10000")

    @property
    def dims(self) -> int:
        return len(self.points)

    def axes(self) -> list[np.ndarray]:
        """Site positions along each dimension (x first)."""
        return [np.arange(n) * (length / n) for length, n in zip(self.lengths, self.points)]

    def times(self) -> np.ndarray:
        return np.linspace(0.0, self.t_end, self.n_times)


@dataclass(frozen=True)
class InitialState:
    """Random smooth initial fields: ``offset + amplitude·(sum of modes 1..modes, random phases)/rms``.

    A mode of wavenumber index n weighs n^−``decay``. ``offset`` and ``amplitude`` apply to every field unless
    ``per_field`` maps a field to its own pair.
    """

    modes: int = 3
    amplitude: float = 1.0
    offset: float = 0.0
    per_field: tuple[tuple[str, float, float], ...] = ()
    decay: float = 0.0

    def draw(self, fields: Iterable[str], grid: Grid, rng: np.random.Generator) -> dict[str, np.ndarray]:
        axes = np.meshgrid(*grid.axes()[::-1], indexing="ij")[::-1]  # x, (y) arrays of shape (ny,) nx
        special = {name: (offset, amplitude) for name, offset, amplitude in self.per_field}
        states = {}
        for f in fields:
            offset, amplitude = special.get(f, (self.offset, self.amplitude))
            wave = np.zeros(axes[0].shape)
            for _ in range(2 * self.modes):
                phase, index = 0.0, 0.0
                for axis, length in zip(axes, grid.lengths):
                    n = rng.integers(0 if len(axes) > 1 else 1, self.modes + 1)
                    phase, index = phase + 2 * np.pi * n * axis / length, max(index, n)
                wave += rng.normal() * max(index, 1) ** -self.decay * np.cos(phase + rng.uniform(0, 2 * np.pi))
            rms = np.sqrt(np.mean((wave - wave.mean()) ** 2)) or 1.0
            states[f] = offset + amplitude * (wave - wave.mean()) / rms
        return states


class SpectralDerivatives:
    """∂ₓ^a ∂ᵧ^b of periodic fields by FFT (exact for the resolved modes of a periodic field)."""

    def __init__(self, grid: Grid):
        self.shape = tuple(grid.points[::-1])
        self.k = [2 * np.pi * np.fft.fftfreq(n, d=length / n) for length, n in zip(grid.lengths, grid.points)]
        for n, k in zip(grid.points, self.k):
            if n % 2 == 0:
                k[n // 2] = 0.0  # the Nyquist mode has no sign: odd derivatives drop it

    def __call__(self, values: np.ndarray, nx: int, ny: int) -> np.ndarray:
        """Derivative along the last axis (x) and the one before it (y, 2-D) of ``values`` (..., [ny,] nx)."""
        spectrum = np.fft.fftn(values, axes=tuple(range(-len(self.shape), 0)))
        factor = (1j * self.k[0]) ** nx
        if len(self.shape) == 2:
            factor = factor[None, :] * ((1j * self.k[1]) ** ny)[:, None]
        return np.real(np.fft.ifftn(spectrum * factor, axes=tuple(range(-len(self.shape), 0))))


def flow_velocity(vorticity: np.ndarray, derivative: SpectralDerivatives) -> dict[str, np.ndarray]:
    """The velocity (u, v) of a 2-D incompressible periodic flow from its vorticity ω: the stream function solves
    Δψ = −ω (spectrally, its mean set to zero) and u = ψ_y, v = −ψ_x."""
    axes = (-2, -1)
    kx, ky = derivative.k[0][None, :], derivative.k[1][:, None]
    k2 = kx**2 + ky**2
    zero = k2 == 0  # the mean, and the Nyquist modes whose odd derivatives are dropped
    psi = np.where(zero, 0.0, np.fft.fftn(vorticity, axes=axes) / np.where(zero, 1.0, k2))
    return {"u": np.real(np.fft.ifftn(1j * ky * psi, axes=axes)), "v": np.real(np.fft.ifftn(-1j * kx * psi, axes=axes))}


#: Fields a twin with ``velocity_of`` carries beside its own: the flow velocity, slaved to the vorticity.
VELOCITY = ("u", "v")


@dataclass
class PdeTwin(Twin):
    """A PDE field twin; ``equations`` maps each field to its right-hand side over jet symbols and parameters.

    ``velocity_of`` names the vorticity field of a 2-D incompressible flow: its velocity (u, v) is then a pair of
    non-local fields the equations may use and the snapshots carry (as measured beside the vorticity).
    """

    fields: tuple[str, ...] = ("u",)
    equations: dict[str, sp.Expr] = field(default_factory=dict)
    order: int = 1
    grid: Grid = field(default_factory=Grid)
    initial: InitialState = field(default_factory=InitialState)
    method: str = "RK45"
    runs: int = 4
    velocity_of: str = ""

    def __post_init__(self) -> None:
        self.kind = "pde"
        if self.velocity_of and (self.grid.dims != 2 or self.velocity_of not in self.fields
                                 or set(VELOCITY) & set(self.fields)):
            raise ValueError("velocity_of needs a 2-D grid, one of the twin's fields, and no fields named u or v")
        jets = set(jet_names((*self.fields, *(VELOCITY if self.velocity_of else ())), self.grid.dims))
        allowed = jets | {p.name for p in self.parameters}
        for f in self.fields:
            unknown = {s.name for s in self.equations[f].free_symbols} - allowed
            if unknown:
                raise ValueError(f"equation of {f!r} uses unknown names {sorted(unknown)}")
        self._compiled = {f: compile_expression(self.equations[f]) for f in self.fields}

    def field_equations(self, params: Mapping[str, float] | None = None) -> dict[str, sp.Expr]:
        """The true right-hand sides with parameters substituted, keyed ``u_t`` / ``u_tt`` (verification and
        benchmarks only: discovery never reads it)."""
        p = self.resolve_params(params)
        subs = {sp.Symbol(k, real=True): v for k, v in p.items()}
        return {f"{f}_{'t' * self.order}": sp.nsimplify(self.equations[f].subs(subs), rational=False)
                for f in self.fields}

    def _rhs(self, params: Mapping[str, float], derivative: SpectralDerivatives):
        shape = derivative.shape
        size = int(np.prod(shape))
        needed = sorted({s.name for f in self.fields for s in self.equations[f].free_symbols} - set(params))

        def rhs(_t: float, state: np.ndarray) -> np.ndarray:
            values = dict(params)
            fields = {f: state[i * size:(i + 1) * size].reshape(shape) for i, f in enumerate(self.fields)}
            if self.velocity_of:
                fields.update(flow_velocity(fields[self.velocity_of], derivative))
            for name in needed:
                f, nx, ny = parse_jet(name)
                values[name] = fields[f] if nx == ny == 0 else derivative(fields[f], nx, ny)
            out = [np.broadcast_to(self._compiled[f](values), shape).ravel() for f in self.fields]
            if self.order == 2:
                return np.concatenate([state[len(self.fields) * size:], *out])
            return np.concatenate(out)

        return rhs

    def simulate(self, runs: int | None = None, params: Mapping[str, float] | None = None, noise: float = 0.0,
                 noise_model: NoiseModel = "gaussian", seed: int = 0, initial: Mapping[str, np.ndarray] | None = None,
                 initial_velocity: Mapping[str, np.ndarray] | None = None) -> Dataset:
        """Integrate ``runs`` random initial states (or the one given in ``initial``, with ``initial_velocity``
        for second order in time; else released at rest); noise (σ relative to each field's RMS) is added to the
        snapshots afterwards."""
        p = self.resolve_params(params)
        runs = self.runs if runs is None else int(runs)
        if not 1 <= runs <= 256:
            raise ValueError(f"runs must be within 1..256, got {runs}")
        rng = np.random.default_rng(seed)
        derivative = SpectralDerivatives(self.grid)
        rhs = self._rhs(p, derivative)
        times = self.grid.times()
        out = {f: [] for f in self.fields}
        size = int(np.prod(derivative.shape))
        for _ in range(1 if initial is not None else runs):
            start = dict(initial) if initial is not None else self.initial.draw(self.fields, self.grid, rng)
            state = np.concatenate([np.asarray(start[f], float).ravel() for f in self.fields])
            if self.order == 2 and initial_velocity is not None:
                state = np.concatenate([state, *(np.asarray(initial_velocity[f], float).ravel() for f in self.fields)])
            elif self.order == 2:
                state = np.concatenate([state, np.zeros_like(state)])  # released at rest
            solution = solve_ivp(rhs, (0.0, self.grid.t_end), state, method=self.method, t_eval=times,
                                 rtol=1e-8, atol=1e-10)
            if not solution.success or solution.y.shape[1] != len(times):
                raise SimulationError(f"twin {self.name!r} could not be integrated: {solution.message}")
            values = solution.y.T
            check_finite(values, self.name, p, bound=1e8)
            for i, f in enumerate(self.fields):
                out[f].append(values[:, i * size:(i + 1) * size].reshape(len(times), *derivative.shape))
            if self.velocity_of:
                for name, velocity in flow_velocity(out[self.velocity_of][-1], derivative).items():
                    out.setdefault(name, []).append(velocity)
        noisy = {f: add_noise(np.stack(v), noise, noise_model, np.random.default_rng(seed + 1 + i))
                 for i, (f, v) in enumerate(out.items())}
        axes = dict(zip(("x", "y"), self.grid.axes()))
        return Dataset(
            twin=self.name, kind="snapshots", arrays={**noisy, "t": times, **axes},
            input_names=list(axes), output_names=list(out),
            units={v.name: v.unit for v in self.inputs + self.outputs}, params=p,
            noise={"sigma": noise, "model": noise_model}, seed=seed,
            meta={"order": self.order, "periodic": True, "runs": len(out[self.fields[0]]), "targets": list(self.fields),
                  **({"velocity_of": self.velocity_of} if self.velocity_of else {})},
        )


def from_pde(spec: str | Mapping[str, str], grid: Grid | None = None, initial: InitialState | None = None,
             name: str = "custom_pde", params: Mapping[str, float] | None = None, method: str = "RK45",
             description: str = "", velocity_of: str = "", **twin: object) -> PdeTwin:
    """A twin of a user's PDE written as text, e.g. ``from_pde("u_t = nu*u_xx - u*u_x", params={"nu": 0.1})``.

    ``grid`` sets the periodic domain and snapshot times, ``initial`` the random initial states, ``velocity_of``
    a 2-D vorticity field whose flow velocity (u, v) the equations may use; further keywords (``aliases``,
    ``keywords``, ``group``) go to the twin. The text goes through the safe parser (no eval). Raises
    ``ValueError`` with the reason for a malformed spec.
    """
    grid = grid or Grid()
    params = dict(params or {})
    fields, order, rhs = parse_pde(spec, params, grid.dims, extra_fields=VELOCITY if velocity_of else ())
    return PdeTwin(
        name=name, description=description or "; ".join(f"{f}_{'t' * order} = {e}" for f, e in rhs.items()),
        kind="pde", inputs=[Variable(a, "m") for a in ("x", "y")[:grid.dims]],
        outputs=[Variable(f) for f in fields], parameters=[Parameter(k, float(v)) for k, v in params.items()],
        fields=fields, equations=rhs, order=order, grid=grid, initial=initial or InitialState(), method=method,
        velocity_of=velocity_of, **{"group": "custom", **twin},
    )
