"""Provider-neutral conversation objects: messages, tool calls and a provider's decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ToolCall:
    id: str
    name: str
    args: dict[str, Any] | None
    malformed: str | None = None  # the raw text when the model's arguments were not valid JSON


@dataclass
class Message:
    role: str  # system | user | assistant | tool
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    payload: dict[str, Any] | None = None  # the structured tool result behind ``content``
    error: bool = False


@dataclass
class Decision:
    """What a provider answers: tool calls to run, or final text; plus token usage when known."""

    tool_calls: list[ToolCall] = field(default_factory=list)
    text: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    calls_from_text: bool = False  # the calls were read from ``text`` (agent.toolcalls), which is kept as written
    cut: bool = False  # reading stopped early (agent.reading): ``text`` is what was read

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        return cls(tool_calls=[ToolCall(**c) for c in data.get("tool_calls", [])], text=data.get("text"),
                   usage=data.get("usage") or {}, calls_from_text=bool(data.get("calls_from_text")),
                   cut=bool(data.get("cut")))
