"""A local model in the loop (issue 39), against a loopback server that answers the way the measured small models
do: tool calls written as text, prose instead of calls, invented numbers in explanations."""

import json

import pytest

from agent import Agent, load_events, replay
from agent.grounding import numbers_in, unmeasured_numbers
from agent.constrained import answer_prose, answer_schema, answer_text
from agent.planner import rival_twins
from agent.providers import COMPACT_TOOLS
from agent.reading import long_enough, prose, repeated
from agent.toolcalls import calls_in_text
from openai_stub import OpenAIStub, completion
from tools.registry import TOOLS


@pytest.mark.parametrize("text, name, args", [
    ('```json\n{"name": "discover_law", "arguments": {"dataset": "data_1"}}\n```', "discover_law",
     {"dataset": "data_1"}),
    ('<tool_call>\n{"name": "select_twin", "arguments": {"name": "coulomb_force"}}\n</tool_call>', "select_twin",
     {"name": "coulomb_force"}),
    ('I will run it: {"tool": "run_experiment", "parameters": "{\\"twin\\": \\"kepler\\"}"} now.', "run_experiment",
     {"twin": "kepler"}),
    ('{"type": "function", "function": {"name": "verify_law", "arguments": "{\\"discovery\\": \\"law_1\\"}"}}',
     "verify_law", {"discovery": "law_1"}),
    ('{"tool_calls": [{"function": "list_twins", "args": {"query": "pendulum"}}]}', "list_twins",
     {"query": "pendulum"}),
    ('{"name": "twin_from_csv", "arguments": {"path": "data.csv", "target": "x", "units": {"x": "m\nor km"}}}',
     "twin_from_csv", {"path": "data.csv", "target": "x", "units": {"x": "m\nor km"}}),  # a line break in a string
])
def test_tool_calls_written_as_text_are_read(text, name, args):
    calls = calls_in_text(text, TOOLS, first=4)
    assert [(c.id, c.name, c.args) for c in calls] == [("text_call_4", name, args)]


def test_text_that_holds_no_call_gives_none_and_broken_arguments_are_kept_raw():
    assert calls_in_text('The twin {"name": "coulomb_force"} fits; R² = 1.', TOOLS) == []
    assert calls_in_text("no JSON at all", TOOLS) == [] and calls_in_text(None, TOOLS) == []
    [call] = calls_in_text('{"name": "discover_law", "arguments": "{broken"}', TOOLS)
    assert call.args is None and call.malformed == "{broken"
    two = calls_in_text('[{"name": "select_twin", "args": {"name": "a"}}, {"name": "list_twins"}]', TOOLS)
    assert [c.name for c in two] == ["select_twin", "list_twins"]


def test_reading_stops_at_prose_with_no_call_begun_and_at_a_sentence_written_twice():
    assert prose("Coulomb's law states that", 200) is None and prose("x" * 200, 200) == "x" * 200
    assert prose('I will call it now: {"' + "x" * 200, 200) is None  # a call may be on its way
    latex = r"The force is $$F = \frac{k q_1 q_2}{r^2}$$ and in code: ```python\nF = k*q1*q2/r**2```. " * 3
    assert prose(latex, 200) == latex  # braces of a formula, a code fence: still prose
    loop = "The formula is: F = k q1 q2 / r^2, an inverse square.\nThe formula is: F = k q1 q2 / r^2, an inv"
    assert repeated(loop) is None  # the second line is not finished yet
    assert repeated(loop + "erse square.\nThe") == "The formula is: F = k q1 q2 / r^2, an inverse square."
    assert repeated("It holds. It holds. It held on held-out data.") is None  # short sentences may repeat
    said = "An inverse square. " + "It held on held-out data to R² = 1.000000. " * 3
    assert long_enough(said, 30) == "An inverse square. It held on held-out data to R² = 1.000000."
    assert long_enough(said, 500) is None


