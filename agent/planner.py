"""The offline planner: a deterministic, model-free provider that maps a goal to a twin and runs the
standard pipeline through the same tool registry an LLM would use."""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from agent.messages import Decision, Message, ToolCall
from agent.phrases import in_english
from agent.questions import UNMEASURED, Question, asked_observable, named_inputs, observable_question, resolve_inputs
from tools.state_design import StateDesign
from twin import catalogue_entries, get_twin

ToolRequest = tuple[str, dict[str, Any]]
Plan = Generator[ToolRequest, dict, str]

_CSV = re.compile(r"([\w./\\-]+\.csv)\b", re.I)
_TARGET = re.compile(r"(?:predict(?:ing|s)?|target|explain(?:ing|s)?|for)\s+(?:column\s+)?[`'\"]?([A-Za-z_]\w*)", re.I)
#: Units of a CSV's columns written in the goal, "(units: F=N, m1=kg)" (``twinsight run --units`` adds them).
_UNITS = re.compile(r"\bunits?\s*:\s*((?:[A-Za-z_]\w*\s*=\s*[^,;)]+[,;]?\s*)+)", re.I)
_UNIT_PAIR = re.compile(r"([A-Za-z_]\w*)\s*=\s*([^,;)]+)")
_RESONANCE_WORDS = ("resonance", "resonant", "how sharp", "quality factor", "q factor", "linewidth")
_KAN = re.compile(r"\bkan\b|kolmogorov", re.I)
_NEURAL_ODE = re.compile(r"neural[ -]ode", re.I)
#: Goals that ask for the runs themselves to be chosen (tools.sequential): "with as few runs as possible",
#: "design the experiments", "decide between the laws".
_SEQUENTIAL = re.compile(r"\bsequential|adaptive(?:ly)?\b|design(?:s|ed|ing)? (?:the |its |my )?(?:experiments|runs)"
                         r"|few(?:er|est)? (?:twin |simulation )?runs|decide between|tell (?:the )?(?:rival )?laws apart",
                         re.I)
#: Goals that ask for a system's dynamics (its equations of motion), not for a closed-form law.
_DYNAMICS = re.compile(r"equations? of motion|\bdynamics\b|differential equations?|\bodes?\b|vector field", re.I)
#: Goals that ask for a field's dispersion relation ω(k) or decay rates, rather than the PDE itself.
_DISPERSION = re.compile(r"dispersion|decay rates?|\bomega\b|ω\(k\)|frequency of (?:a|each) mode", re.I)


@dataclass(frozen=True)
class Match:
    name: str
    kind: str
    score: float


def match_twin(goal: str, kinds: tuple[str, ...] | None = None) -> Match | None:
    """The catalogue twin a goal talks about (of one of ``kinds``, if given): aliases and names count most, then
    keywords."""
    found = _matches(goal, kinds)
    return found[0] if found else None


def rival_twins(goal: str, within: float = 1.0, limit: int = 4) -> list[Match]:
    """The catalogue twins a goal (in any of the planner's languages) could mean about equally: every match within
    ``within`` of the best score, at most ``limit`` (more than one: the goal is ambiguous)."""
    found = _matches(in_english(goal))
    return [m for m in found if m.score >= found[0].score - within][:limit] if found else []


def _matches(goal: str, kinds: tuple[str, ...] | None = None) -> list[Match]:
    """Every catalogue twin the goal scores at least 2 on, best first (ties in catalogue order)."""
    text = " " + re.sub(r"[^a-z0-9.\-' ]+", " ", goal.lower()) + " "
    found: list[Match] = []
    for t in catalogue_entries():
        if kinds and t.kind not in kinds:
            continue
        score = 0.0
        for alias in (*t.aliases, t.name.replace("_", " ")):
            if f" {alias} " in text or f" {alias}'" in text or f" {alias}s " in text:
                score = max(score, 10.0 + len(alias))
        equation_id = t.description.split(":")[0].removeprefix("Feynman ").split(" (")[0].lower()
        if t.group.startswith("feynman") and re.search(rf"\b{re.escape(equation_id)}\b", text):
            score = max(score, 50.0)
        score += sum(1.0 for k in t.keywords if re.search(rf"\b{re.escape(k)}", text))
        if score >= 2:
            found.append(Match(t.name, t.kind, score))
    return sorted(found, key=lambda m: -m.score)


