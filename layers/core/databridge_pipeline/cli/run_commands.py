"""The commands about a deployed stack's runs: rerun a table (or every table whose latest run failed) and
read the tables' state from the run ledger."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from databridge_pipeline.cli.args import (
    MAX_LIMIT,
    CommandFailed,
    Subcommands,
    UsageError,
    add_command,
    chosen_command_set,
    configured_tables,
    find_table,
    http_url,
    parse_duration,
    tables_under,
    whole_number,
)
from databridge_pipeline.cli.aws import add_stack_options, aws_errors, open_stack
from databridge_pipeline.cli.output import cut, iso_utc, print_table, say
from databridge_pipeline.domain.freshness import age
from databridge_pipeline.domain.job_requests import step_names
from databridge_pipeline.domain.pauses import describe, pause_of
from databridge_pipeline.domain.reruns import failed_reruns
from databridge_pipeline.domain.step_kinds import COMMAND_SETS, STEP_NAMES
from databridge_pipeline.domain.table_status import TableStatus, table_statuses
from databridge_pipeline.domain.tables import Table


def add_rerun(commands: Subcommands) -> None:
    help_text = "send a run request for TABLE, or for every table whose latest run failed, to the run queue"
    rerun = add_command(commands, "rerun", help_text)
    rerun.add_argument("table", metavar="TABLE", nargs="?", help="table id, e.g. databridge/lni/inspections")
    rerun.add_argument(
        "--failed", action="store_true", help="every table whose latest run failed, from its failed step"
    )
    rerun.add_argument(
        "--since", type=parse_duration, help="with --failed: failed within this long, e.g. 24h (default)"
    )
    rerun.add_argument("--prefix", metavar="PREFIX", help="with --failed: only the tables under PREFIX")
    rerun.add_argument("--dry-run", action="store_true", help="with --failed: print what would be sent, send nothing")
    rerun.add_argument("--force", action="store_true", help="rerun paused tables too")
    rerun.add_argument("--from-step", choices=STEP_NAMES, help="start at this step (default: the first)")
    rerun.add_argument("--command-set", choices=COMMAND_SETS, help="the stack's CLI generation (default: legacy)")
    rerun.add_argument(
        "--queue-url", type=http_url, metavar="URL", help="the run queue (default: the stack's RunQueueUrl output)"
    )
    add_stack_options(rerun)
    rerun.set_defaults(run=cmd_rerun)


def cmd_rerun(args: argparse.Namespace) -> int:
    """``rerun TABLE``: one manual run request, refused while the table is paused unless ``--force``."""
    if args.failed:
        return _rerun_failed(args)
    if args.table is None:
        raise UsageError("name a TABLE, or give --failed to rerun every table whose latest run failed")
    if args.since or args.prefix or args.dry_run:
        raise UsageError("--since, --prefix and --dry-run go with --failed")
    table = find_table(configured_tables(args), args.table)
    names = step_names(table, chosen_command_set(args))
    if args.from_step and args.from_step not in names:
        steps = ", ".join(names)
        raise UsageError(f"{table.id} has no step {args.from_step!r} (its steps: {steps})")
    from databridge_pipeline.cli.stack import manual_request

    stack = open_stack(args)
    with aws_errors():
        pause = None if args.force else pause_of(str(table.id), stack.pauses())
        if pause is not None:
            raise CommandFailed(
                f"{table.id} is {describe(pause)}; `resume {pause.prefix}` first, or pass --force to run it once"
            )
        request = manual_request(str(table.id), args.from_step, force=args.force)
        [message_id] = stack.send([request])
    say(f"sent rerun of {request.table}{f' from {args.from_step}' if args.from_step else ''}: message {message_id}")
    return 0


def _rerun_failed(args: argparse.Namespace) -> int:
    """``rerun --failed``: every table whose latest run failed since ``--since``, from its failed step."""
    if args.table is not None or args.from_step:
        raise UsageError("--failed reruns each table from its own failed step; leave out TABLE and --from-step")
    tables = _under_prefix(configured_tables(args), args.prefix)
    since = datetime.now(UTC) - (args.since or parse_duration("24h"))
    command_set = chosen_command_set(args)
    from databridge_pipeline.cli.stack import manual_request

    stack = open_stack(args)
    with aws_errors():
        runs, _ = stack.runs_and_freshness([str(t.id) for t in tables])
        pauses = stack.pauses()
        steps = {str(t.id): step_names(t, command_set) for t in tables}
        reruns, skips = failed_reruns(runs, steps, pauses, since, force=args.force)
        for skip in skips:
            say(f"skip   {skip.table}: {skip.why}")
        for rerun in reruns:
            what = (
                f"{rerun.table} from {rerun.from_step} (run {rerun.failed_run} failed "
                f"{iso_utc(rerun.failed_at)}: {cut(rerun.reason or 'no reason given', 60)})"
            )
            if args.dry_run:
                say(f"would  rerun {what}")
                continue
            [message_id] = stack.send([manual_request(rerun.table, rerun.from_step, force=args.force)])
            say(f"sent   rerun {what}: message {message_id}")
    verb = "would be sent (--dry-run: nothing sent)" if args.dry_run else "sent"
    say(f"{len(reruns)} rerun(s) {verb}, {len(skips)} skipped, since {iso_utc(since)}", file=sys.stderr)
    return 0


def _under_prefix(tables: list[Table], prefix: str | None) -> list[Table]:
    """``--prefix``: the tables under it, in config order; every table without one (an empty one is refused,
    not read as none)."""
    if prefix is None:
        return tables
    covered = set(tables_under(tables, prefix))
    return [t for t in tables if str(t.id) in covered]


def add_status(commands: Subcommands) -> None:
    help_text = "every table: latest run, state, step, reason, next fire, paused, last success; or TABLE's latest runs"
    status = add_command(commands, "status", help_text)
    status.add_argument("table", metavar="TABLE", nargs="?", help="one table's recent runs")
    status.add_argument(
        "--limit",
        type=whole_number(1, MAX_LIMIT),
        default=10,
        help=f"runs to show for one table (default: 10, at most {MAX_LIMIT})",
    )
    status.add_argument("--prefix", metavar="PREFIX", help="only the tables under PREFIX, e.g. databridge/lni")
    status.add_argument("--failed", action="store_true", help="only tables whose latest run failed")
    status.add_argument("--stale", action="store_true", help="only tables not refreshed when their schedule says")
    status.add_argument("--json", action="store_true", help="print JSON")
    add_stack_options(status)
    status.set_defaults(run=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """``status``: one row per table (``--prefix``, ``--failed``, ``--stale`` narrow them); ``status TABLE``:
    that table's latest runs."""
    tables = configured_tables(args)
    if args.table:
        if args.prefix or args.failed or args.stale:
            raise UsageError("--prefix, --failed and --stale choose among every table; leave out TABLE")
        return _table_runs(args, find_table(tables, args.table))
    tables = _under_prefix(tables, args.prefix)
    stack = open_stack(args)
    with aws_errors():
        runs, freshness = stack.runs_and_freshness([str(t.id) for t in tables])
        pauses = stack.pauses()
    now = datetime.now(UTC)
    rows = table_statuses(tables, runs, pauses, freshness, now)
    if args.failed:
        rows = [r for r in rows if r.state == "failed"]
    if args.stale:
        rows = [r for r in rows if r.stale]
    if args.json:
        say(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return 0
    _print_statuses(rows, now)
    shown = ", ".join(f for f, on in (("failed", args.failed), ("stale", args.stale)) if on)
    say(f"{len(rows)} table(s){f' ({shown})' if shown else ''}", file=sys.stderr)
    return 0


def _print_statuses(rows: Sequence[TableStatus], now: datetime) -> None:
    print_table(
        ["TABLE", "STATE", "STEP", "UPDATED (UTC)", "NEXT (UTC)", "LAST SUCCESS", "PAUSED", "REASON"],
        [
            [
                r.table,
                r.state + (" STALE" if r.stale else ""),
                r.step or "-",
                iso_utc(r.updated_at) if r.updated_at else "-",
                iso_utc(r.next_fire) if r.next_fire else "manual",
                f"{age(r.last_success, now)} ago" if r.last_success else "never",
                f"by {r.paused.prefix}: {cut(r.paused.reason, 30)}" if r.paused else "-",
                cut(r.reason or "-", 60),
            ]
            for r in rows
        ],
    )


def _table_runs(args: argparse.Namespace, table: Table) -> int:
    """``status TABLE``: its latest runs, newest first."""
    with aws_errors():
        runs = open_stack(args).latest_runs([str(table.id)], args.limit)
    if args.json:
        say(json.dumps([run.model_dump(mode="json") for run in runs], indent=2))
        return 0
    print_table(
        ["TABLE", "RUN", "STATUS", "STEP", "STEP STATUS", "ATTEMPTS", "UPDATED (UTC)"],
        [
            [r.table, r.run_id, r.status, r.step.name, r.step.status, str(r.step.attempts), iso_utc(r.updated_at)]
            for r in runs
        ],
    )
    if not runs:
        say(f"no runs of {table.id} in the ledger yet", file=sys.stderr)
    return 0
