"""The lab's picture of a field law: a held-out run's field (x–t image in 1-D, the last snapshot in 2-D), the
found PDE integrated from the same initial state, and their difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.pde.data import FieldData


def field_figure(data: FieldData, simulated: dict[str, np.ndarray], run: int, path: str | Path) -> Path:
    """Write a PNG with one row per field: observed, integrated law, difference."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window from a library
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = data.target_names
    figure, axes = plt.subplots(len(names), 3, figsize=(11, 3.2 * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        observed = data.fields[name][run]
        integrated = simulated.get(name, np.full_like(observed, np.nan))
        if data.dims == 2:
            observed, integrated = observed[-1], integrated[-1]
            extent = [data.axes[0][0], data.axes[0][-1], data.axes[1][0], data.axes[1][-1]]
            labels = ("x", "y")
        else:
            extent = [data.axes[0][0], data.axes[0][-1], data.t[-1], data.t[0]]
            labels = ("x", "t")
        low, high = float(np.min(observed)), float(np.max(observed))
        for axis, values, title in zip(row, (observed, integrated, observed - integrated),
                                       (f"{name}: data", f"{name}: found PDE integrated", "difference")):
            image = axis.imshow(values, extent=extent, aspect="auto", cmap="RdBu_r" if title == "difference" else
                                "viridis", **({} if title == "difference" else {"vmin": low, "vmax": high}))
            axis.set_title(title + (" (last snapshot)" if data.dims == 2 else ""))
            axis.set_xlabel(labels[0])
            axis.set_ylabel(labels[1])
            figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
