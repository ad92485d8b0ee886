"""The arm contract: every registered arm proposes formulas over the given names only, finds nothing in pure
noise, and proposes the same for the same seed; a user's own arm runs in the search."""

import dataclasses
from typing import ClassVar

import numpy as np
import pytest
import sympy as sp

from tools.arms import Arm, DataArm, Problem, SearchState, register_arm, registered_arms, resolve_arms
from tools.constants import evaluate, nmse
from tools.polish import polished_candidates
from tools.results import split
from tools.symbolic import SearchOptions, discover
from twin.expressions import make_symbols

#: Lighter settings for the slow arms (the contract is about the interface, not their strength).
LIGHT = {"kan": {"steps": 5, "rows": 100}, "operon": {"run_seconds": 0.5}, "network": {"steps": 150, "rows": 200}}
NAMES = ["a", "b", "c"]


def _arm(name: str) -> Arm:
    arm = registered_arms()[name]
    return dataclasses.replace(arm, **LIGHT.get(name, {}))


def _state(X: np.ndarray, y: np.ndarray, arm: Arm, seed: int = 0) -> SearchState:
    """A search state as the loop hands it to an arm that runs after the per-problem arms (with their
    candidates in hand)."""
    data = split(X, y, seed)
    state = SearchState(data, NAMES, seed, 1.0, [arm, registered_arms()["sparse"]], SearchOptions())
    state.problems.append(Problem("", data.X_train, data.y_train, NAMES))
    sparse = registered_arms()["sparse"].propose(state.problems[0], state).expressions
    state.candidates += polished_candidates(sparse, "sparse", data, NAMES)
    return state


def _proposals(arm: Arm, X: np.ndarray, y: np.ndarray, seed: int = 0) -> list[sp.Expr]:
    state = _state(X, y, arm, seed)
    return arm.propose(state.problems[0], state).expressions


@pytest.mark.parametrize("name", list(registered_arms()))
def test_every_arm_keeps_the_contract(name):
    arm = _arm(name)
    rng = np.random.default_rng(1)
    X = rng.uniform(0.5, 2.0, (300, 3))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    first, second = _proposals(arm, X, y), _proposals(arm, X, y)
    assert first == second, "not deterministic for a seed"
    allowed = set(make_symbols(NAMES).values())
    for expr in first:
        assert isinstance(expr, sp.Expr) and expr.free_symbols <= allowed, f"{expr} is not over {NAMES}"
    # pure noise: a proposal may exist (arms propose, the search judges), but none explains what it was fitted on
    # beyond what chance allows a few fitted terms on 180 rows
    noise = rng.standard_normal(300)
    state = _state(X, noise, arm)
    for expr in arm.propose(state.problems[0], state).expressions:
        explained = 1 - nmse(evaluate(expr, state.problems[0].X, NAMES), state.problems[0].y)
        assert not explained > 0.25, f"{name} explains {explained:.2f} of pure noise with {expr}"


@dataclasses.dataclass(frozen=True)
class _LogArm(DataArm):
    """A user's arm: y = c·log(x) for each input."""

    name: ClassVar[str] = "user_log"

    def propose_data(self, X, y, names):
        symbols = make_symbols(names)
        return [sp.Float(1.0) * sp.log(symbols[n]) for i, n in enumerate(names) if (X[:, i] > 0).all()]


def test_a_users_arm_runs_in_the_search_and_registers_once():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (200, 2))
    y = 3.7 * np.log(X[:, 1])
    found = discover(X, y, ["p", "q"], time_budget=5, arms=["sparse", _LogArm()])
    assert found.arms_run == ["sparse", "user_log"] or found.arms_run == ["user_log", "sparse"]
    assert any(c.source == "user_log" for c in found.candidates)
    assert nmse(evaluate(found.best.expression, X, ["p", "q"]), y) < 1e-20
    with pytest.raises(ValueError, match="already registered"):
        register_arm(registered_arms()["sparse"])
    with pytest.raises(ValueError, match="unknown arm"):
        resolve_arms(["no_such_arm"])


def test_arms_run_in_registry_order_whatever_the_order_asked():
    names = [arm.name for arm in resolve_arms(["operon", "network", "sparse", "powerlaw"])]
    assert names == ["powerlaw", "sparse", "network", "operon"]


def test_a_screen_the_candidates_refute_leaves_the_expensive_arms():
    """A column the screen dropped but a candidate needs: the problem without it is no longer searched."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, (200, 3))
    y = X[:, 0] * X[:, 1] * (1 + 0.01 * X[:, 2])
    state = _state(X, y, registered_arms()["skeleton"])
    data = state.data
    c = make_symbols(["c"])["c"]
    state.problems.append(Problem("sel·", data.X_train[:, :2], data.y_train, NAMES[:2], omitted=frozenset({c})))
    a, b = make_symbols(["a", "b"]).values()
    without = polished_candidates([a * b], "test", data, NAMES)
    state.candidates[:] = without
    assert [p.tag for p in state.searchable()] == ["", "sel·"]
    state.candidates += polished_candidates([a * b * (1 + sp.Float(0.01) * c)], "test", data, NAMES)
    assert [p.tag for p in state.searchable()] == [""]
