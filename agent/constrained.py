"""Constrained tool turns: the model's answer held by the server's grammar to one JSON object, a tool call or a
final answer, for models that do not write tool calls themselves.

Small instruct models (a measured 135 M one) answer a tool turn in prose whatever tools they are offered, and their
chat templates often drop the ``tools`` field. An OpenAI-compatible server that constrains decoding to a JSON schema
(llama.cpp's and llama-cpp-python's ``response_format: {"type": "json_object", "schema": …}``; Ollama and vLLM read
the same field as plain JSON mode) makes every answer one of the shapes below; the tools are then listed in the
system text, since the template may not show them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.tool import Tool

#: The start of an answer object, ``{"answer": "`` (a grammar-held answer that is not a call).
_ANSWER = re.compile(r'^\s*\{\s*"answer"\s*:\s*"')


def answer_schema(tools: list[dict[str, Any]], answer: bool = True) -> dict[str, Any]:
    """The JSON schema of a constrained answer: ``{"name": TOOL, "arguments": {…}}`` for one of ``tools`` (OpenAI
    function schemas), each with that tool's parameters, or (``answer``) ``{"answer": TEXT}``."""
    calls = [{"type": "object", "properties": {"name": {"const": t["function"]["name"]},
                                               "arguments": t["function"]["parameters"]},
              "required": ["name", "arguments"]} for t in tools]
    final = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    return {"anyOf": [*calls, final] if answer else calls}


def tool_listing(tools: list[dict[str, Any]]) -> str:
    """One line per tool for the system text: ``- name(argument, …): description``."""
    return "\n".join(f"- {t['function']['name']}({', '.join(t['function']['parameters'].get('properties', {}))}): "
                     f"{t['function']['description']}" for t in tools)


def next_calls(tools: Sequence[Tool], names: Mapping[str, Sequence[str]], objects: Sequence[str],
               made: Sequence[tuple[str, dict]] = (), limit: int = 3) -> str | None:
    """What a held turn's last result adds for the model: the calls of ``tools`` (in pipeline order) whose one
    required reference takes one of ``objects`` (names of the session's objects, newest first), written as calls,
    the later tools first: those that need nothing else, or when none does, those that need more; none that the
    conversation ``made`` already, at most ``limit``. None when no call takes them. Read from the tools' types, not
    from a plan: it says what can be called with what was made, not what should be."""
    calls = []
    for obj in objects:
        for t in reversed(tools):
            refs = t.references()
            if len(refs) != 1:
                continue
            [(param, kind)] = refs.items()
            arguments = {param: obj}
            if obj not in names.get(kind, ()) or (t.name, arguments) in made:
                continue
            complete = set(t.input_model.model_json_schema().get("required", ())) <= set(refs)
            written = json.dumps({"name": t.name, "arguments": arguments})
            calls.append((not complete, written if complete else written.removesuffix("}}") + ", ...}}"))
    ready = [text for partial, text in calls if not partial]
    kept = list(dict.fromkeys(ready or [text for _, text in calls]))[:limit]
    return "What can take it next: " + "; ".join(kept) if kept else None


def answer_text(text: str) -> str | None:
    """The text of an ``{"answer": …}`` object (also of one cut short while streamed), or None when ``text`` is not
    one (a call, or anything else)."""
    if not _ANSWER.match(text):
        return None
    try:
        value = json.loads(text)
        return value["answer"] if isinstance(value, dict) and isinstance(value.get("answer"), str) else None
    except json.JSONDecodeError:  # cut short: the string read so far, its escapes undone where they are whole
        partial = _ANSWER.sub("", text).rstrip('"} \n')
        try:
            return json.loads(f'"{partial}"')
        except json.JSONDecodeError:
            return partial


def answer_prose(text: str, chars: int) -> str | None:
    """``text`` once it is an answer object whose text has reached ``chars`` characters: the constrained form of a
    tool turn that became prose (``agent.reading.prose``)."""
    written = answer_text(text)
    return text if written is not None and len(written.strip()) >= chars else None
