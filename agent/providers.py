"""LLM providers: any OpenAI-compatible chat model through langchain, the offline planner, and replay."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, Protocol

from agent.constrained import answer_prose, answer_schema, answer_text, next_calls, tool_listing
from agent.messages import Decision, Message, ToolCall
from agent.planner import OfflinePlanner
from agent.reading import long_enough, prose, repeated
from agent.toolcalls import calls_in_text, parse_arguments
from agent.session import load_events
from tools.registry import TOOLS


class ProviderError(RuntimeError):
    """The model endpoint failed (down, rate-limited past retries, server error) or replay diverged."""


class Provider(Protocol):
    name: str

    def decide(self, messages: list[Message]) -> Decision: ...


def prompt(name: str, **values: str) -> str:
    """A prompt text shipped in the ``prompts`` package, its ``{placeholders}`` filled from ``values`` in one pass
    (a goal that holds ``{result}`` stays as typed)."""
    text = resources.files("prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text) if values else text


OPENAI_URL = "https://api.openai.com/v1"
#: Seconds per request for a model served anywhere but OpenAI (local CPU inference).
LOCAL_TIMEOUT = 300.0
#: The tools a small model is offered: those of the law pipelines (calibration, resonance and training are
#: offered with the full list).
COMPACT_TOOLS = ("select_twin", "twin_from_csv", "run_experiment", "measure_observable", "derive_table",
                 "discover_law", "verify_law", "discover_pde", "test_hypothesis")


#: Tokens a model may write per answer on a local server: a tool call needs under 100, an explanation of a few
#: sentences under 250; a small model's prose beyond that only costs seconds (it is cut, and the planner takes over).
LOCAL_MAX_TOKENS = 256
#: Characters of a local model's tool turn, with no call begun, after which it is read as prose and no more is
#: waited for (``agent.reading.prose``): the calls small models write as text start within their first sentence,
#: and a measured 135 M model spent 5-10 s of two CPU cores on each prose answer that the planner then replaced.
LOCAL_PROSE_CHARS = 200
#: Characters of a local model's explanation after which reading stops at the end of the sentence (a few sentences
#: say what the prompt asks; the same 135 M model wrote 256-token answers that repeated themselves in other words).
LOCAL_EXPLAIN_CHARS = 320


class OpenAIProvider:
    """Chat Completions through langchain-openai ``ChatOpenAI`` against any OpenAI-compatible URL."""

    name = "openai"

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | None = None, max_retries: int = 2, temperature: float = 0.0,
                 max_tokens: int | None = None, compact: bool | None = None, early_stop: bool | None = None,
                 constrain: bool | None = None):
        """``timeout`` (seconds per request) defaults to 60 s for api.openai.com and to ``LOCAL_TIMEOUT`` for any
        other URL (a small model on a laptop's CPU reads a long prompt for minutes); ``max_tokens`` caps every answer
        (default 1,024, and 256 for any URL but OpenAI's: a tool call or a few sentences of explanation fit, and a
        small model's prose stops in seconds rather than minutes), so a chatty model cannot run past the timeout;
        ``compact`` (default: for any URL but OpenAI's) offers only the pipeline's tools (``COMPACT_TOOLS``) with
        short schemas (``Tool.compact_schema``): about a third of the full list's characters, which alone overflows a
        2,048-token context; ``early_stop`` (default: for any URL but OpenAI's) streams every answer and stops reading
        a tool turn that has grown to ``LOCAL_PROSE_CHARS`` characters of prose with no call begun, and an explanation
        that writes a sentence a second time or ends a sentence past ``LOCAL_EXPLAIN_CHARS`` characters
        (``agent.reading``): the decision keeps the text read, marked ``cut``; ``constrain`` (default: for any URL but
        OpenAI's; an ``Agent`` whose planner assists turns it off unless asked) holds every tool turn's answer to one
        JSON object, a call of an offered tool or ``{"answer": …}``, by the server's grammar (``agent.constrained``),
        with the tools listed in the system text; the conversation is then sent as one user turn (``_one_turn``: the
        goal, the calls told with their results, the calls that take what the last one made), which every chat
        template renders."""
        from langchain_openai import ChatOpenAI  # heavy import, only for this provider

        self.model = model or os.environ.get("TWINSIGHT_MODEL", "gpt-4o-mini")
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        local = self.base_url.rstrip("/") != OPENAI_URL
        max_tokens = max_tokens or (LOCAL_MAX_TOKENS if local else 1024)
        extra_body = {"max_tokens": max_tokens} if local else {}
        chat = ChatOpenAI(
            model=self.model,
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout or (LOCAL_TIMEOUT if local else 60.0), max_retries=max_retries, temperature=temperature,
            use_responses_api=False, max_tokens=max_tokens, stream_usage=True,  # servers that can, count tokens
            # langchain sends OpenAI's max_completion_tokens; llama.cpp's and Ollama's servers read max_tokens
            extra_body=extra_body or None,
        )
        self._plain = chat
        self.early_stop = local if early_stop is None else early_stop
        self._written = 0  # tool calls read from text so far (their ids count on)
        compact = local if compact is None else compact
        self._offered = [TOOLS[name] for name in COMPACT_TOOLS] if compact else list(TOOLS.values())
        offered = [t.compact_schema() if compact else t.schema() for t in self._offered]
        self.constrain = local if constrain is None else constrain
        self._system = prompt("system")
        self._extra_body = extra_body
        self._grammar_refused = False  # the server answered a held turn with 400: later turns are sent unheld
        self._held_before: set[str] = set()  # the session's object names at the conversation's previous turn
        self._newest: list[str] = []  # the objects the last note was about
        if self.constrain:
            self._system += "\n\n" + prompt("constrained", tools=tool_listing(offered))
        else:  # an explicit tool_choice: llama-cpp-python's function-calling chat format drops the tools without one
            self._chat = chat.bind_tools(offered, tool_choice="auto")

    def explain(self, request: str) -> Decision:
        """A plain completion (no tools) for the explanation of a finished session."""
        # The tool turns' system prompt comes first here too: a server that keeps the last prompt's state (llama.cpp,
        # Ollama) then reads only what differs, not the whole prompt again, on the next goal's first turn.
        messages = [Message("system", self._system), Message("user", request)]
        return self._complete(self._plain, messages,
                              lambda text: repeated(text) or long_enough(text, LOCAL_EXPLAIN_CHARS))

    def decide(self, messages: list[Message], names: Mapping[str, Sequence[str]] | None = None) -> Decision:
        """The next turn of a tool conversation. ``names``: the names each kind of session object may take now
        (``tools.registry.session_names``); a constrained turn's grammar lets the model write only those, and offers
        only the tools that can be called with them."""
        import openai

        messages = [Message("system", self._system) if m.role == "system" else m for m in messages]

        def stop(text: str) -> str | None:
            held = answer_prose(text, LOCAL_PROSE_CHARS) if self.constrain else None
            return prose(text, LOCAL_PROSE_CHARS) or held

        if not self.constrain:
            return self._complete(self._chat, messages, stop, tool_turn=True)
        names = names or {}
        note = self._next_note(messages, names)
        if not self._grammar_refused:
            try:
                return self._complete(self._held(names), messages, stop, tool_turn=True, note=note)
            except openai.BadRequestError:  # a server without schema-held JSON (some answer 400 to json_object)
                self._grammar_refused = True
        # the same turn with the tools listed, unheld: a call the model writes as JSON is still read
        return self._complete(self._plain, messages, stop, tool_turn=True, note=note)

    def _next_note(self, messages: list[Message], names: Mapping[str, Sequence[str]]) -> str | None:
        """For a held turn after tool results: the calls that take the newest of the session's objects
        (``next_calls``): those new since the previous turn, else those the last results name (a catalogue twin
        selected), else (the last calls failed) those of the turn before. Small models copy the last call they
        read: a measured 135 M model repeated its one valid call until refused, and followed the note's."""
        listed = [name for kind, of_kind in names.items() if kind != "csv" for name in of_kind]
        held = set(listed)
        before, self._held_before = self._held_before, held
        if not any(m.role == "assistant" for m in messages):  # a goal's first turn
            self._newest = []
            return None
        new = [name for name in listed if name not in before]
        results = []  # the last turn's tool messages
        for m in reversed(messages):
            if m.role != "tool":
                break
            results.append(m)
        named = [v for m in reversed(results) for v in (m.payload or {}).values() if isinstance(v, str) and v in held]
        self._newest = list(dict.fromkeys(new or named)) or self._newest
        made = [(c.name, c.args or {}) for m in messages if m.role == "assistant" for c in m.tool_calls]
        return next_calls(self._offered, names, self._newest, made)

    def _held(self, names: Mapping[str, Sequence[str]]) -> Any:
        """The chat model with this turn's grammar: a call of a tool that can be called now, or (once the session
        holds a discovery: the offered tools measure nothing else) an answer. Sent in the body: langchain's own
        ``response_format`` handles OpenAI's structured outputs only. A measured 135 M model, offered the answer
        after its first call, answered in prose with nothing measured."""
        held = [schema for schema in (t.compact_schema(names) for t in self._offered) if schema is not None]
        schema = answer_schema(held, answer=bool(names.get("discovery")))
        return self._plain.bind(extra_body={**self._extra_body, "response_format": {"type": "json_object",
                                                                                    "schema": schema}})

    def _complete(self, chat: Any, messages: list[Message], stop: Callable[[str], str | None],
                  tool_turn: bool = False, note: str | None = None) -> Decision:
        """One answer: read whole, or (``early_stop``) streamed until ``stop`` returns the text to keep. A held
        turn's 400 is raised as it is, for ``decide`` to send the turn again unheld. ``note`` closes the user turn
        of a conversation sent in one (``_one_turn``)."""
        import openai

        kept = None
        try:
            if not self.early_stop:
                reply = chat.invoke(_to_langchain(messages, self.constrain, note))
            else:
                reply = None
                for chunk in chat.stream(_to_langchain(messages, self.constrain, note)):
                    reply = chunk if reply is None else reply + chunk
                    if not reply.tool_call_chunks and isinstance(reply.content, str):
                        kept = stop(reply.content)
                    if kept is not None:  # closing the stream closes the request; the server stops writing
                        break
                if reply is None:
                    raise ProviderError(f"model endpoint {self.base_url} (model {self.model}) sent an empty stream")
        except (openai.APIError, openai.APIConnectionError, openai.APITimeoutError) as error:
            if isinstance(error, openai.BadRequestError) and tool_turn and self.constrain and chat is not self._plain:
                raise
            raise ProviderError(f"model endpoint {self.base_url} (model {self.model}) failed: "
                                f"{type(error).__name__}: {error}") from None
        if self.early_stop:  # streamed: langchain completes a call's partial JSON; read the raw text strictly
            calls = [ToolCall(c.get("id") or f"call_{i}", c.get("name") or "", *parse_arguments(c.get("args") or ""))
                     for i, c in enumerate(reply.tool_call_chunks)]
        else:
            calls = [ToolCall(id=c["id"] or f"call_{i}", name=c["name"], args=c["args"])
                     for i, c in enumerate(reply.tool_calls)]
            calls += [ToolCall(id=c.get("id") or f"bad_{i}", name=c.get("name") or "", args=None,
                               malformed=str(c.get("args")))
                      for i, c in enumerate(reply.invalid_tool_calls)]
        usage = {k: int(v) for k, v in dict(reply.usage_metadata or {}).items() if isinstance(v, int)}
        text = kept if kept is not None else reply.content if isinstance(reply.content, str) else json.dumps(
            reply.content)
        if calls:
            return Decision(tool_calls=calls, usage=usage)
        # held or not (an explanation shares the held turns' system text, which asks for JSON), an answer object is
        # read for its text
        if self.constrain and answer_text(text) is not None:
            return Decision(text=answer_text(text), usage=usage, cut=kept is not None)
        written = calls_in_text(text, TOOLS, self._written + 1) if tool_turn else []
        self._written += len(written)
        return Decision(tool_calls=written, text=text, usage=usage, calls_from_text=bool(written),
                        cut=kept is not None)


def _to_langchain(messages: list[Message], plain: bool = False, note: str | None = None) -> list[Any]:
    """``messages`` as langchain's; ``plain``: as ``_one_turn`` writes them, for chat templates that know only
    system, user and assistant, and for small models."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    if plain:
        return [SystemMessage(messages[0].content), HumanMessage(_one_turn(messages[1:], note))]
    converted: list[Any] = []
    for m in messages:
        if m.role == "system":
            converted.append(SystemMessage(m.content))
        elif m.role == "user":
            converted.append(HumanMessage(m.content))
        elif m.role == "assistant":
            converted.append(AIMessage(m.content, tool_calls=[
                {"id": c.id, "name": c.name, "args": c.args or {}} for c in m.tool_calls]))
        else:
            converted.append(ToolMessage(m.content, tool_call_id=m.tool_call_id or ""))
    return converted


def _one_turn(messages: list[Message], note: str | None) -> str:
    """A conversation as one user message: the goal, each call as ``You called name(argument=value, …).`` with
    its result, then ``note``. Not as turns of the model's own: a held 135 M model wrote its last call again on
    every turn (its one valid call, until refused), and with the calls told this way followed ``note`` to a law
    (session 38)."""
    parts = []
    for m in messages:
        if m.role == "assistant":
            parts += [f"You called {c.name}({', '.join(f'{k}={json.dumps(v)}' for k, v in (c.args or {}).items())})."
                      for c in m.tool_calls]
        elif m.role == "tool":
            parts.append(f"Result of {m.name}: {m.content}")
        else:
            parts.append(m.content)
    return "\n\n".join([*parts, note] if note else parts)


class ReplayProvider:
    """Answers each request with the recorded response; a request that differs from the recording
    (by digest) is an error, never a silent divergence."""

    name = "replay"

    def __init__(self, session_path: str):
        events = load_events(session_path)
        self._requests = [e for e in events if e["type"] == "llm_request"]
        # What answered each request: a response, or the provider failure recorded in its place (a dead endpoint
        # replays as the same failure; pairing responses by position had shifted every later one).
        self._outcomes: list[tuple[str, Any] | None] = []
        for event in events:
            if event["type"] == "llm_request":
                self._outcomes.append(None)
            elif self._outcomes and self._outcomes[-1] is None:
                if event["type"] == "llm_response":
                    self._outcomes[-1] = ("response", event["decision"])
                elif event["type"] == "error" and event.get("code") == "provider":
                    self._outcomes[-1] = ("failure", event["message"])
        self._next = 0
        goals = [e for e in events if e["type"] == "goal"]
        self.goal = goals[0]["goal"] if goals else None
        self.workdir = goals[0].get("workdir") if goals else None  # absent from sessions before it was recorded
        start = events[0]
        self.seed = int(start.get("seed", 0))
        self.recorded_llm = start.get("llm", "offline")
        self.assisted = any(e["type"] == "assist" for e in events)
        self.chose = any(e["type"] == "llm_request" and e.get("step") == "choose" for e in events)

    def decide(self, messages: list[Message], digest: str | None = None) -> Decision:
        if self._next >= len(self._outcomes) or self._outcomes[self._next] is None:
            raise ProviderError(f"replay diverged: request {self._next + 1} has no recorded response")
        expected = self._requests[self._next].get("digest")
        if digest is not None and expected is not None and digest != expected:
            raise ProviderError(f"replay diverged at request {self._next + 1}: the conversation differs "
                                "from the recording (a tool result changed)")
        kind, recorded = self._outcomes[self._next]
        self._next += 1
        if kind == "failure":
            raise ProviderError(recorded)
        return Decision.from_dict(recorded)

    def explain(self, request: str, digest: str | None = None) -> Decision:
        return self.decide([Message("user", request)], digest)


def make_provider(spec: str, discovery_seconds: float = 30.0, **options: Any) -> Provider:
    """``offline`` | ``openai`` | ``replay:PATH``."""
    if spec == "offline":
        return OfflinePlanner(discovery_seconds)
    if spec == "openai":
        return OpenAIProvider(**options)
    if spec.startswith("replay:"):
        return ReplayProvider(spec.removeprefix("replay:"))
    raise ValueError(f"unknown LLM provider {spec!r}: use offline, openai or replay:PATH")


def default_provider_spec() -> str:
    """``openai`` when an endpoint or key is configured, else the embedded offline planner."""
    return "openai" if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY") else "offline"
