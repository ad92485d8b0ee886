"""Grounded explanations: every number a model writes into an explanation must be one the session measured.

A number in the text is grounded when some measured number (anywhere in the facts the model was given: the
report's fields, its formulas, the measured summary) reads as it when rounded or cut to the digits the text
shows, or lies within half a percent of it, or is that number as a percentage; small integers (counts, the 2 of
an inverse square) and numbers the goal itself states are grounded too. Everything else is reported as invented.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: A number as people and models write it: 1,234.5, -3.2e-4, 6.674 × 10^-11, 8.99x10^9.
_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+−]?\d+)?"
                     r"(?:\s*(?:×|x|\*)\s*10\s*(?:\^|\*\*)\s*\(?[-+−]?\d+\)?)?")
#: Integers up to this are counts and small exponents, never a measured claim on their own.
SMALL_INTEGER = 10
RELATIVE = 5e-3


def numbers_in(text: str) -> list[tuple[str, float]]:
    """Every number written in ``text``: (as written, value)."""
    found = []
    for match in _NUMBER.finditer(text):
        written = match.group(0)
        plain = written.replace("−", "-").replace(",", "")
        power = re.split(r"\s*(?:×|x|\*)\s*10\s*(?:\^|\*\*)\s*", plain)
        try:
            value = float(power[0]) * (10.0 ** int(power[1].strip("()")) if len(power) == 2 else 1.0)
        except (ValueError, OverflowError):
            continue
        found.append((written.strip(), value))
    return found


def _measured(facts: Any) -> list[float]:
    """Every number in a JSON-like structure, its strings (formulas, sentences) read too."""
    if isinstance(facts, bool) or facts is None:
        return []
    if isinstance(facts, (int, float)):
        return [float(facts)] if math.isfinite(facts) else []
    if isinstance(facts, str):
        return [value for _, value in numbers_in(facts)]
    if isinstance(facts, dict):
        return [v for item in facts.values() for v in _measured(item)]
    if isinstance(facts, (list, tuple)):
        return [v for item in facts for v in _measured(item)]
    return []


def _shown_digits(written: str) -> tuple[int, bool]:
    """Decimal places the text shows, and whether it is in scientific form (then: significant digits)."""
    mantissa = re.split(r"[eE]|\s*(?:×|x|\*)\s*10", written.replace(",", ""))[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return decimals, mantissa != written.replace(",", "")


def _reads_as(written: str, value: float, measured: float) -> bool:
    if measured == value or abs(value - measured) <= RELATIVE * abs(measured):
        return True
    decimals, scientific = _shown_digits(written)
    if scientific or measured == 0:
        if measured == 0 or value == 0:
            return False
        exponent = math.floor(math.log10(abs(measured)))
        scaled, target = measured / 10 ** exponent, value / 10 ** exponent
    else:
        scaled, target = measured, value
    step = 10.0 ** -decimals
    return any(abs(candidate - target) <= step * 1e-6
               for candidate in (round(scaled, decimals), math.trunc(scaled / step) * step))


def unmeasured_numbers(text: str, facts: Any, goal: str = "") -> list[str]:
    """The numbers in ``text`` that nothing in ``facts`` (or the ``goal``) grounds, as written."""
    measured = _measured(facts)
    stated = {value for _, value in numbers_in(goal)}
    invented = []
    for written, value in numbers_in(text):
        if value in stated or (value.is_integer() and abs(value) <= SMALL_INTEGER):
            continue
        if any(_reads_as(written, value, m) or _reads_as(written, value, 100 * m) for m in measured):
            continue
        invented.append(written)
    return invented
