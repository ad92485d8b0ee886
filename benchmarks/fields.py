"""Field-law benchmark (issue 37): the PDE behind field twins at σ = 0, 0.01, 0.05, the engine beside pysindy's
PDE-FIND and weak SINDy on the same data.

Run: python -m benchmarks.fields [--noise 0,0.01,0.05] [--seeds 0,1] [--suite catalogue|held_out]
Writes benchmarks/results/fields_<suite>_noise<σ>.jsonl (one line per problem, seed and method; resumed on restart;
one process per noise level runs in parallel) and prints the summary of every noise level measured so far.

Every problem: four runs from random smooth initial states (the engine holds the last one out of its fit), and
two more runs from other initial states for the integrated check (the found PDE integrated from their first
snapshot, R² against their snapshots). Exact: the right set of terms with every coefficient within 1 % (σ = 0)
or 5 % (noisy) of the truth, after dropping terms below 1e-4 of a law's largest coefficient (every method alike). Baselines, each with its documented defaults (STLSQ threshold 0.1) and with the
threshold of a grid that comes closest to the truth (an oracle choice: the baselines' best case):

- ``pdefind``: ``PDELibrary`` (polynomials to degree 3, derivatives to order 4 in 1-D and 2 in 2-D, which is all
  the 2-D truths need; pysindy's default finite differences) with STLSQ; for second order in time it is given u_tt
  (finite differences) as the target.
- ``wsindy``: ``WeakPDELibrary`` (the same library, K = 100 test functions) with STLSQ; first order in time
  only, so second-order twins count as misses.

The held-out suite (``--suite held_out``) holds PDEs written for this benchmark after the engine's settings were
fixed: advection–diffusion, Swift–Hohenberg, a FitzHugh–Nagumo pair, sine-Gordon and a saturating growth
u/(1 + u²). Sine-Gordon's first run (0 of 2 exact at every σ, the polynomial stand-in u − 0.15·u³ found) led to the
search for function terms, so it is no longer held out; saturating growth was added after that and run once.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pysindy as ps
import sympy as sp

from tools.pde import FieldData, discover_pde
from tools.pde.verify import integrated_score, matches, term_coefficients
from twin import Grid, InitialState, from_pde, get_twin

RESULTS = Path(__file__).parent / "results"
CATALOGUE = ("heat_lattice", "burgers_lattice", "wave_lattice", "klein_gordon_lattice", "kdv",
             "kuramoto_sivashinsky", "fisher_kpp", "allen_cahn", "nonlinear_schrodinger", "gray_scott", "vorticity_2d")
THRESHOLDS = tuple(np.geomspace(1e-3, 1.0, 13))
#: Rows of the library matrix the oracle's threshold sweep uses at most (2-D PDE-FIND has 378,000).
SWEEP_ROWS = 20_000


def held_out_twins() -> dict:
    """PDEs the engine was not tuned on (see the module docstring)."""
    return {
        "advection_diffusion": from_pde("u_t = -0.5*u_x + 0.05*u_xx", Grid((2 * np.pi,), (128,), 2.0, 101),
                                        InitialState(4, 1.0), name="advection_diffusion"),
        "swift_hohenberg": from_pde("u_t = -0.7*u - 2*u_xx - u_xxxx - u**3", Grid((8 * np.pi,), (128,), 5.0, 101),
                                    InitialState(5, 0.5), name="swift_hohenberg", method="BDF"),
        "fitzhugh_nagumo": from_pde("u_t = u_xx + u - u**3 - v; v_t = 0.5*v_xx + 0.2*u - 0.1*v",
                                    Grid((6 * np.pi,), (128,), 5.0, 101), InitialState(4, 0.6),
                                    name="fitzhugh_nagumo"),
        "sine_gordon": from_pde("u_tt = u_xx - sin(u)", Grid((4 * np.pi,), (128,), 6.0, 151), InitialState(3, 1.0),
                                name="sine_gordon"),
        "saturating_growth": from_pde("u_t = 0.1*u_xx + u/(1 + u**2) - 0.5*u", Grid((4 * np.pi,), (128,), 4.0, 101),
                                      InitialState(4, 0.8, 1.0), name="saturating_growth"),
    }


def simulate(twin, runs: int, seed: int, noise: float):
    if hasattr(twin, "snapshots"):
        return twin.snapshots(runs=runs, seed=seed, noise=noise)
    return twin.simulate(runs=runs, seed=seed, noise=noise)


# --- pysindy baselines ---------------------------------------------------------------------------------------

_FACTOR = re.compile(r"([a-z])(?:_(\d+))?(?:\^(\d+))?")


def pysindy_term(name: str, fields: list[str], dims: int) -> sp.Expr:
    """A pysindy feature name ('uu_11', 'u^2v', '1') as a product over our jet symbols (u_xx, …)."""
    if name == "1":
        return sp.Integer(1)
    term = sp.Integer(1)
    for field, axes, power in _FACTOR.findall(name.replace(" ", "")):
        if field not in fields:
            raise ValueError(f"unexpected pysindy feature {name!r}")
        suffix = "".join("x" if a == "1" else "y" for a in sorted(axes))
        symbol = sp.Symbol(f"{field}_{suffix}" if suffix else field, real=True)
        term *= symbol ** int(power or 1)
    return term


def _pysindy_arrays(data) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """Our (runs, t, [y,] x) fields as pysindy's list of (x, [y,] t, features) arrays."""
    names = data.output_names
    dims = 2 if "y" in data.arrays else 1
    runs = []
    for r in range(data.arrays[names[0]].shape[0]):
        stacked = np.stack([data.arrays[f][r] for f in names], axis=-1)  # (t, [y,] x, f)
        runs.append(np.moveaxis(stacked, 0, -2).swapaxes(0, dims - 1) if dims == 2 else np.moveaxis(stacked, 0, 1))
    axes = [data.arrays["x"]] + ([data.arrays["y"]] if dims == 2 else [])
    return runs, data.arrays["t"], axes


