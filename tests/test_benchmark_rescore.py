import numpy as np
import pytest

import benchmarks.discovery as discovery
from benchmarks.discovery import rechoose
from twin.expressions import make_symbols


class RecordingPykan:
    """Stands in for the naive pykan workflow (it trains for minutes): records the data it is given."""

    def __init__(self):
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, X, y, names, seed):
        self.seen.append((X, y))
        return sum(make_symbols(names).values())


@pytest.fixture(scope="module")
def feynman_row():
    """One closed-form row, run with the (recorded) pykan baseline, and the data that baseline saw."""
    recording = RecordingPykan()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(discovery, "naive_pykan", recording)
        row = discovery.solve("feynman_I_12_1", noise=0.01, budget=1, seed=0, pykan=True)
    return row, recording.seen


def test_rechoosing_a_closed_form_row_with_the_same_rule_reproduces_its_choice(feynman_row):
    row = feynman_row[0]
    assert row["candidates"] and row["engine"]["exact"]
    again = rechoose({**row, "engine": dict(row["engine"])})
    assert again["engine"] == row["engine"]
    with pytest.raises(ValueError, match="no stored candidates"):
        rechoose({k: v for k, v in row.items() if k != "candidates"})


def _assert_added_baseline_sees_the_runs_data(monkeypatch, row: dict, seen_in_run: list) -> None:
    recording = RecordingPykan()
    monkeypatch.setattr(discovery, "naive_pykan", recording)
    row = {**row, "components": [dict(c) for c in row.get("components", [])]}
    in_run = [c.pop("pykan_naive") for c in row["components"]] or [row.pop("pykan_naive")]
    if not row["components"]:
        row.pop("components")
    added = discovery.add_naive_pykan(row)  # as for a row of a run without the baseline
    assert len(recording.seen) == len(seen_in_run) >= 1
    for (X, y), (X_run, y_run) in zip(recording.seen, seen_in_run):
        np.testing.assert_array_equal(X, X_run)
        np.testing.assert_array_equal(y, y_run)
    now = [c["pykan_naive"] for c in added.get("components", [])] or [added["pykan_naive"]]
    assert [(s["r2_test"], s["exact"]) for s in now] == [(s["r2_test"], s["exact"]) for s in in_run]


def test_the_naive_pykan_baseline_added_to_a_closed_form_row_sees_the_data_of_its_run(monkeypatch, feynman_row):
    _assert_added_baseline_sees_the_runs_data(monkeypatch, *feynman_row)


def test_the_naive_pykan_baseline_added_to_an_ode_row_sees_the_data_of_its_run(monkeypatch):
    recording = RecordingPykan()
    monkeypatch.setattr(discovery, "naive_pykan", recording)
    row = discovery.solve_ode("odebench_1", noise=0.0, budget=1, seed=0, pykan=True)
    assert "pykan_naive" in row  # the system-level score of the arm
    _assert_added_baseline_sees_the_runs_data(monkeypatch, row, recording.seen)
