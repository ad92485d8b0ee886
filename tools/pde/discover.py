"""PDE discovery: the law u_t = F(u, u_x, u_xx, …) (or u_tt = F) behind snapshots of one or several fields.

The pipeline: a library of conservative terms (tools.pde.library) → their weak-form integrals against test
functions (tools.pde.weak) → candidate term sets from three sparse searches, chosen by cross-validated residual
(tools.pde.select) → function terms the polynomial library does not hold (tools.pde.functions) → coefficients
snapped to simple values → on request, a refit of the coefficients against the snapshots themselves by integrating
the found PDE (tools.pde.refit; off by default, see :class:`PdeOptions`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import sympy as sp

from tools.pde.data import FieldData
from tools.pde.functions import FunctionOptions, with_functions
from tools.pde.library import LibraryOptions, Term, build_library
from tools.pde.refit import RefitOptions, refit_pde
from tools.pde.select import Fit, SelectOptions, choose, exact_value, simple_values, snap
from tools.pde.verify import term_coefficients
from tools.pde.weak import WeakOptions, WeakSystem, weak_system
from twin.expressions import parse_expression

Progress = Callable[[str, dict], None]


@dataclass(frozen=True)
class PdeOptions:
    """Settings of :func:`discover_pde`.

    Parameters
    ----------
    library, weak, select : the term library, the test functions and the term choice.
    functions : the search for terms the polynomial library does not hold (sin(a·u), u/(1 + a·u²), …;
        tools.pde.functions); None to skip it.
    orders : orders in time tried (1: u_t = F; 2: u_tt = F). Second order is kept only where the first-order law
        leaves more than ``first_order_fails`` of the time derivative unexplained and the second-order one
        ``second_order_gain`` times less, since u_t = F implies a u_tt law too.
    refit : integrate the found PDE and refit its coefficients against windows of the snapshots
        (``refit_options``; periodic data only). Off by default: measured on the field suite at σ = 0.05 it did not
        lower the coefficient error of the weak-form fit (docs/pde.md), since the filtered noise of each window's
        starting state propagates into the fit.
    """

    library: LibraryOptions = LibraryOptions()
    weak: WeakOptions = WeakOptions()
    select: SelectOptions = SelectOptions()
    orders: tuple[int, ...] = (1, 2)
    first_order_fails: float = 0.1
    second_order_gain: float = 4.0
    refit: bool = False
    refit_options: RefitOptions = RefitOptions()
    functions: FunctionOptions | None = FunctionOptions()


@dataclass
class FieldLaw:
    """The law of one field: ``lhs`` (u_t or u_tt) = ``rhs`` over jet symbols, and its terms' coefficients."""

    lhs: str
    rhs: sp.Expr
    terms: dict[str, float]
    residual: float
    r2_test: float
    snapped: bool
    stable: bool = False
    rival: str | None = None
    capped: bool = False  # as many terms as the term choice allows: the law may have been cut off
    candidates: list[dict] = field(default_factory=list)
    #: The right-hand side of each entry of ``candidates``, in the same order (rival laws for a sequential design).
    candidate_rhs: list[sp.Expr] = field(default_factory=list)

    @property
    def equation(self) -> str:
        return f"{self.lhs} = {text(self.rhs)}"

    @property
    def coefficients(self) -> dict[str, float]:
        """The law's expanded terms and their coefficients: {"u*u_x": -1.0, "u_xx": 0.1}."""
        return {text(term): value for term, value in term_coefficients(self.rhs).items()}


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
        """Every field's law is chosen again with any one run (or block of time) left out, explains the held-out
        weak-form rows (R² ≥ 0.9), has no rival with function terms that fits as well, and is not cut off at the
        most terms allowed."""
        return self.r2_test >= 0.9 and all(law.stable and law.rival is None and not law.capped
                                           for law in self.laws.values())

    def as_dict(self) -> dict:
        return {
            "equation": self.equation, "order": self.order,
            "laws": {f: {"lhs": law.lhs, "rhs": text(law.rhs), "equation": law.equation, "terms": law.coefficients,
                         "residual": law.residual, "r2_test": law.r2_test, "snapped": law.snapped,
                         "stable": law.stable, "rival": law.rival, "candidates": law.candidates[:6]}
                     for f, law in self.laws.items()},
            "r2_test": self.r2_test, "confident": self.confident, "noise": self.noise,
            "seconds": self.seconds, **({"refit": self.refit} if self.refit else {}),
        }


def text(expr: sp.Expr) -> str:
    """A law as text, floats at their significant digits (0.98, not 0.980000000000000)."""
    return sp.sstr(expr, full_prec=False)


def estimate_noise(data: FieldData) -> dict[str, float]:
    """Noise σ of each field relative to its RMS, from third differences in time (smooth signals leave almost
    nothing there; white noise leaves 20σ² in their variance)."""
    out = {}
    for name, values in data.fields.items():
        third = np.diff(values, n=3, axis=1)
        out[name] = float(np.sqrt(np.median(third**2) / 0.4549 / 20) / (np.sqrt(np.mean(values**2)) or 1.0))
    return out


