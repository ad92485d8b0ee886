"""What a goal asks about a simulated motion: which observable (a period, a range, a decay time) and which inputs
it should depend on ("as a function of its length and amplitude"), read with a phrase table (no model) and matched
against a twin's parameters and launch coordinates by their names and descriptions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.observables import OBSERVABLES
from twin import OdeTwin, Twin

#: Question forms, each naming the observable it asks for (the earliest in the goal wins).
OBSERVABLE_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bhalf[- ]lives?\b|\bdecay (?:time|constant)s?\b|\bdamping time\b|\be-folding time\b"
                r"|how (?:fast|quickly) (?:does |do )?(?:the )?(?:\w+ )?(?:oscillations? )?(?:decay|die)", re.I),
     "decay_time"),
    (re.compile(r"\btime of flight\b|\bflight time\b|\bstays? in the air\b|\bhang time\b", re.I), "flight_time"),
    (re.compile(r"\bmaximum height\b|\bmax(?:imum)? altitude\b|\bhow high\b|\bpeak height\b|\bapex\b", re.I),
     "max_height"),
    (re.compile(r"\brange\b|\bhow far\b", re.I), "range"),
    (re.compile(r"\bfrequency\b|\bfrequencies\b", re.I), "frequency"),
    (re.compile(r"\bperiods?\b", re.I), "period"),
)
#: Questions about a motion that no observable answers yet (said so, rather than answered with another law).
UNMEASURED = re.compile(r"\b(amplitude|energy loss|how long|phase)\b", re.I)
_INPUTS = re.compile(r"(?:as a function of|functions? of|depends? (?:up)?on|depending (?:up)?on|dependence on|"
                     r"\bvs\.?|\bversus|in terms of|with respect to|changes? with|varies with|scales? with)\s+"
                     r"(.+?)(?:[?!;]|\.(?:\s|$)|$)", re.I)
_SPLIT = re.compile(r",|\band\b|&|\bor\b", re.I)
#: Where the list of inputs ends: a clause about something else ("…, with as few runs as possible").
_CLAUSE = re.compile(r"\b(?:with|using|by|from|over|at|in|for|when|while|given|keeping|holding)\b", re.I)
_FILLER = {"its", "the", "a", "an", "their", "of", "on", "it", "his", "her", "initial", "value", "values"}


@dataclass(frozen=True)
class Question:
    """An observable of a twin's motion and the inputs named in the goal (None: the twin's defaults)."""

    observable: str
    inputs: list[str] | None


def asked_observable(goal: str) -> str | None:
    """The observable a goal asks for, or None."""
    found = [(m.start(), key) for pattern, key in OBSERVABLE_FORMS if (m := pattern.search(goal))]
    return min(found)[1] if found else None


def named_inputs(goal: str) -> list[str]:
    """The phrases a goal names as what its quantity depends on: "as a function of its length and amplitude" ->
    ["length", "amplitude"]."""
    found = _INPUTS.search(goal)
    if not found:
        return []
    phrases = []
    for part in _SPLIT.split(_CLAUSE.split(found.group(1))[0]):
        words = [w for w in re.findall(r"[\w'-]+", part) if w.lower() not in _FILLER]
        if words:
            phrases.append(" ".join(words))
    return phrases


def _forms(word: str) -> set[str]:
    """A word and its singular forms (lengths -> length, masses -> mass)."""
    word = word.lower().removesuffix("'s")
    return {word, word.removesuffix("s"), word.removesuffix("es")}


def resolve_inputs(twin: Twin, phrases: list[str]) -> tuple[list[str], list[str]]:
    """The twin's input names that ``phrases`` name (by symbol, or by the words of its description), and the
    phrases that name none. For an ODE twin, its parameters and launch coordinates count as inputs."""
    candidates = list(twin.inputs) + (list(twin.launch_inputs) + list(twin.parameters)
                                      if isinstance(twin, OdeTwin) else [])
    described = {c.name: _words(c.description.split(",")[0]) for c in candidates}
    known = set().union(*described.values())
    names, unknown = [], []
    for phrase in phrases:
        words = phrase.split()
        hit = next((c.name for c in candidates if c.name in words), None)
        if hit is None:  # by description; a word no description has ("the pendulum's", "его") says nothing
            wanted = [w for w in words if _forms(w) & known]
            hit = next((name for name, said in described.items() if wanted and all(
                _forms(w) & said for w in wanted)), None)
        if hit is None:
            unknown.append(phrase)
        elif hit not in names:
            names.append(hit)
    return names, unknown


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[\w-]+", text)}


def observable_question(goal: str, twin: Twin) -> Question | str | None:
    """The observable question ``goal`` asks about ``twin``'s motion; a sentence saying why it cannot be answered
    (an input the twin does not have, a range without a height state); or None when it asks none."""
    observable = asked_observable(goal)
    if observable is None or not isinstance(twin, OdeTwin):
        return None
    if any(n not in twin.state_names for n in OBSERVABLES[observable].needs):
        return (f"{twin.name.replace('_', ' ')} has no height state 'y', so I cannot measure a "
                f"{observable.replace('_', ' ')} from its runs.")
    phrases = named_inputs(goal)
    names, unknown = resolve_inputs(twin, phrases)
    if unknown:
        ranged_states = [v for v in twin.inputs if v.high > v.low]
        described = ", ".join(
            f"{c.name} ({c.description or c.unit or ('initial state' if c in ranged_states else '')})"
            for c in [*twin.launch_inputs, *twin.parameters, *ranged_states])
        return (f"I cannot vary {', '.join(repr(u) for u in unknown)} in {twin.name.replace('_', ' ')}; "
                f"I can vary {described}.")
    return Question(observable, names or None)
