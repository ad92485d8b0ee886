import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from agent import Agent, SessionError, load_events, replay
from agent.orchestrator import Budgets
from openai_stub import OpenAIStub, completion
from twin import get_twin

SECRET = "sk-test-0123456789abcdefSECRET"


def _all_text(directory):
    return "".join(p.read_text(errors="ignore") for p in directory.rglob("*") if p.is_file() and p.suffix != ".npz")


@pytest.fixture(scope="module")
def velocity_session(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    report = Agent(runs_dir=runs, seed=0, discovery_seconds=10).run("Rediscover the relativistic velocity addition law")
    return runs, report


def test_offline_main_goal_end_to_end(velocity_session):
    runs, report = velocity_session
    assert report.twin == "relativistic_velocity_addition"
    assert report.exact is True and report.r2_test > 0.999999
    assert "held-out" in report.explanation and report.latex
    session = runs / report.session.split("/")[-1]
    events = load_events(session)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session_start" and kinds[-1] == "report"
    assert {"goal", "llm_request", "llm_response", "tool_call", "tool_result"} <= set(kinds)
    assert "torch" in events[0]["versions"]
    assert (session / "report.md").read_text().startswith("# Rediscover")
    assert any(p.suffix == ".npz" for p in (session / "data").iterdir())


def test_replay_reproduces_and_tampering_is_detected(velocity_session, tmp_path):
    runs, report = velocity_session
    session = runs / report.session.split("/")[-1]
    result = replay(session, runs_dir=tmp_path)
    assert result["reproduced"] is True and result["steps"] == 4, result["diffs"]
    lines = (session / "session.jsonl").read_text().splitlines()
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    edited = lines[:]
    edited[3] = edited[3].replace('"seed": 0', '"seed": 1') if '"seed": 0' in edited[3] else edited[3][:-1] + ', "x": 1}'
    (tampered / "session.jsonl").write_text("\n".join(edited) + "\n")
    with pytest.raises(SessionError, match="edited"):
        load_events(tampered)
    (tampered / "session.jsonl").write_text("\n".join(lines)[:-40])
    with pytest.raises(SessionError, match="truncated"):
        load_events(tampered)
    (tampered / "session.jsonl").write_text("not json\n")
    with pytest.raises(SessionError, match="not valid JSON"):
        load_events(tampered)
    with pytest.raises(SessionError, match="no session file"):
        load_events(tmp_path / "missing")


def test_unmappable_goal_gets_a_helpful_answer(tmp_path):
    report = Agent(runs_dir=tmp_path).run("Bake me a cake")
    assert report.formula is None and "I can:" in report.explanation
    with pytest.raises(ValueError, match="empty"):
        Agent(runs_dir=tmp_path).run("   ")


@pytest.mark.parametrize("goal, twin, check", [
    ("What law governs Coulomb's force?", "coulomb_force", lambda r: r.exact is True),
    ("Find the period of a pendulum as a function of its length", "pendulum_period", lambda r: r.exact is True),
    ("Where is the resonance of the driven oscillator and how sharp is it?", "driven_oscillator_resonance",
     lambda r: abs(r.metrics["resonance"]["quality_factor"] - 13.3) < 0.5),
])
def test_offline_planner_goals(tmp_path, goal, twin, check):
    report = Agent(runs_dir=tmp_path, discovery_seconds=6).run(goal)
    assert report.twin == twin and check(report), report.explanation


def test_progress_is_live_and_a_closed_stream_stops_the_running_tool(tmp_path):
    # Derivative data never reach the noiseless stop criterion, so the designed experiment's searches would use
    # their full 100 s per state and round: ending within a minute means the running tool was stopped.
    goal = "Find the equations of motion of the Lotka-Volterra system"
    stream = Agent(runs_dir=tmp_path, discovery_seconds=300).stream(goal)
    for event in stream:
        if event["type"] == "progress" and event.get("stage") == "candidates":
            break  # progress of the first round's search, arriving while run_experiment runs
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 60
    events = load_events(next(tmp_path.iterdir()))
    assert not any(e["type"] == "tool_result" and e["name"] == "run_experiment" for e in events)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "stopped"


def test_kan_goal_reports_training_and_replays(tmp_path):
    report = Agent(runs_dir=tmp_path, discovery_seconds=5).run("Train a KAN on the relativistic velocity addition law")
    training = report.metrics["training"][0]
    assert training["kind"] == "kan" and training["history"]["val_loss"][-1] < 1e-3
    assert (Path(report.session) / training["plots"][0]).is_file() and report.exact is True
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]


