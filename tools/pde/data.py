"""Field data for PDE discovery: snapshots of one or several fields on a uniform grid, checked on the way in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.dataset import Dataset
from twin.pde import VELOCITY

#: Fewest snapshots in time a weak-form fit can use (test functions need room on both sides of their centres).
MIN_TIMES = 15
MIN_POINTS = 16


class FieldDataError(ValueError):
    """Field data that cannot be used, with what to change."""


@dataclass
class FieldData:
    """Fields ``(runs, times, [ny,] nx)`` on uniform axes; ``periodic`` where space wraps around.

    Build it with :meth:`from_dataset` or :func:`load_field_file`, which check the grid, or directly through
    :meth:`checked`.
    """

    fields: dict[str, np.ndarray]
    t: np.ndarray
    axes: list[np.ndarray]  # x first
    periodic: bool = True
    #: The fields whose law is sought (default: all); the others only enter the library (a flow's velocity).
    targets: list[str] | None = None
    #: The vorticity field whose flow velocity the fields u and v are (2-D incompressible flow), if they are.
    velocity_of: str = ""

    @classmethod
    def checked(cls, fields: dict[str, np.ndarray], t: np.ndarray, axes: list[np.ndarray], periodic: bool = True,
                targets: list[str] | None = None, velocity_of: str = "") -> FieldData:
        """Validate and build: uniform spacing, matching shapes, finite values, enough snapshots."""
        if not fields:
            raise FieldDataError("no field arrays: give at least one, e.g. 'u'")
        t = np.asarray(t, dtype=float).ravel()
        axes = [np.asarray(a, dtype=float).ravel() for a in axes]
        if len(axes) not in (1, 2):
            raise FieldDataError(f"fields need one or two spatial axes (x, or x and y), got {len(axes)}")
        for name, values in (("t", t), *zip(("x", "y"), axes)):
            _check_uniform(name, values)
        shape = (len(t), *[len(a) for a in axes[::-1]])
        out = {}
        for name, values in fields.items():
            values = np.asarray(values, dtype=float)
            if values.ndim == len(shape):
                values = values[None]
            if values.ndim != len(shape) + 1 or values.shape[1:] != shape:
                sites = " × ".join(str(len(a)) for a in axes[::-1])
                layout = "ny, nx" if len(axes) == 2 else "nx"
                raise FieldDataError(f"field {name!r} has shape {values.shape}; with t of {len(t)} and {sites} sites "
                                     f"it must be (times, {layout}) or (runs, times, …)")
            bad = ~np.isfinite(values)
            if bad.any():
                raise FieldDataError(f"field {name!r} holds {int(bad.sum())} NaN/inf values: fill or crop them first")
            out[name] = values
        runs = {v.shape[0] for v in out.values()}
        if len(runs) != 1:
            raise FieldDataError("every field must have the same number of runs")
        if len(t) < MIN_TIMES:
            raise FieldDataError(f"only {len(t)} snapshots in time; PDE discovery needs at least {MIN_TIMES}")
        if min(len(a) for a in axes) < MIN_POINTS:
            raise FieldDataError(f"only {min(len(a) for a in axes)} sites along an axis; at least {MIN_POINTS} needed")
        return cls(out, t, axes, periodic, targets, velocity_of)

    @classmethod
    def from_dataset(cls, data: Dataset) -> FieldData:
        """The fields of a ``snapshots`` dataset (a PDE twin's or a lattice's runs)."""
        if data.kind != "snapshots":
            raise FieldDataError(f"dataset of kind {data.kind!r} holds no field snapshots")
        axes = [data.arrays[a] for a in ("x", "y") if a in data.arrays]
        return cls.checked({f: data.arrays[f] for f in data.output_names}, data.arrays["t"], axes,
                           bool(data.meta.get("periodic", False)), data.meta.get("targets"),
                           data.meta.get("velocity_of", ""))

    @property
    def names(self) -> list[str]:
        return list(self.fields)

    @property
    def target_names(self) -> list[str]:
        return list(self.targets or self.fields)

    @property
    def dims(self) -> int:
        return len(self.axes)

    @property
    def runs(self) -> int:
        return next(iter(self.fields.values())).shape[0]

    @property
    def n_times(self) -> int:
        return len(self.t)

    @property
    def shape(self) -> tuple[int, ...]:
        """Sites per axis, x first."""
        return tuple(len(a) for a in self.axes)

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(float(a[1] - a[0]) for a in self.axes)

    def check_integrable(self) -> None:
        """Raise ``ValueError`` unless a found law can be integrated on these data: a periodic domain (the
        integrator is spectral) and a law for every field but the flow velocity slaved to a vorticity."""
        slaved = set(VELOCITY) if self.velocity_of else set()
        if not self.periodic or set(self.target_names) | slaved != set(self.names):
            raise ValueError("integrating a found law needs a periodic domain and a law for every field")

    def rms(self) -> dict[str, float]:
        return {f: float(np.sqrt(np.mean(v**2))) for f, v in self.fields.items()}


def _check_uniform(name: str, values: np.ndarray) -> None:
    if values.ndim != 1 or len(values) < 2:
        raise FieldDataError(f"axis {name!r} must be a 1-D array of at least two values")
    if not np.all(np.isfinite(values)):
        raise FieldDataError(f"axis {name!r} holds NaN/inf")
    steps = np.diff(values)
    if not np.all(steps > 0):
        raise FieldDataError(f"axis {name!r} must increase strictly")
    if np.ptp(steps) > 1e-6 * abs(steps.mean()) + 1e-12 * np.abs(values).max():
        raise FieldDataError(f"axis {name!r} is not uniformly spaced (steps {steps.min():.4g}..{steps.max():.4g}); "
                             "non-uniform grids are not supported: resample onto a uniform grid first")


def load_field_file(path: str | Path, periodic: bool = False) -> FieldData:
    """Read an ``.npz`` of field arrays (``u``, ``v``, … shaped (times, [ny,] nx) or (runs, times, …)) with the axes
    ``t``, ``x`` (and ``y``); ``periodic`` says the spatial domain wraps around (spectral-quality integrals)."""
    path = Path(path)
    if not path.is_file():
        raise FieldDataError(f"no field file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise FieldDataError(f"cannot read {path} as .npz: {error}") from None
    missing = [a for a in ("t", "x") if a not in arrays]
    if missing:
        raise FieldDataError(f"{path.name} lacks the axis arrays {missing} (it has {sorted(arrays)})")
    axes = [arrays.pop("x")] + ([arrays.pop("y")] if "y" in arrays else [])
    t = arrays.pop("t")
    fields = {k: v for k, v in arrays.items() if k.isidentifier() and "_" not in k}
    if not fields:
        raise FieldDataError(f"{path.name} holds no field arrays besides the axes")
    return FieldData.checked(fields, t, axes, periodic)
