"""ГРА ablation (DESIGN §7): every mechanism against plain training at the same budget, paired by seed.

Arms: plain (Sobol design, unweighted loss), A (resonance-focused design scored at the starting guess),
A_seq (the same, with the parameters re-estimated from the points observed so far before each design
round), B (resonance loss weights), C (resonance step multiplier), ABC (all three), R (B's weights
shuffled over the inputs: "any reweighting" rather than "resonance reweighting"), and plain_sgd / C_sgd
(plain and C with SGD instead of Adam, where a per-parameter step multiplier can matter). Every arm has
the same number of simulator calls (design points) and the same number of optimisation steps on the same
noisy observation model.

Run: python -m benchmarks.gra_ablation [--seeds 30] [--points 24] [--steps 600] [--noise 0.02] [--twins a,b]
Writes benchmarks/results/gra_ablation.json and prints a Markdown table.

Mechanism C rescales each parameter's gradient; Adam's update is invariant to such a rescaling (up to its
ε), so with the Adam optimiser used for every arm, C can only matter through ε — reported as measured.

Twins. Closed form — resonant: driven oscillator amplitude, series RLC current (the applied voltage V0 is
known: with it unknown, V0, R, L and 1/C scale together and no design can identify them), Rabi line;
controls: pendulum period, exponential decay. ODE (a simulator call is one trajectory from a designed
initial state; the observation is the first state at the end of a short horizon, as the score defines
it) — resonant: driven damped oscillator and Duffing (drive amplitude and frequency known: the
experimenter sets them); controls: Lotka–Volterra, projectile with drag (g known). Field — control: the
heat lattice (a simulator call is one run from a single mode A·cos(kx); the observation is the field at
the first site at t_end, A·exp(−λ(k)·t_end); the diffusivity D is unknown, the lattice spacing known).

Simulator calls to 1 %: the arms plain, A_seq, B and C are rerun at budgets of 8–48 calls (closed-form twins)
or plain, A_seq and B at 24–192 calls (ODE and field twins: C equals plain under Adam, and each ODE fit costs
~100× a closed-form one); the smallest budget whose fit has every parameter within 1 % is reported (None: not
reached), with a paired Wilcoxon test against plain on log₂ calls (not reached: the next doubling of the largest
budget). Lotka–Volterra is left out: at 24 calls every arm is at ~13 %, and 1/√n scaling puts 1 % beyond 3,000
calls. ``--call-seeds N`` measures them on the first N seeds only; rows written before are completed in place
(a later line for the same twin and seed adds to the earlier one).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.stats import bootstrap, wilcoxon

from benchmarks.workers import one_thread
from tools.design import design, resonance_design
from tools.resonance import ResonanceStepMultiplier, loss_weights, parameter_jacobian, resonance_score, threshold
from twin import (ExpressionTwin, FieldTwin, OdeTwin, Parameter, SimulationError, Twin, Variable, get_twin,
                  parse_expression)
from twin.core import add_noise

ARMS = ("plain", "A", "A_seq", "B", "C", "ABC", "R", "plain_sgd", "C_sgd")
SGD_LR = 0.002  # plain SGD converges on every twin at this rate (0.01 and 0.05 diverge on the oscillator)
RESULTS = Path(__file__).parent / "results"
CALL_BUDGETS = (8, 12, 16, 24, 32, 48)
CALL_ARMS = ("plain", "A_seq", "B", "C")
ODE_CALL_BUDGETS = (24, 48, 96, 192)
ODE_CALL_ARMS = ("plain", "A_seq", "B")
TARGET_ERROR = 0.01


def _decay_twin() -> ExpressionTwin:
    """A control without resonance: y = A·exp(−k·t)."""
    return ExpressionTwin(
        name="exponential_decay", description="y = A·exp(−k·t)", kind="algebraic",
        inputs=[Variable("t", "s", 0.0, 5.0)], outputs=[Variable("y")],
        parameters=[Parameter("A", 2.0, low=0.5, high=5.0), Parameter("k", 0.7, low=0.1, high=3.0)],
        expressions={"y": parse_expression("A*exp(-k*t)", ["t", "A", "k"])},
    )


@dataclass
class Case:
    """A twin in the ablation: whether it has a resonance, and the parameters the experimenter knows."""

    twin: Twin
    resonant: bool
    known: tuple[str, ...] = ()
    arms: tuple[str, ...] = ARMS
    step_fraction: float = 1.0  # of --steps: ODE fits integrate through every step and cost ~100× more
    call_budgets: tuple[int, ...] = CALL_BUDGETS  # where "simulator calls to 1 %" is searched; () = not measured
    call_arms: tuple[str, ...] = CALL_ARMS

    @property
    def unknown(self) -> list[str]:
        return [k for k in self.twin.default_params if k not in self.known]

    @property
    def known_values(self) -> dict[str, float]:
        return {k: self.twin.default_params[k] for k in self.known}


def _ode_case(name: str, resonant: bool, known: tuple[str, ...] = (), horizon: float = 4.0,
              call_budgets: tuple[int, ...] = ODE_CALL_BUDGETS) -> Case:
    """An ODE twin observed after ``horizon`` (about a period: long horizons make the fit landscape
    multimodal for every arm alike) on a 20-step RK4 grid, with the main arms and half the steps (cost)."""
    twin = replace(get_twin(name), t_end=horizon, n_steps=20)
    return Case(twin, resonant, known, ("plain", "A", "A_seq", "B", "C", "R"), 0.5, call_budgets, ODE_CALL_ARMS)


def cases() -> dict[str, Case]:
    return {
        "driven_oscillator_resonance": Case(get_twin("driven_oscillator_resonance"), True),
        "rlc_current_amplitude": Case(get_twin("rlc_current_amplitude"), True, ("V0",)),
        "rabi_line_shape": Case(get_twin("rabi_line_shape"), True),
        "pendulum_period": Case(get_twin("pendulum_period"), False),
        "exponential_decay": Case(_decay_twin(), False),
        "driven_damped_oscillator_ode": _ode_case("driven_damped_oscillator", True, ("F", "Omega")),
        "duffing_ode": _ode_case("duffing", True, ("F", "Omega")),
        "lotka_volterra_ode": _ode_case("lotka_volterra", False, call_budgets=()),
        "projectile_drag_ode": _ode_case("projectile_drag", False, ("g",), horizon=1.5),
        # dt = 0.01 keeps every lattice mode stable at the default D and a (λ_max·dt = 2); one parameter
        # converges in a quarter of the steps
        "heat_lattice_field": Case(replace(get_twin("heat_lattice"), t_end=0.25, n_steps=25), False, ("a",),
                                   ("plain", "A", "A_seq", "B", "C", "R"), 0.25, ODE_CALL_BUDGETS, ODE_CALL_ARMS),
    }


def observe(twin: Twin, X: np.ndarray, params: dict[str, float], noise: float, seed: int) -> np.ndarray:
    """One simulator call per row of X: the closed-form output, an ODE's first state at the horizon, or a
    field at its first site at the end; Gaussian noise with σ relative to the RMS of the clean observations."""
    if isinstance(twin, (OdeTwin, FieldTwin)):
        arrays = twin.simulate(X, params=params, device="cpu").arrays
        clean = arrays["states"][:, -1, 0] if isinstance(twin, OdeTwin) else arrays["u"][:, -1, 0]
        return add_noise(clean, noise, "gaussian", np.random.default_rng(seed))
    return twin.simulate(X, params=params, noise=noise, seed=seed, drop_invalid=False).y[:, 0]


def _predictor(twin: Twin, X: np.ndarray) -> Callable[[dict], torch.Tensor]:
    """The observation as a differentiable function of the parameters (torchdiffeq for ODE and field twins)."""
    X_t = torch.as_tensor(X, dtype=torch.float64)
    if isinstance(twin, FieldTwin):
        t = torch.linspace(0.0, twin.t_end, twin.n_steps + 1, dtype=torch.float64)
        _, _, u0 = twin.initial_fields(X, twin.default_params["a"])
        return lambda params: twin.evolve(u0, t, twin.default_params | params)[:, -1, 0]
    if isinstance(twin, OdeTwin):
        t = torch.linspace(0.0, twin.t_end, twin.n_steps + 1, dtype=torch.float64)
        return lambda params: twin.trajectories(X_t, t, params)[:, -1, 0]
    return lambda params: twin.evaluate(X_t, params)[:, 0]


def _fit(case: Case, X: np.ndarray, y: np.ndarray, weights: np.ndarray, start: dict[str, float],
         steps: int, alpha: float, sensitivities: np.ndarray | None, sgd: bool = False) -> dict[str, float]:
    """Adam (or SGD with momentum) on log-parameters (positive physical constants) with an optional
    step multiplier; known parameters stay at their values."""
    names = list(start)
    log_theta = torch.tensor(np.log(np.abs([start[n] for n in names])), dtype=torch.float64, requires_grad=True)
    predict = _predictor(case.twin, X)
    y_t = torch.as_tensor(y, dtype=torch.float64)
    w_t = torch.as_tensor(weights, dtype=torch.float64)
    scale = float(np.mean(y**2)) or 1.0
    sens = torch.zeros(len(names)) if sensitivities is None else torch.as_tensor(sensitivities)
    inner = torch.optim.SGD([log_theta], lr=SGD_LR, momentum=0.9) if sgd else torch.optim.Adam([log_theta], lr=0.03)
    optimizer = ResonanceStepMultiplier(inner, [sens], alpha=alpha)
    for _ in range(steps):
        optimizer.zero_grad()
        prediction = predict(case.known_values | dict(zip(names, torch.exp(log_theta))))
        loss = torch.mean(w_t * (prediction - y_t) ** 2) / scale
        if not torch.isfinite(loss):
            break
        loss.backward()
        optimizer.step()
    return dict(zip(names, np.exp(log_theta.detach().numpy())))


def run_cell(name: str, case: Case, seed: int, points: int, steps: int, noise: float,
             arms: tuple[str, ...] | None = None) -> dict:
    twin, unknown, known = case.twin, case.unknown, case.known_values
    arms = case.arms if arms is None else arms
    steps = max(1, int(steps * case.step_fraction))
    truth = {k: twin.default_params[k] for k in unknown}
    rng = np.random.default_rng(seed)
    # every arm starts from the same perturbed guess: the true values ×/÷ up to 1.5
    start = {k: v * float(np.exp(rng.uniform(-0.4, 0.4))) for k, v in truth.items()}
    bounds = twin.input_bounds()
    designs = {"plain": design(bounds, points, "sobol", seed)}
    if {"A", "ABC"} & set(arms):
        designs["A"] = resonance_design(twin, points, seed=seed, params=known | start, beta=2.0, unknown=unknown).points

    def re_estimate(observed_X: np.ndarray) -> dict[str, float]:
        observed_y = observe(twin, observed_X, known, noise, seed)
        return known | _fit(case, observed_X, observed_y, np.ones(len(observed_X)), start, steps // 2, 0.0, None)

    if "A_seq" in arms:
        designs["A_seq"] = resonance_design(twin, points, seed=seed, params=known | start, beta=2.0,
                                            update=re_estimate, unknown=unknown).points
    held_out = design(bounds, 400, "uniform", seed + 10_000)
    held_y = observe(twin, held_out, known, 0.0, seed)
    held_scores = resonance_score(twin, held_out, known | truth, unknown=unknown)
    near = held_scores >= np.quantile(held_scores, 0.75)
    row = {}
    for arm in arms:
        X = designs[{"A": "A", "ABC": "A", "A_seq": "A_seq"}.get(arm, "plain")]
        y = observe(twin, X, known, noise, seed)
        weights = np.ones(len(X))
        if arm in ("B", "ABC", "R"):
            scores = resonance_score(twin, X, known | start, unknown=unknown)
            weights = loss_weights(scores / (np.median(scores) or 1.0), threshold(scores / (np.median(scores) or 1.0))).weights
            if arm == "R":
                weights = np.random.default_rng(seed + 1).permutation(weights)
        sensitivities = None
        if arm in ("C", "ABC", "C_sgd"):
            _, J = parameter_jacobian(twin, X, known | start, unknown=unknown)
            s = np.abs(J).mean(axis=0) * np.abs(np.array(list(start.values())))
            sensitivities = s / (s.mean() or 1.0)
        started = time.perf_counter()
        fitted = _fit(case, X, y, weights, start, steps, alpha=1.0 if sensitivities is not None else 0.0,
                      sensitivities=sensitivities, sgd=arm.endswith("_sgd"))
        seconds = time.perf_counter() - started
        try:
            predicted = observe(twin, held_out, known | fitted, 0.0, seed) \
                if all(np.isfinite(list(fitted.values()))) else np.full_like(held_y, np.nan)
        except SimulationError:  # the fitted parameters make the ODE blow up: a failed fit
            predicted = np.full_like(held_y, np.nan)
        errors = {k: abs(fitted[k] - v) / abs(v) for k, v in truth.items()}
        row[arm] = {
            "param_error": errors, "max_param_error": max(errors.values()),
            "rmse_near": float(np.sqrt(np.mean((predicted[near] - held_y[near]) ** 2))),
            "rmse_far": float(np.sqrt(np.mean((predicted[~near] - held_y[~near]) ** 2))),
            "seconds": seconds, "failed": bool(not np.isfinite(predicted).all() or max(errors.values()) > 0.5),
        }
    return {"twin": name, "seed": seed, "arms": row}


def calls_to_target(name: str, case: Case, seed: int, steps: int, noise: float) -> dict[str, int | None]:
    """Per arm, the first of the case's call budgets at which every parameter is within TARGET_ERROR."""
    reached: dict[str, int | None] = dict.fromkeys(case.call_arms)
    for budget in case.call_budgets:
        pending = tuple(arm for arm in case.call_arms if reached[arm] is None)
        if not pending:
            break
        cell = run_cell(name, case, seed, budget, steps, noise, pending)
        for arm in pending:
            if cell["arms"][arm]["max_param_error"] <= TARGET_ERROR:
                reached[arm] = budget
    return reached