def test_csv_goals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1, 3, 200), rng.uniform(1, 3, 200)
    lines = ["a,b,y"] + [f"{x},{z},{2.5 * x**2 / z}" for x, z in zip(a, b)]
    (tmp_path / "measurements.csv").write_text("\n".join(lines) + "\n")
    report = Agent(runs_dir=tmp_path / "runs", discovery_seconds=5).run("Find the law in measurements.csv predicting y")
    assert report.twin == "measurements" and report.r2_test > 0.999999
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a relative CSV path is read where the session ran, wherever it is replayed
    replayed = replay(report.session)
    assert replayed["reproduced"] and replayed["steps"] == 4, replayed["diffs"]
    monkeypatch.chdir(tmp_path)
    oscillator = get_twin("driven_damped_oscillator")
    data = oscillator.simulate(np.array([[0.5, 0.0]]), params={"gamma": 0.4, "omega0": 1.5}, t_end=10, n_steps=400)
    rows = ["t,x,v"] + [f"{t},{x},{v}" for t, (x, v) in zip(data.arrays["t"], data.arrays["states"][0])]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    report = Agent(runs_dir=tmp_path / "runs").run("Calibrate the damped oscillator to data.csv")
    fitted = report.metrics["calibration"]["params"]
    assert abs(fitted["gamma"] - 0.4) < 1e-3 and abs(fitted["omega0"] - 1.5) < 1e-3
    report = Agent(runs_dir=tmp_path / "runs").run("Find the law in missing.csv predicting y")
    assert report.formula is None and any("does not exist" in e for e in report.errors)


def test_step_budget_ends_with_a_report(tmp_path):
    report = Agent(runs_dir=tmp_path, budgets=Budgets(max_steps=2)).run("What law governs Coulomb's force?")
    assert report.formula is None and any("limit of 2 steps" in e for e in report.errors)


SCRIPT = [
    completion(tool_calls=[("c1", "select_twin", {"name": "coulomb"})]),
    completion(tool_calls=[("c2", "run_experiment", {"twin": "coulomb_force", "samples": 200})]),
    completion(tool_calls=[("c3", "discover_law", {"dataset": "data_1", "time_budget": 3})]),
    completion(tool_calls=[("c4", "verify_law", {"discovery": "law_1"})]),
    completion("F = k q1 q2 / r^2, verified on held-out data."),
    completion("Coulomb's inverse-square law: the force grows with both charges and falls as 1/r²."),
]