def capabilities() -> str:
    """What the offline planner understands, for goals it cannot map."""
    return (
        "I could not map that goal to a twin or a data file. I can: rediscover a law from a catalogue twin "
        "(e.g. 'Rediscover the relativistic velocity addition law', 'What law governs Coulomb's force?', "
        "'Find the period of a pendulum as a function of its length', any Feynman equation by number such as "
        "'I.16.6'), with the runs designed in rounds where rival laws disagree ('Find Coulomb's law with as few "
        "runs as possible'); find the law of a quantity read off simulated motions ('How does the period of a "
        "pendulum depend on its length and amplitude?', 'How far does a projectile fly as a function of its launch "
        "speed and angle?'); find equations of motion ('Find the equations of motion of the Lotka-Volterra system'); "
        "train a KAN or a neural ODE on the way ('Train a KAN on the relativistic velocity addition law', "
        "'Learn the Lotka-Volterra equations with a neural ODE'); find the PDE of a field ('What equation governs "
        "the Burgers field?', 'Find the PDE of the Kuramoto-Sivashinsky equation'); measure a dispersion relation "
        "('Find the dispersion relation of the Klein-Gordon field'); locate a "
        "resonance ('Where is the resonance of the driven oscillator and how sharp is it?'); fit a CSV "
        "('Find the law in examples/measurements.csv predicting y'); calibrate a twin ('Calibrate the damped "
        "oscillator to examples/data.csv'). Run `twinsight twins` for the catalogue."
    )


def plan(goal: str, discovery_seconds: float, twin: str | None = None) -> Plan:
    """The tool calls for ``goal`` (in English, or in Russian or Chinese through ``agent.phrases``), as a generator
    that receives each tool result; ``twin`` (a model's choice among ``rival_twins``) overrides the match."""
    goal = in_english(goal)
    csv_match = _CSV.search(goal)
    twin_match = Match(twin, get_twin(twin).kind, 100.0) if twin else match_twin(goal)
    lowered = goal.lower()
    if csv_match and "calibrat" in lowered:
        if twin_match is None:
            return _finish("To calibrate I need to know which twin: name one, e.g. 'the damped oscillator'.")
        return _calibrate(csv_match.group(1), twin_match.name)
    if csv_match:
        target = _TARGET.search(goal[csv_match.end():]) or _TARGET.search(goal)
        if target is None:
            return _finish(f"Which column of {csv_match.group(1)} should I explain? Say e.g. 'predicting y'.")
        units = _UNITS.search(goal)
        return _csv_law(csv_match.group(1), target.group(1), discovery_seconds,
                        {n: u.strip() for n, u in _UNIT_PAIR.findall(units.group(1))} if units else None)
    if twin_match is None:
        return _finish(capabilities())
    if any(w in lowered for w in _RESONANCE_WORDS) and twin_match.kind in ("algebraic", "ode"):
        return _resonance(twin_match.name, discovery_seconds)
    dynamics = bool(_DYNAMICS.search(goal) or _NEURAL_ODE.search(goal))
    if dynamics and twin_match.kind != "ode":  # "the equations of motion of a simple pendulum": its ODE, not a law
        twin_match = match_twin(goal, kinds=("ode",)) or twin_match
    if not dynamics:
        observed = _observable_twin(goal, twin_match)
        question = observable_question(goal, get_twin(observed.name)) if observed else None
        if isinstance(question, str):
            return _finish(question + " " + capabilities().split(". ", 1)[1])
        if question is not None:
            return _observable(observed.name, question, discovery_seconds, bool(_SEQUENTIAL.search(goal)))
    if twin_match.kind == "ode" and not dynamics and UNMEASURED.search(goal):
        return _finish(_cannot_measure(UNMEASURED.search(goal).group(1), twin_match.name))
    if twin_match.kind == "ode":
        return _equations_of_motion(twin_match.name, discovery_seconds, bool(_NEURAL_ODE.search(goal)))
    if twin_match.kind == "field" and _DISPERSION.search(goal):
        return _dispersion(twin_match.name, discovery_seconds)
    if twin_match.kind in ("field", "pde"):  # "What equation governs the Burgers field?": its PDE
        return _field_law(twin_match.name, bool(_SEQUENTIAL.search(goal)))
    return _law(twin_match.name, discovery_seconds, bool(_KAN.search(goal)), bool(_SEQUENTIAL.search(goal)))


