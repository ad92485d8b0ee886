"""Physical resonances of driven twins from a frequency sweep: peak frequency, half-power width, Q."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin import ExpressionTwin, OdeTwin, Twin

MAX_SWEEP_POINTS = 20_000


@dataclass
class Resonance:
    peak_frequency: float
    peak_response: float
    width: float | None
    quality_factor: float | None
    frequencies: np.ndarray
    response: np.ndarray

    def as_dict(self) -> dict:
        return {"peak_frequency": self.peak_frequency, "peak_response": self.peak_response,
                "width": self.width, "quality_factor": self.quality_factor, "points": len(self.frequencies)}


def sweep(twin: Twin, points: int = 400, low: float | None = None, high: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Response amplitude against drive frequency.

    Closed-form twins with one input are evaluated along it; ODE twins with a drive parameter
    ``Omega`` are integrated from rest, one trajectory per frequency, and the steady-state amplitude
    of the first state is read from the last quarter of each run.
    """
    if not 8 <= points <= MAX_SWEEP_POINTS:
        raise ValueError(f"sweep points must be between 8 and {MAX_SWEEP_POINTS}")
    if isinstance(twin, ExpressionTwin) and len(twin.inputs) == 1:
        var = twin.inputs[0]
        freqs = np.linspace(var.low if low is None else low, var.high if high is None else high, points)
        return freqs, np.abs(twin.simulate(freqs[:, None]).y[:, 0])
    if isinstance(twin, OdeTwin) and "Omega" in twin.default_params:
        drive = next(p for p in twin.parameters if p.name == "Omega")
        lo = low if low is not None else (drive.low if drive.low is not None else 0.1 * drive.default)
        hi = high if high is not None else (drive.high if drive.high is not None else 3.0 * drive.default)
        freqs = np.linspace(lo, hi, points)
        t_end = max(twin.t_end, 60.0)
        n_steps = int(t_end / min(0.01, 0.05 / hi))
        data = twin.simulate(np.zeros((points, len(twin.inputs))), params={"Omega": freqs},
                             t_end=t_end, n_steps=n_steps)
        tail = data.arrays["states"][:, -n_steps // 4:, 0]
        return freqs, (tail.max(axis=1) - tail.min(axis=1)) / 2
    raise ValueError(
        f"twin {twin.name!r} has no drive frequency to sweep: need a closed-form law of one input "
        "or an ODE twin with a parameter 'Omega'"
    )


def find_resonance(twin: Twin, points: int = 400, low: float | None = None, high: float | None = None) -> Resonance:
    """Locate the largest peak; its width is the full width where the response exceeds peak/√2
    (half power), and Q = peak frequency / width."""
    freqs, response = sweep(twin, points, low, high)
    peak = int(np.argmax(response))
    half_power = response[peak] / np.sqrt(2)
    left = _crossing(freqs[: peak + 1][::-1], response[: peak + 1][::-1], half_power)
    right = _crossing(freqs[peak:], response[peak:], half_power)
    width = None if left is None or right is None else right - left
    return Resonance(
        peak_frequency=float(freqs[peak]), peak_response=float(response[peak]),
        width=None if width is None else float(width),
        quality_factor=None if not width else float(freqs[peak] / width),
        frequencies=freqs, response=response,
    )


def _crossing(freqs: np.ndarray, response: np.ndarray, level: float) -> float | None:
    """First frequency (walking away from the peak) where the response falls to ``level``, interpolated."""
    below = np.nonzero(response < level)[0]
    if not len(below):
        return None
    i = below[0]
    f0, f1, r0, r1 = freqs[i - 1], freqs[i], response[i - 1], response[i]
    return float(f0 + (level - r0) * (f1 - f0) / (r1 - r0))
