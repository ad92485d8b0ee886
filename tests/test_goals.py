"""The offline planner maps goals in plain words (English, Russian, Chinese) to the twin and the question asked,
or refuses them: every goal of benchmarks/data/goals.json, mapping only (no experiment runs)."""

import json
from pathlib import Path

import pytest

from agent.planner import plan

GOALS = json.loads((Path(__file__).parent.parent / "benchmarks" / "data" / "goals.json").read_text())["goals"]
#: The planner's second call for each question: the tool and the arguments that tell the questions apart.
SECOND_CALL = {
    "law": ("run_experiment", {"method": "sobol"}),
    "sequential": ("run_experiment", {"method": "sequential"}),
    "equations": ("run_experiment", {"samples": 16}),
    "pde": ("run_experiment", {"method": "snapshots"}),
    "dispersion": ("run_experiment", {"samples": 32}),
    "resonance": ("find_resonance", {}),
    "observable": ("measure_observable", {}),
}


def test_the_suite_is_large_and_multilingual():
    assert len(GOALS) >= 40 and sum(g["lang"] in ("ru", "zh") for g in GOALS) >= 10
    assert any(g["question"] == "refuse" for g in GOALS)


@pytest.mark.parametrize("goal", GOALS, ids=lambda g: g["goal"][:50])
def test_goal_maps_to_its_twin_and_question_or_is_refused(goal):
    steps = plan(goal["goal"], 5)
    if goal["question"] == "refuse":
        with pytest.raises(StopIteration) as finished:
            next(steps)
        assert any(says in finished.value.value for says in ("cannot yet measure", "I could not map", "cannot vary"))
        return
    assert next(steps) == ("select_twin", {"name": goal["twin"]})
    tool, expected = SECOND_CALL[goal["question"]]
    if goal["question"] == "observable":  # the observable asked, over the inputs named (none: the twin's own)
        expected = {"observable": goal["observable"], **({"inputs": goal["inputs"]} if goal["inputs"] else {})}
    name, args = steps.send({"name": goal["twin"]})
    assert name == tool and expected.items() <= args.items()
