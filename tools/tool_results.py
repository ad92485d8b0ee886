"""The result model of each tool (``tools.tool.ToolResult``): the fields the report and the step log read, how it
adds itself to a report, and its line in the lab's and the CLI's step log."""

from __future__ import annotations

from typing import Any

from tools.tool import ReportLike, ToolResult


def _latex_name(name: str) -> str:
    """An output's name in LaTeX: dx/dt as \\frac{dx}{dt}."""
    if name.startswith("d") and name.endswith("/dt"):
        return r"\frac{d" + name[1:-3] + "}{dt}"
    return name


class TwinList(ToolResult):
    """``list_twins``: the matching catalogue entries."""

    count: int
    twins: list[dict[str, Any]]


class TwinSummary(ToolResult):
    """``select_twin``, ``twin_from_expression``, ``twin_from_csv``: the twin's inputs, outputs and parameters."""

    name: str

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        report.twin = self.name
        seen["twin"] = self.as_dict()

    def describe(self) -> str:
        return f"twin `{self.name}`"


class Experiment(ToolResult):
    """``run_experiment``: the dataset made, its array shapes and noise."""

    dataset: str
    shapes: dict[str, list[int]]

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        extra = self.model_extra or {}
        if "stopped" in extra:  # a sequential design: the law found on its data reports how the runs were chosen
            _keep_design(seen, self.dataset, extra, _design_findings(extra))

    def describe(self) -> str:
        extra = self.model_extra or {}
        rounds = f" in {len(extra['rounds'])} designed rounds ({extra['stopped']})" if "stopped" in extra else ""
        laws = "; ".join(f"`{law['formula'][:90]}`" for law in extra.get("laws", []))
        return f"dataset `{self.dataset}`: {self.shapes}{rounds}" + (f"; laws found: {laws}" if laws else "")


def _keep_design(seen: dict[str, Any], dataset: str, extra: dict[str, Any], findings: list[str]) -> None:
    """Note how a dataset's runs were chosen, for the laws found on it (and on a table derived from it), and keep
    the laws the design's last round found (``laws``) for verify_law's verdicts."""
    laws = extra.get("laws", [])
    seen.setdefault("laws", {}).update({law["discovery"]: law for law in laws})
    for key in {dataset, *(law["dataset"] for law in laws)}:
        seen.setdefault("designs", {})[key] = findings


def _design_findings(extra: dict[str, Any]) -> list[str]:
    """A sequential design in words: the runs it took, where, why it stopped, and the rivals each round refuted."""
    rounds = extra["rounds"]
    if "amplitudes" in rounds[0]:  # a field twin's runs (tools.field_design): initial fields, not inputs
        scales = [a for r in rounds[1:] for a in r["amplitudes"]] or [1.0]
        return [f"the runs were designed in {len(rounds)} rounds ({rounds[0]['runs']} from random initial fields, "
                f"then from the fields where the rival PDEs found so far parted most, their amplitudes "
                f"{min(scales):.2f}–{max(scales):.2f} times the twin's own): {extra['simulator_calls']} twin runs "
                f"in all", *(f"round {number} ({r['new_runs']} new run{'s' * (r['new_runs'] != 1)}): "
                             f"`{r['equation'][:90]}`" for number, r in enumerate(rounds[1:], 2))]
    outside = sum(r["outside_box"] for r in rounds)
    lines = [f"the runs were designed in {len(rounds)} rounds ({rounds[0]['runs']} space-filling, then where the "
             f"rival laws found so far disagreed; {outside} outside the first box): {extra['simulator_calls']} "
             f"twin runs in all, stopped because {extra['stopped']}"]
    for number, r in enumerate(rounds[1:], 2):
        if r.get("eliminated"):
            shown = ", ".join(f"`{e['formula'][:60]}`" for e in r["eliminated"][:3])
            more = f" and {len(r['eliminated']) - 3} more" if len(r["eliminated"]) > 3 else ""
            lines.append(f"round {number} ({r['new_runs']} new runs) refuted {shown}{more}")
    return lines


class Measurements(ToolResult):
    """``measure_observable``: a table of an observable measured from simulated runs, and how it was measured."""

    dataset: str
    observable: str
    twin: str
    rows: int
    inputs: dict[str, dict[str, Any]]
    held: dict[str, float]
    dropped: int = 0

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        what = self.observable.replace("_", " ")
        extra = self.model_extra or {}
        designed = "stopped" in extra  # runs designed in rounds where the rival laws disagreed
        lines = [f"the {what} ({extra.get('description', '')}) was measured from {self.rows + self.dropped} "
                 f"simulated runs of {self.twin} over {'' if designed else 'a Sobol design of '}"
                 f"{', '.join(self.inputs)}"]
        if self.dropped:
            lines.append(f"{self.dropped} runs showed no {what} and were left out")
        _keep_design(seen, self.dataset, extra, [*lines, *(_design_findings(extra) if designed else [])])
        # The explanation's variables are the ones varied here, not the twin's states (its initial conditions).
        varied = [{"name": name, "description": v["description"], "unit": v["unit"], "low": v["range"][0],
                   "high": v["range"][1]} for name, v in self.inputs.items()]
        held = [{"name": k, "default": v} for k, v in self.held.items()]
        seen["twin"] = {**seen.get("twin", {}), "inputs": varied, "parameters": held}

    def describe(self) -> str:
        return f"table `{self.dataset}`: {self.observable} of {self.twin} over {list(self.inputs)} ({self.rows} runs)"


