"""The ``Report`` of a session and its explanation from a template filled with measured numbers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Report:
    goal: str
    session: str
    twin: str | None = None
    formula: str | None = None
    latex: str | None = None
    r2_test: float | None = None
    r2_extrapolation: float | None = None
    exact: bool | None = None
    confident: bool | None = None
    explanation: str = ""
    laws: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # each tool call: its tool, who chose it, failed

    @property
    def answered(self) -> bool:
        """Whether the session produced an answer: a law, or a measurement (calibration, resonance, training)."""
        return bool(self.laws or self.metrics)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cli_json(self) -> dict[str, Any]:
        """The object ``twinsight run --json`` prints (DESIGN §6)."""
        return {"session": self.session, "twin": self.twin, "formula": self.formula, "latex": self.latex,
                "r2_test": self.r2_test, "exact": self.exact, "explanation": self.explanation, "errors": self.errors}

    def to_markdown(self) -> str:
        lines = [f"# {self.goal}", "", f"Session: `{self.session}`", ""]
        if self.twin:
            lines += [f"Twin: `{self.twin}`", ""]
        for law in self.laws:
            lines += [f"$$ {law['output_latex']} = {law['latex']} $$", ""]
        lines += ["## Explanation", "", self.explanation, ""]
        if self.alternatives:
            lines += ["## Alternatives (Pareto front: error vs complexity)", "",
                      "| formula | complexity | validation NMSE | R² test |", "|---|---|---|---|"]
            for alt in self.alternatives:
                r2 = "" if alt.get("r2_test") is None else f"{alt['r2_test']:.6f}"
                lines.append(f"| `{alt['formula']}` | {alt['complexity']} | {alt['val_nmse']:.3g} | {r2} |")
            lines.append("")
        if self.metrics:
            shown = {k: {f: v for f, v in m.items() if f != "curve"} if isinstance(m, dict) else m
                     for k, m in self.metrics.items()}
            lines += ["## Measurements", "", "```json", json.dumps(shown, indent=2, default=str), "```", ""]
        if self.steps:
            lines += ["## Steps", "", *[f"{i}. `{step['tool']}`, chosen by the {step['by']}"
                                         + (" (failed)" if step["failed"] else "")
                                         for i, step in enumerate(self.steps, 1)], ""]
        if self.errors:
            lines += ["## Problems", "", *[f"- {e}" for e in self.errors], ""]
        return "\n".join(lines)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / "report.md"
        path.write_text(self.to_markdown(), encoding="utf-8")
        return path

    def _repr_markdown_(self) -> str:  # notebooks render reports as Markdown
        return self.to_markdown()

    def __str__(self) -> str:
        head = self.formula or "no formula"
        return f"{head}\n\n{self.explanation}\n\nsession: {self.session}"


def _fmt(value: float | None, digits: int = 6) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def explain(report: Report, twin_summary: dict[str, Any] | None) -> str:
    """A plain-words explanation grounded in the measured numbers (used offline and as fallback)."""
    parts: list[str] = []
    if report.laws:
        for law in report.laws:
            parts.append(f"The data from {report.twin or 'the measurements'} follow {law['output']} = "
                         f"{law['formula']} (LaTeX: {law['latex']}).")
            verdict = (f"On held-out data it scores R² = {_fmt(law.get('r2_test'))}")
            if law.get("r2_extrapolation") is not None:
                verdict += f", and R² = {_fmt(law['r2_extrapolation'])} on inputs outside the training range"
            parts.append(verdict + f"; its complexity is {law.get('complexity')} nodes.")
            if law.get("exact") is True:
                parts.append("It matches the twin's known law exactly (up to constant factors or offsets).")
            elif law.get("exact") is False:
                parts.append("It does not match the twin's known law symbolically: treat it as an "
                             "approximation within the sampled range.")
            if law.get("units_consistent") is True:
                parts.append("Its units are consistent: every sum adds like quantities and the result has the "
                             "output's units.")
            elif law.get("units_consistent") is False:
                parts.append("Its units are not consistent (a sum of unlike quantities, or a function of a "
                             "quantity with units): read it as a fit, not a law.")
            if law.get("findings"):
                parts.append("The search found: " + "; ".join(law["findings"]) + ".")
            if law.get("confident") is False:
                parts.append("Confidence is low: the formula explains the held-out data poorly or does not hold "
                             "at the edges of the data when fitted inside them; the data may be too noisy, too "
                             "few, or the law outside the search space.")
    if twin_summary:
        described = [f"{v['name']} ({v['description'] or 'input'}{', ' + v['unit'] if v['unit'] else ''}, "
                     f"sampled in [{v['low']:g}, {v['high']:g}])" for v in twin_summary.get("inputs", [])]
        if described:
            parts.append("Variables: " + "; ".join(described) + ".")
        params = twin_summary.get("parameters") or []
        if params:
            parts.append("Held fixed: " + ", ".join(f"{p['name']} = {p['default']:g}" for p in params) + ".")
    resonance = report.metrics.get("resonance")
    if resonance:
        q = resonance.get("quality_factor")
        parts.append(f"The response peaks at frequency {resonance['peak_frequency']:.4g} with amplitude "
                     f"{resonance['peak_response']:.4g}; the half-power width is "
                     f"{_fmt(resonance.get('width'), 4)}, so the quality factor is Q ≈ {_fmt(q, 2)}"
                     + (" (a sharp resonance)." if q and q > 5 else "."))
    calibration = report.metrics.get("calibration")
    if calibration:
        fitted = ", ".join(f"{k} = {v:.5g} ± {calibration['stderr'][k]:.2g}" for k, v in calibration["params"].items())
        parts.append(f"Calibrated parameters: {fitted} (RMS residual {calibration['rmse']:.3g}).")
    if report.errors:
        parts.append("Problems along the way: " + " | ".join(report.errors))
    if not report.answered:
        return " ".join(["No result was produced.", *parts])
    parts.append("Limits: the law is established only over the sampled ranges, at the stated noise level.")
    return " ".join(parts)
