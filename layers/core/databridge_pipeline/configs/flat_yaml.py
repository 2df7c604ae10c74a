"""The flat YAML that table configs are written in, read without PyYAML.

Loading 10,000 configs spends most of its time in PyYAML building and then converting node objects. A
config is nearly always ``key: scalar`` lines and ``key:`` followed by ``  - scalar`` items; this reads
exactly that and declines (returns None) on anything else, so PyYAML reads those files. A scalar is
accepted only in forms whose YAML 1.1 meaning is unambiguous (no ``yes``/``on``, octal, floats, escapes,
aliases or tags); a test checks the result against PyYAML's, line numbers included.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Where = tuple[str | int, ...]

# One line: ``key: value`` / ``key:``, an indented ``- item``, or a blank or comment line; trailing spaces and
# the line's end are consumed, so matching line after line from position 0 covers the text or stops at a line
# it cannot read. A value or item starts with a non-space (``key:   `` is ``key:``; ``  - `` is declined).
_LINE = re.compile(r"(?:([a-z_][a-z0-9_]*):(?: +([^ \n][^\n]*?))?|( +)- +([^ \n][^\n]*?)| *(?:#[^\n]*)?) *(?:\n|\Z)")
_INTEGER = re.compile(r"0|[1-9][0-9]{0,17}")  # longer numbers are PyYAML's (and refused there)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_CRON = re.compile(r"[0-9][0-9A-Za-z*/,#?-]*( [0-9A-Za-z*/,#?-]+)+")
# Words YAML 1.1 reads as booleans or null in some spelling: declined unless spelled as below.
_SPECIAL = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "~": None, "": None}
_DECLINE = object()


def parse_flat(text: str) -> tuple[dict[str, Any], dict[Where, int]] | None:
    """``(mapping, line of each key and list item)``, or None when the text is not plain flat YAML."""
    if "\t" in text or "\r" in text or text.startswith("\ufeff"):
        return None
    data: dict[str, Any] = {}
    lines: dict[Where, int] = {}
    key: str | None = None  # the key whose list items may follow
    indent = ""
    position, end, number = 0, len(text), 0
    match_line = _LINE.match
    while position < end:
        line = match_line(text, position)
        if line is None:
            return None
        position, number = line.end(), number + 1
        name, raw, item_indent, item = line.groups()
        if item is not None:
            if key is None or (indent and item_indent != indent):
                return None
            indent = item_indent
            value = _scalar(item)
            if value is _DECLINE:
                return None
            _append_item(data, lines, key, value, number)
        elif name is not None:
            if name in data or name in _SPECIAL:
                return None
            value = _scalar(raw or "")
            if value is _DECLINE:
                return None
            data[name] = value
            lines[(name,)] = number
            key, indent = (name, "") if value is None else (None, "")
    return (data, lines) if data else None


def _append_item(data: dict[str, Any], lines: dict[Where, int], key: str, value: Any, number: int) -> None:
    """A list item under ``key`` (whose value is None until its first item)."""
    items = data[key] if data[key] is not None else []
    data[key] = items
    lines[(key, len(items))] = number
    items.append(value)


@lru_cache(maxsize=4096)  # the same values recur across configs: crons, time zones, users, true
def _scalar(raw: str) -> Any:
    """One scalar (and an optional comment after it), or ``_DECLINE``."""
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        content, rest = raw[1:end], raw[end + 1 :].lstrip(" ")
        if end < 0 or "\\" in content or raw[0] in content or (rest and not rest.startswith("#")):
            return _DECLINE
        return content
    plain = raw.split(" #", 1)[0].rstrip(" ") if not raw.startswith("#") else ""
    if plain in _CONSTANTS:
        return _CONSTANTS[plain]
    if _INTEGER.fullmatch(plain):
        return int(plain)
    if plain.lower() in _SPECIAL or ":" in plain:
        return _DECLINE
    if _WORD.fullmatch(plain) or _CRON.fullmatch(plain):
        return plain
    return _DECLINE
