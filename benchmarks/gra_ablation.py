"""ГРА ablation (DESIGN §7): every mechanism against plain training at the same budget, paired by seed.

Arms: plain (Sobol design, unweighted loss), A (resonance-focused design scored at the starting guess),
A_seq (the same, with the parameters re-estimated from the points observed so far before each design
round), B (resonance loss weights), C (resonance step multiplier), ABC (all three), R (B's weights
shuffled over the inputs: "any reweighting" rather than "resonance reweighting"), and plain_sgd / C_sgd
(plain and C with SGD instead of Adam, where a per-parameter step multiplier can matter). Every arm has
the same number of simulator calls (design points) and the same number of optimisation steps on the same
noisy observation model.

Run: python -m benchmarks.gra_ablation [--seeds 30] [--points 24] [--steps 600] [--noise 0.02]
Writes benchmarks/results/gra_ablation.json and prints a Markdown table.

Mechanism C rescales each parameter's gradient; Adam's update is invariant to such a rescaling (up to its
ε), so with the Adam optimiser used for every arm, C can only matter through ε — reported as measured.

This version covers closed-form twins only (resonant: driven oscillator, series RLC, Rabi line; control
without resonance: the pendulum period law and an exponential decay). ODE and field twins are not in it yet.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import bootstrap, wilcoxon

from tools.design import design, resonance_design
from tools.resonance import ResonanceStepMultiplier, loss_weights, resonance_score, threshold
from twin import ExpressionTwin, Parameter, Variable, get_twin, parse_expression

ARMS = ("plain", "A", "A_seq", "B", "C", "ABC", "R", "plain_sgd", "C_sgd")
SGD_LR = 0.002  # plain SGD converges on every twin at this rate (0.01 and 0.05 diverge on the oscillator)
RESULTS = Path(__file__).parent / "results"


def _decay_twin() -> ExpressionTwin:
    """A control without resonance: y = A·exp(−k·t)."""
    return ExpressionTwin(
        name="exponential_decay", description="y = A·exp(−k·t)", kind="algebraic",
        inputs=[Variable("t", "s", 0.0, 5.0)], outputs=[Variable("y")],
        parameters=[Parameter("A", 2.0, low=0.5, high=5.0), Parameter("k", 0.7, low=0.1, high=3.0)],
        expressions={"y": parse_expression("A*exp(-k*t)", ["t", "A", "k"])},
    )


def twins() -> dict[str, tuple[ExpressionTwin, bool]]:
    """name -> (twin, resonant?)"""
    return {
        "driven_oscillator_resonance": (get_twin("driven_oscillator_resonance"), True),
        "rlc_current_amplitude": (get_twin("rlc_current_amplitude"), True),
        "rabi_line_shape": (get_twin("rabi_line_shape"), True),
        "pendulum_period": (get_twin("pendulum_period"), False),
        "exponential_decay": (_decay_twin(), False),
    }


def _fit(twin: ExpressionTwin, X: np.ndarray, y: np.ndarray, weights: np.ndarray, start: dict[str, float],
         steps: int, alpha: float, sensitivities: np.ndarray | None, sgd: bool = False) -> dict[str, float]:
    """Adam (or SGD with momentum) on log-parameters (positive physical constants) with an optional
    step multiplier."""
    names = list(start)
    log_theta = torch.tensor(np.log(np.abs([start[n] for n in names])), dtype=torch.float64, requires_grad=True)
    X_t = torch.as_tensor(X, dtype=torch.float64)
    y_t = torch.as_tensor(y, dtype=torch.float64)
    w_t = torch.as_tensor(weights, dtype=torch.float64)
    scale = float(np.mean(y**2)) or 1.0
    sens = torch.zeros(len(names)) if sensitivities is None else torch.as_tensor(sensitivities)
    inner = torch.optim.SGD([log_theta], lr=SGD_LR, momentum=0.9) if sgd else torch.optim.Adam([log_theta], lr=0.03)
    optimizer = ResonanceStepMultiplier(inner, [sens], alpha=alpha)
    for _ in range(steps):
        optimizer.zero_grad()
        prediction = twin.evaluate(X_t, dict(zip(names, torch.exp(log_theta))))[:, 0]
        loss = torch.mean(w_t * (prediction - y_t) ** 2) / scale
        if not torch.isfinite(loss):
            break
        loss.backward()
        optimizer.step()
    return dict(zip(names, np.exp(log_theta.detach().numpy())))


def run_cell(name: str, twin: ExpressionTwin, seed: int, points: int, steps: int, noise: float) -> dict:
    truth = twin.default_params
    rng = np.random.default_rng(seed)
    # every arm starts from the same perturbed guess: the true values ×/÷ up to 1.5
    start = {k: v * float(np.exp(rng.uniform(-0.4, 0.4))) for k, v in truth.items()}
    bounds = twin.input_bounds()
    plain_X = design(bounds, points, "sobol", seed)
    focused_X = resonance_design(twin, points, seed=seed, params=start, beta=2.0).points

    def re_estimate(observed_X: np.ndarray) -> dict[str, float]:
        observed_y = twin.simulate(observed_X, noise=noise, seed=seed).y[:, 0]
        return _fit(twin, observed_X, observed_y, np.ones(len(observed_X)), start, steps // 2, 0.0, None)

    sequential_X = resonance_design(twin, points, seed=seed, params=start, beta=2.0, update=re_estimate).points
    held_out = design(bounds, 400, "uniform", seed + 10_000)
    held_y = twin.simulate(held_out).y[:, 0]
    held_scores = resonance_score(twin, held_out, truth)
    near = held_scores >= np.quantile(held_scores, 0.75)
    row = {}
    for arm in ARMS:
        X = {"A": focused_X, "ABC": focused_X, "A_seq": sequential_X}.get(arm, plain_X)
        y = twin.simulate(X, noise=noise, seed=seed).y[:, 0]
        weights = np.ones(len(X))
        if arm in ("B", "ABC", "R"):
            scores = resonance_score(twin, X, start)
            weights = loss_weights(scores / (np.median(scores) or 1.0), threshold(scores / (np.median(scores) or 1.0))).weights
            if arm == "R":
                weights = np.random.default_rng(seed + 1).permutation(weights)
        sensitivities = None
        if arm in ("C", "ABC", "C_sgd"):
            from tools.resonance import parameter_jacobian

            values, J = parameter_jacobian(twin, X, start)
            s = np.abs(J).mean(axis=0) * np.abs(np.array(list(start.values())))
            sensitivities = s / (s.mean() or 1.0)
        started = time.perf_counter()
        fitted = _fit(twin, X, y, weights, start, steps, alpha=1.0 if sensitivities is not None else 0.0,
                      sensitivities=sensitivities, sgd=arm.endswith("_sgd"))
        seconds = time.perf_counter() - started
        predicted = twin.simulate(held_out, params=fitted, drop_invalid=False).y[:, 0] \
            if all(np.isfinite(list(fitted.values()))) else np.full_like(held_y, np.nan)
        errors = {k: abs(fitted[k] - v) / abs(v) for k, v in truth.items()}
        row[arm] = {
            "param_error": errors, "max_param_error": max(errors.values()),
            "rmse_near": float(np.sqrt(np.mean((predicted[near] - held_y[near]) ** 2))),
            "rmse_far": float(np.sqrt(np.mean((predicted[~near] - held_y[~near]) ** 2))),
            "seconds": seconds, "failed": bool(not np.isfinite(predicted).all() or max(errors.values()) > 0.5),
        }
    return {"twin": name, "seed": seed, "arms": row}


def _median_ci(values: np.ndarray, seed: int) -> tuple[float, float, float]:
    result = bootstrap((values,), np.median, n_resamples=2000, random_state=seed, method="percentile")
    return float(np.median(values)), float(result.confidence_interval.low), float(result.confidence_interval.high)


def summarise(rows: list[dict]) -> list[dict]:
    table = []
    for name in sorted({r["twin"] for r in rows}):
        cells = [r for r in rows if r["twin"] == name]
        for arm in ARMS:
            baseline = "plain_sgd" if arm.endswith("_sgd") else "plain"
            plain = np.array([c["arms"][baseline]["max_param_error"] for c in cells])
            errors = np.array([c["arms"][arm]["max_param_error"] for c in cells])
            median, low, high = _median_ci(errors, 0)
            p_value = None
            if arm != baseline and np.any(errors != plain):
                p_value = float(wilcoxon(errors, plain).pvalue)
            table.append({
                "twin": name, "arm": arm, "median_max_param_error": median, "ci95": [low, high],
                "p_vs_plain": p_value, "better_than_plain": float(np.mean(errors < plain)),
                "median_rmse_near": float(np.median([c["arms"][arm]["rmse_near"] for c in cells])),
                "median_rmse_far": float(np.median([c["arms"][arm]["rmse_far"] for c in cells])),
                "failure_rate": float(np.mean([c["arms"][arm]["failed"] for c in cells])),
                "median_seconds": float(np.median([c["arms"][arm]["seconds"] for c in cells])),
            })
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--points", type=int, default=24)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--noise", type=float, default=0.02)
    args = parser.parse_args()
    from tqdm import tqdm

    cells = [(name, twin) for name, (twin, _) in twins().items()]
    rows = [run_cell(name, twin, seed, args.points, args.steps, args.noise)
            for name, twin in tqdm(cells, desc="twins") for seed in range(args.seeds)]
    table = summarise(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gra_ablation.json").write_text(json.dumps(
        {"settings": vars(args), "machine": platform.machine(), "summary": table, "rows": rows}, indent=1))
    print("| twin | arm | median max parameter error [95 % CI] | p vs plain | share better | RMSE near | RMSE far | failures |")
    print("|---|---|---|---|---|---|---|---|")
    for t in table:
        p = "" if t["p_vs_plain"] is None else f"{t['p_vs_plain']:.3g}"
        print(f"| {t['twin']} | {t['arm']} | {t['median_max_param_error']:.2%} [{t['ci95'][0]:.2%}, {t['ci95'][1]:.2%}] "
              f"| {p} | {t['better_than_plain']:.0%} | {t['median_rmse_near']:.3g} | {t['median_rmse_far']:.3g} "
              f"| {t['failure_rate']:.0%} |")


if __name__ == "__main__":
    main()
