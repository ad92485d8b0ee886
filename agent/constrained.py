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
from typing import Any

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