class Table(ToolResult):
    """``derive_table``: a table derived from trajectories or fields."""

    dataset: str
    rows: int
    method: str

    def describe(self) -> str:
        return f"table `{self.dataset}`: {self.rows} rows ({self.method})"


class Training(ToolResult):
    """``train_model``: the trained model, its device, time, losses and held-out R² (tables)."""

    model: str
    kind: str
    device: str
    seconds: float
    r2_test: float | None = None

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        report.metrics.setdefault("training", []).append(self.as_dict())

    def describe(self) -> str:
        r2 = "" if self.r2_test is None else f", held-out R² = {self.r2_test:.6f}"
        return f"trained {self.kind} `{self.model}` on {self.device} in {self.seconds:.1f} s{r2}"


class Laws(ToolResult):
    """``discover_law``: one found law per output, each with its Pareto front and findings."""

    laws: list[dict[str, Any]]

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        seen.setdefault("laws", {}).update({law["discovery"]: law for law in self.laws})

    def describe(self) -> str:
        return "candidates: " + "; ".join(f"`{law['formula'][:90]}`" for law in self.laws)


class FieldLaws(ToolResult):
    """``discover_pde``: the PDE of each field, its held-out scores and, for a twin, whether it is the known law."""

    discovery: str
    equation: str
    laws: dict[str, dict[str, Any]]
    latex: dict[str, str]
    r2_test: float
    confident: bool
    exact: bool | None = None
    r2_integrated: float | None = None
    plots: list[str] = []

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        for law in self.laws.values():
            lhs = law["lhs"]
            findings = [f"{len(law['terms'])} terms chosen by cross-validated weak-form residual",
                        *seen.get("designs", {}).get((self.model_extra or {}).get("dataset"), [])]
            if self.r2_integrated is not None:
                findings.append(f"integrated from a held-out run's initial state it reproduces that run with "
                                f"R² = {self.r2_integrated:.6f}")
            report.laws.append({
                "output": lhs, "output_latex": lhs.replace("_", "_{", 1) + "}", "formula": law["rhs"],
                "equation": law["equation"],
                "latex": self.latex[lhs], "r2_test": law["r2_test"], "r2_extrapolation": None, "exact": self.exact,
                "units_consistent": None, "complexity": len(law["terms"]), "confident": self.confident,
                "held_out_sample": None, "findings": findings})
            report.alternatives.extend({"formula": c["equation"], "complexity": c["terms"],
                                        "val_nmse": c["validation"] ** 2, "r2_test": None}
                                       for c in law.get("candidates", [])[1:])
        report.metrics["pde"] = {k: v for k, v in self.as_dict().items() if k not in ("laws", "latex")}

    def describe(self) -> str:
        integrated = "" if self.r2_integrated is None else f", integrated R² = {self.r2_integrated:.6f}"
        return f"`{self.equation[:140]}`: weak-form held-out R² = {self.r2_test:.6f}{integrated}"


class Verdict(ToolResult):
    """``verify_law``: a law's held-out and extrapolation scores, exactness against the twin and units."""

    discovery: str
    formula: str
    latex: str
    r2_test: float
    complexity: int
    r2_extrapolation: float | None = None
    exact: bool | None = None
    units_consistent: bool | None = None
    confident: bool | None = None
    held_out_sample: dict[str, Any] | None = None
    small_terms: list[dict[str, Any]] = []

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        law = seen.get("laws", {}).get(self.discovery, {})
        flagged = [f"the term `{t['term']}` is {100 * t['share']:.2g} % of the formula's size on the held-out data: "
                   "possibly spurious (test the law without it with test_hypothesis)" for t in self.small_terms]
        report.laws.append({
            "output": law.get("output"), "output_latex": _latex_name(law.get("output", "y")),
            "formula": self.formula, "latex": self.latex, "r2_test": self.r2_test,
            "r2_extrapolation": self.r2_extrapolation, "exact": self.exact, "units_consistent": self.units_consistent,
            "complexity": self.complexity, "confident": self.confident, "held_out_sample": self.held_out_sample,
            "findings": [*law.get("findings", []), *seen.get("designs", {}).get(law.get("dataset"), []), *flagged]})
        report.alternatives.extend(law.get("pareto", []))

    def describe(self) -> str:
        return f"held-out R² = {self.r2_test:.6f}, exact = {self.exact}"


class Hypothesis(ToolResult):
    """``test_hypothesis``: the proposed formula with fitted constants and its held-out R²."""

    formula: str
    r2_test: float

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        report.metrics.setdefault("hypotheses", []).append(self.as_dict())

    def describe(self) -> str:
        return f"hypothesis `{self.formula[:90]}`: held-out R² = {self.r2_test:.6f}"


class Resonance(ToolResult):
    """``find_resonance``: the peak, its width and Q, and the swept curve."""

    twin: str

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        report.metrics["resonance"] = self.as_dict()


class Calibration(ToolResult):
    """``calibrate_twin``: fitted parameters with standard errors."""

    twin: str

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        report.metrics["calibration"] = self.as_dict()
        report.twin = self.twin
