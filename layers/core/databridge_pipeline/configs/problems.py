"""What is wrong with a config, in the words of its file: ``path:line: message``, and where a person reads it."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from databridge_pipeline.configs.yaml_lines import Parsed
from databridge_pipeline.domain.names import echo
from databridge_pipeline.domain.tables import TableConfig

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with one config file, as ``path:line: message``. An error stops the table; a warning
    (``path:line: warning: message``) says what would fail unless the stack is deployed as it needs."""

    path: str
    line: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        """``path:line: message``; a problem with the file as a whole (line 0) is ``path: message``. A path
        with a control character (a file named ``insp\\n.yml``) is shown escaped, so a problem stays one line."""
        path = self.path if self.path.isprintable() else repr(self.path)[1:-1]
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{path}:{self.line}: {message}" if self.line else f"{path}: {message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class ConfigError(Exception):
    """Raised when configs do not validate; carries every problem, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


KNOWN_KEYS = tuple(TableConfig.model_fields)


def first_message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return str(error.errors()[0]["msg"]).removeprefix("Value error, ")
    return str(error)


def locate(error: Any, parsed: Parsed) -> tuple[int, str]:
    """Turn one pydantic error into ``(line, message)`` in the words of the YAML file."""
    loc = error["loc"]
    key = loc[0] if loc else ""
    line = parsed.line(tuple(loc))
    if key == "steps" and len(loc) > 2:
        option = loc[2] if isinstance(loc[2], str) and loc[2].isidentifier() and len(loc[2]) <= 80 else echo(loc[2])
        if len(loc) > 3 and loc[3] in ("str", "list[str]"):  # an option is one name or a list of names
            return line, f"steps: item {loc[1] + 1}: {option}: a name or a list of names, got {echo(error['input'])}"
        return line, f"steps: item {loc[1] + 1}: {option}: {_message(error)}"
    if error["type"] == "invalid_key":
        return line, f"key {echo(key)} is not a name (config keys are names, e.g. schedule_interval)"
    if error["type"] == "extra_forbidden":
        guess = difflib.get_close_matches(str(key)[:100], KNOWN_KEYS, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else f" (known keys: {', '.join(KNOWN_KEYS)})"
        return line, f"unknown key {echo(key)}{hint}"
    return line, f"{key}: {_message(error)}"


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"].endswith("_type") or error["type"] in ("greater_than_equal", "less_than_equal"):
        message = f"{message}, got {echo(error['input'])}"
    return message


def display_path(path: Path) -> str:
    """A path as a person would type it: relative to the working directory when it is under it. A link is
    shown as itself, never as its target."""
    cwd = Path.cwd()
    candidates = [Path(os.path.abspath(path))] + ([] if path.is_symlink() else [path.resolve()])
    for candidate in candidates:
        try:
            return str(candidate.relative_to(cwd))
        except ValueError:
            continue
    return str(path)
