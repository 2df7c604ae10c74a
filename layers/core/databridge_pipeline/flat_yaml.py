"""The flat YAML that table configs are written in, read without PyYAML.

Loading 10,000 configs spends most of its time in PyYAML building and then converting node objects. A
config is nearly always ``key: scalar`` lines and ``key:`` followed by ``  - scalar`` items; this reads
exactly that and declines (returns None) on anything else, so PyYAML reads those files. A scalar is
accepted only in forms whose YAML 1.1 meaning is unambiguous (no ``yes``/``on``, octal, floats, escapes,
aliases or tags); a test checks the result against PyYAML's, line numbers included.
"""

from __future__ import annotations

import re
from typing import Any

Where = tuple[str | int, ...]

_KEY = re.compile(r"([a-z_][a-z0-9_]*):(?: +(.*))?")
_ITEM = re.compile(r"( +)- +(.*)")
_INTEGER = re.compile(r"0|[1-9][0-9]*")
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
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip(" ")
        if not line or line.lstrip(" ").startswith("#"):
            continue
        item = _ITEM.fullmatch(line)
        if item is not None:
            if key is None or (indent and item.group(1) != indent):
                return None
            indent = item.group(1)
            value = _scalar(item.group(2))
            if value is _DECLINE:
                return None
            if data[key] is None:
                data[key] = []
            lines[(key, len(data[key]))] = number
            data[key].append(value)
            continue
        pair = _KEY.fullmatch(line)
        if pair is None or pair.group(1) in data or pair.group(1) in _SPECIAL:
            return None
        value = _scalar(pair.group(2) or "")
        if value is _DECLINE:
            return None
        data[pair.group(1)] = value
        lines[(pair.group(1),)] = number
        key, indent = (pair.group(1), "") if value is None else (None, "")
    return (data, lines) if data else None


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
