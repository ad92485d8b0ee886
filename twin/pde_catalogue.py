"""The PDE twins of the catalogue: KdV, Kuramoto–Sivashinsky, Fisher–KPP, Allen–Cahn, nonlinear Schrödinger
(ψ = u + i·v as two real fields), the 2-D Gray–Scott reaction–diffusion pair and 2-D vorticity (Navier–Stokes).

Each entry's grid, time window and initial states are chosen so that a run shows the equation's own dynamics
(steepening, solitons, fronts, phase separation, patterns) while staying resolved on its grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.core import Parameter
from twin.pde import Grid, InitialState, PdeTwin, from_pde


@dataclass(frozen=True)
class PdeSpec:
    """A catalogue PDE: its equations as text, parameters, grid, initial states and integrator."""

    name: str
    description: str
    equations: str
    parameters: tuple[Parameter, ...] = ()
    grid: Grid = Grid()
    initial: InitialState = InitialState()
    method: str = "RK45"
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    velocity_of: str = ""

    def build(self) -> PdeTwin:
        return from_pde(self.equations, self.grid, self.initial, self.name, {p.name: p.default for p in self.parameters},
                        self.method, f"{self.description}: {self.equations}", self.velocity_of,
                        aliases=self.aliases, keywords=self.keywords, group="pde")


PDES: tuple[PdeSpec, ...] = (
    PdeSpec("kdv", "Korteweg–de Vries equation (shallow-water solitons)", "u_t = -6*u*u_x - u_xxx",
            grid=Grid((8 * np.pi,), (128,), 1.0, 101), initial=InitialState(3, 0.5),
            method="DOP853", aliases=("korteweg-de vries", "korteweg de vries", "kdv equation"),
            keywords=("soliton", "shallow water", "korteweg")),
    PdeSpec("kuramoto_sivashinsky", "Kuramoto–Sivashinsky equation (flame fronts, spatio-temporal chaos)",
            "u_t = -u*u_x - u_xx - u_xxxx", grid=Grid((22.0,), (64,), 10.0, 101), initial=InitialState(3, 1.0),
            method="BDF", aliases=("kuramoto-sivashinsky", "kuramoto sivashinsky", "ks equation"),
            keywords=("kuramoto", "sivashinsky", "flame front", "chaos")),
    PdeSpec("fisher_kpp", "Fisher–KPP equation (spreading population)", "u_t = D*u_xx + r*u*(1 - u)",
            (Parameter("D", 0.1), Parameter("r", 1.0)), Grid((4 * np.pi,), (128,), 3.0, 101),
            InitialState(3, 0.2, 0.4), aliases=("fisher-kpp", "fisher kpp", "fisher equation", "kpp"),
            keywords=("fisher", "population", "invasion", "logistic growth")),
    PdeSpec("allen_cahn", "Allen–Cahn equation (phase separation)", "u_t = eps*u_xx + u - u**3",
            (Parameter("eps", 0.01),), Grid((2 * np.pi,), (128,), 2.0, 101), InitialState(3, 0.5),
            aliases=("allen-cahn", "allen cahn"), keywords=("allen", "cahn", "phase separation", "phase field")),
    PdeSpec("nonlinear_schrodinger", "Nonlinear Schrödinger equation i·ψ_t + ½ψ_xx + |ψ|²ψ = 0, ψ = u + i·v",
            "u_t = -0.5*v_xx - (u**2 + v**2)*v; v_t = 0.5*u_xx + (u**2 + v**2)*u",
            grid=Grid((4 * np.pi,), (128,), 2.0, 101), initial=InitialState(2, 0.7),
            aliases=("nonlinear schrodinger", "nonlinear schrödinger", "nls", "gross-pitaevskii"),
            keywords=("schrodinger", "schrödinger", "soliton", "optics", "nonlinear")),
    PdeSpec("gray_scott", "Gray–Scott reaction–diffusion pair in 2-D",
            "u_t = Du*(u_xx + u_yy) - u*v**2 + F*(1 - u); v_t = Dv*(v_xx + v_yy) + u*v**2 - (F + k)*v",
            (Parameter("Du", 0.2), Parameter("Dv", 0.1), Parameter("F", 0.04), Parameter("k", 0.06)),
            Grid((20.0, 20.0), (48, 48), 20.0, 41),
            InitialState(3, 0.1, per_field=(("u", 0.6, 0.1), ("v", 0.3, 0.1))),
            aliases=("gray-scott", "gray scott", "reaction-diffusion", "reaction diffusion"),
            keywords=("turing", "pattern", "reaction", "diffusion pair")),
    PdeSpec("vorticity_2d", "2-D incompressible Navier–Stokes in vorticity form, w_t + ∇·(w·(u, v)) = ν·Δw, "
            "with the flow's velocity (u, v) measured beside the vorticity w (u_x + v_y = 0)",
            "w_t = nu*(w_xx + w_yy) - u*w_x - u_x*w - v*w_y - v_y*w", (Parameter("nu", 0.01),),
            Grid((2 * np.pi, 2 * np.pi), (48, 48), 4.0, 41), InitialState(3, 1.0), velocity_of="w",
            aliases=("navier-stokes", "navier stokes", "vorticity equation", "2-d turbulence"),
            keywords=("vorticity", "flow", "fluid", "incompressible", "navier")),
)


def pde_twins() -> list[PdeTwin]:
    """The PDE twins of the catalogue, freshly built."""
    return [spec.build() for spec in PDES]