def test_openai_provider_drives_a_full_session(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with OpenAIStub(SCRIPT) as stub:
        agent = Agent(llm="openai", runs_dir=tmp_path, provider_options={
            "base_url": stub.base_url, "model": "stub-model", "constrain": False})
        report = agent.run("What law governs Coulomb's force?")
    assert report.exact is True and report.explanation.startswith("In the model's words: Coulomb's inverse-square law")
    assert "Measured: The data from coulomb_force" in stub.requests[-1]["messages"][-1]["content"]
    assert "(LaTeX:" not in stub.requests[-1]["messages"][-1]["content"] and "(LaTeX:" in report.explanation
    assert "tools" not in stub.requests[-1]
    assert stub.requests[0]["model"] == "stub-model" and stub.requests[0]["tools"]
    assert any(m["role"] == "tool" for m in stub.requests[-2]["messages"])
    assert {k.lower(): v for k, v in stub.headers[0].items()}["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in _all_text(tmp_path)
    events = load_events(report.session)
    assert sum(e["decision"]["usage"].get("total_tokens", 0) for e in events if e["type"] == "llm_response") == 720
    result = replay(report.session, runs_dir=tmp_path / "replays")
    assert result["reproduced"] is True


def test_openai_provider_failure_modes(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    down = Agent(llm="openai", runs_dir=tmp_path, provider_options={
        "base_url": f"http://127.0.0.1:{dead_port}/v1", "max_retries": 0, "timeout": 2})
    report = down.run("What law governs Coulomb's force?")
    assert any(f"model endpoint http://127.0.0.1:{dead_port}/v1 (model" in e for e in report.errors)  # names the URL
    assert not report.answered
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]  # the failure replays as recorded
    with OpenAIStub([429, completion("nothing to do"), completion("No law was sought.")]) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, provider_options={"base_url": stub.base_url}).run("hello")
    assert not report.errors and len(stub.requests) == 2  # no result: no explanation is asked for
    with OpenAIStub([500, 500, 500]) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, provider_options={"base_url": stub.base_url, "max_retries": 1}).run("hi")
    assert any(f"model endpoint {stub.base_url} (model" in e and "500" in e for e in report.errors)
    assert replay(report.session, runs_dir=tmp_path / "replays")["reproduced"]
    malformed = [completion(tool_calls=[("c1", "select_twin", '{"name": "coul')]),
                 completion(tool_calls=[("c2", "no_such_tool", {})]),
                 completion("giving up")]
    with OpenAIStub(malformed) as stub:
        report = Agent(llm="openai", runs_dir=tmp_path, provider_options={"base_url": stub.base_url,
                                                                          "constrain": False},
                       assist=False).run("coulomb")
    tool_messages = [m for m in stub.requests[2]["messages"] if m["role"] == "tool"]
    assert "malformed_arguments" in tool_messages[0]["content"] and "unknown_tool" in tool_messages[1]["content"]
    assert SECRET not in _all_text(tmp_path)


def test_streaming_chat_against_the_loopback_server():
    from langchain_openai import ChatOpenAI

    with OpenAIStub([completion("the law is an inverse square")]) as stub:
        chat = ChatOpenAI(model="stub-model", base_url=stub.base_url, api_key="x", use_responses_api=False)
        text = "".join(chunk.content for chunk in chat.stream("hi"))
    assert text.strip() == "the law is an inverse square"


def test_redaction_of_credentials():
    from agent.session import redact

    cleaned = redact({"api_key": "abc", "headers": {"Authorization": "Bearer abcdefghijkl"},
                      "note": f"key {SECRET} used", "usage": {"total_tokens": 5}})
    assert cleaned["api_key"] == "[redacted]" and cleaned["headers"]["Authorization"] == "[redacted]"
    assert SECRET not in cleaned["note"] and cleaned["usage"]["total_tokens"] == 5


def test_an_incomplete_session_replays_only_its_recorded_steps(tmp_path):
    agent = Agent(runs_dir=tmp_path, discovery_seconds=5)
    stream = agent.stream("What law governs Coulomb's force?")
    seen = 0
    for event in stream:
        seen += event["type"] == "tool_result"
        if seen == 2:  # the twin and the experiment recorded; stopped before the search
            break
    stream.close()
    session = next(p for p in tmp_path.iterdir() if p.is_dir())
    events = load_events(session)
    assert not any(e["type"] == "report" for e in events)
    result = replay(session, runs_dir=tmp_path / "replays")
    assert result["incomplete"] and result["reproduced"] and result["steps"] == 2


@pytest.mark.parametrize("goal, first_call", [
    ("Find the equations of motion of a simple pendulum", ("select_twin", {"name": "damped_pendulum"})),
    ("Find Kepler's third law", ("select_twin", {"name": "feynman_bonus_5"})),
    ("Find the period of a pendulum as a function of its length", ("select_twin", {"name": "pendulum_period"})),
    ("How far does a projectile fly as a function of its launch speed and angle?",
     ("select_twin", {"name": "projectile_drag"})),
    ("What is the amplitude of the damped pendulum?", "amplitude of damped pendulum"),
])
def test_the_planner_answers_the_question_asked_or_says_it_cannot(goal, first_call):
    from agent.planner import plan

    steps = plan(goal, 5)
    try:
        assert next(steps) == first_call
    except StopIteration as finished:  # refused: said so, with what it can do instead
        assert isinstance(first_call, str) and f"cannot yet measure the {first_call}" in finished.value
        assert "equations of motion" in finished.value
