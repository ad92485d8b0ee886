"""The LLM layer: orchestrator, providers (OpenAI-compatible, offline planner, replay), sessions,
explanations, the Python API and the CLI.

    from agent import Agent
    report = Agent(llm="offline", runs_dir="runs", seed=0).run("Rediscover the relativistic velocity addition law")
"""

from agent.orchestrator import Agent, Budgets, replay
from agent.report import Report
from agent.session import SessionError, load_events


def catalogue() -> list[dict]:
    """Summaries of every catalogue twin (names, descriptions, inputs; never ground truths)."""
    from twin import all_twins

    return [t.summary() for t in all_twins()]


__all__ = ["Agent", "Budgets", "Report", "SessionError", "catalogue", "load_events", "replay"]
