"""The LLM layer: orchestrator, providers (OpenAI-compatible, offline planner, replay), sessions,
explanations, the Python API and the CLI.

    from agent import Agent
    report = Agent(llm="offline", runs_dir="runs", seed=0).run("Rediscover the relativistic velocity addition law")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from agent.report import Report
from agent.session import SessionError, load_events

if TYPE_CHECKING:
    from agent.orchestrator import Agent, Budgets, describe_result, replay

# The orchestrator imports every tool (torch, scipy, sympy: seconds); it loads on first use, so that the CLI's
# help, `model serve` and a bad session's error answer at once (PEP 562).
_ORCHESTRATOR = ("Agent", "Budgets", "describe_result", "replay")


def __getattr__(name: str):
    if name in _ORCHESTRATOR:
        return getattr(import_module("agent.orchestrator"), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")


def catalogue() -> list[dict]:
    """Summaries of every catalogue twin (names, descriptions, inputs; never ground truths)."""
    from twin import all_twins

    return [t.summary() for t in all_twins()]


def check_csv(path: str) -> dict[str, str]:
    """The columns of a measurements CSV with the unit its header gives each ("P [Pa]": Pa; none: ""), or
    ``ValueError`` (one readable line) when it cannot be used: unreadable, too few rows, non-numeric or missing
    values."""
    import csv

    from twin import from_csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = [c.strip() for c in next(csv.reader(handle), [])]
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    twin = from_csv(path, target=header[-1] if header else "")  # reads and validates every row, as the CLI does
    return {v.name: v.unit for v in [*twin.inputs, *twin.outputs]}


__all__ = ["Agent", "Budgets", "Report", "SessionError", "catalogue", "check_csv", "describe_result", "load_events",
           "replay"]
