"""PDE discovery: the law u_t = F(u, u_x, u_xx, …) (or u_tt = F) behind snapshots of one or several fields.

The pipeline: a library of conservative terms (tools.pde.library) → their weak-form integrals against test
functions (tools.pde.weak) → candidate term sets from three sparse searches, chosen by residual against terms
(tools.pde.select) → coefficients snapped to simple values → where the data is noisy and periodic, a refit of the
coefficients against the snapshots themselves by integrating the found PDE (tools.pde.refit).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import sympy as sp

from tools.pde.data import FieldData
from tools.pde.library import LibraryOptions, Term, build_library
from tools.pde.select import Fit, SelectOptions, choose, exact_value, snap
from tools.pde.weak import WeakOptions, WeakSystem, weak_system

Progress = Callable[[str, dict], None]


@dataclass(frozen=True)
class PdeOptions:
    """Settings of :func:`discover_pde`.

    Parameters
    ----------
    library, weak, select : the term library, the test functions and the term choice.
    orders : orders in time tried (1: u_t = F; 2: u_tt = F). Second order is kept only where the first-order law
        leaves more than ``first_order_fails`` of the time derivative unexplained and the second-order one
        ``second_order_gain`` times less, since u_t = F implies a u_tt law too.
    refit : integrate the found PDE and refit its coefficients against the snapshots: ``None`` where the data is
        noisy and periodic, or always/never.
    """

    library: LibraryOptions = LibraryOptions()
    weak: WeakOptions = WeakOptions()
    select: SelectOptions = SelectOptions()
    orders: tuple[int, ...] = (1, 2)
    first_order_fails: float = 0.1
    second_order_gain: float = 4.0
    refit: bool | None = None


@dataclass
class FieldLaw:
    """The law of one field: ``lhs`` (u_t or u_tt) = ``rhs`` over jet symbols, and its terms' coefficients."""

    lhs: str
    rhs: sp.Expr
    terms: dict[str, float]
    residual: float
    r2_test: float
    snapped: bool
    candidates: list[dict] = field(default_factory=list)

    @property
    def equation(self) -> str:
        return f"{self.lhs} = {sp.sstr(self.rhs)}"


@dataclass
class PdeDiscovery:
    """What :func:`discover_pde` found: one law per field, how well it explains held-out data, the noise it saw."""

    laws: dict[str, FieldLaw]
    order: int
    noise: dict[str, float]
    seconds: float
    refit: dict | None = None

    @property
    def equation(self) -> str:
        return "; ".join(law.equation for law in self.laws.values())

    @property
    def r2_test(self) -> float:
        return float(min(law.r2_test for law in self.laws.values()))

    @property
    def confident(self) -> bool:
        """Every field's law explains the held-out weak rows (R² ≥ 0.99) with at most ``max_terms − 1`` terms."""
        return self.r2_test >= 0.99 and all(len(law.terms) < SelectOptions.max_terms for law in self.laws.values())

    def as_dict(self) -> dict:
        return {
            "equation": self.equation, "order": self.order,
            "laws": {f: {"lhs": law.lhs, "rhs": sp.sstr(law.rhs), "equation": law.equation, "terms": law.terms,
                         "residual": law.residual, "r2_test": law.r2_test, "snapped": law.snapped,
                         "candidates": law.candidates[:6]} for f, law in self.laws.items()},
            "r2_test": self.r2_test, "confident": self.confident, "noise": self.noise,
            "seconds": self.seconds, **({"refit": self.refit} if self.refit else {}),
        }


def estimate_noise(data: FieldData) -> dict[str, float]:
    """Noise σ of each field relative to its RMS, from third differences in time (smooth signals leave almost
    nothing there; white noise leaves 20σ² in their variance)."""
    out = {}
    for name, values in data.fields.items():
        third = np.diff(values, n=3, axis=1)
        out[name] = float(np.sqrt(np.median(third**2) / 0.4549 / 20) / (np.sqrt(np.mean(values**2)) or 1.0))
    return out


def _split_rows(system: WeakSystem, runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train and test rows, and the cross-validation group of each train row: with several runs the last run is
    held out and the others are the groups; with one run, four blocks of test functions, the last held out."""
    rows = np.arange(len(system.run_of_row))
    groups = system.run_of_row if runs > 1 else (4 * rows) // len(rows)
    last = groups.max()
    return rows[groups != last], rows[groups == last], groups[groups != last]


def _law(terms: list[Term], fit: Fit, lhs: str) -> sp.Expr:
    return sp.expand(sum((exact_value(float(fit.coefficients[i])) * terms[i].strong() for i in fit.support),
                         sp.Integer(0)))


def _r2(columns: np.ndarray, lhs: np.ndarray, coefficients: np.ndarray) -> float:
    denominator = float(np.sum((lhs - lhs.mean()) ** 2)) or 1.0
    return float(1.0 - np.sum((columns @ coefficients - lhs) ** 2) / denominator)


def discover_pde(data: FieldData, options: PdeOptions = PdeOptions(), progress: Progress | None = None,
                 ) -> PdeDiscovery:
    """Find the PDE of each field of ``data``.

    Parameters
    ----------
    data : snapshots on a uniform grid (:class:`tools.pde.data.FieldData`).
    options : library, test functions, term choice, time orders and refit (:class:`PdeOptions`).
    progress : called with (stage, info) as the search goes.

    Returns
    -------
    PdeDiscovery
        One law per field, its held-out R² over weak-form rows, the noise estimate and the time taken.
    """
    progress = progress or (lambda stage, info: None)
    start = time.perf_counter()
    terms = build_library(data.names, data.dims, options.library)
    weak = WeakOptions(**{**asdict(options.weak), "power": max(options.weak.power, options.library.max_order + 4)})
    results: dict[int, dict[str, tuple[Fit, list[Fit]]]] = {}
    systems: dict[int, WeakSystem] = {}
    for order in options.orders:
        if order == 2 and data.n_times < 21:
            continue
        progress("pde_order", {"order": order, "terms": len(terms)})
        system = weak_system(data, terms, order, weak)
        train, _, groups = _split_rows(system, data.runs)
        systems[order] = system
        results[order] = {f: choose(system.columns[train], system.lhs[f][train], groups, options.select)
                          for f in data.names}
    order = 1 if 1 in results else 2
    if 2 in results and 1 in results:
        first = max(results[1][f][0].residual for f in data.names)
        second = max(results[2][f][0].residual for f in data.names)
        if first > options.first_order_fails and second * options.second_order_gain < first:
            order = 2
    system = systems[order]
    train, test, _ = _split_rows(system, data.runs)
    laws = {}
    for name in data.names:
        chosen, ranked = results[order][name]
        columns, lhs = system.columns[train], system.lhs[name][train]
        snapped = snap(columns, lhs, chosen, options.select)
        label = f"{name}_{'t' * order}"
        laws[name] = FieldLaw(
            lhs=label, rhs=_law(terms, snapped, label),
            terms={sp.sstr(terms[i].strong()): float(snapped.coefficients[i]) for i in snapped.support},
            residual=snapped.residual,
            r2_test=_r2(system.columns[test], system.lhs[name][test], snapped.coefficients),
            snapped=bool(np.any(snapped.coefficients != chosen.coefficients)),
            candidates=[{"equation": f"{label} = {sp.sstr(_law(terms, f, label))}", "terms": len(f.support),
                         "residual": f.residual, "validation": f.validation} for f in ranked[:8]],
        )
        progress("pde_law", {"field": name, "equation": laws[name].equation})
    return PdeDiscovery(laws, order, estimate_noise(data), time.perf_counter() - start)
