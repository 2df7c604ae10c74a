"""PyYAML for the configs the flat reader declines, refusing what a table config never needs before it builds
anything from it.

- Anchors and aliases: 800 bytes of nested aliases expand to a value whose error message is half a gigabyte.
- Nesting deeper than a config goes: libyaml's composer recurses in C, and 100,000 brackets crash the process.
- A key given twice (PyYAML keeps the last without a word), at any level; merge keys (``<<``), which hide
  one; keys that are lists or mappings.
- A scalar PyYAML cannot build (``2026-13-45``, a 5,000-digit number) raises a bare ValueError: here it is a
  problem at its line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from databridge_pipeline.configs.flat_yaml import Where
from databridge_pipeline.configs.yaml_lines import YamlProblem
from databridge_pipeline.domain.names import clip, echo

MAX_DEPTH = 8  # a config goes 4 deep: its mapping, the steps list, a step's mapping, an option's list
MERGE = "tag:yaml.org,2002:merge"
ANCHORS = "YAML anchors (&name) and aliases (*name) are not accepted in table configs: write each value out"


class _StrictComposer(Composer):
    """PyYAML's composer, refusing anchors, aliases and deep nesting as it meets them."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]  # the parser's, mixed in below
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlProblem(event.start_mark.line + 1, ANCHORS)
        if self.depth >= MAX_DEPTH:
            raise YamlProblem(
                event.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep; a table config goes 4 deep"
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


if hasattr(yaml, "CSafeLoader"):
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _Loader(_StrictComposer, CParser, SafeConstructor, Resolver):
        """libyaml's parser (C) under the strict composer (Python): the parse stays fast, the checks run first."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

else:  # PyYAML built without libyaml: its own parser, slower

    class _Loader(Reader, Scanner, Parser, _StrictComposer, SafeConstructor, Resolver):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


def parse_strict(text: str) -> tuple[Any, dict[Where, int]]:
    """``(data, line of each key and list item at every depth)``; raises ``YamlProblem``."""
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Where, int] = {}
        _walk(loader, node, (), lines)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = min(mark.line + 1, text.count("\n") + 1) if mark else 1  # libyaml may point past the end
        raise YamlProblem(line, f"YAML syntax error: {_syntax(error)}") from None
    except yaml.reader.ReaderError as error:
        character = f"U+{error.character:04X}" if isinstance(error.character, int) else repr(error.character)
        raise YamlProblem(_reader_line(text, error), f"YAML error: {clip(error.reason)} ({character})") from None
    except yaml.YAMLError as error:
        raise YamlProblem(1, f"YAML error: {clip(str(error))}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _syntax(error: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem, after its context when that says what was expected (not "while parsing ...")."""
    problem = str(error.problem or error.context or "unreadable")
    if error.context and error.problem and not str(error.context).startswith("while "):
        problem = f"{error.context}, {problem}"
    return clip(problem, 100)


def _reader_line(text: str, error: yaml.reader.ReaderError) -> int:
    """libyaml counts a reader error's position in UTF-8 bytes, PyYAML's own reader in characters."""
    if not hasattr(yaml, "CSafeLoader"):
        return text.count("\n", 0, error.position) + 1
    return text.encode("utf-8")[: error.position].count(b"\n") + 1


def _walk(loader: _Loader, node: Node, where: Where, lines: dict[Where, int]) -> None:
    """Record each key's and item's line; refuse repeated, merge and non-scalar keys and unbuildable scalars.
    Recursion is bounded: the composer refused anything deeper than ``MAX_DEPTH``."""
    if isinstance(node, ScalarNode):
        _build(loader, node, where)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*where, index)] = item.start_mark.line + 1
            _walk(loader, item, (*where, index), lines)
    elif isinstance(node, MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE:
                raise YamlProblem(line, f"{context(where)}YAML merge keys (<<) are not accepted in table configs")
            if not isinstance(key_node, ScalarNode):
                raise YamlProblem(line, f"{context(where)}a key is a name, not a list or a mapping")
            key = _build(loader, key_node, where)
            if key in first:
                raise YamlProblem(line, f"{context(where)}duplicate key {echo(key)} (first at line {first[key]})")
            first[key] = line
            at = (*where, key if isinstance(key, str | int) else str(key))
            lines[at] = line
            _walk(loader, value_node, at, lines)


def _build(loader: _Loader, node: ScalarNode, where: Where) -> Any:
    """The scalar's value (kept by the constructor for the document it builds next)."""
    try:
        return loader.construct_object(node)
    except (ValueError, OverflowError) as error:
        raise YamlProblem(
            node.start_mark.line + 1, f"{context(where)}{echo(node.value)} cannot be read ({clip(str(error), 60)})"
        ) from None


def context(where: Where) -> str:
    """``steps: item 2: `` for ``("steps", 1)``: where in the file a problem is, in its words."""
    words = [f"item {part + 1}" if isinstance(part, int) else echo(part).strip("'\"") for part in where]
    return "".join(f"{word}: " for word in words)
