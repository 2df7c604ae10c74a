"""The README's commands, as its reader would type them: each line of its bash blocks and ``$ `` lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# The README's bad day: run by tests/e2e/test_bad_day.py, in-process as make expands it, so that each
# handler's AWS calls can be recorded; the README-commands test leaves it to that module.
BAD_DAY = "make local ARGS=--start 2026-11-24T05:00 --scenario tests/e2e/bad_day.yml"


def readme_commands() -> list[tuple[list[str], str]]:
    """Each command line of the README's bash blocks and ``$ `` lines, split, with its comment."""
    commands = []
    for match in re.finditer(r"```(\w*)\n(.*?)```", README.read_text(), re.S):
        language, body = match.groups()
        for line in body.splitlines():
            if language != "bash" and not line.startswith("$ "):
                continue
            words = shlex.split(line.removeprefix("$ "), comments=True)
            if words:
                commands.append((words, line.partition(" #")[2]))
    return commands
