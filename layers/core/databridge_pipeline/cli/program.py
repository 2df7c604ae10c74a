"""``databridge-pipeline``: the operators' command line (configs, the local run, and the deployed stack)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO

from databridge_pipeline.cli import config_commands
from databridge_pipeline.cli.args import (
    CommandFailed,
    UsageError,
    add_command,
    chosen_command_set,
    configs_dir,
    configured_tables,
    find_table,
    parse_duration,
    parse_time,
    positive_hours,
    positive_int,
    tables_under,
    writable_file,
)
from databridge_pipeline.cli.aws import add_stack_options, aws_errors, open_stack
from databridge_pipeline.cli.output import cut, iso_utc, print_table
from databridge_pipeline.configs.problems import ConfigError
from databridge_pipeline.domain.freshness import age
from databridge_pipeline.domain.job_requests import step_names
from databridge_pipeline.domain.step_kinds import COMMAND_SETS, STEP_NAMES
from databridge_pipeline.domain.tables import Table


def cmd_rerun(args: argparse.Namespace) -> int:
    from databridge_pipeline.cli.stack import manual_request
    from databridge_pipeline.domain.pauses import describe, pause_of

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
    stack = open_stack(args)
    with aws_errors():
        pause = None if args.force else pause_of(str(table.id), stack.pauses())
        if pause is not None:
            raise CommandFailed(
                f"{table.id} is {describe(pause)}; `resume {pause.prefix}` first, or pass --force to run it once"
            )
        request = manual_request(str(table.id), args.from_step)
        [message_id] = stack.send([request])
    print(f"sent rerun of {request.table}{f' from {args.from_step}' if args.from_step else ''}: message {message_id}")
    return 0


def _rerun_failed(args: argparse.Namespace) -> int:
    """``rerun --failed``: every table whose latest run failed since ``--since``, from its failed step."""
    from databridge_pipeline.cli.stack import manual_request
    from databridge_pipeline.domain.reruns import failed_reruns

    if args.table is not None or args.from_step:
        raise UsageError("--failed reruns each table from its own failed step; leave out TABLE and --from-step")
    tables = configured_tables(args)
    if args.prefix:
        covered = set(tables_under(tables, args.prefix))
        tables = [t for t in tables if str(t.id) in covered]
    since = datetime.now(UTC) - (args.since or parse_duration("24h"))
    command_set = chosen_command_set(args)
    stack = open_stack(args)
    with aws_errors():
        runs, _ = stack.runs_and_freshness([str(t.id) for t in tables])
        pauses = stack.pauses()
        steps = {str(t.id): step_names(t, command_set) for t in tables}
        reruns, skips = failed_reruns(runs, steps, pauses, since, force=args.force)
        for skip in skips:
            print(f"skip   {skip.table}: {skip.why}")
        for rerun in reruns:
            what = (
                f"{rerun.table} from {rerun.from_step} (run {rerun.failed_run} failed "
                f"{iso_utc(rerun.failed_at)}: {cut(' '.join((rerun.reason or 'no reason given').split()), 60)})"
            )
            if args.dry_run:
                print(f"would  rerun {what}")
                continue
            [message_id] = stack.send([manual_request(rerun.table, rerun.from_step)])
            print(f"sent   rerun {what}: message {message_id}")
    verb = "would be sent (--dry-run: nothing sent)" if args.dry_run else "sent"
    print(f"{len(reruns)} rerun(s) {verb}, {len(skips)} skipped, since {iso_utc(since)}", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    tables = configured_tables(args)
    if args.table:
        if args.prefix or args.failed or args.stale:
            raise UsageError("--prefix, --failed and --stale choose among every table; leave out TABLE")
        return _table_runs(args, find_table(tables, args.table))
    if args.prefix:
        covered = set(tables_under(tables, args.prefix))
        tables = [t for t in tables if str(t.id) in covered]
    from databridge_pipeline.domain.table_status import table_statuses

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
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return 0
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
    shown = ", ".join(f for f, on in (("failed", args.failed), ("stale", args.stale)) if on)
    print(f"{len(rows)} table(s){f' ({shown})' if shown else ''}", file=sys.stderr)
    return 0


def _table_runs(args: argparse.Namespace, table: Table) -> int:
    """``status TABLE``: its latest runs, newest first."""
    with aws_errors():
        runs = open_stack(args).latest_runs([str(table.id)], args.limit)
    if args.json:
        print(json.dumps([run.model_dump(mode="json") for run in runs], indent=2))
        return 0
    print_table(
        ["TABLE", "RUN", "STATUS", "STEP", "STEP STATUS", "ATTEMPTS", "UPDATED (UTC)"],
        [
            [r.table, r.run_id, r.status, r.step.name, r.step.status, str(r.step.attempts), iso_utc(r.updated_at)]
            for r in runs
        ],
    )
    if not runs:
        print(f"no runs of {table.id} in the ledger yet", file=sys.stderr)
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    from databridge_pipeline.domain.pauses import Pause

    prefix = args.prefix.rstrip("/")
    covered = tables_under(configured_tables(args), prefix)
    if not args.reason.strip():
        raise UsageError("--reason must say why (it is shown by status)")
    stack = open_stack(args)
    with aws_errors():
        pause = Pause(prefix=prefix, reason=args.reason.strip(), paused_at=datetime.now(UTC), paused_by=stack.caller())
        replaced = stack.pause(pause)
    verb = "pause updated" if replaced else "paused"
    print(f"{verb}: {prefix} ({len(covered)} table(s): {', '.join(covered)}): {pause.reason}")
    print("their scheduled runs are skipped until `resume`; runs already going finish as usual")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from databridge_pipeline.domain.pauses import describe, pause_of

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
    print(f"resumed: {prefix} ({len(covered)} table(s)); their next scheduled fires run")
    for table, pause in still_paused.items():
        print(f"still paused: {table}, {describe(pause)}")
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from databridge_pipeline.local.command import LocalResult, default_start, print_result, run_local, write_report
    from databridge_pipeline.local.scenario import Scenario, ScenarioError, load_scenario, unknown_names
    from databridge_pipeline.local.simulation import Simulation

    # Everything the run needs is checked before it starts: nothing fails after the simulation.
    report = writable_file("--report", args.report) if args.report else None
    log = writable_file("--log", args.log)
    if args.port and not args.serve:
        raise UsageError("--port goes with --serve")
    if args.serve and args.port:
        _check_port_free(args.port)
    template = Path(args.template) if args.template else None
    if template is not None and not template.is_file():
        raise UsageError(f"--template {args.template}: no such file")
    try:
        scenario = load_scenario(Path(args.scenario)) if args.scenario else Scenario()
    except ScenarioError as error:
        raise UsageError(str(error)) from None
    command_set = chosen_command_set(args)
    tables = configured_tables(args)
    problems = unknown_names(scenario, {str(t.id): step_names(t, command_set) for t in tables})
    if problems:
        raise UsageError(f"{args.scenario}: {'; '.join(problems)}")
    if args.start:
        start = parse_time(args.start)
    elif args.serve:  # the simulated day ends now, and the served stack goes on in real time
        start = default_start() - timedelta(minutes=1 + int(args.hours * 60))
    else:
        start = default_start()
    print(
        f"Simulating {args.hours:g} h from {iso_utc(start)} over {configs_dir(args)} ({args.env})",
        file=sys.stderr,
    )

    def finish(result: LocalResult, simulation: Simulation, out: TextIO) -> None:
        print_result(result, out)
        print(f"the handlers' structured logs and metrics: {log}", file=out)
        if report is not None:
            write_report(result, report)
            print(f"report written to {report}", file=out)
        if args.serve:
            from databridge_pipeline.local.serve import serve

            serve(simulation, args.env, configs_dir(args), out, port=args.port)

    with log.open("w", encoding="utf-8") as handler_log:
        result = run_local(
            configs=configs_dir(args),
            start=start,
            hours=args.hours,
            scenario=scenario,
            environment=args.env,
            template=template,
            progress=sys.stderr,
            handler_log=handler_log,
            command_set=command_set,
            then=finish,
        )
    return 1 if result.unexpected_errors else 0


def _check_port_free(port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise UsageError(
                f"--port {port}: {error.strerror} (choose another, or leave it out for any free port)"
            ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="databridge-pipeline",
        description="Keep the City's open-data tables flowing from Databridge and Knack into Carto.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return add_command(commands, name, help_text)

    config_commands.add_validate(commands)
    config_commands.add_tables(commands)
    config_commands.add_due(commands)
    config_commands.add_commands(commands)

    local = add("local", "run the whole pipeline on moto over simulated time and print a run summary")
    local.add_argument("--start", metavar="TIME", help="simulated start, ISO-8601 (default: the next minute)")
    local.add_argument("--hours", type=positive_hours, default=24.0, help="how long to simulate (default: 24)")
    local.add_argument("--scenario", metavar="FILE", help="YAML or JSON scenario: failures, outages, duplicates")
    local.add_argument("--report", metavar="FILE", help="write the runs and totals as JSON")
    local.add_argument("--env", choices=["dev", "prod"], default="dev", help="environment defaults (retries)")
    local.add_argument("--template", metavar="FILE", help="SAM template to build the stack from (default: repo's)")
    local.add_argument("--command-set", choices=COMMAND_SETS, help="which CLI's steps the jobs run (default: legacy)")
    local.add_argument(
        "--log", default="local-run.log", metavar="FILE", help="the handlers' JSON logs (default: local-run.log)"
    )
    local.add_argument(
        "--serve",
        action="store_true",
        help="then keep the stack running on a loopback moto server for status, rerun, pause and resume",
    )
    local.add_argument(
        "--port", type=positive_int, default=0, help="with --serve: the server's port (default: any free one)"
    )
    local.set_defaults(run=cmd_local)

    rerun = add("rerun", "send a run request for TABLE, or for every table whose latest run failed, to the run queue")
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
    rerun.add_argument("--queue-url", metavar="URL", help="the run queue (default: the stack's RunQueueUrl output)")
    add_stack_options(rerun)
    rerun.set_defaults(run=cmd_rerun)

    status = add(
        "status",
        "every table: latest run, state, step, reason, next fire, paused, last success; or TABLE's latest runs",
    )
    status.add_argument("table", metavar="TABLE", nargs="?", help="one table's recent runs")
    status.add_argument("--limit", type=positive_int, default=10, help="runs to show for one table (default: 10)")
    status.add_argument("--prefix", metavar="PREFIX", help="only the tables under PREFIX, e.g. databridge/lni")
    status.add_argument("--failed", action="store_true", help="only tables whose latest run failed")
    status.add_argument("--stale", action="store_true", help="only tables not refreshed when their schedule says")
    status.add_argument("--json", action="store_true", help="print JSON")
    add_stack_options(status)
    status.set_defaults(run=cmd_status)

    pause = add("pause", "skip the scheduled runs of a table, or of every table under a prefix, until resume")
    pause.add_argument("prefix", metavar="PREFIX", help="a table id or a prefix of ids, e.g. databridge/lni")
    pause.add_argument("--reason", required=True, help="why (shown by status), e.g. 'Oracle maintenance'")
    add_stack_options(pause)
    pause.set_defaults(run=cmd_pause)

    resume = add("resume", "run the scheduled runs of a paused table or prefix again")
    resume.add_argument("prefix", metavar="PREFIX", help="exactly as it was paused, e.g. databridge/lni")
    add_stack_options(resume)
    resume.set_defaults(run=cmd_resume)

    config_commands.add_manifest(commands)
    return parser


def _version() -> str:
    try:
        return version("databridge-pipeline")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Every error an operator can cause or meet is one line on stderr: exit 2 for a usage mistake, 1 when
    the command could not do its work. Never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
    except BrokenPipeError:  # e.g. `tables --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    except UsageError as error:
        print(f"databridge-pipeline {args.command}: {error}", file=sys.stderr)
        return 2
    except CommandFailed as error:
        print(f"databridge-pipeline {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"databridge-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
