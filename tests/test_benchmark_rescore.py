import pytest

from benchmarks.discovery import rechoose, solve


def test_rechoosing_a_closed_form_row_with_the_same_rule_reproduces_its_choice():
    row = solve("feynman_I_12_1", noise=0.01, budget=1, seed=0)
    assert row["candidates"] and row["engine"]["exact"]
    again = rechoose({**row, "engine": dict(row["engine"])})
    assert again["engine"] == row["engine"]
    with pytest.raises(ValueError, match="no stored candidates"):
        rechoose({k: v for k, v in row.items() if k != "candidates"})
