"""The counterfactual suite: textbook laws changed (a non-integer exponent, a constant inside a function, a
swapped function, an added term) over ranges a physicist would use, written down once in
``benchmarks/data/counterfactual.json`` and simulated by the project's own closed-form twins.

Problem names are ``counterfactual_<id>`` (``counterfactual_m05``); tiers are ``easy`` / ``medium`` / ``hard``
by the number of changes; the file's ``held_out`` laws are scored apart (``summarise_tiers``) and are not
looked at while the engine is developed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "counterfactual.json"
PREFIX = "counterfactual_"


@cache
def _suite() -> dict:
    return json.loads(DATA.read_text())


def laws() -> dict[str, dict]:
    """Every law of the suite by problem name, with its ``held_out`` flag."""
    suite = _suite()
    held = set(suite["held_out"])
    return {PREFIX + law["id"]: law | {"held_out": law["id"] in held} for law in suite["laws"]}


def problem_names() -> list[str]:
    return list(laws())


def counterfactual_twin(name: str):
    """The closed-form twin of one counterfactual law (its expression is the ground truth, for scoring only)."""
    from twin import from_expression

    law = laws()[name]
    return from_expression(law["law"], {k: (float(a), float(b)) for k, (a, b) in law["ranges"].items()},
                           name=name)


def summarise_tiers(rows: list[dict], arms: tuple[str, ...]) -> dict:
    """Exact-recovery rate per tier and split (development / held-out) for each arm present in the rows."""
    table = laws()
    summary: dict = {}
    for split, wanted in (("all", (True, False)), ("dev", (False,)), ("held_out", (True,))):
        for tier in ("easy", "medium", "hard"):
            chosen = [r for r in rows if r["problem"] in table and table[r["problem"]]["tier"] == tier
                      and table[r["problem"]]["held_out"] in wanted]
            if not chosen:
                continue
            for arm in arms:
                if any(r.get(arm) for r in chosen):
                    hits = sum(bool(r.get(arm) and r[arm].get("exact")) for r in chosen)
                    summary[f"{split}_{tier}_{arm}_exact"] = f"{hits}/{len(chosen)}"
    return summary
