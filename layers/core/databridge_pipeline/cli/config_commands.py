"""The commands that read only the table configs, no AWS: validate, tables, due, commands, manifest.

They answer what the pipeline will do (which tables, when, with which Batch jobs) before it is deployed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from databridge_pipeline.cli.args import (
    LONGEST,
    MAX_DAYS,
    RUN_ID,
    CommandFailed,
    Subcommands,
    UsageError,
    add_command,
    chosen_command_set,
    configs_dir,
    configured_tables,
    find_table,
    parse_time,
    writable_file,
)
from databridge_pipeline.cli.output import iso_utc, print_table, say, shown_path
from databridge_pipeline.configs.loader import check_tables
from databridge_pipeline.configs.manifest import write_manifest
from databridge_pipeline.domain.job_requests import run_job_requests, step_names
from databridge_pipeline.domain.schedule import Window, due_runs, next_fire_time
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.step_kinds import COMMAND_SETS


def add_validate(commands: Subcommands) -> None:
    help_text = "check every table config; one line per problem as path:line: message"
    add_command(commands, "validate", help_text).set_defaults(run=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Every problem of every config, not just the first: exit 1 if there is any."""
    tables, problems = check_tables(configs_dir(args))
    for problem in problems:
        say(str(problem), file=sys.stderr)
    if problems:
        files = len({p.path for p in problems})
        say(f"{len(problems)} problem(s) in {files} file(s); {len(tables)} table(s) valid", file=sys.stderr)
        return 1
    say(f"{len(tables)} table config(s) valid")
    return 0


def add_tables(commands: Subcommands) -> None:
    tables = add_command(commands, "tables", "list every table: source, schedule, timezone, next run, steps")
    tables.add_argument("--json", action="store_true", help="print JSON")
    tables.add_argument(
        "--now", type=parse_time, metavar="TIME", help="compute next runs from this time (default: now)"
    )
    tables.add_argument("--command-set", choices=COMMAND_SETS, help="steps in this CLI generation (default: legacy)")
    tables.set_defaults(run=cmd_tables)


def cmd_tables(args: argparse.Namespace) -> int:
    now = args.now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for table in configured_tables(args):
        cron = table.config.cron
        rows.append(
            {
                "table": str(table.id),
                "source": table.id.source,
                "schedule": cron or "manual",
                "timezone": table.config.timezone,
                "next_run": iso_utc(next_fire_time(cron, table.config.timezone, now)) if cron else None,
                "steps": step_names(table, chosen_command_set(args)),
            }
        )
    if args.json:
        say(json.dumps(rows, indent=2))
    else:
        print_table(
            ["TABLE", "SOURCE", "SCHEDULE", "TIMEZONE", "NEXT RUN (UTC)", "STEPS"],
            [
                [r["table"], r["source"], r["schedule"], r["timezone"], r["next_run"] or "-", ",".join(r["steps"])]
                for r in rows
            ],
        )
    return 0


def add_due(commands: Subcommands) -> None:
    help_text = f"the runs a dispatcher sends for the window FROM < fire time <= TO (at most {MAX_DAYS} days)"
    due = add_command(commands, "due", help_text)
    time_help = "ISO-8601, years 2000-2199; naive means UTC"
    due.add_argument("--from", dest="from_", type=parse_time, required=True, metavar="TIME", help=time_help)
    due.add_argument("--to", type=parse_time, required=True, metavar="TIME", help=time_help)
    due.add_argument("--latest-only", action="store_true", help="one run per table, its latest, as one late tick sends")
    due.add_argument("--json", action="store_true", help='print [{"table", "scheduled_for"}]')
    due.set_defaults(run=cmd_due)


def cmd_due(args: argparse.Namespace) -> int:
    window = Window(after=args.from_, until=args.to)
    if window.until < window.after:
        raise UsageError("--to is before --from")
    if window.until - window.after > LONGEST:
        days = (window.until - window.after) / timedelta(days=1)
        raise UsageError(f"--from to --to is {days:.1f} days; `due` covers at most {MAX_DAYS} days (split the window)")
    runs = due_runs(configured_tables(args), window, latest_only=args.latest_only)
    if args.json:
        say(json.dumps([{"table": str(r.table), "scheduled_for": iso_utc(r.scheduled_for)} for r in runs], indent=2))
    else:
        for run in runs:
            say(f"{iso_utc(run.scheduled_for)}  {run.table}")
        say(f"{len(runs)} run(s) due in ({iso_utc(window.after)}, {iso_utc(window.until)}]", file=sys.stderr)
    return 0


def add_commands(commands: Subcommands) -> None:
    help_text = "the AWS Batch SubmitJob requests of one run of TABLE, step by step"
    command = add_command(commands, "commands", help_text)
    command.add_argument("table", metavar="TABLE", help="table id, e.g. databridge/lni/permits")
    command.add_argument("--env", choices=["dev", "prod"], default="dev")
    command.add_argument("--command-set", choices=COMMAND_SETS, help="CLI generation (default: legacy)")
    command.add_argument("--run-id", type=RUN_ID, default="preview", help="run id to put in tags (default: preview)")
    command.add_argument("--json", action="store_true", help="print the requests as JSON")
    command.set_defaults(run=cmd_commands)


def cmd_commands(args: argparse.Namespace) -> int:
    """What each step's job will run, as the submitter would ask Batch for it."""
    table = find_table(configured_tables(args), args.table)
    settings = settings_for(args.env, {"COMMAND_SET": chosen_command_set(args)})
    requests = run_job_requests(table, settings, args.run_id)
    if args.json:
        say(json.dumps([r.model_dump() for r in requests], indent=2))
        return 0
    for number, request in enumerate(requests, 1):
        say(f"# step {number}: {request.step}  job {request.job_name}")
        say(f"#   queue {request.job_queue}, definition {request.job_definition}")
        say(request.command[2].removeprefix("exec "))
    return 0


def add_manifest(commands: Subcommands) -> None:
    help_text = "validate every config and compile them into one JSON manifest (used by sam build)"
    manifest = add_command(commands, "manifest", help_text)
    manifest.add_argument("--out", required=True, metavar="FILE", help="where to write the manifest")
    manifest.set_defaults(run=cmd_manifest)


def cmd_manifest(args: argparse.Namespace) -> int:
    """What the Lambda layer ships in place of the YAML configs; ``--out`` is checked before the configs are
    read, and a write that fails even so is one line, not a traceback."""
    out = writable_file("--out", args.out)
    try:
        count = write_manifest(configs_dir(args), out)
    except OSError as error:
        raise CommandFailed(f"cannot write {shown_path(args.out)}: {str(error.strerror or error).lower()}") from None
    say(f"wrote {count} table(s) to {args.out}")
    return 0
