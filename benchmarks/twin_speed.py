"""Twin throughput: closed-form samples per second and ODE trajectories per second.

Run: python -m benchmarks.twin_speed [--device cpu|cuda|auto]; writes benchmarks/results/twin_speed_<device>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from twin import get_twin, resolve_device


def _best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(device: str) -> dict:
    dev = resolve_device(device)
    law = get_twin("relativistic_velocity_addition")
    X = np.random.default_rng(0).uniform(-0.9, 0.9, size=(1_000_000, 2))
    law_seconds = _best_of(3, lambda: law.simulate(X, device=str(dev)))
    feynman = get_twin("feynman_I_41_16")
    Xf = np.random.default_rng(0).uniform(1, 5, size=(1_000_000, len(feynman.inputs)))
    feynman_seconds = _best_of(3, lambda: feynman.simulate(Xf, device=str(dev)))
    ode = get_twin("duffing")
    x0 = np.random.default_rng(0).uniform(-1, 1, size=(1024, 2))
    ode_seconds = _best_of(2, lambda: ode.simulate(x0, n_steps=1000, device=str(dev)))
    wide_x0 = np.random.default_rng(0).uniform(-1, 1, size=(65536, 2))
    wide_seconds = _best_of(2, lambda: ode.simulate(wide_x0, n_steps=200, device=str(dev)))
    return {
        "device": str(dev),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads"
        + (f", {torch.cuda.get_device_name()}" if dev.type == "cuda" else ""),
        "closed_form_samples_per_s": {"relativistic_velocity_addition": 1e6 / law_seconds,
                                      "feynman_I_41_16 (Planck)": 1e6 / feynman_seconds},
        "ode_rk4_duffing_1024x1000": {"seconds": ode_seconds, "trajectories_per_s": 1024 / ode_seconds,
                                      "steps_per_s": 1024 * 1000 / ode_seconds},
        "ode_rk4_duffing_65536x200": {"seconds": wide_seconds, "trajectories_per_s": 65536 / wide_seconds,
                                      "steps_per_s": 65536 * 200 / wide_seconds},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    result = measure(args.device)
    out = Path(__file__).parent / "results" / f"twin_speed_{result['device'].split(':')[0]}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
