"""Twinsight: discover laws of nature from digital twins and data. The one import a user needs.

    from twinsight import Agent, SymbolicRegressor, get_twin

    report = Agent(llm="offline", runs_dir="runs", seed=0).run("How does a pendulum's period depend on its length?")
    model = SymbolicRegressor(time_budget=20).fit(X, y, variable_names=["m", "r"])

The project's layers stay where they are (agent/, tools/, twin/, ui/); this module only gathers their public
entry points.
"""

from agent import Agent, Budgets, Report, SessionError, catalogue, check_csv, load_events, replay
from tools.arms import ARMS, DEFAULT_ARMS, Arm, DataArm, Problem, Proposals, SearchState, register_arm, registered_arms
from tools.design import design
from tools.estimator import SymbolicRegressor, SystemRegressor
from tools.pde import FieldData, PdeDiscovery, PdeOptions, discover_pde, load_field_file
from tools.polish import PolishOptions
from tools.results import Candidate, Discovery
from tools.sequential import SequentialDesign, SequentialOptions
from tools.symbolic import SearchOptions, discover
from tools.system import SystemDiscovery, discover_system
from twin import (Dataset, Grid, InitialState, Twin, all_twins, from_csv, from_expression, from_ode, from_pde, get_twin,
                  parse_expression, twin_names)

__all__ = [
    "ARMS", "DEFAULT_ARMS", "Agent", "Arm", "Budgets", "Candidate", "DataArm", "Dataset", "Discovery", "FieldData",
    "Grid", "InitialState", "PdeDiscovery", "PdeOptions", "PolishOptions",
    "Problem", "Proposals", "Report", "SearchOptions", "SearchState", "SequentialDesign", "SequentialOptions",
    "SessionError", "SymbolicRegressor",
    "SystemDiscovery", "SystemRegressor", "Twin", "all_twins", "catalogue", "check_csv", "discover",
    "design", "discover_pde", "discover_system", "from_csv", "from_expression", "from_ode", "from_pde", "get_twin",
    "load_field_file", "load_events", "parse_expression",
    "register_arm", "registered_arms", "replay", "twin_names",
]
