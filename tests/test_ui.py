import json

import pytest
from streamlit.testing.v1 import AppTest

APP = "../ui/app.py"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINSIGHT_RUNS_DIR", str(tmp_path))
    return tmp_path


def _text(at) -> str:
    return json.dumps([str(e.value) for e in [*at.markdown, *at.latex, *at.error, *at.caption]])


def test_goal_with_the_offline_planner_shows_steps_formula_and_explanation(runs):
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    at.chat_input[0].set_value("What law governs Coulomb's force?").run()
    assert not at.exception
    text = _text(at)
    assert "q_{1} q_{2}" in text and "held-out" in text
    assert any("select_twin" in str(s.value) for s in at.markdown)
    assert (runs / next(p.name for p in runs.iterdir() if p.is_dir()) / "session.jsonl").exists()


def test_failing_goal_shows_a_readable_message(runs):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.chat_input[0].set_value("Bake me a **cake**").run()
    assert not at.exception
    assert "Bake me a **cake**" in [t.value for t in at.text]  # the goal as typed, not rendered as Markdown
    assert not [b for b in at.button if b.label == "Stop"]  # no stale Stop under a finished goal
    errors = " ".join(str(e.value) for e in at.error)
    assert "No result was produced" in errors and "I can:" in errors  # shown as an error, not as a result
    assert not at.metric and "Limits:" not in _text(at)
    assert [s.label for s in at.status] == ["No result"]


def test_open_and_replay_a_past_session(runs):
    from agent import Agent

    Agent(runs_dir=runs, discovery_seconds=5).run("What law governs Coulomb's force?")
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    buttons = {b.label: b for b in at.button}
    buttons["Open"].click().run()
    assert "q_{1} q_{2}" in _text(at)
    {b.label: b for b in at.button}["Replay"].click().run()
    assert any("reproduced: True" in str(s.value) for s in at.success)


def test_csv_upload_is_validated_and_its_law_found(runs):
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.file_uploader[0].upload("bad.csv", b"a,y\n1,oops\n", "text/csv").run()
    assert not at.exception and "cannot be used" in _text(at)
    assert not (runs / "uploads" / "bad.csv").exists()
    rows = "\n".join(f"{a},{b},{3 * a * b**2}" for a in range(1, 9) for b in range(1, 9))
    at.file_uploader[0].upload("lab data.csv", f"a,b,y\n{rows}\n".encode(), "text/csv").run()
    saved = runs / "uploads" / "lab_data.csv"
    assert saved.is_file() and any("columns a, b, y" in str(s.value) for s in at.success)
    at.chat_input[0].set_value(f"Find the law in {saved} predicting y").run()
    assert not at.exception and "a b^{2}" in _text(at)


def test_training_plots_are_shown(runs):
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.chat_input[0].set_value("Train a KAN on the relativistic velocity addition law").run()
    assert not at.exception
    assert any("training and validation loss" in str(c.value) for c in at.caption)
    assert at.get("image"), "the KAN diagram is shown"


def test_field_law_shows_equation_scores_and_picture(runs):
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.chat_input[0].set_value("Find the PDE of the heat lattice").run()
    assert not at.exception
    text = _text(at)
    assert "u_{t}" in text and "u_{xx}" in text and "integrated from a held-out run" in text
    assert at.get("image"), "the field, the integrated law and their difference are shown"


def test_a_goal_cannot_read_a_csv_outside_the_runs_directory(runs, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.csv"
    outside.write_text("a,y\n" + "".join(f"{i},{i * i}\n" for i in range(1, 20)))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.chat_input[0].set_value(f"Find the law in {outside} predicting y").run()
    errors = " ".join(str(e.value) for e in at.error)
    assert "is outside" in errors and "the only directory this session reads" in errors