def test_numbers_in_explanations_must_be_measured():
    assert [v for _, v in numbers_in("k = 6.674 × 10^-11, F ≈ 1,200.5 N, x = -3e-4")] == [6.674e-11, 1200.5, -3e-4]
    facts = {"r2_test": 0.99999873, "formula": "0.0089875517923*q1*q2/r**2", "summary": "sampled in [0.5, 2]"}
    grounded = "R² = 0.99999, or 99.9999 %; the constant 0.008988 (8.99e-3); ranges 0.5 to 2; an inverse square."
    assert unmeasured_numbers(grounded, facts) == []
    invented = "the Coulomb constant, approximately 8.98254726e-10 N/m², and a period of 2.1 s"
    assert unmeasured_numbers(invented, facts) == ["8.98254726e-10", "2.1"]
    assert unmeasured_numbers("at 300 K", facts, goal="How does it behave at 300 K?") == []


TEXT_CALLS = [
    completion('```json\n{"name": "select_twin", "arguments": {"name": "coulomb_force"}}\n```'),
    completion('<tool_call>\n{"name": "run_experiment", "arguments": {"twin": "coulomb_force", "samples": 200}}'
               '\n</tool_call>'),
    completion('{"tool": "discover_law", "parameters": {"dataset": "data_1", "time_budget": 2}}'),
    completion('{"function": {"name": "verify_law", "arguments": "{\\"discovery\\": \\"law_1\\"}"}}'),
    completion("Done: F = k q1 q2 / r^2."),
    completion("Coulomb's Law of Motion: the Coulomb constant is approximately 8.98254726e-10 N/m²."),
]


def test_a_session_of_text_tool_calls_answers_and_an_invented_number_never_reaches_the_report(tmp_path):
    with OpenAIStub(TEXT_CALLS) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, discovery_seconds=2,
                       provider_options={"base_url": stub.base_url, "model": "small-local", "constrain": False}).run(
            "What law governs Coulomb's force?")
    assert report.exact is True and [s["by"] for s in report.steps] == ["model"] * 4
    assert "8.98254726e-10" not in report.explanation and "Law of Motion" not in report.explanation
    assert "explanation was left out: it stated 1 number that nothing measured" in report.explanation
    first = stub.requests[0]
    assert first["max_tokens"] == 256 and first["tool_choice"] == "auto"  # llama.cpp's servers need both
    offered = json.dumps(first["tools"])
    assert [t["function"]["name"] for t in first["tools"]] == list(COMPACT_TOOLS) and len(offered) < 4500
    events = load_events(report.session)
    assert events[0]["model"] == {"name": "small-local", "base_url": stub.base_url}
    responses = [e["decision"] for e in events if e["type"] == "llm_response"]
    assert responses[0]["calls_from_text"] and responses[0]["text"].startswith("```json")  # as written
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]


def test_the_planner_takes_over_when_the_model_produces_no_call(tmp_path):
    script = [completion("The period of a pendulum is directly proportional to its length."),
              completion("The force falls as the inverse square of the distance (held-out R² = 1.000000).")]
    with OpenAIStub(script) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, discovery_seconds=2,
                       provider_options={"base_url": stub.base_url, "constrain": True}).run(
            "What law governs Coulomb's force?")
    assert report.exact is True and report.steps and all(s["by"] == "planner" for s in report.steps)
    assert report.explanation.startswith("In the model's words: The force falls as the inverse square")
    assert "Measured: The data from coulomb_force" in report.explanation
    assert len(stub.requests) == 2 and "chosen by the planner" in report.to_markdown()
    held = {o["properties"].get("name", {}).get("const"): o["properties"].get("arguments")
            for o in stub.requests[0]["response_format"]["schema"]["anyOf"]}
    assert held["run_experiment"]["properties"]["twin"]["enum"] == [  # with assist: the planner's twins only
        m.name for m in rival_twins("What law governs Coulomb's force?")]
    assert any(e["type"] == "assist" for e in load_events(report.session))
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]
    with OpenAIStub([completion("It is proportional to its length.")]) as stub:
        pure = Agent(llm="openai", runs_dir=tmp_path, assist=False,
                     provider_options={"base_url": stub.base_url}).run("What law governs Coulomb's force?")
    assert not pure.answered and not pure.steps and len(stub.requests) == 1
    assert "The model wrote (not a measured result): It is proportional to its length." in pure.explanation
    with OpenAIStub([completion("Its period is 2.1 s at 1 m.")]) as stub:
        pure = Agent(llm="openai", runs_dir=tmp_path, assist=False,
                     provider_options={"base_url": stub.base_url}).run("What law governs Coulomb's force?")
    assert "2.1" not in pure.explanation and "closing words were left out" in pure.explanation
    assert json.loads(json.dumps(pure.cli_json()))["errors"] == []


