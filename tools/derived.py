"""Turn trajectory and field data into tabular (X, y) problems for symbolic discovery."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline, make_smoothing_spline
from scipy.optimize import brentq
from scipy.signal import savgol_filter
from scipy.special import comb

from tools.periodic import sinusoid_frequency
from tools.train import TrainResult
from twin import Dataset


def noise_sigma(series: np.ndarray, order: int = 6) -> float:
    """σ of white noise on finely sampled smooth series (time along axis 0), pooled over the columns.

    The order-k differences of a smooth signal vanish while those of white noise have variance C(2k, k)·σ²;
    the median absolute difference makes the estimate robust to the few places where the signal is not smooth.
    """
    differences = np.diff(series, n=order, axis=0)
    return float(np.median(np.abs(differences)) / 0.6745 / np.sqrt(comb(2 * order, order)))


def smoothing_spline(t: np.ndarray, series: np.ndarray) -> BSpline:
    """Cubic smoothing spline through ``series`` (T, B) on times ``t``, one λ for all columns, chosen by the
    discrepancy principle: the residual sum of squares equals T·B·σ² for the noise σ estimated from the data.

    Written here because scipy's ``make_smoothing_spline`` chooses λ by GCV at ≈ 1 s per 1,000-point series
    (20 s per state of 16 trajectories, measured on 2 cores), while this search over its fixed-λ solves takes
    ≈ 0.5 s per state for the same derivative error on the Strogatz systems at σ = 1 %.
    """
    target = series.size * noise_sigma(series) ** 2

    def excess(log_lam: float) -> float:
        fitted = make_smoothing_spline(t, series, lam=10.0**log_lam)
        return float(np.sum((fitted(t) - series) ** 2) - target)

    low, high = -12.0, 6.0
    if excess(low) >= 0:
        log_lam = low
    elif excess(high) <= 0:
        log_lam = high
    else:
        log_lam = brentq(excess, low, high, xtol=0.05)
    return make_smoothing_spline(t, series, lam=10.0**log_lam)


def edge_trim(data: Dataset) -> int:
    """Samples dropped at each end of a trajectory, where derivative estimates are worst: 5, or 1/40 of the
    trajectory when the data are noisy (the smoothing spline's edges are less constrained)."""
    return max(5, len(data.arrays["t"]) // 40) if data.noise.get("sigma") else 5


def smooth_trajectories(data: Dataset, window: int = 9) -> tuple[np.ndarray, np.ndarray, str]:
    """Smoothed states and their time derivatives (B, T, S) with the method's name.

    Noiseless data: the states as given and a Savitzky–Golay filter of order ``window − 1``, i.e. an exact
    high-order central difference (error ∝ dt⁸ for window 9). Noisy data: a cubic smoothing spline per state
    (λ by the discrepancy principle, see ``smoothing_spline``) gives both.
    """
    if data.kind != "ode":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not ODE trajectories")
    t, states = data.arrays["t"], data.arrays["states"]
    if len(t) < window + 2 * edge_trim(data):
        raise ValueError(f"trajectories of {len(t)} points are too short to differentiate")
    if not data.noise.get("sigma"):
        derivatives = savgol_filter(states, window, window - 1, deriv=1, delta=float(t[1] - t[0]), axis=1)
        return states, derivatives, f"savgol({window},{window - 1})"
    smoothed, derivatives = np.empty_like(states), np.empty_like(states)
    for column in range(states.shape[-1]):
        spline = smoothing_spline(t, states[:, :, column].T)
        smoothed[:, :, column] = spline(t).T
        derivatives[:, :, column] = spline.derivative()(t).T
    return smoothed, derivatives, "smoothing spline, λ by the discrepancy principle"


def derivative_table(data: Dataset, window: int = 9) -> Dataset:
    """States and their time derivatives pooled over trajectories: X = states (n, S), y = dx/dt (n, S),
    from ``smooth_trajectories`` with ``edge_trim`` samples dropped at each end.

    On the Strogatz systems at σ = 1 % the smoothing spline cuts the derivative error from 36–280 % of its RMS
    (Savitzky–Golay, window 9, order 4) to 2–22 %.
    """
    smoothed, derivatives, method = smooth_trajectories(data, window)
    trim = edge_trim(data)
    S = smoothed.shape[-1]
    X = smoothed[:, trim:-trim].reshape(-1, S)
    y = derivatives[:, trim:-trim].reshape(-1, S)
    return Dataset(
        twin=data.twin, kind="derivatives", arrays={"X": X, "y": y},
        input_names=data.input_names, output_names=[f"d{n}/dt" for n in data.input_names],
        units=data.units, params=data.params, noise=data.noise, seed=data.seed,
        meta={"derived_from": "trajectories", "method": method},
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


#: Half-width, in zero-padded spectral bins, of the interval around the spectral peak searched by the sinusoid fit.
PEAK_SEARCH_BINS = 2.0


def dispersion_table(data: Dataset, site: int = 0, oversample: int = 16) -> Dataset:
    """Angular frequency of each run's oscillation against its wavenumber: X = k (n, 1), y = ω (n, 1). The
    spectral peak of the field at one site (Hann window, zero padding) brackets ω; a sinusoid fit around the
    peak (``tools.periodic.sinusoid_frequency``) refines it. The peak bin alone (0.0098 rad/s at 16× zero
    padding of a 40 s record) missed the Klein–Gordon lattice's ω by up to 1.8·10⁻³ (relative) on its 32 modes;
    the fit misses by at most 1.3·10⁻⁵, noiseless and at σ = 1 % alike (the RK4 integrator's own phase error at
    the fastest modes)."""
    if data.kind != "field":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not a lattice field")
    t, u = data.arrays["t"], data.arrays["u"]
    dt = float(t[1] - t[0])
    n_fft = oversample * len(t)
    freqs = 2 * np.pi * np.fft.rfftfreq(n_fft, d=dt)
    window = np.hanning(len(t))
    width = PEAK_SEARCH_BINS * float(freqs[1])
    omegas = []
    for run in range(u.shape[0]):
        signal = u[run, :, site] - u[run, :, site].mean()
        peak = float(freqs[int(np.argmax(np.abs(np.fft.rfft(signal * window, n=n_fft))))])
        omegas.append(sinusoid_frequency(t - t[0], signal, max(peak - width, 0.0), peak + width))
    return Dataset(
        twin=data.twin, kind="dispersion", arrays={"X": data.arrays["X"][:, :1], "y": np.array(omegas)[:, None]},
        input_names=["k"], output_names=["omega"], units={"k": "1/m", "omega": "rad/s"},
        params=data.params, noise=data.noise, seed=data.seed,
        meta={"derived_from": "field", "method": f"spectral peak at site {site} ({oversample}x zero padding), "
                                                 "refined by a least-squares sinusoid fit",
              "frequency_resolution": float(freqs[1])},
    )