def _observable_twin(goal: str, matched: Match) -> Match | None:
    """The ODE twin whose motion an observable question is about: the matched one, or, when a closed-form law was
    matched that lacks an input the goal names (the period of a pendulum as a function of its amplitude), the
    ODE twin the goal names."""
    if matched.kind == "ode":
        return matched
    phrases = named_inputs(goal)
    if matched.kind == "algebraic" and asked_observable(goal) and phrases:
        if resolve_inputs(get_twin(matched.name), phrases)[1]:
            return match_twin(goal, kinds=("ode",))
    return None


def _cannot_measure(observable: str, twin: str) -> str:
    """The answer to a question about an observable of a simulated motion, which the planner cannot yet measure:
    said plainly, rather than answering another question (the equations of motion) in its place."""
    observable = {"how far": "range", "how long": "duration", "how high": "maximum height"}.get(
        observable.lower(), observable.lower())
    return (f"I cannot yet measure the {observable} of {twin.replace('_', ' ')} from its simulations, so I "
            f"will not report another law in its place. I can find its equations of motion ('Find the equations of "
            f"motion of {twin.replace('_', ' ')}'), or find the law of a {observable} you have measured "
            "('Find the law in measurements.csv predicting <column>'). " + capabilities().split(". ", 1)[1])


def _finish(text: str) -> Plan:
    """A plan with no tool calls that ends with ``text``."""
    yield from ()
    return text


def _discover_and_verify(dataset: str, seconds: float) -> Plan:
    found = yield "discover_law", {"dataset": dataset, "time_budget": seconds}
    yield from _verify(found["laws"])
    return "done"


def _verify(laws: list[dict]) -> Plan:
    for law in laws:
        yield "verify_law", {"discovery": law["discovery"]}
    return "done"


def _verify_or_discover(result: dict, seconds: float) -> Plan:
    """Verify the laws a sequential design's last round found on every run it took (``result["laws"]``), or
    discover the result's dataset's laws and verify them."""
    if result.get("laws"):
        yield from _verify(result["laws"])
    else:
        yield from _discover_and_verify(result["dataset"], seconds)
    return "done"


def _law(name: str, seconds: float, kan: bool = False, sequential: bool = False) -> Plan:
    """Sample (400 Sobol points, or up to 400 runs designed in rounds where rival laws disagree), (train a KAN when
    asked: its diagram and input attribution), discover, verify."""
    yield "select_twin", {"name": name}
    design = {"method": "sequential", "search_seconds": seconds} if sequential else {"method": "sobol"}
    data = yield "run_experiment", {"twin": name, "samples": 400, **design}
    if kan:
        yield "train_model", {"dataset": data["dataset"], "kind": "kan"}
    yield from _verify_or_discover(data, seconds)
    return "done"


def _observable(name: str, question: Question, seconds: float, sequential: bool = False) -> Plan:
    """Runs over the named inputs (64 Sobol points, or up to 200 designed in rounds where the rival laws of the
    observable disagree) → the observable read off each run → its law."""
    yield "select_twin", {"name": name}
    inputs = {"inputs": question.inputs} if question.inputs else {}
    design = {"method": "sequential", "runs": 200, "search_seconds": seconds} if sequential else {}
    table = yield "measure_observable", {"twin": name, "observable": question.observable, **inputs, **design}
    yield from _verify_or_discover(table, seconds)
    return "done"