def test_a_long_prose_answer_is_cut_and_a_call_after_a_short_preamble_is_read(tmp_path):
    answer = "Coulomb's law was first formulated in 1785 and it states that the force between two charges " * 6
    loop = "The force falls as the inverse square of the distance.\n"
    script = [completion(answer), completion(loop * 5)]
    with OpenAIStub(script) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, discovery_seconds=2,
                       provider_options={"base_url": stub.base_url}).run("What law governs Coulomb's force?")
    assert stub.requests[0]["stream"] is True
    responses = [e["decision"] for e in load_events(report.session) if e["type"] == "llm_response"]
    first, explained = responses[0], responses[-1]  # the model's first turn and its explanation
    assert first["cut"] and 200 <= len(first["text"]) < len(answer) and answer.startswith(first["text"].strip())
    assert explained["cut"] and explained["text"] == loop.strip()  # read up to where it began again
    assert report.explanation.count("inverse square of the distance") == 1
    assert report.exact is True and all(s["by"] == "planner" for s in report.steps)
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]
    preamble = "To find the law I will select the twin that simulates the Coulomb force between two charges. " * 2
    call = '```json\n{"name": "select_twin", "arguments": {"name": "coulomb_force"}}\n```'
    with OpenAIStub([completion(preamble + call), completion("Done.")]) as stub:
        pure = Agent(llm="openai", runs_dir=tmp_path, assist=False,
                     provider_options={"base_url": stub.base_url}).run("What law governs Coulomb's force?")
    assert pure.steps == [{"tool": "select_twin", "by": "model", "failed": False}]


def test_a_goal_that_could_mean_several_twins_is_settled_by_the_model_before_the_planner_runs(tmp_path):
    goal = "Find the electric energy density"
    rivals = [m.name for m in rival_twins(goal)]
    assert len(rivals) > 1
    chosen = rivals[-1]  # not the planner's own first match
    script = [completion("An oscillator with damping loses energy."),
              completion(f"It means {chosen}.")]
    with OpenAIStub([*script, *[completion("The model explains.")] * 3]) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, discovery_seconds=1,
                       provider_options={"base_url": stub.base_url}).run(goal)
    asked = stub.requests[1]["messages"][-1]["content"]
    assert all(f"- {name}:" in asked for name in rivals) and "tools" not in stub.requests[1]
    assert report.twin == chosen and report.steps[0] == {"tool": f"choose_twin ({chosen})", "by": "model",
                                                          "failed": False}
    assert all(s["by"] == "planner" for s in report.steps[1:])
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]


def test_a_constrained_answer_is_a_call_or_an_answer_even_cut_short():
    offered = [TOOLS[name].compact_schema() for name in COMPACT_TOOLS]
    schema = answer_schema(offered)
    assert [o["properties"].get("name", {}).get("const") for o in schema["anyOf"]] == [*COMPACT_TOOLS, None]
    assert answer_text('{"answer": "It is \\"F = k q1 q2/r^2\\"."}') == 'It is "F = k q1 q2/r^2".'
    assert answer_text('{ "answer": "The period grows as the square ro') == "The period grows as the square ro"
    assert answer_text('{"name": "select_twin", "arguments": {}}') is None and answer_text("prose") is None
    assert answer_prose('{"answer": "' + "x" * 199, 200) is None and answer_prose('{"answer": "' + "x" * 200, 200)


