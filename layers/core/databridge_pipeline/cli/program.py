"""The ``databridge-pipeline`` program: the parser assembled from each command group's subcommands, the
version, and how every error ends the program (one line on stderr and an exit code, never a traceback)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from databridge_pipeline.cli import cancel_command, config_commands, local_command, pause_commands, run_commands
from databridge_pipeline.cli.args import CommandFailed, Subcommands, UsageError
from databridge_pipeline.cli.output import one_line
from databridge_pipeline.configs.problems import ConfigError

# In the order --help lists them: what the configs say, the local run, the deployed stack, the build's manifest.
SUBCOMMANDS: tuple[Callable[[Subcommands], None], ...] = (
    config_commands.add_validate,
    config_commands.add_tables,
    config_commands.add_due,
    config_commands.add_commands,
    local_command.add_local,
    run_commands.add_rerun,
    run_commands.add_status,
    pause_commands.add_pause,
    pause_commands.add_resume,
    cancel_command.add_cancel,
    config_commands.add_manifest,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="databridge-pipeline",
        description="Keep the City's open-data tables flowing from Databridge and Knack into Carto.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(commands)
    return parser


def _version() -> str:
    """The installed distribution's version, for ``--version``."""
    try:
        return version("databridge-pipeline")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Every error an operator can cause or meet is one line on stderr: exit 2 for a usage mistake, 1 when
    the command could not do its work. Never a traceback."""
    _replace_unprintable()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # argparse's usage error (2), --help or --version (0): returned, as every end is
        return done.code if isinstance(done.code, int) else 2
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
    except BrokenPipeError:  # e.g. `tables --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ConfigError as error:
        for problem in error.problems:
            print(one_line(str(problem)), file=sys.stderr)
        return 1
    except UsageError as error:
        print(one_line(f"databridge-pipeline {args.command}: {error}"), file=sys.stderr)
        return 2
    except CommandFailed as error:
        print(one_line(f"databridge-pipeline {args.command}: {error}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"databridge-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


def _replace_unprintable() -> None:
    """A path or id typed in bytes that are not UTF-8 reaches Python as lone surrogates; printed back (``wrote
    ... to PATH``) they would raise UnicodeEncodeError after the work is done: show them as escapes instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
