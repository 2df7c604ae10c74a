"""What the operator typed, read and checked: argument types, the table configs and command set the options
choose, and the tables an id or a prefix names. A mistake is a ``UsageError`` (exit 2) saying what to type."""

from __future__ import annotations

import argparse
import difflib
import errno
import math
import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

from databridge_pipeline.cli.output import quoted, shown_path
from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.pauses import under
from databridge_pipeline.domain.run_request import FIRST_YEAR, LAST_YEAR, RUN_ID_PATTERN, in_range
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.domain.step_kinds import COMMAND_SETS
from databridge_pipeline.domain.tables import Table

DEFAULT_CONFIGS = "table_configs"
# Times the commands take: the years 2000-2199 (UTC), as in a run request; far enough either way for any real
# fire, near enough that no conversion (a -14:00 offset on 9999-12-31, a year of fires after it) overflows.
# Durations (`--since`, `local --hours`) and `due`'s window: from a minute to 366 days.
MAX_DAYS = 366
MAX_HOURS = 24 * MAX_DAYS
_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
LONGEST = timedelta(days=MAX_DAYS)
# What the ledger's Query for one table's runs is asked for at most (`status TABLE --limit`).
MAX_LIMIT = 1000
# A reason an operator gives (`cancel --reason`), as `pause --reason` takes it.
MAX_REASON = 200

# What add_subparsers returns; each command group adds its subcommands to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(argparse.ArgumentTypeError):
    """A mistake in what the operator typed; printed without a traceback, exit 2. An ``ArgumentTypeError``,
    so that an argument type raising it reads as argparse's own usage error, before any work."""


class CommandFailed(Exception):
    """The command could not do its work (e.g. no such stack); printed without a traceback, exit 1."""


def add_command(commands: Subcommands, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand; every one reads the table configs, so every one takes ``--configs``."""
    command = commands.add_parser(name, help=help_text, description=help_text)
    command.add_argument(
        "--configs",
        type=folder_text,
        metavar="DIR",
        help=f"table config folder (default: $DATABRIDGE_CONFIGS or {DEFAULT_CONFIGS})",
    )
    return command


def parse_time(text: str) -> datetime:
    """ISO-8601 in the years 2000-2199; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{quoted(text)} is not an ISO-8601 time (e.g. 2026-11-24T11:00 or 2026-11-24T06:00-05:00)"
        ) from None
    try:
        return in_range(moment)  # the run queue's range: what a rerun sends must be a valid message
    except ValueError:
        raise UsageError(f"{quoted(text)}: give a time in the years {FIRST_YEAR}-{LAST_YEAR} (UTC)") from None


def positive_hours(text: str) -> float:
    """``--hours``: a number of hours from a minute to 366 days."""
    try:
        hours = float(text)
    except ValueError:
        raise UsageError(f"{quoted(text)} is not a number of hours (e.g. 24 or 1.5)") from None
    if not math.isfinite(hours) or not 1 / 60 <= hours <= MAX_HOURS:
        raise UsageError(
            f"{quoted(text)}: give a number of hours from a minute (1/60) to {MAX_HOURS} ({MAX_DAYS} days)"
        )
    return hours


def parse_duration(text: str) -> timedelta:
    """``--since``: ``90m``, ``24h``, ``7d``; from a minute to 366 days."""
    number, unit = text[:-1], text[-1:]
    try:
        minutes = float(number) * _MINUTES[unit]
    except (ValueError, KeyError):
        raise UsageError(f"{quoted(text)} is not a duration (e.g. 90m, 24h or 7d)") from None
    if not math.isfinite(minutes) or not 1 <= minutes <= MAX_DAYS * _MINUTES["d"]:  # before timedelta overflows
        raise UsageError(f"{quoted(text)}: give a duration from 1m to {MAX_DAYS}d (e.g. 90m, 24h or 7d)")
    return timedelta(minutes=minutes)


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argument type: a whole number from ``low`` to ``high`` (``--limit``, ``--port``)."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also a number of more than 4300 digits
            raise UsageError(f"{quoted(text)} is not a whole number") from None
        if not low <= value <= high:
            raise UsageError(f"{quoted(text)}: give {low} or more, at most {high}")
        return value

    return check


def matching(pattern: str, what: str, example: str) -> Callable[[str], str]:
    """An argument type: text all of which matches ``pattern``. A name AWS would refuse is refused here,
    before any call, and an empty one never silently means the default."""
    whole = re.compile(pattern)

    def check(text: str) -> str:
        if not whole.fullmatch(text):
            raise UsageError(f"{quoted(text)} is not {what} (e.g. {example})")
        return text

    return check


def http_url(text: str) -> str:
    """``--endpoint-url``, ``--queue-url``: an http(s) URL with a host, which boto3 would take."""
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0  # reading .port checks it is 0-65535
    except ValueError:
        port_ok = False
    plain = text.isprintable() and " " not in text and len(text) <= 2048
    if not (port_ok and plain and parts.scheme in ("http", "https") and parts.hostname):
        raise UsageError(f"{quoted(text)} is not an http(s) URL (e.g. http://127.0.0.1:5000)")
    return text


