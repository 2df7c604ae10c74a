"""Names that go into commands, S3 keys and Carto SQL, checked as whole strings; and input an error echoes,
bounded.

A pattern ending in ``$`` also matches before a trailing newline (``re.match(r"^[a-z]+$", "lni\\n")``), which
would carry the newline into a command or a key: every check here is a full match. An error shows at most
``ECHO_LIMIT`` characters of what it refuses, so a huge value (or a secret pasted in) never comes back whole.
"""

from __future__ import annotations

import re
import reprlib

NAME = re.compile(r"[a-z0-9_]+")  # schema, table and folder names
COLUMN = re.compile(r"[A-Za-z0-9_]+")  # index columns and step option values
CARTO_USER = re.compile(r"[A-Za-z0-9_-]+")
ECHO_LIMIT = 80

_REPR = reprlib.Repr()
_REPR.maxstring = ECHO_LIMIT
_REPR.maxother = ECHO_LIMIT
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 6
_REPR.maxlevel = 3


def is_name(pattern: re.Pattern[str], value: object) -> bool:
    """The whole of ``value`` matches (no trailing newline slips through)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def shape(pattern: re.Pattern[str]) -> str:
    """The pattern as a person reads it in a message: ``^[a-z0-9_]+$``."""
    return f"^{pattern.pattern}$"


def echo(value: object) -> str:
    """``repr(value)`` in at most ``ECHO_LIMIT`` characters, control characters escaped."""
    if isinstance(value, int) and value.bit_length() > 4 * ECHO_LIMIT:  # (repr refuses over 4,300 digits)
        return f"<a number of about {int(value.bit_length() * 0.30103)} digits>"
    text = _REPR.repr(value)
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 3] + "..."


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """Free text from a library's error (which may quote the input): one line, at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
