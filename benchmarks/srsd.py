"""The SRSD-Feynman suites (Matsubara et al. 2022): Feynman's equations with physical constants and sampling
ranges over orders of magnitude, data only (no units), in three tiers.

Equations and samplers are transcribed in ``benchmarks/data/srsd_feynman.json`` (``benchmarks/srsd_convert.py``).
Problem names are ``srsd_<tier>_<equation>`` (``srsd_hard_i_6_20``). Inputs are drawn as SRSD draws them: ``log``
samplers log-uniformly between the bounds with each allowed sign equally likely, ``uniform`` ones uniformly,
``integer`` ones as integers.

SRSD's dummy-column variant (its ``dummy_column_mixer.py``) is ``srsd_dummy_<tier>_<equation>``: one to three columns
the law does not use, each drawn log-uniformly over 10^(k−1)…10^(k+1) with k uniform in −32…32 and both signs with
probability ½, inserted at random places among the inputs; the choices are seeded by the equation's id, so every
run sees the same columns.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "srsd_feynman.json"
PREFIX = "srsd_"
#: The dummy-column variant's problems are named ``srsd_dummy_<tier>_<equation>``.
DUMMY = "dummy_"


def _with_dummies(equation: dict) -> dict:
    """``equation`` with SRSD's dummy columns among its inputs (seeded by its id; see the module docstring)."""
    rng = np.random.default_rng(zlib.crc32(equation["id"].encode()))
    inputs = list(equation["inputs"].items())
    for i in range(int(rng.integers(1, 4))):
        k = int(rng.integers(-32, 33))
        sampler = {"kind": "log", "low": 10.0 ** (k - 1), "high": 10.0 ** (k + 1), "positive": True,
                   "negative": bool(rng.random() < 0.5)}
        inputs.insert(int(rng.integers(0, len(inputs) + 1)), (f"dummy_{i + 1}", sampler))
    return equation | {"inputs": dict(inputs), "dummies": [n for n, _ in inputs if n.startswith("dummy_")]}


@cache
def equations() -> dict[str, dict]:
    """Every equation by problem name, each also with its dummy columns."""
    listed = json.loads(DATA.read_text())["equations"]
    return ({f"{PREFIX}{e['tier']}_{e['id']}": e for e in listed}
            | {f"{PREFIX}{DUMMY}{e['tier']}_{e['id']}": _with_dummies(e) for e in listed})


def problem_names() -> list[str]:
    return list(equations())


def _draw(sampler: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    low, high = sampler["low"], sampler["high"]
    if sampler["kind"] == "log":
        values = 10 ** rng.uniform(np.log10(abs(low)), np.log10(abs(high)), n)
    elif sampler["kind"] == "integer":
        values = rng.integers(int(low), int(high), n).astype(float)
    else:
        values = rng.uniform(low, high, n)
    if sampler["positive"] and sampler["negative"]:
        return values * rng.choice([-1.0, 1.0], n)
    return values if sampler["positive"] else -values


def _bounds(sampler: dict) -> tuple[float, float]:
    high = max(abs(sampler["low"]), abs(sampler["high"]))
    low = min(abs(sampler["low"]), abs(sampler["high"]))
    if sampler["positive"] and sampler["negative"]:
        return -high, high
    return (low, high) if sampler["positive"] else (-high, -low)


def inputs(name: str) -> dict[str, dict]:
    """The problem's inputs and their samplers."""
    return equations()[name]["inputs"]


def srsd_twin(name: str):
    """The closed-form twin of one problem (its expression is the ground truth, for scoring only); its input
    bounds (for the extrapolation check) span each sampler's range with its signs. A dummy column is an input the
    law does not use (``from_expression`` refuses one, as a user's typo; the benchmark adds it on purpose)."""
    from twin import from_expression
    from twin.core import Variable

    equation = equations()[name]
    bounds = {k: _bounds(s) for k, s in inputs(name).items()}
    used = {k: b for k, b in bounds.items() if k not in equation.get("dummies", ())}
    twin = from_expression(equation["law"], used, name=name)
    if len(used) == len(bounds):
        return twin
    return dataclasses.replace(twin, inputs=[Variable(k, "", lo, hi) for k, (lo, hi) in bounds.items()])


def samples(name: str, n: int, seed: int) -> np.ndarray:
    """``n`` rows drawn by the problem's samplers (seeded)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([_draw(s, n, rng) for s in inputs(name).values()])
