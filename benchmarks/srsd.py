"""The SRSD-Feynman suites (Matsubara et al. 2022): Feynman's equations with physical constants and sampling
ranges over orders of magnitude, data only (no units), in three tiers.

Equations and samplers are transcribed in ``benchmarks/data/srsd_feynman.json`` (``benchmarks/srsd_convert.py``).
Problem names are ``srsd_<tier>_<equation>`` (``srsd_hard_i_6_20``). Inputs are drawn as SRSD draws them: ``log``
samplers log-uniformly between the bounds with each allowed sign equally likely, ``uniform`` ones uniformly,
``integer`` ones as integers. (SRSD's dummy-column variant is not built yet.)
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "srsd_feynman.json"
PREFIX = "srsd_"


@cache
def equations() -> dict[str, dict]:
    """Every equation by problem name."""
    return {f"{PREFIX}{e['tier']}_{e['id']}": e for e in json.loads(DATA.read_text())["equations"]}


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
    bounds (for the extrapolation check) span each sampler's range with its signs."""
    from twin import from_expression

    return from_expression(equations()[name]["law"], {k: _bounds(s) for k, s in inputs(name).items()},
                           name=name)


def samples(name: str, n: int, seed: int) -> np.ndarray:
    """``n`` rows drawn by the problem's samplers (seeded)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([_draw(s, n, rng) for s in inputs(name).values()])