def run_seed(name: str, seed: int, points: int, steps: int, noise: float, cell: bool = True,
             calls: bool = True) -> dict:
    """One paired cell (every arm, the same seed) and/or the simulator calls to 1 % (where the case measures them)."""
    case = cases()[name]
    row = run_cell(name, case, seed, points, steps, noise) if cell else {"twin": name, "seed": seed}
    if calls and case.call_budgets:
        row["calls_to_1pct"] = calls_to_target(name, case, seed, steps, noise)
    return row


def load_rows(log: Path) -> list[dict]:
    """The run's rows, one per (twin, seed); a later line for the same pair adds its keys to the earlier one."""
    rows: dict[tuple[str, int], dict] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        row = json.loads(line)
        rows.setdefault((row["twin"], row["seed"]), {}).update(row)
    return list(rows.values())


def _median_ci(values: np.ndarray, seed: int) -> tuple[float, float, float]:
    result = bootstrap((values,), np.median, n_resamples=2000, random_state=seed, method="percentile")
    return float(np.median(values)), float(result.confidence_interval.low), float(result.confidence_interval.high)


def _paired_p(errors: np.ndarray, baseline: np.ndarray, compared: bool) -> float | None:
    """Wilcoxon signed-rank p of an arm's errors against its baseline's, seed by seed (None where not compared
    or where the two are the same on every seed)."""
    return float(wilcoxon(errors, baseline).pvalue) if compared and np.any(errors != baseline) else None