def pysindy_fits(data, order: int, weak: bool, seed: int) -> dict[float, dict[str, sp.Expr]]:
    """The baseline's law at each threshold (the default 0.1 among them)."""
    runs, t, axes = _pysindy_arrays(data)
    names = data.output_names
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1) if len(axes) == 2 else axes[0]
    polynomials = ps.PolynomialLibrary(degree=3, include_bias=False)
    max_order = 4 if len(axes) == 1 else 2  # 2-D: order 2 is all the 2-D truths need (and order 4 took 270 s)
    if weak:
        if order == 2:
            return {}
        spatiotemporal = np.stack(np.meshgrid(*axes, t, indexing="ij"), axis=-1)
        np.random.seed(seed)  # WeakPDELibrary places its test functions with numpy's global generator
        library = ps.WeakPDELibrary(function_library=polynomials, derivative_order=max_order,
                                    spatiotemporal_grid=spatiotemporal, include_bias=True, K=100)
    else:
        library = ps.PDELibrary(function_library=polynomials, derivative_order=max_order, spatial_grid=grid,
                                include_bias=True)
    targets = None
    if order == 2:
        difference = ps.FiniteDifference(d=2, axis=-2)
        targets = [difference(r, t) for r in runs]
    recorder = _Recording(threshold=0.1)
    model = ps.SINDy(feature_library=library, optimizer=recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(runs, t=t, x_dot=targets, feature_names=names)
        except (ValueError, np.linalg.LinAlgError):
            return {}
        features = model.get_feature_names()
        library_matrix, target = recorder.recorded
        rows = np.arange(len(target))
        if len(rows) > SWEEP_ROWS:  # the threshold sweep on a random subset of rows (PDE-FIND samples points too)
            rows = np.sort(np.random.default_rng(seed).choice(rows, SWEEP_ROWS, replace=False))
        out = {}
        for threshold in sorted({0.1, *THRESHOLDS}):  # the same library matrix, STLSQ at each threshold
            if threshold == 0.1:
                coefficients = model.coefficients()  # the default: fitted on every row
            else:
                coefficients = ps.STLSQ(threshold=threshold).fit(library_matrix[rows], target[rows]).coef_
            out[threshold] = {
                f"{f}_{'t' * order}": sum((sp.Float(float(c), 15) * pysindy_term(n, names, len(axes))
                                           for n, c in zip(features, row) if c != 0), sp.Integer(0))
                for f, row in zip(names, coefficients)}
    return out


class _Recording(ps.STLSQ):
    """STLSQ that keeps the library matrix and targets it was fitted on (so other thresholds reuse them)."""

    def fit(self, x_, y, **kwargs):
        self.recorded = (x_, y)
        return super().fit(x_, y, **kwargs)


def closeness(found: dict[str, sp.Expr], truth: dict[str, sp.Expr]) -> tuple[int, float]:
    """How far a law is from the truth, for the oracle threshold: wrong terms (missing or spurious), then the
    largest relative error of a true term's coefficient."""
    wrong, worst = 0, 0.0
    for lhs, expr in truth.items():
        want, got = term_coefficients(expr), term_coefficients(found.get(lhs, sp.Integer(0)))
        wrong += len(set(want) ^ set(got))
        worst = max([worst] + [abs(got[t] - v) / abs(v) for t, v in want.items() if t in got])
    return wrong, worst


def coefficient_error(found: dict[str, sp.Expr], truth: dict[str, sp.Expr]) -> float:
    """Largest relative error of a true term's coefficient; 1 where a term is missing or spurious."""
    wrong, worst = closeness(found, truth)
    return max(worst, 1.0) if wrong else worst


# --- the run -------------------------------------------------------------------------------------------------

def prune(law: dict[str, sp.Expr]) -> dict[str, sp.Expr]:
    """Drop terms below 1e-4 of a law's largest coefficient (round-off a thresholded fit leaves; applied to every
    method alike before the exact check)."""
    out = {}
    for lhs, expr in law.items():
        terms = term_coefficients(expr)
        largest = max((abs(v) for v in terms.values()), default=0.0)
        out[lhs] = sum((v * t for t, v in terms.items() if abs(v) >= 1e-4 * largest), sp.Integer(0))
    return out


def run_problem(name: str, twin, noise: float, seed: int) -> list[dict]:
    truth = twin.field_equations()
    order = 2 if any(k.endswith("_tt") for k in truth) else 1
    data = simulate(twin, 4, seed, noise)
    check = FieldData.from_dataset(simulate(twin, 2, seed + 1000, noise))
    tolerance = 0.01 if noise == 0 else 0.05
    rows = []
    started = time.perf_counter()
    found = discover_pde(FieldData.from_dataset(data))
    seconds = time.perf_counter() - started
    laws = {f: law.rhs for f, law in found.laws.items()}
    scores = [integrated_score(check, laws, found.order, r)[0] for r in range(check.runs)]
    equation = {law.lhs: law.rhs for law in found.laws.values()}
    rows.append({"problem": name, "noise": noise, "seed": seed, "method": "engine", "exact": matches(
        prune(equation), truth, tolerance), "equation": found.equation, "seconds": seconds,
        "coefficient_error": coefficient_error(equation, truth), "r2_integrated_held_out": float(np.mean(scores)),
        "r2_test_weak": found.r2_test})
    for method, weak in (("pdefind", False), ("wsindy", True)):
        started = time.perf_counter()
        fits = pysindy_fits(data, order, weak, seed)
        seconds = time.perf_counter() - started
        default = fits.get(0.1)
        best = min(fits.values(), key=lambda f: closeness(prune(f), truth)) if fits else None
        for label, fit in ((f"{method}_default", default), (f"{method}_oracle", best)):
            rows.append({"problem": name, "noise": noise, "seed": seed, "method": label,
                         "exact": bool(fit is not None and matches(prune(fit), truth, tolerance)),
                         "equation": "; ".join(f"{k} = {sp.sstr(v, full_prec=False)}" for k, v in fit.items())
                         if fit else "n/a (first order in time only)" if weak and order == 2 else "failed",
                         "coefficient_error": coefficient_error(fit, truth) if fit else None,
                         "seconds": seconds})
    return rows


def summarise(rows: list[dict]) -> str:
    methods = ["engine", "pdefind_default", "pdefind_oracle", "wsindy_default", "wsindy_oracle"]
    noises = sorted({r["noise"] for r in rows})
    lines = ["| method | " + " | ".join(f"exact σ={n:g}" for n in noises) + " |",
             "|---|" + "---|" * len(noises)]
    for method in methods:
        cells = []
        for noise in noises:
            chosen = [r for r in rows if r["method"] == method and r["noise"] == noise]
            cells.append(f"{sum(r['exact'] for r in chosen)}/{len(chosen)}" if chosen else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "| problem | " + " | ".join(f"σ={n:g}: engine / PDE-FIND / WSINDy (defaults)" for n in noises) + " |",
              "|---|" + "---|" * len(noises)]
    for problem in dict.fromkeys(r["problem"] for r in rows):
        cells = []
        for noise in noises:
            counts = []
            for method in ("engine", "pdefind_default", "wsindy_default"):
                chosen = [r for r in rows if r["problem"] == problem and r["noise"] == noise and r["method"] == method]
                counts.append(f"{sum(r['exact'] for r in chosen)}/{len(chosen)}")
            cells.append(" / ".join(counts))
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    engine = [r for r in rows if r["method"] == "engine"]
    if engine:
        one_d = [r["seconds"] for r in engine if r["problem"] not in ("gray_scott", "vorticity_2d")]
        two_d = [r["seconds"] for r in engine if r["problem"] in ("gray_scott", "vorticity_2d")]
        r2 = np.median([r["r2_integrated_held_out"] for r in engine])
        lines.append(f"\nengine: median {np.median(one_d):.1f} s per 1-D problem"
                     + (f", {np.median(two_d):.1f} s per 2-D problem" if two_d else "")
                     + f"; median integrated R² on held-out initial states {r2:.5f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--noise", default="0,0.01,0.05")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--suite", choices=("catalogue", "held_out"), default="catalogue")
    parser.add_argument("--problems", default=None, help="comma-separated subset")
    args = parser.parse_args()
    twins = {n: get_twin(n) for n in CATALOGUE} if args.suite == "catalogue" else held_out_twins()
    if args.problems:
        twins = {n: t for n, t in twins.items() if n in args.problems.split(",")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    for noise in map(float, args.noise.split(",")):
        path = RESULTS / f"fields_{args.suite}_noise{noise:g}.jsonl"
        done = {(r["problem"], r["seed"]) for r in map(json.loads, path.open())} if path.exists() else set()
        with path.open("a") as out:
            for seed in map(int, args.seeds.split(",")):
                for name, twin in twins.items():
                    if (name, seed) in done:
                        continue
                    for row in run_problem(name, twin, noise, seed):
                        out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(f"{name} σ={noise:g} seed {seed} done", flush=True)
    rows = [json.loads(line) for path in sorted(RESULTS.glob(f"fields_{args.suite}_noise*.jsonl")) for line in path.open()]
    print(summarise(rows))


if __name__ == "__main__":
    main()
