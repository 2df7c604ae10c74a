"""How the commands print: one time format, aligned columns, long text cut to fit a column."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``: the one time format the CLI prints."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Columns as wide as their widest cell, two spaces apart, no trailing blanks."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis showing where it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"
