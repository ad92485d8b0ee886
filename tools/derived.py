"""Turn trajectory and field data into tabular (X, y) problems for symbolic discovery."""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from tools.train import TrainResult
from twin import Dataset


def derivative_table(data: Dataset, window: int = 9, polyorder: int | None = None, trim: int = 5) -> Dataset:
    """States and their time derivatives, estimated by Savitzky–Golay smoothing differentiation,
    pooled over trajectories: X = states (n, S), y = dx/dt (n, S). Edge samples are trimmed.

    The default order is 4 (smoothing) for noisy data and ``window − 1`` for noiseless data, where the
    filter becomes an exact high-order central difference (error ∝ dt⁸ instead of dt⁴ for window 9).
    """
    noisy = bool(data.noise.get("sigma"))
    polyorder = (4 if noisy else window - 1) if polyorder is None else polyorder
    if data.kind != "ode":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not ODE trajectories")
    t, states = data.arrays["t"], data.arrays["states"]
    dt = float(t[1] - t[0])
    if len(t) < window + 2 * trim:
        raise ValueError(f"trajectories of {len(t)} points are too short to differentiate")
    derivatives = savgol_filter(states, window, polyorder, deriv=1, delta=dt, axis=1)
    smoothed = savgol_filter(states, window, polyorder, axis=1) if noisy else states
    X = smoothed[:, trim:-trim].reshape(-1, states.shape[-1])
    y = derivatives[:, trim:-trim].reshape(-1, states.shape[-1])
    return Dataset(
        twin=data.twin, kind="derivatives", arrays={"X": X, "y": y},
        input_names=data.input_names, output_names=[f"d{n}/dt" for n in data.input_names],
        units=data.units, params=data.params, noise=data.noise, seed=data.seed,
        meta={"derived_from": "trajectories", "method": f"savgol({window},{polyorder})"},
    )


def vector_field_table(data: Dataset, field: TrainResult, trim: int = 5) -> Dataset:
    """States and a trained neural ODE's vector field at them: X = states (n, S), y = f(X) (n, S); an
    alternative to differencing when trajectories are noisy or coarsely sampled."""
    if data.kind != "ode":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not ODE trajectories")
    states = data.arrays["states"]
    if states.shape[-1] != field.x_scaler.mean.shape[0]:
        raise ValueError(f"the model was trained on {field.x_scaler.mean.shape[0]} states, the dataset has {states.shape[-1]}")
    X = states[:, trim:-trim].reshape(-1, states.shape[-1])
    return Dataset(
        twin=data.twin, kind="derivatives", arrays={"X": X, "y": field.predict(X)},
        input_names=data.input_names, output_names=[f"d{n}/dt" for n in data.input_names],
        units=data.units, params=data.params, noise=data.noise, seed=data.seed,
        meta={"derived_from": "trajectories", "method": "neural ODE vector field"},
    )


def dispersion_table(data: Dataset, site: int = 0, oversample: int = 16) -> Dataset:
    """Angular frequency of each run's oscillation (the spectral peak of the field at one site,
    refined by zero padding) against its wavenumber: X = k (n, 1), y = ω (n, 1)."""
    if data.kind != "field":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not a lattice field")
    t, u = data.arrays["t"], data.arrays["u"]
    dt = float(t[1] - t[0])
    n_fft = oversample * len(t)
    freqs = 2 * np.pi * np.fft.rfftfreq(n_fft, d=dt)
    window = np.hanning(len(t))
    omegas = []
    for run in range(u.shape[0]):
        signal = u[run, :, site] - u[run, :, site].mean()
        spectrum = np.abs(np.fft.rfft(signal * window, n=n_fft))
        omegas.append(freqs[int(np.argmax(spectrum))])
    return Dataset(
        twin=data.twin, kind="dispersion", arrays={"X": data.arrays["X"][:, :1], "y": np.array(omegas)[:, None]},
        input_names=["k"], output_names=["omega"], units={"k": "1/m", "omega": "rad/s"},
        params=data.params, noise=data.noise, seed=data.seed,
        meta={"derived_from": "field", "method": f"spectral peak at site {site}, {oversample}x zero padding",
              "frequency_resolution": float(freqs[1])},
    )
