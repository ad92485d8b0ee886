"""Sessions on disk: ``runs/<UTC time>-<slug>/session.jsonl``, one JSON event per line, hash-chained.

Each event is appended and flushed as it happens, so a crash loses at most the step in flight. Every
line carries the SHA-256 of the line before it: a truncated or edited file fails to load with a clear
error. Secrets never reach disk: keys and headers that look like credentials are redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

EVENT_TYPES = ("session_start", "goal", "llm_request", "llm_response", "tool_call", "tool_result",
               "error", "assist", "report")
_SECRET_KEYS = re.compile(
    r"(api[_-]?key|authorization|secret|password|bearer|^token$|(access|auth|refresh|session)[_-]?token$)", re.I)
_SECRET_VALUES = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9._\-]{8,})")
_LIBRARIES = ("twinsight", "torch", "pykan", "sympy", "numpy", "scipy", "pyoperon", "langchain",
              "langchain-openai", "openai", "torchdiffeq")


class SessionError(ValueError):
    """A session file that cannot be trusted (missing, truncated, tampered, or not a session)."""


def redact(value: Any) -> Any:
    """A copy of ``value`` with credential-like keys and values replaced by ``"[redacted]"``."""
    if isinstance(value, dict):
        return {k: "[redacted]" if _SECRET_KEYS.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUES.sub("[redacted]", value)
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "session"


def library_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class SessionWriter:
    """Appends events to a new run directory."""

    directory: Path
    _previous: str = "0" * 64

    @classmethod
    def create(cls, runs_dir: str | Path, goal: str, seed: int, llm: str, model: dict[str, str] | None = None
               ) -> SessionWriter:
        """A new session folder under ``runs_dir``; ``model``: the model name and base URL that answer (never a
        key), recorded in ``session_start``."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        directory = Path(runs_dir) / f"{stamp}-{_slug(goal)}"
        directory.mkdir(parents=True, exist_ok=False)
        writer = cls(directory)
        writer.write("session_start", {"llm": llm, "seed": seed, "versions": library_versions(),
                                       "pid": os.getpid(), **({"model": model} if model else {})})
        return writer

    @property
    def path(self) -> Path:
        return self.directory / "session.jsonl"

    def write(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        event = {"type": event_type, "time": datetime.now(timezone.utc).isoformat(), "prev": self._previous,
                 **redact(payload)}
        line = json.dumps(event, sort_keys=True, default=_json_default)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._previous = hashlib.sha256(line.encode()).hexdigest()
        return event


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def load_events(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a session: every line parses, the hash chain holds, it starts properly."""
    path = Path(path)
    if path.is_dir():
        path = path / "session.jsonl"
    if not path.is_file():
        raise SessionError(f"no session file at {path}")
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        raise SessionError(f"{path} is truncated: its last line is incomplete")
    events, previous = [], "0" * 64
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            raise SessionError(f"{path} line {number} is not valid JSON: the file is corrupt") from None
        if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES:
            raise SessionError(f"{path} line {number} is not a session event")
        if event.get("prev") != previous:
            raise SessionError(f"{path} line {number} does not follow line {number - 1}: the file was edited")
        previous = hashlib.sha256(line.encode()).hexdigest()
        events.append(event)
    if not events or events[0]["type"] != "session_start":
        raise SessionError(f"{path} does not start with a session_start event")
    return events
