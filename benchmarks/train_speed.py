"""Training speed and quality on CPU and on CUDA, side by side on one machine: the MLP baseline, a KAN
with grid refinement and its symbolic formula, and a neural ODE learning Lotka–Volterra's vector field.

Run: python -m benchmarks.train_speed [--devices cpu,cuda] [--tag NAME];
writes benchmarks/results/train_speed_<tag>.json (tag defaults to the devices measured).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tools.constants import nmse
from tools.train import TrainResult, kan_formula, train_kan, train_mlp, train_neural_ode
from twin import get_twin


def _law_data(samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    data = get_twin("relativistic_velocity_addition").simulate(
        np.random.default_rng(seed).uniform(-0.9, 0.9, size=(samples, 2)), device="cpu")
    return data.X, data.y[:, 0]


def _timed(run: Callable[[], TrainResult]) -> tuple[TrainResult, float]:
    start = time.perf_counter()
    result = run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def _summary(result: TrainResult, seconds: float, steps_done: int) -> dict:
    return {"seconds": round(seconds, 2), "steps": steps_done, "ms_per_step": round(1000 * seconds / max(steps_done, 1), 2),
            "best_val_loss": float(min(result.history["val_loss"])), "stopped_early": result.stopped_early}


def measure_mlp(device: str, hidden: tuple[int, ...], samples: int, batch: int, steps: int) -> dict:
    X, y = _law_data(samples)
    result, seconds = _timed(lambda: train_mlp(X, y, hidden=hidden, steps=steps, batch=batch, patience=10**9,
                                               seed=0, device=device))
    test_X, test_y = _law_data(2000, seed=1)
    return {**_summary(result, seconds, result.history["step"][-1]), "samples": samples, "batch": batch,
            "test_nmse": float(nmse(result.predict(test_X)[:, 0], test_y))}


def measure_kan(device: str) -> dict:
    X, y = _law_data(1000)
    result, seconds = _timed(lambda: train_kan(X, y, hidden=(1,), grids=(5, 10, 20), steps=50, seed=0,
                                               device=device))
    start = time.perf_counter()
    formula = kan_formula(result, X, ["u", "v"], seed=0)
    return {**_summary(result, seconds, len(result.history["step"])), "formula": str(formula),
            "symbolic_seconds": round(time.perf_counter() - start, 2)}


def measure_neural_ode(device: str, trajectories: int, batch: int, steps: int) -> dict:
    twin = get_twin("lotka_volterra")
    x0 = np.random.default_rng(0).uniform(0.5, 2.0, size=(trajectories, 2))
    data = twin.simulate(x0, t_end=10.0, n_steps=200, device="cpu")
    result, seconds = _timed(lambda: train_neural_ode(data.arrays["t"], data.arrays["states"], hidden=(64, 64),
                                                      steps=steps, batch=batch, patience=10**9, seed=0,
                                                      device=device))
    states = data.arrays["states"].reshape(-1, 2)
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in data.params.items()}
    true_field = twin.vector_field(0.0, torch.as_tensor(states), params).numpy()
    return {**_summary(result, seconds, result.history["step"][-1]),
            "field_nmse": float(nmse(result.predict(states), true_field))}


def measure(device: str, mlp_steps: int, ode_steps: int) -> dict:
    cases: dict[str, Callable[[], dict]] = {
        "mlp_64x64_n20000_b256": lambda: measure_mlp(device, (64, 64), 20_000, 256, mlp_steps),
        "mlp_64x64_n200000_b8192": lambda: measure_mlp(device, (64, 64), 200_000, 8192, mlp_steps),
        "mlp_512x512x512_n200000_b8192": lambda: measure_mlp(device, (512, 512, 512), 200_000, 8192, mlp_steps),
        "kan_2_1_1_grids_5_10_20": lambda: measure_kan(device),
        "neural_ode_lotka_volterra_16x200_b256": lambda: measure_neural_ode(device, 16, 256, ode_steps),
        "neural_ode_lotka_volterra_512x200_b8192": lambda: measure_neural_ode(device, 512, 8192, ode_steps),
    }
    results = {}
    for name, case in cases.items():
        try:
            results[name] = case()
        except Exception as error:  # a benchmark records a failing case and goes on with the others
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        print(device, name, results[name], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mlp-steps", type=int, default=2000)
    parser.add_argument("--ode-steps", type=int, default=300)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    devices = args.devices.split(",")
    report = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"),
        "torch": torch.__version__,
        "results": {device: measure(device, args.mlp_steps, args.ode_steps) for device in devices},
    }
    out = Path(__file__).parent / "results" / f"train_speed_{args.tag or '_'.join(devices)}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
