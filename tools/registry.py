"""The tool registry: every tool the agent (LLM, offline planner, replay, Python API) can call.

Each tool is one ``@tool`` function (tools.tool): its typed parameters, with bounds on every size, are its input
schema; it returns a result model (tools.tool_results) that sessions record as a JSON-ready dict, and it fails with
a :class:`ToolError` (code, message a person can act on, hint for the model). State lives in a per-session
:class:`ToolContext`, never in globals.
"""

from __future__ import annotations

import ast
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import sympy as sp
import torch
from pydantic import Field, ValidationError

import twin as twins
from tools.arms import ARMS, DEFAULT_ARMS
from tools.calibrate import NotIdentifiable, calibrate
from tools.constants import evaluate, refit
from tools.derived import derivative_table, dispersion_table, vector_field_table
from tools.design import design, resonance_design
from tools.field_design import FieldDesign
from tools.observables import OBSERVABLE_NAMES, ObservableOptions, ObservableRuns
from tools.observables import measure_observable as observe
from tools.pde import FieldData, LibraryOptions, PdeDiscovery, PdeOptions
from tools.pde import discover_pde as search_pde
from tools.pde.plot import field_figure
from tools.pde.verify import integrated_score, matches
from tools.resonance import find_resonance as sweep_resonance
from tools.results import Discovery, r2_score, split
from tools.sequential import SequentialDesign, SequentialOptions
from tools.state_design import StateDesign, StateDesignOptions
from tools.symbolic import discover
from tools.system import DERIVATIVE_CHOICE, noisy, refine
from tools.tool import Tool, tool
from tools.tool_results import (Calibration, Experiment, FieldLaws, Hypothesis, Laws, Measurements, Resonance, Table,
                                 Training, TwinList, TwinSummary, Verdict)
from tools.train import TrainResult, kan_attribution, kan_diagram, thin_history, train_kan, train_mlp, train_neural_ode
from tools.verify import extrapolation_inputs, substitute_parameters, verify_formula
from twin.expressions import CONSTANTS, FUNCTIONS, count_nodes, parse_expression, to_text

Progress = Callable[[str, dict], None]
PLOT_POINTS = 200  # rows of held-out data and sweep points returned for plots
EXTRAPOLATION_RUNS = 32  # runs of an ODE twin beyond an observable's design box, to verify its law there
#: A law is confident only if its normalized error on noise-free runs beyond its box is within this factor of its
#: held-out error inside the box (floored: a law exact to rounding): a smooth stand-in that fits the box does not.
EXTRAPOLATION_FACTOR = 10.0
EXTRAPOLATION_FLOOR = 1e-8


class ToolError(Exception):
    """A tool failure the orchestrator feeds back to the model (never swallowed)."""

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint

    def as_dict(self) -> dict:
        return {"error": self.code, "message": self.message, "hint": self.hint}


@dataclass
class ToolContext:
    """Session-scoped state: the run directory, seed, device and the objects tools made so far."""

    run_dir: Path
    seed: int = 0
    device: str = "auto"
    progress: Progress = field(default=lambda stage, info: None)
    csv_root: Path | None = None  # when set (the lab), CSVs are read only from under this directory
    workdir: Path = field(default_factory=Path.cwd)  # where a relative CSV path is read from
    twins: dict[str, twins.Twin] = field(default_factory=dict)
    datasets: dict[str, twins.Dataset] = field(default_factory=dict)
    discoveries: dict[str, Discovery] = field(default_factory=dict)
    pde_discoveries: dict[str, PdeDiscovery] = field(default_factory=dict)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    models: dict[str, TrainResult] = field(default_factory=dict)

    def twin(self, name: str) -> twins.Twin:
        if name in self.twins:
            return self.twins[name]
        try:
            self.twins[name] = twins.get_twin(name)
        except KeyError as error:
            raise ToolError("unknown_twin", str(error).strip('"'), "call list_twins to see the names") from None
        return self.twins[name]

    def dataset(self, key: str) -> twins.Dataset:
        if key not in self.datasets:
            known = ", ".join(self.datasets) or "none yet"
            raise ToolError("unknown_dataset", f"no dataset {key!r} in this session (have: {known})",
                            "run run_experiment first and use the dataset id it returns")
        return self.datasets[key]

    def store(self, data: twins.Dataset, prefix: str) -> str:
        key = f"{prefix}_{len(self.datasets) + 1}"
        self.datasets[key] = data
        data.save(self.run_dir / "data", key)
        self.artifacts[key] = data.content_hash
        return key


