"""When to stop reading a model's streamed answer: small local models on a CPU write prose where a tool call was
asked for, and fall into loops when they explain; every token they write costs tens of milliseconds.

Each rule takes the text streamed so far and returns the text to keep when reading should stop, or None to read
on. Hand-written: the OpenAI-compatible servers' own stop conditions (``stop`` strings, repetition penalties) cannot
say "prose with no call begun" or "a sentence written twice".
"""

from __future__ import annotations

import re

from agent.toolcalls import may_hold_call

#: Where a sentence or a line ends.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
#: Sentences shorter than this may repeat honestly ("It holds." twice); longer ones written again are a loop.
REPEAT_CHARS = 16


def prose(text: str, chars: int) -> str | None:
    """``text`` once it has grown to ``chars`` characters with no tool call begun in it
    (``agent.toolcalls.may_hold_call``): a tool turn that became prose."""
    return text if len(text.strip()) >= chars and not may_hold_call(text) else None


def long_enough(text: str, chars: int) -> str | None:
    """``text`` up to the end of the sentence in which it reaches ``chars`` characters (an explanation that has
    said enough; the model's ``max_tokens`` would cut it mid-sentence)."""
    return next((text[:match.start()].rstrip() for match in _SENTENCE_END.finditer(text, chars)), None)


def repeated(text: str) -> str | None:
    """``text`` up to where a finished sentence of at least ``REPEAT_CHARS`` characters is written a second time
    (a model looping on its first sentences)."""
    ends = [match.start() for match in _SENTENCE_END.finditer(text)]
    seen: set[str] = set()
    start = 0
    for end in ends:
        sentence = text[start:end].strip()
        if len(sentence) >= REPEAT_CHARS:
            if sentence in seen:
                return text[:start].rstrip()
            seen.add(sentence)
        start = end
    return None
