"""How the commands print: one time format, aligned columns, long text cut to fit a column, and every line
through ``say``, which strips control characters: a status reason from Batch or a pause reason in the ledger
is free text, and an escape sequence in it could rewrite the operator's screen."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TextIO

from databridge_pipeline.domain.text import cut as cut_text
from databridge_pipeline.domain.text import for_terminal

SHOWN = 80  # at most this many characters of what the operator typed, echoed in an error


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``: the one time format the CLI prints."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def say(text: str, file: TextIO | None = None) -> None:
    """Print ``text`` (to stdout unless ``file``) without its control characters; the one way the commands
    print. JSON passes unchanged: ``json.dumps`` already writes control characters as ``\\u`` escapes."""
    print(for_terminal(text), file=file or sys.stdout)


def one_line(text: str) -> str:
    """``text`` on one line: control characters gone, every run of whitespace (newlines too) one space."""
    return " ".join(for_terminal(text).split())


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Columns as wide as their widest cell, two spaces apart, no trailing blanks; each cell on one line."""
    cells = [[one_line(str(cell)) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def cut(text: str, width: int) -> str:
    """``text`` on one line in at most ``width`` characters, an ellipsis showing where it was cut."""
    return cut_text(one_line(text), width)


def quoted(text: str) -> str:
    """What the operator typed, quoted with its odd characters escaped, cut to ``SHOWN`` characters."""
    return cut_text(repr(text), SHOWN)


def shown_path(text: str) -> str:
    """A path the operator typed, its end kept when it is longer than ``SHOWN`` (the end says the most)."""
    return text if len(text) <= SHOWN else "…" + text[-(SHOWN - 1) :]
