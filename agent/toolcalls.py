"""Tool calls that models write as text: small local models (and servers without a function-calling template)
answer with the call in the message content instead of the ``tool_calls`` field.

Read here, with the json module only (never eval): ``<tool_call>{…}</tool_call>`` tags (Hermes, Qwen), fenced
```` ```json {…} ``` ```` blocks, and bare JSON objects in the text, each shaped as ``{"name": …, "arguments": …}``
(also ``"parameters"`` or ``"args"``), ``{"tool": …}``, ``{"function": …}`` or ``{"function": {"name": …,
"arguments": …}}``, alone, in a list or under ``"tool_calls"``; arguments may themselves be a JSON string. An
object that names no tool of ``known`` is not a call (a model quoting a result is not asking for one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from agent.messages import ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*\n?(.*?)```", re.S)
#: What a text must hold to be (or to become, as a model writes on) a call in one of the forms read here: a JSON
#: object's first key, a tag, a JSON fence, llama-cpp-python's ``functions.NAME:`` (LaTeX braces and code fences
#: in prose are none of them).
_CALL_START = re.compile(r'\{\s*"|<tool_call|```(?:json|tool)|functions\.')
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_NAME_KEYS = ("name", "tool", "tool_name", "function")


def calls_in_text(text: str | None, known: Iterable[str], first: int = 1) -> list[ToolCall]:
    """The tool calls written in ``text``, in order; ``[]`` when it holds none.

    Parameters
    ----------
    text : str or None
        A model's message content.
    known : iterable of str
        The registry's tool names: only objects naming one of them are calls.
    first : int
        Number of the first call's id (``text_call_<n>``), so that ids stay unique within a session.
    """
    if not text:
        return []
    names = set(known)
    blocks = _TAGGED.findall(text) or _FENCED.findall(text) or [text]
    calls: list[ToolCall] = []
    for block in blocks:
        for value in _json_values(block):
            for name, arguments in _call_shapes(value):
                if name in names:
                    args, malformed = parse_arguments(arguments)
                    calls.append(ToolCall(id=f"text_call_{first + len(calls)}", name=name, args=args,
                                          malformed=malformed))
    return calls


def may_hold_call(text: str) -> bool:
    """Whether ``text``, possibly the start of a longer answer, holds the beginning of a call in one of the forms
    read here (or of llama-cpp-python's ``functions.NAME:`` form): prose without any of them holds none."""
    return _CALL_START.search(text) is not None


def _json_values(block: str) -> list[Any]:
    """Every top-level JSON object or array in ``block`` (prose around them is skipped)."""
    decoder = json.JSONDecoder(strict=False)  # a line break inside a string, as a held small model wrote one
    values, position = [], 0
    while True:
        starts = [i for i in (block.find("{", position), block.find("[", position)) if i >= 0]
        if not starts:
            return values
        start = min(starts)
        try:
            value, end = decoder.raw_decode(block, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        values.append(value)
        position = end


def _call_shapes(value: Any) -> list[tuple[str, Any]]:
    """(name, arguments) of each call-shaped object in a decoded JSON value."""
    if isinstance(value, list):
        return [shape for item in value for shape in _call_shapes(item)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("tool_calls"), list):
        return _call_shapes(value["tool_calls"])
    function = value.get("function")
    if isinstance(function, dict):  # {"type": "function", "function": {"name": …, "arguments": …}}
        return _call_shapes(function)
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if name is None:
        return []
    arguments = next((value[k] for k in _ARGUMENT_KEYS if k in value), {})
    return [(name, arguments)]


def parse_arguments(arguments: Any) -> tuple[dict | None, str | None]:
    """A call's arguments as a dict, or None and the raw text when they are not a JSON object (strictly: a streamed
    call cut short is malformed, not completed by guessing)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return None, arguments
    if isinstance(arguments, dict):
        return arguments, None
    return None, json.dumps(arguments)