#: Parameters that name an object of the session, by kind (``refers_to`` in their schema): a model held by a grammar
#: to the schema (``agent.constrained``) may write only the names ``session_names`` gives.
TwinName = Annotated[str, Field(max_length=100, json_schema_extra={"refers_to": "twin"})]
MotionTwin = Annotated[str, Field(max_length=100, json_schema_extra={"refers_to": "ode_twin"})]
DatasetId = Annotated[str, Field(max_length=40, json_schema_extra={"refers_to": "dataset"})]
TableId = Annotated[str, Field(max_length=40, json_schema_extra={"refers_to": "table"})]
SeriesId = Annotated[str, Field(max_length=40, json_schema_extra={"refers_to": "series"})]
SnapshotsId = Annotated[str, Field(max_length=40, json_schema_extra={"refers_to": "snapshots"})]
DiscoveryId = Annotated[str, Field(max_length=40, json_schema_extra={"refers_to": "discovery"})]
CsvPath = Annotated[str, Field(max_length=500, json_schema_extra={"refers_to": "csv"})]
#: CSV files offered to a held model at most (a directory of thousands would make a grammar of thousands).
MAX_OFFERED_CSVS = 100


def session_names(ctx: ToolContext) -> dict[str, list[str]]:
    """The names each kind of ``refers_to`` parameter may take now: the catalogue's twins and those the session
    built (``ode_twin``: those whose motion is simulated), the session's datasets (``table``: rows of inputs and
    outputs; ``series``: trajectories or field runs; ``snapshots``: field snapshots) and discoveries, and the CSV
    files it may read (in the lab's upload directory, or in ``ctx.workdir``; the first ``MAX_OFFERED_CSVS`` by name)."""
    kinds = {entry.name: entry.kind for entry in twins.catalogue_entries()}
    kinds.update({name: t.kind for name, t in ctx.twins.items()})
    found = (sorted(Path(ctx.csv_root).glob("*.csv")) if ctx.csv_root is not None
             else [path.relative_to(ctx.workdir) for path in sorted(ctx.workdir.glob("*.csv"))])
    data = ctx.datasets
    return {"twin": list(kinds), "ode_twin": [name for name, kind in kinds.items() if kind == "ode"],
            "dataset": list(data), "table": [key for key, d in data.items() if "y" in d.arrays],
            "series": [key for key, d in data.items() if "states" in d.arrays or "u" in d.arrays],
            "snapshots": [key for key, d in data.items() if d.kind == "snapshots"],
            "discovery": list(ctx.discoveries), "csv": [str(path) for path in found[:MAX_OFFERED_CSVS]]}


# --- implementations -----------------------------------------------------------------------------

@tool
def list_twins(ctx: ToolContext,
               query: Annotated[str, Field(max_length=200, description="words to filter names and descriptions")] = "",
               limit: Annotated[int, Field(ge=1, le=300)] = 30) -> TwinList:
    """List catalogue twins whose name or description contains the query words."""
    words = query.lower().split()
    rows = []
    for t in twins.all_twins():
        text = " ".join([t.name, t.description, *t.aliases, *t.keywords]).lower()
        if all(w in text for w in words):
            rows.append({"name": t.name, "kind": t.kind, "description": t.description})
    return TwinList.model_validate({"count": len(rows), "twins": rows[: limit]})


@tool
def select_twin(ctx: ToolContext,
                name: Annotated[TwinName, Field(description="catalogue name or alias")]) -> TwinSummary:
    """Pick a catalogue twin by name or alias; returns its inputs, outputs and parameters."""
    t = ctx.twin(name)
    ctx.twins[t.name] = t
    return TwinSummary.model_validate(t.summary())


