"""An estimate of the search time left in a ``discover_law`` call, for the CLI's status line and the lab's bar.

The search budget counts work (evaluations), in units meant as seconds of search on a 2-core machine; the estimate
is the budget not yet spent on the current output plus a full budget per output still to come. Refits, polishing
and scoring come on top, and a faster or busier machine shifts it: it is labelled an estimate. On noisy data no fit
ends early and the whole search takes several times its budget (a two-input law at 1 % noise: 151 s for a 30 s
budget, 38.5 s for 1 s; ``python -m benchmarks.budget_time``), so past the estimate the clock says so rather than
claiming that the search is done.
"""

from __future__ import annotations

import time
from typing import Any


class SearchClock:
    """Hears a session's events (``hear``) and says how much search is left (``left``, ``describe``)."""

    def __init__(self) -> None:
        self.step = self.of = 0
        self.budget = 0.0
        self.output_started = 0.0

    def hear(self, event: dict[str, Any]) -> None:
        """Follow a ``discover_law`` call's outputs (its ``output`` progress events)."""
        if event["type"] == "tool_call":
            self.step = self.of = 0
        elif event["type"] == "progress" and event.get("stage") == "output":
            self.step, self.of, self.budget = event["step"], event["of"], float(event["budget"])
            self.output_started = time.perf_counter()

    def left(self) -> float | None:
        """Seconds of search left (an estimate), or None outside a search."""
        if not self.step:
            return None
        spent = time.perf_counter() - self.output_started
        return max(self.budget - spent, 0.0) + (self.of - self.step) * self.budget

    def fraction(self) -> float:
        """The share of the search done, for a progress bar."""
        left = self.left()
        return 0.0 if left is None else min(1.0, 1.0 - left / (self.of * self.budget))

    def describe(self) -> str:
        """``output 1 of 2, about 40 s of search left (estimate)``, what it is past the estimate, or "" outside a
        search."""
        left = self.left()
        if left is None:
            return ""
        when = (f"about {left:.0f} s of search left" if left > 0
                else "past the budget's estimate, the arms still fitting (noisy data take several times the budget)")
        return f"output {self.step} of {self.of}, {when} (estimate)"


class RoundsClock:
    """Hears a session's events and estimates the time left in a designed experiment (``run_experiment`` or
    ``measure_observable`` with ``method="sequential"``) from the rounds done: their mean time times the rounds
    still possible. A closed-form design may stop before its last round, so this is at most what is left."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.round = self.of = 0

    def hear(self, event: dict[str, Any]) -> None:
        """Follow a design's rounds (its ``design_round`` progress events)."""
        if event["type"] == "tool_call":
            self.seconds, self.round, self.of = [], 0, 0
        elif event["type"] == "progress" and event.get("stage") == "design_round":
            self.seconds.append(float(event["seconds"]))
            self.round, self.of = event["round"], event["of"]

    def left(self) -> float | None:
        """Seconds left at most (an estimate), or None before a design's first round ends."""
        if not self.round:
            return None
        return sum(self.seconds) / len(self.seconds) * (self.of - self.round)

    def describe(self) -> str:
        """``designed round 1 of at most 3, at most about 60 s left (estimate)``, or "" outside a design."""
        left = self.left()
        if left is None:
            return ""
        return f"designed round {self.round} of at most {self.of}, at most about {left:.0f} s left (estimate)"