# The names an operator may type, as AWS (or the run queue's messages) would accept them.
RUN_ID = matching(RUN_ID_PATTERN.removeprefix("^").removesuffix("$"), "a run id", "preview or rerun-2026-11-24")
STACK_NAME = matching(r"[A-Za-z][A-Za-z0-9-]{0,127}", "a CloudFormation stack name", "databridge-pipeline-dev")
REGION = matching(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", "an AWS region", "us-east-1")
LEDGER_TABLE = matching(r"[A-Za-z0-9_.-]{3,255}", "a DynamoDB table name", "databridge-pipeline-dev-ledger")


def folder_text(text: str) -> str:
    """``--configs``: not empty (which would silently mean the default), no NUL."""
    if not text.strip() or "\0" in text:
        raise UsageError(f"{quoted(text)}: give the table config folder")
    return text


def reason_text(text: str) -> str:
    """``cancel --reason``: one line of plain text saying something, at most ``MAX_REASON`` characters (the
    ledger, status and the Slack channel show it); surrounding blanks dropped."""
    reason = text.strip()
    if not reason:
        raise UsageError("give a reason: it is shown by status and in the Slack channel")
    if len(reason) > MAX_REASON or not reason.isprintable():
        raise UsageError(f"give one line of plain text, at most {MAX_REASON} characters (the Slack channel shows it)")
    return reason


def writable_file(option: str, text: str) -> Path:
    """A file the command will write at the end: its folder must exist and the file be writable now, before
    any work, so that a long run does not end in an error. Tried by creating it (and removing it again)."""
    path, where = _file_argument(option, text)
    if not path.parent.is_dir():
        folder = shown_path(str(path.parent))
        raise UsageError(f"{where}: folder {folder} does not exist (create it, or choose another path)")
    try:
        _try_writing(path)
    except OSError as error:
        raise UsageError(f"{where}: cannot write it ({_why(error)}; choose another path)") from None
    return path


def _file_argument(option: str, text: str) -> tuple[Path, str]:
    """A file name given to ``option``, not empty and not a folder; with how errors name it."""
    path = Path(text)
    where = f"{option} {shown_path(text)}"
    if not text.strip() or "\0" in text:
        raise UsageError(f"{option} {quoted(text)}: give a file name")
    if path.is_dir():
        raise UsageError(f"{where}: is a folder; give a file name")
    return path, where


def _try_writing(path: Path) -> None:
    """Open ``path`` for writing without changing it: an existing file to append (a FIFO or a device only
    asked), a new one created and removed."""
    if path.is_file():
        path.open("a").close()
    elif path.exists():
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied")
    else:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        path.unlink()


def readable_file(option: str, text: str) -> Path:
    """A file the command reads (``--template``): there, a file, and readable now."""
    path, where = _file_argument(option, text)
    try:
        path.open("rb").close()
    except OSError as error:
        raise UsageError(f"{where}: cannot read it ({_why(error)})") from None
    return path


def _why(error: OSError) -> str:
    """An OS error as a few words: ``no such file or directory``, ``permission denied``."""
    return (error.strerror or type(error).__name__).lower()


def configs_dir(args: argparse.Namespace) -> Path:
    """``--configs``, else ``$DATABRIDGE_CONFIGS``, else the repository's ``table_configs``; a file there is
    a mistake in what was typed, a missing folder the loader's to report."""
    folder = Path(args.configs or os.environ.get("DATABRIDGE_CONFIGS") or DEFAULT_CONFIGS)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--configs {shown_path(str(folder))}: is a file; give the table config folder")
    return folder


def chosen_command_set(args: argparse.Namespace) -> CommandSet:
    """``--command-set``, else the environment's ``COMMAND_SET``, else legacy (as the template's default)."""
    chosen = getattr(args, "command_set", None) or os.environ.get("COMMAND_SET") or "legacy"
    if chosen not in COMMAND_SETS:
        raise UsageError(f"COMMAND_SET {quoted(chosen)} is not one of {', '.join(COMMAND_SETS)}")
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
    raise UsageError(f"unknown table {quoted(table_id)}{hint}")


def tables_under(tables: Sequence[Table], prefix: str) -> list[str]:
    """The ids of the tables ``prefix`` covers, or a UsageError suggesting what was meant."""
    ids = [str(t.id) for t in tables]
    covered = [table_id for table_id in ids if under(prefix, table_id)]
    if covered:
        return covered
    prefixes = sorted({"/".join(i.split("/")[:n]) for i in ids for n in range(1, i.count("/") + 2)})
    guesses = difflib.get_close_matches(prefix.rstrip("/"), prefixes, n=1, cutoff=0.75)
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else " (`databridge-pipeline tables` lists them)"
    raise UsageError(f"no table is {quoted(prefix)} or under it{hint}")
