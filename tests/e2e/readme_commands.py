"""The documented commands, as their reader would type them: each line of the bash blocks and each ``$ `` line
of README.md and of every page under docs/."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# The documented bad day: run by tests/e2e/test_bad_day.py, in-process as make expands it, so that each
# handler's AWS calls can be recorded; the documented-commands test leaves it to that module.
BAD_DAY = "make local ARGS=--start 2026-11-24T05:00 --scenario tests/e2e/bad_day.yml"
# The same program whichever way a page spells it: the tests put .venv/bin first on PATH.
CLI = {"databridge-pipeline", ".venv/bin/databridge-pipeline"}
# A fenced block, at any indentation (a list item's), with its language and any attributes after it.
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>\w*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)


@dataclass(frozen=True)
class Command:
    words: list[str]
    comment: str  # what follows `` #`` on the line, e.g. "refused: paused (exit 1)"
    where: str  # page:line of its first appearance

    @property
    def key(self) -> tuple[str, ...]:
        """Lines that run the same program with the same arguments are one command."""
        first = "databridge-pipeline" if self.words[0] in CLI else self.words[0]
        return (first, *self.words[1:])


def pages() -> list[Path]:
    """The README, then every docs page in path order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def commands_of(page: Path) -> list[Command]:
    """Each command line of one page's bash blocks and ``$ `` lines, split, with its comment, in page order."""
    text = page.read_text()
    commands = []
    for block in FENCE.finditer(text):
        first_line = text.count("\n", 0, block.start("body")) + 1
        for offset, raw in enumerate(block["body"].splitlines()):
            line = raw.removeprefix(block["indent"])
            if block["language"] != "bash" and not line.startswith("$ "):
                continue
            words = shlex.split(line.removeprefix("$ "), comments=True)
            if words:
                where = f"{page.relative_to(ROOT)}:{first_line + offset}"
                commands.append(Command(words, line.partition(" #")[2].strip(), where))
    return commands


def documented_commands() -> list[Command]:
    """Every documented command once, where it first appears: README first, then docs/ in path order. A line
    repeated on another page (or spelled with .venv/bin/) is the same command and runs once."""
    seen: dict[tuple[str, ...], Command] = {}
    for page in pages():
        for command in commands_of(page):
            seen.setdefault(command.key, command)
    return list(seen.values())