def _equations_of_motion(name: str, seconds: float, neural_ode: bool = False) -> Plan:
    """Trajectories → derivatives (smoothed differences, or a trained neural ODE's field) → laws. The 16 initial
    states are chosen in rounds where rival systems part (tools.state_design), the goal's search seconds shared
    among the rounds, whose last search gives the laws; a neural ODE is trained on 16 Sobol initial states."""
    yield "select_twin", {"name": name}
    if neural_ode:
        data = yield "run_experiment", {"twin": name, "samples": 16, "method": "sobol"}
        model = yield "train_model", {"dataset": data["dataset"], "kind": "neural_ode"}
        table = yield "derive_table", {"dataset": data["dataset"], "kind": "vector_field", "model": model["model"]}
        yield from _discover_and_verify(table["dataset"], seconds)
        return "done"
    rounds = len(StateDesign(16).schedule())
    data = yield "run_experiment", {"twin": name, "samples": 16, "method": "sequential",
                                    "search_seconds": max(1.0, seconds / rounds)}
    yield from _verify(data["laws"])
    return "done"


def _dispersion(name: str, seconds: float) -> Plan:
    yield "select_twin", {"name": name}
    data = yield "run_experiment", {"twin": name, "samples": 32}
    table = yield "derive_table", {"dataset": data["dataset"], "kind": "dispersion"}
    yield from _discover_and_verify(table["dataset"], seconds)
    return "done"


def _field_law(name: str, sequential: bool = False) -> Plan:
    """Four runs from random smooth initial states (or chosen in rounds where rival PDEs part), then the PDE behind
    them (checked on a held-out run)."""
    yield "select_twin", {"name": name}
    data = yield "run_experiment", {"twin": name, "samples": 4, "method": "sequential" if sequential else "snapshots"}
    yield "discover_pde", {"dataset": data["dataset"]}
    return "done"


def _resonance(name: str, seconds: float) -> Plan:
    yield "select_twin", {"name": name}
    yield "find_resonance", {"twin": name, "points": 400}
    data = yield "run_experiment", {"twin": name, "samples": 400, "method": "sobol"}
    if data.get("kind") == "algebraic":
        yield from _discover_and_verify(data["dataset"], seconds)
    return "done"


def _csv_law(path: str, target: str, seconds: float, units: dict[str, str] | None = None) -> Plan:
    made = yield "twin_from_csv", {"path": path, "target": target, **({"units": units} if units else {})}
    data = yield "run_experiment", {"twin": made["name"], "samples": 10}
    yield from _discover_and_verify(data["dataset"], seconds)
    return "done"


def _calibrate(path: str, name: str) -> Plan:
    chosen = yield "select_twin", {"name": name}
    made = yield "twin_from_csv", {"path": path, "target": chosen["outputs"][0]["name"]}
    data = yield "run_experiment", {"twin": made["name"], "samples": 10}
    yield "calibrate_twin", {"twin": name, "dataset": data["dataset"]}
    return "done"


class OfflinePlanner:
    """Provider interface over :func:`plan`: each decision is the next tool call, or the final text.

    A tool error ends the plan with the error in plain words (the planner does not improvise).
    """

    name = "offline"

    def __init__(self, discovery_seconds: float = 30.0, twin: str | None = None):
        self.discovery_seconds = discovery_seconds
        self.twin = twin
        self._plan: Plan | None = None
        self._calls = 0

    def decide(self, messages: list[Message]) -> Decision:
        last = messages[-1]
        try:
            if self._plan is None:
                self._plan = plan(messages[-1].content, self.discovery_seconds, self.twin)
                request = next(self._plan)
            elif last.role == "tool" and last.error:
                return Decision(text=f"Stopped: {last.content}")
            else:
                request = self._plan.send(last.payload or {})
        except StopIteration as stop:
            return Decision(text=str(stop.value or "done"))
        self._calls += 1
        return Decision(tool_calls=[ToolCall(id=f"call_{self._calls}", name=request[0], args=request[1])])
