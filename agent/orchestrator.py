"""The orchestrator: goal -> provider decisions -> tool calls -> report, every step recorded."""

from __future__ import annotations

import hashlib
import json
import math
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.grounding import unmeasured_numbers
from agent.messages import Decision, Message
from agent.planner import OfflinePlanner, rival_twins
from agent.providers import OpenAIProvider, ProviderError, ReplayProvider, make_provider, prompt
from agent.report import Report, explain
from agent.session import SessionWriter, load_events
from tools.registry import TOOLS, ToolContext, ToolError, call_tool, session_names
from twin import get_twin

VOLATILE_KEYS = {"seconds", "time", "prev"}
Listener = Callable[[dict[str, Any]], None]


class Stopped(Exception):
    """Raised inside a running tool (at its next progress report) after the stream was closed."""


@dataclass
class Budgets:
    """Limits of one session: steps per conversation, seconds in tools, tokens, and failed tool calls in a row a
    model may repair before the planner takes over."""

    max_steps: int = 30
    tool_seconds: float = 1800.0
    max_tokens: int = 200_000
    max_repairs: int = 3


@dataclass
class _Run:
    """What the conversations of one session share: the tools' context, the writer, every result, error and step,
    and the budgets spent."""

    ctx: ToolContext
    writer: SessionWriter
    live: queue.Queue
    stop: threading.Event
    results: list[tuple[str, dict, dict, bool]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    tool_seconds: float = 0.0


def _stable(value: Any) -> Any:
    """``value`` without timing fields and with floats at 6 significant digits (for digests/diffs)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    return value


def digest(messages: list[Message]) -> str:
    """Hash of a conversation, insensitive to timings and float noise below 6 digits."""
    rows = [[m.role, m.content if m.role != "tool" else _stable(m.payload), m.name,
             [[c.name, _stable(c.args)] for c in m.tool_calls]] for m in messages]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


#: Result fields that are not measured facts a model reads or an explanation may quote: plotted samples, Pareto
#: fronts and curves (thousands of numbers: tokens a model reads for seconds, any of which would let an invented
#: number pass).
_SAMPLES = ("held_out_sample", "pareto", "latex", "history", "curve", "figure", "X", "observed", "predicted")


def trimmed(part: Any) -> Any:
    """``part`` (a result, or one of its parts) without the ``_SAMPLES`` fields, at its top level and in the dicts
    its lists hold (a discovery's laws), recursively."""
    if isinstance(part, list):
        return [trimmed(item) if isinstance(item, dict) else item for item in part]
    if not isinstance(part, dict):
        return part
    return {k: [trimmed(v) if isinstance(v, dict) else v for v in value] if isinstance(value, list) else value
            for k, value in part.items() if k not in _SAMPLES}


def _repeated(call) -> ToolError:
    """The error a model's call gets when the session already ran it with the same arguments."""
    return ToolError("repeated_call", f"{call.name} was already called with these arguments in this session",
                     "read its result above, then call the next tool or answer")


def _names(ctx: ToolContext, mapped: set[str]) -> dict[str, list[str]]:
    """What a held model may name now (``tools.registry.session_names``); its twins narrowed to ``mapped`` and those
    the session already holds, when ``mapped`` names any."""
    names = session_names(ctx)
    if mapped:
        for kind in ("twin", "ode_twin"):
            names[kind] = [name for name in names[kind] if name in mapped or name in ctx.twins]
    return names


def _explained_facts(report: Report) -> dict[str, Any]:
    """The measured facts of ``report`` that the numbers of a model's explanation are checked against."""
    facts = {"goal": report.goal, "twin": report.twin, "laws": [trimmed(law) for law in report.laws],
             "measured_summary": report.explanation}
    for name, value in report.metrics.items():
        facts[name] = trimmed(value)
    return facts


@dataclass
class Agent:
    """``Agent(llm="offline" | "openai" | "replay:PATH", runs_dir=..., seed=...)``.

    ``run(goal)`` returns a :class:`Report`; ``stream(goal)`` yields every session event as it happens.
    """

    llm: str = "offline"
    runs_dir: str | Path = "runs"
    seed: int = 0
    device: str = "auto"
    discovery_seconds: float = 30.0
    budgets: Budgets = field(default_factory=Budgets)
    provider_options: dict[str, Any] = field(default_factory=dict)
    assist: bool = True  # with llm="openai": the offline planner runs the pipeline when the model produced no result
    csv_root: str | Path | None = None  # when set (the lab), goals may read CSVs only from under this directory
    workdir: str | Path | None = None  # where a goal's relative CSV paths are read from; None: the working directory
    last_report: Report | None = field(default=None, init=False)

    def run(self, goal: str, listener: Listener | None = None) -> Report:
        for event in self.stream(goal):
            if listener:
                listener(event)
        assert self.last_report is not None
        return self.last_report

    def stream(self, goal: str) -> Iterator[dict[str, Any]]:
        if not isinstance(goal, str) or not goal.strip():
            raise ValueError("the goal is empty: say what you want to find, e.g. 'Rediscover Coulomb's law'")
        if len(goal) > 2000:
            raise ValueError("the goal is longer than 2000 characters; state it in a few sentences")
        _check_search_budget(self.discovery_seconds)  # before any experiment runs
        options = dict(self.provider_options)
        if self.llm == "openai" and self.assist:  # the planner answers what the model does not call for: a small
            options.setdefault("constrain", False)  # model held to calls only delayed it (docs/local-model.md)
        provider = make_provider(self.llm, self.discovery_seconds, **options)
        endpoint = ({"name": provider.model, "base_url": provider.base_url} if isinstance(provider, OpenAIProvider)
                    else None)
        writer = SessionWriter.create(self.runs_dir, goal, self.seed, self.llm, endpoint)
        workdir = Path(self.workdir if self.workdir is not None else Path.cwd()).resolve()
        yield writer.write("goal", {"goal": goal, "seed": self.seed, "llm": self.llm, "workdir": str(workdir)})
        live: queue.Queue[dict[str, Any]] = queue.Queue()
        stop = threading.Event()

        def progress(stage: str, info: dict) -> None:
            if stop.is_set():  # the consumer closed the stream: end the running tool at its next report
                raise Stopped("stopped by the user")
            live.put({"stage": stage, **info})

        ctx = ToolContext(writer.directory, self.seed, self.device, progress=progress,
                          csv_root=Path(self.csv_root) if self.csv_root is not None else None, workdir=workdir)
        run = _Run(ctx, writer, live, stop)
        role = "model" if self._model_explains(provider) else "planner"
        final_text, ended = yield from self._converse(run, provider, goal, role)
        if ended in ("no result", "steps") and self._assisted(provider) and not build_report(
                goal, writer.directory, run.results, [], None, ctx).answered:
            yield writer.write("assist", {"message": "the model produced no result; the offline planner runs the "
                                                     "pipeline for the goal"})
            chosen = yield from self._choose_twin(run, provider, goal)
            helper = (provider if isinstance(provider, ReplayProvider)
                      else OfflinePlanner(self.discovery_seconds, twin=chosen))
            final_text, ended = yield from self._converse(run, helper, goal, "planner")
        elif role == "model" and final_text:
            final_text = _closing_words(final_text, run.results, goal)
        report = build_report(goal, writer.directory, run.results, run.errors, final_text, ctx)
        report.steps = run.steps
        if self._model_explains(provider) and report.answered:  # nothing measured: nothing for a model to word
            yield from self._explain_with_model(provider, writer, report)
        report.save(writer.directory)
        self.last_report = report
        yield writer.write("report", {"report": report.as_dict()})

    def _converse(self, run: _Run, provider, goal: str, role: str
                  ) -> Generator[dict[str, Any], None, tuple[str | None, str]]:
        """One conversation with ``provider`` (the model, or the planner) over the session's tools; returns its
        final text and why it ended: ``"no result"`` (it finished, or its calls kept failing), ``"provider failed"``
        (the endpoint: no planner takes over a broken configuration), ``"steps"`` (its ``max_steps``) or ``"budget"``
        (the session's tokens or tool time). A model whose calls fail ``max_repairs`` times in a row is stopped (each
        failure was fed back to it with the validation error, for it to repair); a model's call that the session
        already ran, with the same arguments, is not run again but fails (small models repeat a call they cannot
        read past: one measured 30 times in a row)."""
        writer, ctx = run.writer, run.ctx
        messages = [Message("system", prompt("system")), Message("user", goal)]
        # with assist, a held model chooses among the twins the planner maps the goal to (when it maps it at all)
        behind_url = isinstance(provider, OpenAIProvider)  # a model behind a URL: it is told what it may name
        mapped = {m.name for m in rival_twins(goal)} if behind_url and self._assisted(provider) else set()
        failures = 0
        for step in range(self.budgets.max_steps):
            request_digest = digest(messages)
            yield writer.write("llm_request", {"step": step, "digest": request_digest, "messages": len(messages)})
            try:
                decision = (provider.decide(messages, request_digest) if isinstance(provider, ReplayProvider)
                            else provider.decide(messages, _names(ctx, mapped)) if behind_url
                            else provider.decide(messages))
            except ProviderError as error:
                run.errors.append(str(error))
                yield writer.write("error", {"step": step, "code": "provider", "message": str(error)})
                return None, "provider failed"
            yield writer.write("llm_response", {"step": step, "decision": decision.as_dict()})
            run.tokens += int(decision.usage.get("total_tokens", 0))
            if not decision.tool_calls:
                return decision.text, "no result"
            messages.append(Message("assistant", decision.text or "", tool_calls=decision.tool_calls))
            for call in decision.tool_calls:
                yield writer.write("tool_call", {"step": step, "id": call.id, "name": call.name, "args": call.args,
                                                 "by": role})
                started = time.perf_counter()
                again = role == "model" and any(name == call.name and args == (call.args or {}) and not error
                                                for name, args, _, error in run.results)
                try:
                    result, failed = ((_repeated(call).as_dict(), True) if again else
                                      (yield from self._call_live(ctx, call, run.tool_seconds, run.live, run.stop)))
                except (GeneratorExit, KeyboardInterrupt):  # the consumer closed the stream, or Ctrl-C
                    writer.write("error", {"step": step, "code": "stopped", "message": "stopped by the user"})
                    raise
                run.tool_seconds += time.perf_counter() - started
                yield writer.write("tool_result", {"step": step, "id": call.id, "name": call.name, "result": result,
                                                   "error": failed, "seconds": time.perf_counter() - started,
                                                   "artifacts": dict(ctx.artifacts)})
                run.results.append((call.name, call.args or {}, result, failed))
                run.steps.append({"tool": call.name, "by": role, "failed": failed})
                failures = failures + 1 if failed else 0
                if failed:
                    run.errors.append(f"{call.name}: {result.get('message')}")
                # the model reads the result without its samples (a verification's held-out sample alone is some
                # 2,000 tokens); the digest is of the whole payload
                messages.append(Message("tool", json.dumps(_stable(trimmed(result))), tool_call_id=call.id,
                                        name=call.name, payload=result, error=failed))
            if run.tokens > self.budgets.max_tokens or run.tool_seconds > self.budgets.tool_seconds:
                reason = "token" if run.tokens > self.budgets.max_tokens else "tool-time"
                run.errors.append(f"the session's {reason} budget ran out; reporting what was found so far")
                yield writer.write("error", {"step": step, "code": "budget", "message": run.errors[-1]})
                return None, "budget"
            if role == "model" and failures >= self.budgets.max_repairs:
                run.errors.append(f"the model's tool calls failed {failures} times in a row")
                yield writer.write("error", {"step": step, "code": "repairs", "message": run.errors[-1]})
                return None, "no result"
        run.errors.append(f"the session reached its limit of {self.budgets.max_steps} steps")
        yield writer.write("error", {"code": "budget", "message": run.errors[-1]})
        return None, "steps"

    def _choose_twin(self, run: _Run, provider, goal: str) -> Generator[dict[str, Any], None, str | None]:
        """When the goal could mean several catalogue twins about equally (``rival_twins``), the model picks one
        before the planner runs the pipeline on it (a model reads a researcher's words better than a keyword
        table); an answer that names none of them, or a failed request, leaves the planner's own match."""
        rivals = rival_twins(goal)
        if len(rivals) < 2 or (isinstance(provider, ReplayProvider) and not provider.chose):
            return None
        listed = "\n".join(f"- {m.name}: {get_twin(m.name).description}" for m in rivals)
        request = prompt("choose", goal=goal, twins=listed)
        decision = yield from _ask_plainly(provider, run.writer, "choose", request, run.errors, "choosing a twin")
        if decision is None:
            return None
        text = (decision.text or "").lower()
        named = min((m.name for m in rivals if m.name.lower() in text), key=lambda n: text.index(n.lower()),
                    default=None)
        run.steps.append({"tool": f"choose_twin ({named or 'none of ' + ', '.join(m.name for m in rivals)})",
                          "by": "model", "failed": named is None})
        return named

    def _assisted(self, provider) -> bool:
        """Whether the planner takes over when the model produced no result (a replay: as the recording did)."""
        if isinstance(provider, ReplayProvider):
            return provider.assisted
        return self.llm == "openai" and self.assist

    def _model_explains(self, provider) -> bool:
        """Sessions driven by a model get a model-written explanation (replays of them replay it)."""
        if isinstance(provider, ReplayProvider):
            return provider.recorded_llm == "openai"
        return self.llm == "openai"

    def _explain_with_model(self, provider, writer: SessionWriter, report: Report) -> Iterator[dict[str, Any]]:
        # The model reads the measured text (every law, verdict, range and fitted value in words: a JSON dump of the
        # results said each number twice or three times, some 600 tokens a small model on a CPU reads for seconds);
        # its numbers are checked against all the measured facts.
        facts = _explained_facts(report)
        measured = report.explanation
        for law in report.laws:  # the formula's LaTeX says it a second time: tokens a small model reads for nothing
            measured = measured.replace(f" (LaTeX: {law.get('latex')})", "")
        request = prompt("explain", goal=report.goal, result=measured)
        decision = yield from _ask_plainly(provider, writer, "explain", request, report.errors, "explanation")
        if decision is None or not decision.text:
            return
        invented = unmeasured_numbers(decision.text, facts, report.goal)
        if invented:  # a report never carries a number that was not measured: the measured text stands alone
            report.explanation += " " + _left_out("explanation was", invented)
        else:
            report.explanation = f"In the model's words: {decision.text.strip()}\n\nMeasured: {report.explanation}"

    def _call_live(self, ctx: ToolContext, call, tool_seconds: float, live: queue.Queue,
                   stop: threading.Event) -> Generator[dict[str, Any], None, tuple[dict, bool]]:
        """Run the tool in a worker thread and yield its progress events while it runs. When the
        consumer closes the stream, ``stop`` makes the tool's next progress report raise, and the
        worker is awaited before returning (nothing keeps running behind the caller's back)."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="twinsight-tool") as pool:
            future = pool.submit(self._call, ctx, call, tool_seconds)
            try:
                while not (future.done() and live.empty()):
                    try:
                        yield {"type": "progress", **live.get(timeout=0.1)}
                    except queue.Empty:
                        continue
            except (GeneratorExit, KeyboardInterrupt):
                stop.set()  # the tool raises at its next progress report; the pool then waits seconds, not minutes
                raise
            return future.result()

    def _call(self, ctx: ToolContext, call, tool_seconds: float) -> tuple[dict, bool]:
        if call.args is None:
            error = ToolError("malformed_arguments", f"arguments of {call.name} were not valid JSON: {call.malformed}",
                              "send the arguments as a JSON object matching the schema")
            return error.as_dict(), True
        if tool_seconds > self.budgets.tool_seconds:
            return ToolError("budget", "tool time budget spent", "finish with what you have").as_dict(), True
        try:
            return call_tool(ctx, call.name, call.args), False
        except ToolError as error:
            return error.as_dict(), True
        except Stopped as error:
            return ToolError("stopped", str(error)).as_dict(), True
        except Exception as error:  # a bug in a tool must not kill the session: record it, feed it back
            return ToolError("internal_error", f"{call.name} failed: {type(error).__name__}: {error}",
                             "try different arguments or another tool").as_dict(), True

    def replay(self, session: str | Path) -> dict[str, Any]:
        """Re-execute a recorded session with its recorded LLM answers and compare every tool result."""
        return replay(session, runs_dir=self.runs_dir, device=self.device)


def _ask_plainly(provider, writer: SessionWriter, step: str, request: str, errors: list[str], what: str
                 ) -> Generator[dict[str, Any], None, Decision | None]:
    """One plain completion (no tools), recorded as ``step``: the request's digest, then the response, or the
    provider's failure (added to ``errors`` as ``what: …``, and None returned). A replay answers it from the
    recording."""
    request_digest = digest([Message("user", request)])
    yield writer.write("llm_request", {"step": step, "digest": request_digest, "messages": 1})
    try:
        decision = (provider.explain(request, request_digest) if isinstance(provider, ReplayProvider)
                    else provider.explain(request))
    except ProviderError as error:
        errors.append(f"{what}: {error}")
        yield writer.write("error", {"step": step, "code": "provider", "message": str(error)})
        return None
    yield writer.write("llm_response", {"step": step, "decision": decision.as_dict()})
    return decision


def _check_search_budget(seconds: float) -> None:
    """The search budget within the bounds the discover_law tool accepts, or a ValueError that says them."""
    field = TOOLS["discover_law"].input_model.model_fields["time_budget"]
    low = next(m.ge for m in field.metadata if hasattr(m, "ge"))
    high = next(m.le for m in field.metadata if hasattr(m, "le"))
    if not (isinstance(seconds, (int, float)) and low <= seconds <= high):
        raise ValueError(f"the search budget must be between {low:g} and {high:g} seconds per output, got {seconds}")


def _closing_words(text: str, results: list, goal: str) -> str:
    """A model's closing text as a report may carry it: labelled as the model's, or left out when it states a
    number no tool measured."""
    invented = unmeasured_numbers(text, [result for _, _, result, _ in results], goal)
    if invented:
        return _left_out("closing words were", invented)
    return f"The model wrote (not a measured result): {text.strip()}"


def _left_out(what: str, invented: list[str]) -> str:
    """What the report says in place of model-written text that stated numbers nothing measured."""
    count = f"{len(invented)} number{'s' if len(invented) > 1 else ''}"
    return (f"(The model's {what} left out: it stated {count} that nothing measured; its words are in the "
            "session log.)")


def build_report(goal: str, directory: Path, results: list[tuple[str, dict, dict, bool]], errors: list[str],
                 final_text: str | None, ctx: ToolContext) -> Report:
    report = Report(goal=goal, session=str(directory), errors=list(errors))
    seen: dict[str, Any] = {}
    for name, args, result, failed in results:
        if not failed:
            TOOLS[name].read(result).add_to(report, seen)
    if report.laws:
        report.formula = "; ".join(f"{law['output']} = {law['formula']}" for law in report.laws) \
            if len(report.laws) > 1 else report.laws[0].get("equation", report.laws[0]["formula"])
        report.latex = r" \\ ".join(f"{law['output_latex']} = {law['latex']}" for law in report.laws)
        report.r2_test = min(law["r2_test"] for law in report.laws)
        extrapolated = [law["r2_extrapolation"] for law in report.laws if law["r2_extrapolation"] is not None]
        report.r2_extrapolation = min(extrapolated) if extrapolated else None
        exact = [law["exact"] for law in report.laws]
        report.exact = None if any(e is None for e in exact) else all(exact)
        report.confident = all(law["confident"] for law in report.laws)
    report.explanation = explain(report, seen.get("twin"))
    if final_text and final_text != "done" and not report.laws:
        report.explanation = final_text + " " + report.explanation
    return report


def describe_result(name: str, result: dict) -> str | None:
    """One line of the step log for a tool's (successful) result, as its result model writes it."""
    return TOOLS[name].read(result).describe() if name in TOOLS else None


def replay(session: str | Path, runs_dir: str | Path | None = None, device: str = "auto") -> dict[str, Any]:
    """Replay a session without a model; ``{"reproduced": bool, "steps": n, "diffs": [...], "incomplete": bool}``.
    An incomplete session (no report: interrupted or stopped) is replayed only up to its last recorded step."""
    recorded = load_events(session)
    provider = ReplayProvider(str(session))
    if provider.goal is None:
        raise ValueError(f"session {session} records no goal")
    session_dir = Path(session) if Path(session).is_dir() else Path(session).parent
    # Relative CSV paths are read where the session ran, whichever directory the replay starts in.
    agent = Agent(llm=f"replay:{session_dir}", runs_dir=runs_dir or session_dir.parent / "replays",
                  seed=provider.seed, device=device, workdir=provider.workdir)
    before = [e for e in recorded if e["type"] == "tool_result"]
    # A session that ends without its report (interrupted, stopped) is replayed up to its last recorded step.
    complete = any(e["type"] == "report" for e in recorded)
    fresh: list[dict[str, Any]] = []
    stream = agent.stream(provider.goal)
    try:
        for event in stream:
            if event.get("type") != "progress":
                fresh.append(event)
            if not complete and sum(e["type"] == "tool_result" for e in fresh) >= len(before):
                break
    finally:
        stream.close()
    after = [e for e in fresh if e["type"] == "tool_result"]
    diffs = []
    for i, (old, new) in enumerate(zip(before, after)):
        if old["name"] != new["name"]:
            diffs.append({"step": i, "what": "tool", "recorded": old["name"], "replayed": new["name"]})
        elif _stable(old["result"]) != _stable(new["result"]):
            diffs.append({"step": i, "tool": old["name"], "recorded": _stable(old["result"]),
                          "replayed": _stable(new["result"])})
    if len(before) != len(after):
        diffs.append({"what": "steps", "recorded": len(before), "replayed": len(after)})
    errors = [e["message"] for e in fresh if e["type"] == "error"]
    diffs += [{"what": "error", "message": m} for m in errors if "replay diverged" in m]
    return {"reproduced": not diffs, "steps": len(after), "diffs": diffs, "incomplete": not complete,
            "replay_session": str(agent.last_report.session) if agent.last_report else None}


__all__ = ["Agent", "Budgets", "build_report", "digest", "replay"]
