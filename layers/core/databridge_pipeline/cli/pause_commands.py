"""``pause`` and ``resume``: stop and restart the scheduled runs of a table, or of every table under a prefix,
by a pause record in the deployed stack's run ledger (the dispatcher skips what a pause covers)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from databridge_pipeline.cli.args import (
    CommandFailed,
    Subcommands,
    UsageError,
    add_command,
    configured_tables,
    tables_under,
)
from databridge_pipeline.cli.aws import add_stack_options, aws_errors, open_stack
from databridge_pipeline.cli.output import say
from databridge_pipeline.domain.pauses import Pause, describe, pause_of

MAX_REASON = 200  # status shows 30 of them; the ledger keeps them all


def add_pause(commands: Subcommands) -> None:
    help_text = "skip the scheduled runs of a table, or of every table under a prefix, until resume"
    pause = add_command(commands, "pause", help_text)
    pause.add_argument("prefix", metavar="PREFIX", help="a table id or a prefix of ids, e.g. databridge/lni")
    pause.add_argument("--reason", required=True, help="why (shown by status), e.g. 'Oracle maintenance'")
    add_stack_options(pause)
    pause.set_defaults(run=cmd_pause)


def cmd_pause(args: argparse.Namespace) -> int:
    """A prefix must cover at least one configured table, and the reason must say something, on one line of
    plain text: status shows it, and so does the Slack channel."""
    prefix = args.prefix.rstrip("/")
    covered = tables_under(configured_tables(args), prefix)
    if not args.reason.strip():
        raise UsageError("--reason must say why (it is shown by status)")
    if len(args.reason.strip()) > MAX_REASON or not args.reason.strip().isprintable():
        raise UsageError(f"--reason: give one line of plain text, at most {MAX_REASON} characters (status shows it)")
    stack = open_stack(args)
    with aws_errors():
        pause = Pause(prefix=prefix, reason=args.reason.strip(), paused_at=datetime.now(UTC), paused_by=stack.caller())
        replaced = stack.pause(pause)
    verb = "pause updated" if replaced else "paused"
    say(f"{verb}: {prefix} ({len(covered)} table(s): {', '.join(covered)}): {pause.reason}")
    say("their scheduled runs are skipped until `resume`; runs already going finish as usual")
    return 0


def add_resume(commands: Subcommands) -> None:
    resume = add_command(commands, "resume", "run the scheduled runs of a paused table or prefix again")
    resume.add_argument("prefix", metavar="PREFIX", help="exactly as it was paused, e.g. databridge/lni")
    add_stack_options(resume)
    resume.set_defaults(run=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    """Removes exactly the pause named; says which of its tables another pause still holds."""
    prefix = args.prefix.rstrip("/")
    covered = tables_under(configured_tables(args), prefix)
    stack = open_stack(args)
    with aws_errors():
        resumed = stack.resume(prefix)
        still = {table: pause_of(table, stack.pauses()) for table in covered}
    still_paused = {table: pause for table, pause in still.items() if pause is not None}
    if resumed is None:
        others = "; ".join(f"{table} is {describe(pause)}" for table, pause in still_paused.items())
        raise CommandFailed(f"{prefix} is not paused" + (f" ({others})" if others else ""))
    say(f"resumed: {prefix} ({len(covered)} table(s)); their next scheduled fires run")
    for table, pause in still_paused.items():
        say(f"still paused: {table}, {describe(pause)}")
    return 0