def test_a_constrained_model_calls_tools_as_json_objects_and_the_conversation_is_sent_in_plain_turns(tmp_path):
    calls = [{"name": "select_twin", "arguments": {"name": "coulomb_force"}},
             {"name": "run_experiment", "arguments": {"twin": "coulomb_force", "samples": 200}},
             {"name": "discover_law", "arguments": {"dataset": "data_1", "time_budget": 2}},
             {"name": "verify_law", "arguments": {"discovery": "law_1"}}]
    script = [completion(json.dumps(call)) for call in calls]
    script += [completion('{"answer": "The force falls as the inverse square of the distance."}'),
               completion('{"answer": "It falls as the inverse square of the distance."}')]  # as the system asks
    with OpenAIStub(script) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, discovery_seconds=2, assist=False,
                       provider_options={"base_url": stub.base_url}).run("What law governs Coulomb's force?")
    assert report.exact is True and [s["by"] for s in report.steps] == ["model"] * 4
    assert report.explanation.startswith("In the model's words: It falls as the inverse square of the distance.")
    first, fourth = stub.requests[0], stub.requests[3]
    assert "tools" not in first and first["response_format"]["type"] == "json_object"
    def offered(request):  # tool -> its arguments' schema, in this turn's grammar (None: the answer)
        return {o["properties"].get("name", {}).get("const"): o["properties"].get("arguments")
                for o in request["response_format"]["schema"]["anyOf"]}

    # the first turn must call a tool that can be called before anything is measured, naming what exists
    assert {"select_twin", "run_experiment", "measure_observable"} <= set(offered(first)) and None not in offered(
        first) and "discover_law" not in offered(first) and "verify_law" not in offered(first)
    twins = offered(first)["run_experiment"]["properties"]["twin"]["enum"]
    assert "coulomb_force" in twins and "coulomb_force" not in offered(first)["measure_observable"][
        "properties"]["twin"]["enum"]  # observables are read off motions: an algebraic twin has none
    held = offered(fourth)
    assert held["discover_law"]["properties"]["dataset"]["enum"] == ["data_1"] and None in held
    assert held["verify_law"]["properties"]["discovery"]["enum"] == ["law_1"] and "discover_pde" not in held
    assert "- discover_pde(" in first["messages"][0]["content"]  # the tools are listed in the system text
    # one user turn: the goal, the calls told (not as the model's own turns, which a small model copies) with their
    # results, and the calls that take what the last one made
    assert [m["role"] for m in fourth["messages"]] == ["system", "user"]
    told = fourth["messages"][1]["content"]
    assert told.startswith("What law governs Coulomb's force?\n\nYou called select_twin(name=\"coulomb_force\").")
    assert "\n\nResult of select_twin: {" in told
    assert 'You called discover_law(dataset="data_1", time_budget=2).' in told
    assert told.endswith('What can take it next: {"name": "verify_law", "arguments": {"discovery": "law_1"}}')
    assert 'What can take it next: {"name": "discover_law", "arguments": {"dataset": "data_1"}}' in stub.requests[
        2]["messages"][1]["content"]
    assert None not in offered(stub.requests[2])  # an answer once a law is found, not before
    explained = stub.requests[-1]
    assert "response_format" not in explained and explained["messages"][0] == first["messages"][0]  # shared prefix
    responses = [e["decision"] for e in load_events(report.session) if e["type"] == "llm_response"]
    assert responses[4]["text"] == "The force falls as the inverse square of the distance."
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]


def test_a_call_the_session_already_ran_is_not_run_again_and_counts_as_a_failure(tmp_path):
    again = completion('{"name": "select_twin", "arguments": {"name": "coulomb_force"}}')
    with OpenAIStub([again] * 4) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, assist=False,
                       provider_options={"base_url": stub.base_url}).run("What law governs Coulomb's force?")
    assert [s["failed"] for s in report.steps] == [False, True, True, True] and len(stub.requests) == 4
    assert "select_twin was already called with these arguments" in report.errors[0]
    assert report.errors[-1] == "the model's tool calls failed 3 times in a row"
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]


def test_a_server_that_refuses_the_grammar_gets_the_turns_unheld(tmp_path):
    call = completion('{"name": "select_twin", "arguments": {"name": "coulomb_force"}}')
    with OpenAIStub([400, call, completion("Done.")]) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, assist=False,
                       provider_options={"base_url": stub.base_url, "max_retries": 0}).run(
            "What law governs Coulomb's force?")
    assert ["response_format" in r for r in stub.requests] == [True, False, False]
    assert report.steps == [{"tool": "select_twin", "by": "model", "failed": False}] and not report.errors
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]
