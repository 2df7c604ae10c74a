"""Config files parsed once with the line of every key, so each problem can point at its line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from databridge_pipeline.configs.flat_yaml import Where, parse_flat

# Where: a path into a config file, ("retries",), ("steps", 1, "kind"), as flat_yaml defines it.


@dataclass
class Parsed:
    data: Any
    lines: dict[Where, int]  # the line of each key, list item, and key of a list item's mapping

    def line(self, where: Where) -> int:
        """The line of the deepest part of ``where`` the file has (1 when it has none of it)."""
        for depth in range(len(where), 0, -1):
            if where[:depth] in self.lines:
                return self.lines[where[:depth]]
        return 1


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message


def parse_yaml(text: str) -> Parsed:
    """Parse once, keeping each key's line for error messages: flat configs without PyYAML (several times
    faster), anything else with libyaml under the strict composer (``strict_yaml``)."""
    flat = parse_flat(text)
    if flat is not None:
        return Parsed(*flat)
    from databridge_pipeline.configs.strict_yaml import parse_strict  # imports PyYAML

    return Parsed(*parse_strict(text))
