"""Weak-form integrals of field data (WSINDy, Messenger & Bortz 2021): each equation u_t = Σ c·∂^α g(u) is
integrated against compactly supported test functions φ, and integration by parts moves every derivative onto φ:

    −∫ φ_t u = Σ c·(−1)^|α| ∫ (∂^α φ) g(u)      (∫ φ_tt u on the left for second order in time).

No derivative of the data is taken, so noise enters only through integrals that average it. Written here rather
than taken from pysindy's WeakPDELibrary because the engine needs each term's column on its own (the term choice,
snapping and the function-term search work on them), terms ∂^α g(u) with any g, and second order in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Polynomial
from scipy.signal import fftconvolve

from tools.pde.data import FieldData
from tools.pde.library import Term


@dataclass(frozen=True)
class WeakOptions:
    """Test functions φ = Π (1 − (s/w)²)^p over x, (y,) t and where their centres sit.

    Parameters
    ----------
    support_x, support_t : half-width of φ as a share of the spatial axes and of the time axis.
    power : p; :func:`tools.pde.discover_pde` raises it to the library's highest derivative order + 4, so that
        φ's derivatives vanish smoothly at its edges (the quadrature needs it).
    centres : about how many test functions per run (their centres on a regular lattice).
    """

    support_x: float = 0.25
    support_t: float = 0.15
    power: int = 6
    centres: int = 400


def bump(half_width: int, spacing: float, power: int, order: int) -> np.ndarray:
    """dᵏ/dsᵏ of (1 − (s/w)²)^p sampled at s = −w..w (w = half_width·spacing)."""
    w = half_width * spacing
    poly = Polynomial([1.0, 0.0, -1.0 / w**2]) ** power
    s = np.arange(-half_width, half_width + 1) * spacing
    return poly.deriv(order)(s) if order else poly(s)


@dataclass
class WeakSystem:
    """The weak-form linear system of one run set: ``lhs`` (rows,) per field and one column per term."""

    lhs: dict[str, np.ndarray]
    columns: np.ndarray  # (rows, terms)
    run_of_row: np.ndarray  # which run each row's test function sits in
    integrator: WeakIntegrator  # for columns of terms added later


def _half_widths(data: FieldData, options: WeakOptions) -> tuple[int, list[int]]:
    mt = max(2, min(int(round(options.support_t * (data.n_times - 1))), (data.n_times - 1) // 2 - 1))
    mx = [max(3, min(int(round(options.support_x * n)), n // 2 - 1)) for n in data.shape]
    return mt, mx


def _correlate(values: np.ndarray, kernel: np.ndarray, axis: int, periodic: bool) -> np.ndarray:
    """r[i] = Σₛ kernel[s + m]·values[i + s] along ``axis`` (s = −m..m): circular where the axis wraps
    around, else only the centres whose support lies inside."""
    if not periodic:
        shape = [1] * values.ndim
        shape[axis] = len(kernel)
        return fftconvolve(values, kernel[::-1].reshape(shape), mode="valid", axes=axis)
    n, m = values.shape[axis], len(kernel) // 2
    wrapped = np.zeros(n)
    wrapped[np.arange(-m, m + 1) % n] = kernel
    shape = [1] * values.ndim
    shape[axis] = n // 2 + 1
    spectrum = np.conj(np.fft.rfft(wrapped)).reshape(shape)
    return np.fft.irfft(np.fft.rfft(values, axis=axis) * spectrum, n=n, axis=axis)


class WeakIntegrator:
    """Integrals of a field's functions against the test functions of one data set (their centres fixed once)."""

    def __init__(self, data: FieldData, options: WeakOptions):
        self.data, self.options = data, options
        self.mt, self.mx = _half_widths(data, options)
        valid_t = data.n_times - 2 * self.mt
        if valid_t < 1:
            raise ValueError(f"too few snapshots ({data.n_times}) for test functions {2 * self.mt + 1} wide in time")
        valid_space = [n if data.periodic else n - 2 * m for n, m in zip(data.shape, self.mx)]
        count_t = min(valid_t, max(4, round(options.centres ** (1 / (data.dims + 1)))))
        per_axis = max(1, round((options.centres / count_t) ** (1 / data.dims)))
        self.stride_t = max(1, valid_t // count_t)
        self.strides = [max(1, n // per_axis) for n in valid_space]
        self.weight = np.prod(data.spacing) * data.dt

    def integrate(self, values: np.ndarray, nx: int, ny: int, nt: int) -> np.ndarray:
        """∫ (∂ₓ^nx ∂ᵧ^ny ∂ₜ^nt φ) · values for every test function: rows (runs × centres)."""
        data, options = self.data, self.options
        result = _correlate(values, bump(self.mx[0], data.spacing[0], options.power, nx), -1, data.periodic)
        result = result[..., ::self.strides[0]]
        if data.dims == 2:
            result = _correlate(result, bump(self.mx[1], data.spacing[1], options.power, ny), -2, data.periodic)
            result = result[..., ::self.strides[1], :]
        result = _correlate(result, bump(self.mt, data.dt, options.power, nt), 1, False)[:, ::self.stride_t]
        return result.reshape(result.shape[0], -1).ravel() * self.weight

    def lhs(self, field: str, order: int) -> np.ndarray:
        """∫ φ·∂ₜ^order u, by parts: (−1)^order ∫ (∂ₜ^order φ)·u."""
        return (-1.0) ** order * self.integrate(self.data.fields[field], 0, 0, order)

    def column(self, term: Term) -> np.ndarray:
        """∫ φ·∂^α g(u) = (−1)^|α| ∫ (∂^α φ)·g(u)."""
        values = term.values(self.data.fields)
        return (-1.0) ** term.order * sum(m * self.integrate(values, nx, ny, 0) for m, nx, ny in term.parts())


def weak_system(data: FieldData, terms: list[Term], order: int, options: WeakOptions) -> WeakSystem:
    """Integrate the left-hand sides (∂ₜ^order of each field) and every term against the test functions."""
    integrator = WeakIntegrator(data, options)
    lhs = {f: integrator.lhs(f, order) for f in data.target_names}
    columns = np.column_stack([integrator.column(term) for term in terms])
    rows_per_run = len(next(iter(lhs.values()))) // data.runs
    return WeakSystem(lhs, columns, np.repeat(np.arange(data.runs), rows_per_run), integrator)