def _calls_summary(cells: list[dict], arm: str, most_tried: int) -> dict:
    """Simulator calls to 1 % over the seeds that measured them, and a paired Wilcoxon test against plain on
    log₂ calls, where a seed that never reached 1 % counts as twice the largest budget tried (the next doubling)."""
    calls = np.array([c["calls_to_1pct"][arm] or np.inf for c in cells], dtype=float)
    median_calls = float(np.median(calls))
    summary = {"median_calls_to_1pct": None if np.isinf(median_calls) else median_calls,
               "reached_1pct": float(np.mean(np.isfinite(calls))), "call_seeds": len(cells),
               "most_calls_tried": most_tried}
    if arm != "plain":
        plain = np.array([c["calls_to_1pct"]["plain"] or np.inf for c in cells], dtype=float)
        log_arm, log_plain = (np.log2(np.minimum(v, 2 * most_tried)) for v in (calls, plain))
        summary["calls_fewer_than_plain"] = int(np.sum(log_arm < log_plain))
        summary["calls_more_than_plain"] = int(np.sum(log_arm > log_plain))
        summary["p_calls_vs_plain"] = _paired_p(log_arm, log_plain, compared=True)
    return summary


def _parameter_summary(cells: list[dict], arm: str, baseline: str, parameter: str) -> dict:
    """One parameter's relative error under ``arm``: median, bootstrap 95 % interval, paired p against the baseline."""
    errors = np.array([c["arms"][arm]["param_error"][parameter] for c in cells])
    plain = np.array([c["arms"][baseline]["param_error"][parameter] for c in cells])
    median, low, high = _median_ci(errors, 0)
    return {"median": median, "ci95": [low, high], "p_vs_plain": _paired_p(errors, plain, arm != baseline)}


