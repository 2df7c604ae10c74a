"""Config files parsed once with the line of every key, so each problem can point at its line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from databridge_pipeline.configs.flat_yaml import Where, parse_flat

if TYPE_CHECKING:  # PyYAML is imported only for a config the flat reader does not take
    import yaml


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
    faster), anything else with its C loader."""
    flat = parse_flat(text)
    if flat is not None:
        return Parsed(*flat)
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Parsed(None, {})
        return Parsed(loader.construct_document(node), _lines(node))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(line, f"YAML syntax error: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlProblem(1, f"YAML error: {error}") from None
    finally:
        loader.dispose()


def _lines(node: yaml.Node) -> dict[Where, int]:
    import yaml

    lines: dict[Where, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if (key,) in lines:
            raise YamlProblem(line, f"duplicate key {key!r} (first at line {lines[(key,)]})")
        lines[(key,)] = line
        if isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                lines[(key, index)] = item.start_mark.line + 1
                if isinstance(item, yaml.MappingNode):
                    for item_key, _ in item.value:
                        lines[(key, index, str(item_key.value))] = item_key.start_mark.line + 1
    return lines