def _split_rows(system: WeakSystem, runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train and test rows, and the cross-validation group of each train row. With several runs the last run is
    the test; the other runs are the groups where there are two or more, else four blocks of their test
    functions in time order. With one run, four blocks, the last one the test."""
    rows = np.arange(len(system.run_of_row))
    if runs > 1:
        test = system.run_of_row == runs - 1
        train = rows[~test]
        groups = system.run_of_row[train] if runs > 2 else (4 * np.arange(len(train))) // len(train)
        return train, rows[test], groups
    blocks = (4 * rows) // len(rows)
    return rows[blocks < 3], rows[blocks == 3], blocks[blocks < 3]


def _law(terms: list[Term], fit: Fit) -> sp.Expr:
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
                          for f in data.target_names}
    order = 1 if 1 in results else 2
    if 2 in results and 1 in results:
        first = max(results[1][f][0].residual for f in data.target_names)
        second = max(results[2][f][0].residual for f in data.target_names)
        if first > options.first_order_fails and second * options.second_order_gain < first:
            order = 2
    system = systems[order]
    train, test, groups = _split_rows(system, data.runs)
    laws = {}
    for name in data.target_names:
        chosen, ranked = results[order][name]
        field_terms, all_columns, rival = terms, system.columns, None
        if options.functions is not None:
            progress("pde_functions", {"field": name})
            search = with_functions(system.integrator, train, groups, system.columns[train],
                                    system.lhs[name][train], terms, chosen, options.select, options.functions)
            if search is not None and search.accepted:
                chosen, ranked, field_terms = search.chosen, search.ranked, [*terms, *search.added]
                all_columns = np.column_stack([system.columns, search.columns])
            elif search is not None and search.rival:
                rival = f"{name}_{'t' * order} = " + text(_law([*terms, *search.added], search.chosen))
        columns, lhs = all_columns[train], system.lhs[name][train]
        # The same terms chosen again with each cross-validation group left out: a law the data pins down.
        stable = all(choose(columns[groups != g], lhs[groups != g], groups[groups != g], options.select)[0].support
                     == chosen.support for g in np.unique(groups))
        snapped = snap(columns, lhs, chosen, options.select)
        label = f"{name}_{'t' * order}"
        laws[name] = FieldLaw(
            lhs=label, rhs=_law(field_terms, snapped),
            terms={sp.sstr(field_terms[i].strong()): float(snapped.coefficients[i]) for i in snapped.support},
            residual=snapped.residual,
            r2_test=_r2(all_columns[test], system.lhs[name][test], snapped.coefficients),
            snapped=bool(np.any(snapped.coefficients != chosen.coefficients)), stable=stable, rival=rival,
            capped=len(snapped.support) >= options.select.max_terms,
            candidates=[{"equation": f"{label} = {text(_law(field_terms, f))}", "terms": len(f.support),
                         "residual": f.residual, "validation": f.validation} for f in ranked[:8]],
            candidate_rhs=[_law(field_terms, f) for f in ranked[:8]],
        )
    noise = estimate_noise(data)
    refit = None
    if options.refit:
        progress("pde_refit", {"terms": sum(len(law.terms) for law in laws.values())})
        refit = _refit(data, laws, order, noise, options)
    for name, law in laws.items():
        progress("pde_law", {"field": name, "equation": law.equation})
    return PdeDiscovery(laws, order, noise, time.perf_counter() - start, refit)


def _refit(data: FieldData, laws: dict[str, FieldLaw], order: int, noise: dict[str, float],
           options: PdeOptions) -> dict:
    """Refit every law's coefficients against the snapshots (tools.pde.refit); a refitted coefficient snaps to
    the simplest value within two standard errors. The laws are updated in place where the refit helped."""
    symbols = {s.name: s for law in laws.values() for s in law.rhs.free_symbols}
    strong = {f: {key: parse_expression(key, list(symbols)) for key in law.terms} for f, law in laws.items()}
    start = {f: dict(law.terms) for f, law in laws.items()}
    try:
        result = refit_pde(data, strong, start, order, noise, options.refit_options)
    except ValueError as error:
        return {"skipped": str(error)}
    if result.error_after >= result.error_before:
        return {"error_before": result.error_before, "error_after": result.error_after, "kept": "weak-form fit"}
    for f, law in laws.items():
        values, snapped = {}, False
        for key, value in result.coefficients[f].items():
            error = result.standard_errors[f][key]
            near = [v for v in simple_values(value) if abs(v - value) <= 2 * error]
            values[key], snapped = (near[0], True) if near else (value, snapped)
        law.terms, law.snapped = values, snapped
        law.rhs = sp.expand(sum((exact_value(v) * strong[f][key] for key, v in values.items()), sp.Integer(0)))
    return {"error_before": result.error_before, "error_after": result.error_after,
            "standard_errors": result.standard_errors}