def summarise(rows: list[dict]) -> list[dict]:
    table = []
    for name in sorted({r["twin"] for r in rows}):
        cells = [r for r in rows if r["twin"] == name]
        for arm in cases()[name].arms:
            baseline = "plain_sgd" if arm.endswith("_sgd") else "plain"
            plain = np.array([c["arms"][baseline]["max_param_error"] for c in cells])
            errors = np.array([c["arms"][arm]["max_param_error"] for c in cells])
            median, low, high = _median_ci(errors, 0)
            entry = {
                "twin": name, "arm": arm, "resonant": cases()[name].resonant, "seeds": len(cells),
                "median_max_param_error": median, "ci95": [low, high],
                "p_vs_plain": _paired_p(errors, plain, arm != baseline),
                "better_than_plain": float(np.mean(errors < plain)),
                "param_errors": {parameter: _parameter_summary(cells, arm, baseline, parameter)
                                 for parameter in cells[0]["arms"][arm]["param_error"]},
                "median_rmse_near": float(np.nanmedian([c["arms"][arm]["rmse_near"] for c in cells])),
                "median_rmse_far": float(np.nanmedian([c["arms"][arm]["rmse_far"] for c in cells])),
                "failure_rate": float(np.mean([c["arms"][arm]["failed"] for c in cells])),
                "median_seconds": float(np.median([c["arms"][arm]["seconds"] for c in cells])),
            }
            measured = [c for c in cells if arm in c.get("calls_to_1pct", {})]
            if measured:
                entry.update(_calls_summary(measured, arm, max(cases()[name].call_budgets)))
            table.append(entry)
    return table