@tool
def twin_from_expression(
        ctx: ToolContext,
        expression: Annotated[str, Field(max_length=2000, description="law as text, e.g. 'k*x**2'")],
        ranges: Annotated[dict[str, tuple[float, float]], Field(description="input name -> [low, high]")],
        params: Annotated[dict[str, float] | None, Field(description="constant name -> value")] = None,
        name: Annotated[str, Field(max_length=60, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "custom_law",
) -> TwinSummary:
    """Make a closed-form twin from a law given as text."""
    try:
        t = twins.from_expression(expression, ranges, params, name=name)
    except ValueError as error:
        raise ToolError("bad_expression", str(error), "use + - * / ** and sin, cos, exp, log, sqrt, …") from None
    ctx.twins[t.name] = t
    return TwinSummary.model_validate(t.summary())


@tool
def twin_from_csv(ctx: ToolContext, path: CsvPath,
                  target: Annotated[str, Field(max_length=100)],
                  inputs: Annotated[list[str] | None, Field(max_length=20)] = None,
                  units: Annotated[dict[str, str] | None, Field(
                      description="column -> unit, e.g. {'F': 'N'} (headers such as 'F [N]' carry them too)")] = None,
                  ) -> TwinSummary:
    """Make a data twin from a CSV of measurements (a path as given, or relative to where the session runs)."""
    typed = Path(path)  # a relative path not found where the session runs is looked for in its own directory
    found = typed if typed.is_absolute() else next(
        (place / typed for place in (ctx.workdir, ctx.run_dir) if (place / typed).exists()), ctx.workdir / typed)
    if ctx.csv_root is not None and not found.resolve().is_relative_to(Path(ctx.csv_root).resolve()):
        raise ToolError("bad_csv", f"CSV file {path} is outside {ctx.csv_root}, the only directory this session "
                        "reads", "upload the file first and use the path the upload gives")
    if not found.is_file():
        raise ToolError("bad_csv", f"CSV file {path} does not exist", "check the path (relative to where you run)")
    try:
        t = twins.from_csv(found, target, inputs, units=units)
    except twins.CsvError as error:
        raise ToolError("bad_csv", str(error), "check the file name, the target column and the cells") from None
    ctx.twins[t.name] = t
    return TwinSummary.model_validate(t.summary() | {"rows": t.data.n_samples})


@tool
def run_experiment(
        ctx: ToolContext,
        twin: TwinName,
        samples: Annotated[int, Field(ge=1, le=100_000, description=(
            "points (closed form, at least 10), runs (ODE, and PDE or lattice snapshots)"))] = 400,
        method: Annotated[Literal["grid", "uniform", "lhs", "sobol", "resonance", "snapshots", "sequential"], Field(
            description="'resonance' concentrates points where the output is most sensitive to the parameters; "
                        "'snapshots' runs a field from random smooth initial states (for discover_pde); "
                        "'sequential' (closed-form, ODE and field twins) designs its runs (inputs, initial states "
                        "or initial fields) in rounds where the rival laws found so far disagree, up to `samples` "
                        "runs; on closed-form and ODE twins it returns the laws its last round found on every run "
                        "(`laws`: verify them with verify_law, no need to discover again)")
        ] = "sobol",
        noise: Annotated[float, Field(ge=0.0, le=0.5, description="σ relative to the output RMS")] = 0.0,
        noise_model: Literal["gaussian", "multiplicative"] = "gaussian",
        params: dict[str, float] | None = None,
        steps: Annotated[int | None, Field(ge=20, le=20_000, description="time steps for ODE/field twins")] = None,
        search_seconds: Annotated[float, Field(ge=1.0, le=900.0, description=(
            "seconds of search per round of a sequential design (counted as work)"))] = 10.0,
) -> Experiment:
    """Design inputs and run the twin (or load its measurements); returns a dataset id."""
    params = params or {}
    t = ctx.twin(twin)
    seed = ctx.seed
    extra: dict = {}
    designable = {"resonance": (twins.ExpressionTwin,),
                  "sequential": (twins.ExpressionTwin, twins.OdeTwin, twins.PdeTwin, twins.FieldTwin)}
    if method in designable and not isinstance(t, designable[method]):
        raise ToolError("bad_arguments", f"the {method} design runs a closed-form twin at chosen inputs"
                        + (" (or an ODE or field twin from chosen initial states)" if method == "sequential" else "")
                        + f"; {t.name!r} is {t.kind}", "use method 'sobol' for this twin")
    if isinstance(t, twins.ExpressionTwin) and samples < 10:
        raise ToolError("bad_arguments", f"a closed-form twin needs at least 10 points, got {samples}")
    if method == "snapshots" and not isinstance(t, (twins.PdeTwin, twins.FieldTwin)):
        raise ToolError("bad_arguments", f"snapshots are runs of a field twin; {t.name!r} is {t.kind}",
                        "use method 'sobol' for this twin")
    common = {"noise": noise, "noise_model": noise_model, "seed": seed, "device": ctx.device}
    designed: dict[str, Discovery] = {}  # a sequential design's last search, by output
    try:
        if isinstance(t, (twins.PdeTwin, twins.FieldTwin)) and method == "sequential":
            fields = FieldDesign(min(samples, 64), seed, progress=ctx.progress).run(
                t, params=params, noise=noise, noise_model=noise_model)
            data, extra = fields.data_, fields.record()
        elif isinstance(t, twins.PdeTwin):
            data = t.simulate(runs=min(samples, 64), params=params, noise=noise, noise_model=noise_model, seed=seed)
        elif isinstance(t, twins.FieldTwin) and method == "snapshots":
            data = t.snapshots(runs=min(samples, 64), params=params, **common)
        elif isinstance(t, twins.DataTwin):
            data = t.simulate()
        elif isinstance(t, twins.ExpressionTwin):
            if method == "sequential":
                options = SequentialOptions(search_budget=search_seconds)
                rounds = SequentialDesign(samples, seed, options, progress=ctx.progress).run(
                    t, params=params, noise=noise, noise_model=noise_model)
                data, extra = rounds.data_, rounds.record()
                designed = {data.output_names[0]: rounds.discovery_}
            elif method == "resonance":
                plan = resonance_design(t, samples, seed=seed, params=params or None)
                data = t.simulate(plan.points, params=params, drop_invalid=True, **common)
                extra = {"simulator_calls": plan.simulator_calls, "rounds": plan.rounds}
            else:
                data = t.simulate(design(t.input_bounds(), samples, method, seed), params=params, drop_invalid=True,
                                  **common)
        elif isinstance(t, twins.OdeTwin) and method == "sequential":
            states = StateDesign(min(samples, 256), seed, StateDesignOptions(search_budget=search_seconds),
                                 progress=ctx.progress).run(t, params=params, noise=noise, noise_model=noise_model,
                                                            n_steps=steps)
            data, extra = states.data_, states.record()
            designed = states.discovery_
        elif isinstance(t, twins.OdeTwin):
            x0 = design(t.input_bounds(), min(samples, 2048), method, seed)
            data = t.simulate(x0, params=params, n_steps=steps, **common)
        elif isinstance(t, twins.FieldTwin):
            k = t.lattice_wavenumbers(t.resolve_params(params)["a"])
            modes = np.unique(np.linspace(0, len(k) - 1, min(samples, len(k))).round().astype(int))
            X = np.column_stack([k[modes], np.full(len(modes), 0.1)])
            data = t.simulate(X, params=params, n_steps=steps, **common)
        else:
            raise ToolError("unsupported_twin", f"cannot run experiments on {t.kind} twin {t.name!r}")
    except twins.SimulationError as error:
        raise ToolError("diverged", str(error), "try other parameters, a smaller range or more steps") from None
    except ValueError as error:
        raise ToolError("bad_arguments", str(error)) from None
    key = ctx.store(data, "data")
    if designed:
        extra |= _designed_laws(ctx, key, data, designed)
    shape = {k: list(v.shape) for k, v in data.arrays.items()}
    return Experiment.model_validate({"dataset": key, "twin": t.name, "kind": data.kind, "shapes": shape,
                                      "noise": data.noise, "dropped": data.meta.get("dropped", 0),
                                      "sha256": data.content_hash, **extra})


def _designed_laws(ctx: ToolContext, key: str, data: twins.Dataset, found: dict[str, Discovery]) -> dict:
    """The laws a sequential design's last round found on every run it took (``laws``), kept for verify_law as
    discover_law keeps its own: the design has searched these runs already, and searching them again would repeat
    it. An ODE design's laws are of its trajectories' derivative table (``found`` by state), stored beside them and,
    from noisy runs, refitted against the trajectories as discover_law does (``trajectory_refit``)."""
    if data.kind != "ode":
        return {"laws": _kept(ctx, key, found)}
    table = derivative_table(data)
    table.meta["source_dataset"] = key
    found = {table.output_names[table.input_names.index(state)]: f for state, f in found.items()}
    refinement = _refine_against_trajectories(ctx, table, found)
    return {"laws": _kept(ctx, ctx.store(table, "derivatives"), found)} | (
        {"trajectory_refit": refinement} if refinement else {})


def _kept(ctx: ToolContext, dataset: str, found: dict[str, Discovery]) -> list[dict]:
    """Keep each output's discovery for verify_law (``law_N``, with the dataset and output it was found on);
    returns them as a Laws result lists them (the Pareto front cut to its first 8)."""
    results = []
    for output, discovery in found.items():
        key = f"law_{len(ctx.discoveries) + 1}"
        ctx.discoveries[key] = discovery
        ctx.origins[key] = (dataset, output)
        found_dict = discovery.as_dict()
        found_dict["pareto"] = found_dict["pareto"][:8]
        results.append({"discovery": key, "dataset": dataset, "output": output, **found_dict})
    return results


@tool
def derive_table(
        ctx: ToolContext,
        dataset: SeriesId,
        kind: Annotated[Literal["derivatives", "dispersion", "vector_field"], Field(
            description="'vector_field' tabulates a trained neural ODE's field at the observed states")],
        model: Annotated[str | None, Field(max_length=40, description="neural ODE id from train_model (vector_field)")
                         ] = None,
) -> Table:
    """Turn ODE trajectories into (state, derivative) rows (by smoothing differences, or from a trained neural ODE with kind='vector_field'), or a field run into (k, omega) rows."""
    data = ctx.dataset(dataset)
    try:
        if kind == "vector_field":
            derived = vector_field_table(data, _model(ctx, model, "neural_ode"))
        else:
            derived = derivative_table(data) if kind == "derivatives" else dispersion_table(data)
    except ValueError as error:
        raise ToolError("bad_dataset", str(error)) from None
    derived.meta["source_dataset"] = dataset
    key = ctx.store(derived, kind)
    return Table.model_validate({"dataset": key, "inputs": derived.input_names, "outputs": derived.output_names,
                                 "rows": derived.n_samples, "method": derived.meta["method"]})


@tool
def measure_observable(
        ctx: ToolContext,
        twin: MotionTwin,
        observable: Annotated[Literal[OBSERVABLE_NAMES], Field(description=(
            "what to read off each simulated run: a period, frequency or decay time of the first state; a "
            "range, flight time or maximum height of a launched body"))],
        inputs: Annotated[list[Annotated[str, Field(max_length=40)]] | None, Field(
            min_length=1, max_length=6, description=(
            "parameters, launch coordinates or states to vary (default: launch coordinates and ranged "
            "parameters)"))] = None,
        runs: Annotated[int, Field(ge=8, le=1024, description="runs in all (a sequential design's budget)")] = 64,
        params: dict[str, float] | None = None,
        method: Annotated[Literal["sobol", "sequential"], Field(description=(
            "'sequential' designs the runs in rounds where the rival laws of the observable disagree, and returns "
            "the laws its last round found (`laws`: verify them with verify_law)"))] = "sobol",
        search_seconds: Annotated[float, Field(ge=1.0, le=900.0, description=(
            "seconds of search per round of a sequential design (counted as work)"))] = 10.0,
) -> Measurements:
    """Run an ODE twin over a design of the named inputs and measure an observable from each run (a pendulum's period, a projectile's range); returns a table for discover_law."""
    t = ctx.twin(twin)
    if not isinstance(t, twins.OdeTwin):
        raise ToolError("bad_arguments", f"observables are read off simulated motions; {t.name!r} is {t.kind}",
                        "use run_experiment and discover_law for a closed-form twin")
    extra: dict = {}
    designed: dict[str, Discovery] = {}
    try:
        if method == "sequential":
            options = SequentialOptions(initial=min(25, runs), search_budget=search_seconds)
            rounds = SequentialDesign(runs, ctx.seed, options, progress=ctx.progress).run(
                ObservableRuns(t, observable, inputs, device=ctx.device), params=params)
            data, extra = rounds.data_, rounds.record()
            designed = {data.output_names[0]: rounds.discovery_}
        else:
            data = observe(t, observable, inputs, ObservableOptions(runs=runs), ctx.seed, params, ctx.device)
    except ValueError as error:
        raise ToolError("bad_arguments", str(error)) from None
    key = ctx.store(data, "observable")
    if designed:
        extra |= _designed_laws(ctx, key, data, designed)
    return Measurements.model_validate({
        "dataset": key, "observable": observable, "twin": t.name, "rows": data.n_samples,
        "inputs": data.meta["inputs"], "held": data.params, "dropped": data.meta["dropped"],
        "description": data.meta["description"], **extra})


def _tabular(ctx: ToolContext, key: str) -> twins.Dataset:
    data = ctx.dataset(key)
    if "X" not in data.arrays or "y" not in data.arrays:
        hint = "call derive_table with kind='derivatives' (ODE) or 'dispersion' (field) first"
        raise ToolError("not_tabular", f"dataset {key!r} holds {data.kind} arrays, not a table", hint)
    return data


def _model(ctx: ToolContext, key: str | None, kind: str) -> TrainResult:
    if key not in ctx.models or ctx.models[key].extra.get("kind") != kind:
        have = ", ".join(k for k, m in ctx.models.items() if m.extra.get("kind") == kind) or "none yet"
        raise ToolError("unknown_model", f"no {kind} model {key!r} in this session (have: {have})",
                        f"call train_model with kind='{kind}' first")
    return ctx.models[key]


@tool
def train_model(
        ctx: ToolContext,
        dataset: DatasetId,
        kind: Annotated[Literal["kan", "mlp", "neural_ode"], Field(
            description="KAN or MLP on a table; neural_ode learns the vector field of ODE trajectories")] = "kan",
        output: Annotated[str | None, Field(max_length=100, description="target column of a table (default: the first)")
                          ] = None,
        steps: Annotated[int, Field(ge=0, le=5000, description="optimisation steps per stage (0: the kind's default)")
                         ] = 0,
        hidden: Annotated[int, Field(ge=0, le=256, description="hidden width (0: default; KAN 1, MLP and neural ODE 64)")
                          ] = 0,
) -> Training:
    """Train a KAN or MLP on a table (loss history, KAN diagram and input attribution), or a neural ODE on trajectories."""
    data = ctx.dataset(dataset)
    key = f"model_{len(ctx.models) + 1}"
    (ctx.run_dir / "models").mkdir(parents=True, exist_ok=True)
    hidden, extra = hidden or (1 if kind == "kan" else 64), {}
    steps = {"kan": 50, "mlp": 2000, "neural_ode": 800}[kind] if steps == 0 else steps
    try:
        if kind == "neural_ode":
            if data.kind != "ode":
                raise ValueError(f"neural_ode needs ODE trajectories; dataset {dataset!r} is {data.kind}")
            result = train_neural_ode(data.arrays["t"], data.arrays["states"], (hidden, hidden), steps,
                                      seed=ctx.seed, device=ctx.device, progress=ctx.progress)
        else:
            data = _tabular(ctx, dataset)
            output = output or data.output_names[0]
            if output not in data.output_names:
                raise ValueError(f"dataset {dataset!r} has no output {output!r}; outputs are {data.output_names}")
            parts = split(data.X, data.y[:, data.output_names.index(output)], ctx.seed)
            X_fit, y_fit = np.vstack([parts.X_train, parts.X_val]), np.concatenate([parts.y_train, parts.y_val])
            if kind == "kan":
                result = train_kan(X_fit, y_fit, (hidden,), grids=(5, 10), steps=steps, seed=ctx.seed,
                                   device=ctx.device, progress=ctx.progress)
                scores = kan_attribution(result, X_fit, ctx.seed)
                extra["attribution"] = {n: float(v) for n, v in zip(data.input_names, scores)}
                diagram = ctx.run_dir / "plots" / f"{key}_kan.png"
                diagram.parent.mkdir(parents=True, exist_ok=True)
                kan_diagram(result, X_fit, data.input_names, str(diagram), ctx.seed)
                extra["plots"] = [str(diagram.relative_to(ctx.run_dir))]
            else:
                result = train_mlp(X_fit, y_fit, (hidden, hidden), steps, seed=ctx.seed, device=ctx.device,
                                   progress=ctx.progress)
            extra["r2_test"] = r2_score(result.predict(parts.X_test)[:, 0], parts.y_test)
    except ValueError as error:
        raise ToolError("bad_training", str(error), "check the dataset, or lower steps/hidden") from None
    result.extra["kind"] = kind
    ctx.models[key] = result
    checkpoint = ctx.run_dir / "models" / f"{key}.pt"
    torch.save(result.model.state_dict(), checkpoint)
    ctx.artifacts[key] = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    return Training.model_validate({
        "model": key, "kind": kind, "dataset": dataset, "device": result.device, "seed": ctx.seed, "steps": steps,
        "hidden": hidden, "seconds": result.seconds, "stopped_early": result.stopped_early,
        "history": thin_history(result.history), "checkpoint": str(checkpoint.relative_to(ctx.run_dir)), **extra})


@tool
def discover_law(
        ctx: ToolContext,
        dataset: TableId,
        output: Annotated[str | None, Field(max_length=100, description="which output column (default: all)")] = None,
        time_budget: Annotated[float, Field(ge=1.0, le=900.0, description="seconds per output")] = 30.0,
        arms: Annotated[list[Literal[ARMS]] | None, Field(
            description="search arms (default: all but 'periodic', which a dispersion table adds)")] = None,
) -> Laws:
    """Search for the formula behind a tabular dataset; returns the best formula and a Pareto front."""
    data = _tabular(ctx, dataset)
    outputs = [output] if output else data.output_names
    choice = DERIVATIVE_CHOICE if data.meta.get("derived_from") == "trajectories" else None
    # A lattice's ω(k) is periodic in k (Bloch), so its dispersion table also gets the periodic arm.
    arms = arms if arms is not None else [*DEFAULT_ARMS, *(["periodic"] if data.kind == "dispersion" else [])]
    found: dict[str, Discovery] = {}
    for index, output in enumerate(outputs, 1):
        ctx.progress("output", {"output": output, "step": index, "of": len(outputs), "budget": time_budget})
        if output not in data.output_names:
            raise ToolError("unknown_output", f"dataset {dataset!r} has no output {output!r}",
                            f"outputs are {data.output_names}")
        column = data.output_names.index(output)
        try:
            found[output] = discover(data.X, data.y[:, column], data.input_names, time_budget, ctx.seed, arms,
                                     progress=ctx.progress, units=data.units,
                                     target_unit=data.units.get(output), choose_by=choice)
        except ValueError as error:
            raise ToolError("bad_data", str(error)) from None
    refinement = _refine_against_trajectories(ctx, data, found)
    return Laws.model_validate({"laws": _kept(ctx, dataset, found)}
                               | ({"trajectory_refit": refinement} if refinement else {}))


def _refine_against_trajectories(ctx: ToolContext, data: twins.Dataset, found: dict[str, Discovery]) -> dict | None:
    """Noisy derivative tables bias the constants they yield; when every state's derivative was discovered,
    refit and re-choose the system against the trajectories it came from (tools.system.refine)."""
    source = ctx.datasets.get(data.meta.get("source_dataset", ""))
    if (source is None or source.kind != "ode" or not noisy(source)
            or list(found) != data.output_names or data.input_names != source.input_names):
        return None
    try:
        refined = refine(source, data, dict(zip(source.input_names, found.values())), ctx.seed, ctx.progress)
    except ValueError as error:
        return {"skipped": str(error)}
    return refined.as_dict()


@tool
def discover_pde(
        ctx: ToolContext,
        dataset: Annotated[SnapshotsId, Field(description="a snapshots dataset (run_experiment with "
                                                                   "method='snapshots', or a field file)")],
        max_order: Annotated[int, Field(ge=1, le=4, description="highest spatial derivative in the library")] = 4,
        degree: Annotated[int, Field(ge=1, le=4, description="highest power of the fields in a term")] = 3,
        time_order: Annotated[Literal["auto", "first", "second"], Field(
            description="u_t = F, u_tt = F, or the one the data supports")] = "auto",
) -> FieldLaws:
    """Find the partial differential equation of each field in a snapshots dataset (weak-form sparse regression);
    checks the law against held-out runs by integrating it, and against the twin's law where it has one."""
    data = ctx.dataset(dataset)
    try:
        fields = FieldData.from_dataset(data)
        orders = {"auto": (1, 2), "first": (1,), "second": (2,)}[time_order]
        found = search_pde(fields, PdeOptions(library=LibraryOptions(degree=degree, max_order=max_order),
                                                orders=orders), progress=ctx.progress)
    except ValueError as error:
        raise ToolError("bad_data", str(error), "give snapshots on a uniform grid with enough times") from None
    key = f"pde_{len(ctx.pde_discoveries) + 1}"
    ctx.pde_discoveries[key] = found
    laws = {f: law.rhs for f, law in found.laws.items()}
    integrated, plots = None, []
    if fields.periodic and fields.runs > 1:  # the last run was held out of the fit
        try:
            integrated, simulated = integrated_score(fields, laws, found.order, fields.runs - 1)
        except ValueError:  # fields without a law of their own (measured beside the others)
            integrated, simulated = None, {}
        if simulated:
            figure = field_figure(fields, simulated, fields.runs - 1, ctx.run_dir / "plots" / f"{key}_field.png")
            plots.append(str(figure.relative_to(ctx.run_dir)))
    source = ctx.twins.get(data.twin)
    exact = None
    if source is not None and hasattr(source, "field_equations"):
        tolerance = 0.01 if data.noise.get("sigma", 0.0) == 0 else 0.05
        exact = matches({law.lhs: law.rhs for law in found.laws.values()}, source.field_equations(data.params),
                        tolerance)
    return FieldLaws.model_validate({
        "discovery": key, "dataset": dataset, **found.as_dict(), "exact": exact,
        "r2_integrated": integrated, "plots": plots,
        "latex": {law.lhs: sp.latex(law.rhs) for law in found.laws.values()}})


@tool
def verify_law(ctx: ToolContext,
               discovery: Annotated[DiscoveryId, Field(description="id returned by discover_law")]) -> Verdict:
    """Score a discovered law on held-out and extrapolation data (and against the twin's truth when known)."""
    if discovery not in ctx.discoveries:
        raise ToolError("unknown_discovery", f"no discovery {discovery!r}", "call discover_law first")
    found = ctx.discoveries[discovery]
    key, output = ctx.origins[discovery]
    data = ctx.datasets[key]
    column = data.output_names.index(output)
    held_out = split(data.X, data.y[:, column], ctx.seed)
    X_extra = y_extra = None
    source = ctx.twins.get(data.twin)
    if isinstance(source, twins.ExpressionTwin) and data.kind == "algebraic":
        X_extra = extrapolation_inputs(source.input_bounds(), 400, ctx.seed + 1)
        extra = source.simulate(X_extra, params=data.params, drop_invalid=True)
        X_extra, y_extra = extra.X, extra.y[:, column]
    elif isinstance(source, twins.OdeTwin) and data.kind == "observable":  # new runs beyond the design's box
        bounds = np.array([data.meta["inputs"][name]["range"] for name in data.input_names])
        try:
            extra = observe(source, output, data.input_names, ObservableOptions(runs=EXTRAPOLATION_RUNS), ctx.seed,
                            data.params, ctx.device, extrapolation_inputs(bounds, EXTRAPOLATION_RUNS, ctx.seed + 1,
                                                                          keep_sign=True))
            X_extra, y_extra = extra.X, extra.y[:, 0]
        except ValueError:
            X_extra = y_extra = None  # too few runs beyond the box showed the observable: not checked there
    truth = _ground_truth(source, data, output)
    verdict = verify_formula(found.best.expression, data.input_names, held_out.X_test, held_out.y_test,
                             X_extra, y_extra, truth, ctx.seed, data.units, data.units.get(output, ""))
    shown = slice(0, PLOT_POINTS)
    predicted = evaluate(found.best.expression, held_out.X_test[shown], data.input_names)
    sample = {"inputs": data.input_names, "X": held_out.X_test[shown].tolist(),
              "observed": held_out.y_test[shown].tolist(), "predicted": predicted.tolist()}
    # Confident only where the law also holds beyond the box it was found in (when that was checked): its error
    # there, relative to the data's spread, within a factor of its error on held-out data inside the box.
    holds = verdict.get("r2_extrapolation") is None or 1 - verdict["r2_extrapolation"] <= EXTRAPOLATION_FACTOR * max(
        1 - verdict["r2_test"], EXTRAPOLATION_FLOOR)
    return Verdict.model_validate({"discovery": discovery, "formula": found.best.text,
                                   "latex": sp.latex(found.best.expression), "confident": found.confident and holds,
                                   **verdict, "held_out_sample": sample})


def _ground_truth(source: twins.Twin | None, data: twins.Dataset, output: str) -> sp.Expr | None:
    """Verification only: the twin's ground truth for this output, parameters substituted."""
    if source is None or not source.ground_truth:
        return None
    name = output.removeprefix("d").removesuffix("/dt") if data.kind == "derivatives" else output
    truth = source.ground_truth.get(name)
    return None if truth is None else substitute_parameters(truth, data.params)


def _free_names(text: str) -> list[str]:
    """Identifiers used in ``text`` (parsing only, nothing is evaluated)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ToolError("bad_formula", f"formula {text!r} is not valid syntax: {error.msg}") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return sorted(names - set(FUNCTIONS) - set(CONSTANTS))


@tool
def test_hypothesis(
        ctx: ToolContext,
        dataset: TableId,
        formula: Annotated[str, Field(max_length=2000, description="unknown names become constants to fit")],
        output: Annotated[str | None, Field(max_length=100)] = None,
) -> Hypothesis:
    """Fit the constants of a proposed formula and score it on held-out data."""
    data = _tabular(ctx, dataset)
    output = output or data.output_names[0]
    if output not in data.output_names:
        raise ToolError("unknown_output", f"dataset has no output {output!r}", f"outputs are {data.output_names}")
    constants = [n for n in _free_names(formula) if n not in data.input_names]
    try:
        expr = parse_expression(formula, data.input_names + constants)
    except ValueError as error:
        raise ToolError("bad_formula", str(error), f"variables are {data.input_names}") from None
    seeded = expr.xreplace({sp.Symbol(c, real=True): sp.Float(1.0) for c in constants})
    parts = split(data.X, data.y[:, data.output_names.index(output)], ctx.seed)
    X_fit = np.concatenate([parts.X_train, parts.X_val])
    y_fit = np.concatenate([parts.y_train, parts.y_val])
    fitted = refit(seeded, X_fit, y_fit, data.input_names)
    values = {c: float(v) for c, v in zip(constants, _constant_values(seeded, fitted))}
    return Hypothesis.model_validate({
        "formula": to_text(fitted), "latex": sp.latex(fitted), "constants": values,
        "r2_test": r2_score(evaluate(fitted, parts.X_test, data.input_names), parts.y_test),
        "complexity": count_nodes(fitted)})


def _constant_values(seeded: sp.Expr, fitted: sp.Expr) -> list[float]:
    before = sorted(seeded.atoms(sp.Float), key=sp.default_sort_key)
    after = sorted(fitted.atoms(sp.Float), key=sp.default_sort_key)
    return [float(v) for v in after] if len(before) == len(after) else []


@tool
def find_resonance(ctx: ToolContext, twin: TwinName,
                   points: Annotated[int, Field(ge=8, le=5000)] = 400) -> Resonance:
    """Sweep the drive frequency of a driven twin: peak frequency, half-power width, Q."""
    t = ctx.twin(twin)
    try:
        found = sweep_resonance(t, points)
    except ValueError as error:
        raise ToolError("no_drive", str(error), "pick a driven twin such as driven_oscillator_resonance") from None
    except twins.SimulationError as error:
        raise ToolError("diverged", str(error)) from None
    step = max(1, len(found.frequencies) // PLOT_POINTS)
    curve = {"frequency": found.frequencies[::step].tolist(), "response": found.response[::step].tolist()}
    return Resonance.model_validate({"twin": t.name, **found.as_dict(), "curve": curve})


@tool
def calibrate_twin(ctx: ToolContext, twin: TwinName,
                   dataset: DatasetId,
                   params: Annotated[list[str] | None, Field(max_length=20)] = None,
                   restarts: Annotated[int, Field(ge=1, le=32, description=(
                       "seeded starts at most; a fit that reproduces the data to round-off ends them"))] = 4,
                   ) -> Calibration:
    """Fit a twin's parameters to a dataset, with standard errors."""
    t = ctx.twin(twin)
    data = ctx.dataset(dataset)
    try:
        if isinstance(t, twins.OdeTwin):
            t_grid, observed = _trajectory_columns(t, data)
            result = calibrate(t, observed, params, t=t_grid, x0=observed[0], restarts=restarts, seed=ctx.seed)
        else:
            result = calibrate(t, data.y, params, X=data.X, restarts=restarts, seed=ctx.seed)
    except NotIdentifiable as error:
        raise ToolError("not_identifiable", str(error), "fix that parameter or collect more varied data") from None
    except ValueError as error:
        raise ToolError("bad_arguments", str(error)) from None
    return Calibration.model_validate({"twin": t.name, **result.as_dict()})


def _trajectory_columns(t: twins.OdeTwin, data: twins.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """A measured trajectory from a table with a time column 't' and one column per state."""
    if data.kind == "ode":
        return data.arrays["t"], data.arrays["states"][0]
    names = data.input_names + data.output_names
    table = np.column_stack([data.X, data.y])
    missing = [n for n in ["t", *t.state_names] if n not in names]
    if missing:
        raise ValueError(f"the data need columns 't' and {t.state_names}; missing {missing}")
    order = np.argsort(table[:, names.index("t")])
    table = table[order]
    t_grid = table[:, names.index("t")]
    if np.any(np.diff(t_grid) <= 0):
        raise ValueError("time column 't' must be strictly increasing")
    return t_grid, np.column_stack([table[:, names.index(s)] for s in t.state_names])


TOOLS: dict[str, Tool] = {t.name: t for t in (
    list_twins, select_twin, twin_from_expression, twin_from_csv, run_experiment, measure_observable, derive_table,
    train_model, discover_law, discover_pde, verify_law, test_hypothesis, find_resonance, calibrate_twin)}


def call_tool(ctx: ToolContext, name: str, arguments: dict) -> dict:
    """Validate ``arguments`` against the tool's model and run it; every failure is a ToolError."""
    if name not in TOOLS:
        raise ToolError("unknown_tool", f"no tool named {name!r}", f"tools are {', '.join(TOOLS)}")
    chosen = TOOLS[name]
    if not isinstance(arguments, dict):
        raise ToolError("bad_arguments", f"arguments of {name} must be a JSON object")
    try:
        parsed = chosen.input_model.model_validate(arguments)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors())
        raise ToolError("bad_arguments", f"{name}: {problems}", "fix the arguments to match the schema") from None
    started = time.perf_counter()
    result = chosen.run(ctx, parsed)
    ctx.progress("tool_done", {"tool": name, "seconds": time.perf_counter() - started})
    return result
