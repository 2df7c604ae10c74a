"""What the operator typed, read and checked: argument types, the table configs and command set the options
choose, and the tables an id or a prefix names. A mistake is a ``UsageError`` (exit 2) saying what to type."""

from __future__ import annotations

import argparse
import difflib
import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.pauses import under
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.domain.step_kinds import COMMAND_SETS
from databridge_pipeline.domain.tables import Table

DEFAULT_CONFIGS = "table_configs"
MAX_HOURS = 24 * 366

# What add_subparsers returns; each command group adds its subcommands to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(Exception):
    """A mistake in what the operator typed; printed without a traceback."""


class CommandFailed(Exception):
    """The command could not do its work (e.g. no such stack); printed without a traceback, exit 1."""


def add_command(commands: Subcommands, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand; every one reads the table configs, so every one takes ``--configs``."""
    command = commands.add_parser(name, help=help_text, description=help_text)
    command.add_argument(
        "--configs", metavar="DIR", help=f"table config folder (default: $DATABRIDGE_CONFIGS or {DEFAULT_CONFIGS})"
    )
    return command


def parse_time(text: str) -> datetime:
    """ISO-8601; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{text!r} is not an ISO-8601 time (e.g. 2026-11-24T11:00 or 2026-11-24T06:00-05:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def positive_hours(text: str) -> float:
    """``--hours``: a positive, finite number of hours, at most a year."""
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours (e.g. 24 or 1.5)") from None
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_HOURS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of hours above 0 and at most {MAX_HOURS}")
    return hours


def parse_duration(text: str) -> timedelta:
    """``--since``: ``90m``, ``24h``, ``7d``."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    number, unit = text[:-1], text[-1:]
    try:
        amount = float(number)
    except ValueError:
        amount = math.nan
    if unit not in units or not math.isfinite(amount) or amount <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90m, 24h or 7d)")
    return timedelta(**{units[unit]: amount})


def positive_int(text: str) -> int:
    """``--limit``, ``--port``: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


def writable_file(option: str, text: str) -> Path:
    """A file the command will write at the end: its folder must exist and be writable now, before any
    work, so that a long run does not end in an error."""
    path = Path(text)
    folder = path.parent
    if path.is_dir():
        raise UsageError(f"{option} {text}: is a folder; give a file name")
    if not folder.is_dir():
        raise UsageError(f"{option} {text}: folder {folder} does not exist (create it, or choose another path)")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {text}: not writable (choose another path)")
    return path


def configs_dir(args: argparse.Namespace) -> Path:
    """``--configs``, else ``$DATABRIDGE_CONFIGS``, else the repository's ``table_configs``."""
    return Path(args.configs or os.environ.get("DATABRIDGE_CONFIGS") or DEFAULT_CONFIGS)


def chosen_command_set(args: argparse.Namespace) -> CommandSet:
    """``--command-set``, else the environment's ``COMMAND_SET``, else legacy (as the template's default)."""
    chosen = getattr(args, "command_set", None) or os.environ.get("COMMAND_SET") or "legacy"
    if chosen not in COMMAND_SETS:
        raise UsageError(f"COMMAND_SET {chosen!r} is not one of {', '.join(COMMAND_SETS)}")
    return chosen


def configured_tables(args: argparse.Namespace) -> list[Table]:
    """Every table in the chosen config folder; a ``ConfigError`` lists what is wrong with them."""
    return load_tables(configs_dir(args))


def find_table(tables: Sequence[Table], table_id: str) -> Table:
    """The table with this id, or a UsageError that suggests the nearest ids."""
    by_id = {str(t.id): t for t in tables}
    if table_id in by_id:
        return by_id[table_id]
    guesses = difflib.get_close_matches(table_id, by_id, n=3, cutoff=0.8)
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else " (`databridge-pipeline tables` lists them)"
    raise UsageError(f"unknown table {table_id!r}{hint}")


def tables_under(tables: Sequence[Table], prefix: str) -> list[str]:
    """The ids of the tables ``prefix`` covers, or a UsageError suggesting what was meant."""
    ids = [str(t.id) for t in tables]
    covered = [table_id for table_id in ids if under(prefix, table_id)]
    if covered:
        return covered
    prefixes = sorted({"/".join(i.split("/")[:n]) for i in ids for n in range(1, i.count("/") + 2)})
    guesses = difflib.get_close_matches(prefix.rstrip("/"), prefixes, n=1, cutoff=0.75)
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else " (`databridge-pipeline tables` lists them)"
    raise UsageError(f"no table is {prefix!r} or under it{hint}")