def _per_parameter(entry: dict) -> str:
    """The table cell of an arm's median error per parameter, with the paired p against plain where compared."""
    return ", ".join(f"{name} {e['median']:.2%}" + ("" if e["p_vs_plain"] is None else f" ({e['p_vs_plain']:.2g})")
                     for name, e in entry["param_errors"].items())


def _calls_versus_plain(entry: dict) -> str:
    """The table cell "fewer/more, p" of an arm's calls to 1 % against plain (empty where not compared)."""
    if "calls_fewer_than_plain" not in entry:
        return ""
    p = entry["p_calls_vs_plain"]
    return (f"{entry['calls_fewer_than_plain']}/{entry['calls_more_than_plain']}"
            + ("" if p is None else f", {p:.2g}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--points", type=int, default=24)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--twins", default=",".join(cases()), help="comma-separated twin names")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--call-seeds", type=int, default=None,
                        help="measure the simulator calls to 1 %% on the first N seeds only (default: every seed)")
    args = parser.parse_args()
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    names = args.twins.split(",")
    unknown = set(names) - set(cases())
    if unknown:
        parser.error(f"unknown twins {sorted(unknown)}; choose from {', '.join(cases())}")
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / "gra_ablation.jsonl"  # one line per (twin, seed): an interrupted run resumes
    call_seeds = args.seeds if args.call_seeds is None else min(args.call_seeds, args.seeds)
    done = {(r["twin"], r["seed"]): r for r in load_rows(log)}
    measures_calls = {n: bool(case.call_budgets) for n, case in cases().items()}
    todo = []  # (twin, seed, run the cell, measure the calls)
    for n in names:
        for seed in range(args.seeds):
            row = done.get((n, seed))
            calls = seed < call_seeds and measures_calls[n] and "calls_to_1pct" not in (row or {})
            if row is None or calls:
                todo.append((n, seed, row is None, calls))
    with ProcessPoolExecutor(args.workers, initializer=one_thread) as pool, log.open("a") as handle:
        futures = [pool.submit(run_seed, n, seed, args.points, args.steps, args.noise, cell, calls)
                   for n, seed, cell, calls in todo]
        for future in tqdm(as_completed(futures), total=len(futures), desc="cells"):
            handle.write(json.dumps(future.result()) + "\n")
            handle.flush()
    # Every twin in the log, not only those just run: a run of a few twins completes the whole summary.
    table = summarise([r for r in load_rows(log) if r["seed"] < args.seeds])
    (RESULTS / "gra_ablation.json").write_text(json.dumps(
        {"settings": vars(args), "machine": platform.machine(), "summary": table}, indent=1))
    print("| twin | arm | median max parameter error [95 % CI] | p vs plain | share better | median error per parameter "
          "(p vs plain) | RMSE near | RMSE far | failures | fit seconds | calls to 1 % (reached) "
          "| calls vs plain: fewer/more, p |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        p = "" if t["p_vs_plain"] is None else f"{t['p_vs_plain']:.3g}"
        calls = "" if "reached_1pct" not in t else (
            f"{t['median_calls_to_1pct'] or '> %d' % t['most_calls_tried']} ({t['reached_1pct']:.0%}"
            + ("" if t["call_seeds"] == t["seeds"] else f" of {t['call_seeds']} seeds") + ")")
        print(f"| {t['twin']} | {t['arm']} | {t['median_max_param_error']:.2%} [{t['ci95'][0]:.2%}, {t['ci95'][1]:.2%}] "
              f"| {p} | {t['better_than_plain']:.0%} | {_per_parameter(t)} | {t['median_rmse_near']:.3g} "
              f"| {t['median_rmse_far']:.3g} | {t['failure_rate']:.0%} | {t['median_seconds']:.2g} | {calls} "
              f"| {_calls_versus_plain(t)} |")


if __name__ == "__main__":
    main()
