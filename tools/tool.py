"""Tools the agent calls, each written once: a decorated, type-hinted function.

``@tool`` builds a tool's input schema from the function's parameters (pydantic ``Annotated[..., Field(...)]``
hints, as langchain_core's ``@tool`` builds its ``args_schema``), its description from the docstring's first
paragraph, and knows its result model from the return annotation. A result model is a pydantic ``ToolResult``
that says how it adds itself to a report (``add_to``) and how it reads in one line of the lab's and the CLI's
step log (``describe``); nothing outside the tool branches on tool names.

Written here rather than with langchain_core's ``@tool`` because the session's context (``ToolContext``) is
passed to every call and the results must stay plain JSON for sessions and replays.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, create_model


class ReportLike(Protocol):
    """What a tool result may write to: the agent's ``Report`` (duck-typed, so that tools do not import agent)."""

    twin: str | None
    laws: list[dict[str, Any]]
    alternatives: list[dict[str, Any]]
    metrics: dict[str, Any]


class ToolResult(BaseModel):
    """A tool's result: the fields the report and the step log read, and whatever else the tool returns (kept as
    given, so the JSON a session records is the tool's whole answer)."""

    model_config = ConfigDict(extra="allow")

    def as_dict(self) -> dict[str, Any]:
        """The result as the tool returned it (fields it did not set are left out)."""
        return self.model_dump(exclude_unset=True)

    def add_to(self, report: ReportLike, seen: dict[str, Any]) -> None:
        """Add what this result establishes to ``report``; ``seen`` carries what earlier results left for later
        ones (a discovered law for its verification)."""

    def describe(self) -> str | None:
        """One line for the live step log, or None when the result needs no line."""
        return None


@dataclass(frozen=True)
class Tool:
    """A tool: its name, description, input and result models, and the function that runs it."""

    name: str
    description: str
    input_model: type[BaseModel]
    result_model: type[ToolResult]
    function: Callable[..., ToolResult]

    def schema(self) -> dict:
        """OpenAI function-calling schema."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.input_model.model_json_schema()}}

    def references(self) -> dict[str, str]:
        """The required parameters that name an object of the session, and the kind each names (``refers_to``)."""
        full = self.input_model.model_json_schema()
        return {name: spec["refers_to"] for name, spec in full.get("properties", {}).items()
                if "refers_to" in spec and name in full.get("required", ())}

    def compact_schema(self, names: Mapping[str, Sequence[str]] | None = None) -> dict | None:
        """The schema for a small model's short context: the description's first sentence, and of each parameter
        only its type, choices and whether it is required (bounds and wording are checked when the call is
        validated, and a violation is fed back to the model).

        ``names`` (the names each kind of session object may take now, ``tools.registry.session_names``; given for a
        grammar) makes each parameter that refers to one (``refers_to`` in its schema) a choice among them, and
        keeps the lengths of strings and lists and the type of a mapping's values; the schema is then None when a
        required one has none to choose (the tool cannot be called yet: no dataset for a search)."""
        full = self.input_model.model_json_schema()
        parameters = _compact(full, _COMPACT_KEYS if names is None else _COMPACT_KEYS + _GRAMMAR_KEYS)
        for name, spec in full.get("properties", {}).items():
            kind = spec.get("refers_to")
            if names is None or kind not in names:
                continue
            if not names[kind]:
                if name in full.get("required", ()):
                    return None
                del parameters["properties"][name]
            else:
                parameters["properties"][name] = {"type": "string", "enum": list(names[kind])}
        first = self.description.split(". ")[0].rstrip(".") + "."
        return {"type": "function", "function": {"name": self.name, "description": first, "parameters": parameters}}

    def run(self, context: Any, arguments: BaseModel) -> dict:
        """Run on validated ``arguments``: the result as the JSON-ready dict sessions record."""
        return self.function(context, **dict(arguments)).as_dict()

    def read(self, result: dict) -> ToolResult:
        """A recorded result as this tool's result model."""
        return self.result_model.model_validate(result)


def tool(function: Callable[..., ToolResult]) -> Tool:
    """Make a ``Tool`` of ``function(context, **arguments) -> ResultModel``; every parameter after the first
    becomes an input field (its annotation, ``Annotated`` constraints and default)."""
    hints = typing.get_type_hints(function, include_extras=True)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    fields = {p.name: (hints[p.name], ... if p.default is inspect.Parameter.empty else p.default) for p in parameters}
    name = function.__name__
    model_name = "".join(part.title() for part in name.split("_"))
    input_model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    description = inspect.cleandoc(function.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    return Tool(name, description, input_model, hints["return"], function)


#: JSON-schema keys a compact schema keeps.
_COMPACT_KEYS = ("type", "properties", "required", "enum", "items", "anyOf", "const", "$defs", "$ref")
#: What a grammar also keeps: lengths (a held small model otherwise writes a string until its token limit; measured:
#: a 200-character column name, then an answer cut mid-string) and the type of a mapping's values.
_GRAMMAR_KEYS = ("minLength", "maxLength", "minItems", "maxItems", "additionalProperties")
#: The longest string a grammar holds to its length: a grammar spells a length limit as one nested optional per
#: character, and llama-cpp-python's server (0.3.36) parsed 1,000 but failed on 2,000 and died (session 38); a
#: longer limit is lowered to this one (a formula of 500 characters is a runaway, and is fed back as any other).
GRAMMAR_MAX_LENGTH = 500
#: The length a grammar gives a string that has no limit of its own (a unit, a column among the inputs): a held
#: 135 M model wrote a unit until its token limit, and the call, cut, was read as prose (session 38).
GRAMMAR_STRING_LENGTH = 100


def _compact(schema: Any, keys: tuple[str, ...] = _COMPACT_KEYS) -> Any:
    """A JSON schema with only the ``keys`` (recursively; property names kept)."""
    if isinstance(schema, list):
        return [_compact(item, keys) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept = {}
    for key, value in schema.items():
        if key == "properties":
            kept[key] = {name: _compact(spec, keys) for name, spec in value.items()}
        elif key == "maxLength" and key in keys:
            kept[key] = min(value, GRAMMAR_MAX_LENGTH)
        elif key in keys:
            kept[key] = _compact(value, keys)
    if "maxLength" in keys and kept.get("type") == "string" and not {"enum", "const", "maxLength"} & set(kept):
        kept["maxLength"] = GRAMMAR_STRING_LENGTH
    return kept
