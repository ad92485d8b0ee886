"""Twinsight lab: chat a goal, watch the steps, see the formula, open and replay past sessions.

A thin client of the agent's public API (``Agent.stream``, ``replay``, ``catalogue``, ``load_events``).
Run with ``twinsight ui`` (or ``streamlit run ui/app.py``).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from agent import Agent, SessionError, catalogue, check_csv, describe_result, load_events, replay
from agent.eta import RoundsClock, SearchClock

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
RUNS_DIR = Path(os.environ.get("TWINSIGHT_RUNS_DIR", "runs")).resolve()
EXAMPLES = (
    "Rediscover the relativistic velocity addition law",
    "What law governs Coulomb's force?",
    "Find the equations of motion of the Lotka-Volterra system",
    "Train a KAN on the relativistic velocity addition law",
    "Where is the resonance of the driven oscillator and how sharp is it?",
)


def inside_runs(path: Path) -> Path:
    """``path`` resolved, refused unless it lies under the runs directory."""
    resolved = path.resolve()
    if not resolved.is_relative_to(RUNS_DIR):
        raise ValueError(f"{path} is outside the runs directory")
    return resolved


def past_sessions() -> list[Path]:
    if not RUNS_DIR.is_dir():
        return []
    return sorted((p.parent for p in RUNS_DIR.glob("*/session.jsonl")), reverse=True)


def session_zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory.parent))
    return buffer.getvalue()


def describe(event: dict) -> str | None:
    """One line of the live step log for a session event."""
    kind = event["type"]
    if kind == "tool_call":
        return f"**{event['name']}** `{json.dumps(event['args'])[:160]}`"
    if kind == "tool_result":
        result = event["result"]
        if event["error"]:
            return f"⚠️ {event['name']}: {result.get('message')}"
        return describe_result(event["name"], result)
    if kind == "progress" and event.get("stage") == "operon":
        return f"symbolic search run {event['run']} of {event['of']}"
    if kind == "progress" and event.get("stage") == "dimensions":
        return f"dimensional analysis: {event['reduction']}"
    if kind == "progress" and event.get("stage") == "candidates":
        return f"best validation error so far {event['best']:.3g} ({event['source']})"
    if kind == "progress" and event.get("stage") == "design_round":
        refuted = f"; refuted {len(event['eliminated'])} rival law(s)" if event.get("eliminated") else ""
        return (f"designed round {event['round']} of at most {event['of']}: {event['calls']} runs, "
                f"law so far `{event['law'][:80]}`{refuted}")
    if kind in ("error", "assist"):
        return f"⚠️ {event['message']}"
    return None


def show_report(report: dict, key: str) -> None:
    if report.get("latex"):
        st.latex(report["latex"])
    cols = st.columns(3)
    cols[0].metric("R² held-out", "n/a" if report.get("r2_test") is None else f"{report['r2_test']:.6f}")
    cols[1].metric("R² extrapolation", "n/a" if report.get("r2_extrapolation") is None
                   else f"{report['r2_extrapolation']:.6f}")
    cols[2].metric("exact vs truth", {True: "yes", False: "no", None: "unknown"}[report.get("exact")])
    st.markdown(report["explanation"].replace("*", r"\*"))  # formulas hold '*'; not Markdown emphasis
    if report.get("alternatives"):
        front = pd.DataFrame(report["alternatives"])[["formula", "complexity", "val_nmse", "r2_test"]]
        st.caption("Pareto front: validation error against complexity")
        chart = front.assign(log10_val_nmse=np.log10(front["val_nmse"].clip(lower=1e-32)))
        st.scatter_chart(chart, x="complexity", y="log10_val_nmse")
        st.dataframe(front, hide_index=True)
    for law in report.get("laws", []):
        sample = law.get("held_out_sample")
        if not sample:
            continue
        frame = pd.DataFrame({"observed": sample["observed"], "predicted": sample["predicted"]})
        frame["residual"] = frame["observed"] - frame["predicted"]
        st.caption(f"{law['output']}: held-out data against the law, and residuals")
        left, right = st.columns(2)
        left.scatter_chart(frame, x="observed", y="predicted")
        if len(sample["inputs"]) >= 1:
            frame[sample["inputs"][0]] = [row[0] for row in sample["X"]]
            # residuals of an exact law are ~1e-15: scientific ticks, not "0.0000000000000…"
            right.altair_chart(alt.Chart(frame).mark_circle().encode(
                x=alt.X(sample["inputs"][0], type="quantitative"),
                y=alt.Y("residual", type="quantitative", axis=alt.Axis(format=".1e"))), use_container_width=True)
    show_field_law(report.get("metrics", {}).get("pde"), Path(report["session"]))
    resonance = report.get("metrics", {}).get("resonance")
    if resonance:
        if resonance.get("curve"):
            st.caption("resonance curve from the frequency sweep")
            st.line_chart(pd.DataFrame(resonance["curve"]), x="frequency", y="response")
        st.json({k: v for k, v in resonance.items() if k != "curve"})
    for training in report.get("metrics", {}).get("training", []):
        show_training(training, Path(report["session"]))
    calibration = report.get("metrics", {}).get("calibration")
    if calibration:
        st.json(calibration)
    session = Path(report["session"])
    if session.is_dir():
        left, right = st.columns(2)
        report_md = session / "report.md"
        if report_md.is_file():
            left.download_button("report (Markdown)", report_md.read_bytes(), "report.md", key=f"md-{key}")
        right.download_button("session (zip)", session_zip(session), f"{session.name}.zip", key=f"zip-{key}")


def show_field_law(pde: dict | None, session: Path) -> None:
    """A found PDE's scores and its picture: a held-out run's field beside the found law integrated from the same
    initial state (x–t images in 1-D, the last snapshot in 2-D)."""
    if not pde:
        return
    integrated = "" if pde.get("r2_integrated") is None else \
        f"; integrated from a held-out run's initial state, R² = {pde['r2_integrated']:.6f}"
    st.caption(f"weak-form held-out R² = {pde['r2_test']:.6f}{integrated}; estimated noise "
               + ", ".join(f"{k}: {v:.2%}" for k, v in pde.get("noise", {}).items()))
    for image in session_images(session, pde.get("plots", [])):
        st.image(str(image), caption="data | the found PDE integrated | difference")


def session_images(session: Path, plots: list[str]) -> list[Path]:
    """The plot files a result names that exist under the runs directory (others are skipped)."""
    images = []
    for plot in plots:
        try:
            image = inside_runs(session / plot)
        except ValueError:
            continue
        if image.is_file():
            images.append(image)
    return images


def show_training(training: dict, session: Path) -> None:
    """Loss curves (log10), the KAN diagram and input attribution of one trained model."""
    history = pd.DataFrame({k: training["history"][k] for k in ("step", "train_loss", "val_loss")})
    for column in ("train_loss", "val_loss"):
        history[column] = np.log10(history[column].clip(lower=1e-32))
    st.caption(f"{training['kind']} `{training['model']}`: log10 training and validation loss")
    st.line_chart(history, x="step", y=["train_loss", "val_loss"])
    left, right = st.columns(2)
    for image in session_images(session, training.get("plots", [])):
        left.image(str(image), caption="KAN diagram (pykan): each edge's learned function")
    if training.get("attribution"):
        right.caption("input attribution (pykan feature score)")
        right.bar_chart(pd.DataFrame({"input": list(training["attribution"]),
                                      "score": list(training["attribution"].values())}), x="input", y="score")


def sidebar() -> dict:
    st.sidebar.header("Settings")
    provider = st.sidebar.selectbox("LLM provider", ["offline", "openai"], help="offline: the embedded planner")
    options: dict = {}
    if provider == "openai":
        options["base_url"] = st.sidebar.text_input("Base URL", os.environ.get("OPENAI_BASE_URL", "")) or None
        options["model"] = st.sidebar.text_input("Model", os.environ.get("TWINSIGHT_MODEL", "gpt-4o-mini"))
        typed = st.sidebar.text_input("API key (kept in memory only)", type="password")
        if typed:
            options["api_key"] = typed
    # only the devices this machine has: "cuda" without a GPU ended in an AssertionError deep in torch
    device = st.sidebar.selectbox("Device", ["auto", "cpu", *(["cuda"] if torch.cuda.is_available() else [])])
    seed = int(st.sidebar.number_input("Seed", 0, 10**6, 0))
    budget = float(st.sidebar.slider("Search seconds per output", 5, 300, 30))
    with st.sidebar.expander("Upload a CSV"):
        upload = st.file_uploader("measurements", type=["csv"])
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                st.error(f"{upload.name} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
            else:
                name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(upload.name).name)
                target = inside_runs(RUNS_DIR / "uploads" / name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(upload.getvalue())
                try:
                    columns = check_csv(str(target))
                except ValueError as error:
                    target.unlink()
                    st.error(f"{upload.name} cannot be used: {error}")
                else:
                    suggest_goal(target, columns)
    with st.sidebar.expander("Twin catalogue"):
        query = st.text_input("filter", "")
        rows = [t for t in catalogue() if query.lower() in (t["name"] + t["description"]).lower()]
        st.dataframe(pd.DataFrame([{"name": t["name"], "kind": t["kind"], "description": t["description"]}
                                   for t in rows]), hide_index=True)
    return {"llm": provider, "provider_options": options, "device": device, "seed": seed,
            "discovery_seconds": budget}


def suggest_goal(path: Path, columns: dict[str, str]) -> None:
    """The uploaded table's columns, a field for their units (read from the header, "P [Pa]", and editable) and
    the goal to ask: units reach the dimensional reduction and the units verdict."""
    given = st.text_input("units of the columns (optional)", ", ".join(f"{c}={u}" for c, u in columns.items() if u),
                          placeholder="e.g. F=N, m=kg, a=m/s^2", help="name=unit pairs; a header 'P [Pa]' gives one")
    units = f" (units: {given.strip()})" if given.strip() else ""
    target = list(columns)[-1]
    st.success(f"columns {', '.join(columns)}; ask e.g. “Find the law in {path} predicting {target}{units}”")


def past_sessions_panel() -> None:
    sessions = past_sessions()
    with st.sidebar.expander(f"Past sessions ({len(sessions)})"):
        if not sessions:
            st.caption("none yet")
            return
        chosen = st.selectbox("session", [s.name for s in sessions])
        directory = inside_runs(RUNS_DIR / chosen)
        try:
            events = load_events(directory)
        except SessionError as error:
            st.error(str(error))
            return
        goal = next((e["goal"] for e in events if e["type"] == "goal"), "?")
        st.write(f"**Goal:** {goal}")
        st.write(", ".join(e["name"] for e in events if e["type"] == "tool_call"))
        if st.button("Open"):
            st.session_state.opened = next((e["report"] for e in events if e["type"] == "report"), None)
        if st.button("Replay"):
            with st.spinner("replaying…"):
                try:
                    result = replay(directory, runs_dir=RUNS_DIR / "replays")
                except (SessionError, ValueError) as error:
                    st.error(str(error))
                    return
            (st.success if result["reproduced"] else st.warning)(
                f"reproduced: {result['reproduced']} ({result['steps']} steps)")
            if result["diffs"]:
                st.json(result["diffs"])


def main() -> None:
    st.set_page_config(page_title="Twinsight", page_icon="🔭", layout="wide")
    st.title("Twinsight lab")
    st.caption("State a goal; the twin is simulated, a law is searched for, checked on unseen data and explained.")
    settings = sidebar()
    past_sessions_panel()
    if st.session_state.get("opened"):
        with st.expander("Opened session", expanded=True):
            show_report(st.session_state.opened, "opened")
    history = st.session_state.setdefault("history", [])
    if st.session_state.get("running"):  # the last run was interrupted (Stop, or the page was left)
        history.append({"goal": st.session_state.running, "error": "Stopped by the user before it finished; "
                        "the partial session is under Past sessions."})
        st.session_state.running = None
    for index, turn in enumerate(history):
        with st.chat_message("user"):
            st.text(turn["goal"])  # as typed: a goal is not Markdown
        with st.chat_message("assistant"):
            if turn.get("error"):
                st.error(turn["error"])
            else:
                show_report(turn["report"], str(index))
    if not history:
        st.info("Try: " + " · ".join(f"“{e}”" for e in EXAMPLES))
    goal = st.chat_input("What law do you want to find?")
    if not goal:
        return
    with st.chat_message("user"):
        st.text(goal)
    with st.chat_message("assistant"):
        agent = Agent(runs_dir=RUNS_DIR, csv_root=RUNS_DIR, **settings)  # a goal reads only uploads and runs
        # Any click reruns the script, which closes the stream: the agent stops the running tool.
        stop = st.empty()  # emptied when the goal ends, so no stale Stop stays under a finished answer
        stop.button("Stop", key="stop", help="stop this goal; the partial session stays on disk")
        st.session_state.running = goal
        try:
            with st.status("Working on it…", expanded=True) as status:
                bar = st.progress(0.0)
                clock, rounds = SearchClock(), RoundsClock()
                for event in agent.stream(goal):
                    clock.hear(event)
                    rounds.hear(event)
                    if clock.left() is not None and event["type"] == "progress":
                        bar.progress(clock.fraction(), text=f"discover_law: {clock.describe()}")
                    elif event["type"] == "progress" and "step" in event and "of" in event:
                        bar.progress(min(1.0, event["step"] / event["of"]),
                                     text=f"{event['stage']} step {event['step']} of {event['of']}")
                    elif event["type"] == "progress" and event.get("stage") == "design_round":
                        bar.progress(min(1.0, event["round"] / event["of"]), text=rounds.describe())
                    line = describe(event)
                    if line:
                        status.write(line)
                if agent.last_report.answered:
                    status.update(label="Done", state="complete", expanded=False)
                else:
                    status.update(label="No result", state="error", expanded=True)
            if agent.last_report.answered:
                report = agent.last_report.as_dict()
                history.append({"goal": goal, "report": report})
                show_report(report, str(len(history) - 1))
            else:  # a failure reads as one: no metrics, no "Done"
                message = f"{agent.last_report.explanation} (session {agent.last_report.session})"
                history.append({"goal": goal, "error": message})
                st.error(message)
        except Exception as error:  # show a readable message, never a traceback
            message = f"{type(error).__name__}: {error}"
            history.append({"goal": goal, "error": message})
            st.error(message)
        stop.empty()
        st.session_state.running = None


main()
