"""``local``: the whole pipeline on moto over simulated time, a run summary at the end, and with ``--serve``
the stack kept running for the operator commands.

Every option is checked before the simulation starts, so a long run never ends in a usage error. The local
run (and so moto) is imported only when this command runs.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from databridge_pipeline.cli.args import (
    MAX_HOURS,
    Subcommands,
    UsageError,
    add_command,
    chosen_command_set,
    configs_dir,
    configured_tables,
    parse_time,
    positive_hours,
    readable_file,
    whole_number,
    writable_file,
)
from databridge_pipeline.cli.output import iso_utc, say
from databridge_pipeline.domain.job_requests import step_names
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.domain.step_kinds import COMMAND_SETS

if TYPE_CHECKING:
    from databridge_pipeline.local.command import LocalResult
    from databridge_pipeline.local.scenario import Scenario
    from databridge_pipeline.local.simulation import Simulation

Finish = Callable[["LocalResult", "Simulation", TextIO], None]


def add_local(commands: Subcommands) -> None:
    local = add_command(commands, "local", "run the whole pipeline on moto over simulated time and print a run summary")
    local.add_argument(
        "--start", type=parse_time, metavar="TIME", help="simulated start, ISO-8601 (default: the next minute)"
    )
    local.add_argument(
        "--hours", type=positive_hours, default=24.0, help=f"how long to simulate (default: 24, at most {MAX_HOURS})"
    )
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
        "--port", type=whole_number(1, 65535), default=0, help="with --serve: the server's port (default: any free one)"
    )
    local.set_defaults(run=cmd_local)


def cmd_local(args: argparse.Namespace) -> int:
    """Exit 1 when a handler failed other than during a fault the scenario injected."""
    from databridge_pipeline.local.command import run_local  # looked up now: the e2e tests wrap it

    report = writable_file("--report", args.report) if args.report else None
    log = writable_file("--log", args.log)
    _check_port(args)
    template = _template(args)
    scenario = _scenario(args)
    command_set = chosen_command_set(args)
    _check_scenario_names(args, scenario, command_set)
    start = _start(args)
    say(
        f"Simulating {args.hours:g} h from {iso_utc(start)} over {configs_dir(args)} ({args.env})",
        file=sys.stderr,
    )
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
            then=_finish(args, log, report),
        )
    return 1 if result.unexpected_errors else 0


def _check_port(args: argparse.Namespace) -> None:
    """``--port`` only with ``--serve``, and free now rather than refused after the simulated day."""
    if args.port and not args.serve:
        raise UsageError("--port goes with --serve")
    if not (args.serve and args.port):
        return
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", args.port))
        except OSError as error:
            raise UsageError(
                f"--port {args.port}: {error.strerror} (choose another, or leave it out for any free port)"
            ) from None


def _template(args: argparse.Namespace) -> Path | None:
    return readable_file("--template", args.template) if args.template is not None else None


def _scenario(args: argparse.Namespace) -> Scenario:
    """``--scenario``, else a day with nothing injected."""
    from databridge_pipeline.local.scenario import Scenario, ScenarioError, load_scenario

    try:
        return load_scenario(Path(args.scenario)) if args.scenario else Scenario()
    except ScenarioError as error:
        raise UsageError(str(error)) from None


def _check_scenario_names(args: argparse.Namespace, scenario: Scenario, command_set: CommandSet) -> None:
    """An entry naming a table or step the configs lack would be ignored without a word: refuse it."""
    from databridge_pipeline.local.scenario import unknown_names

    tables = configured_tables(args)
    problems = unknown_names(scenario, {str(t.id): step_names(t, command_set) for t in tables})
    if problems:
        raise UsageError(f"{args.scenario}: {'; '.join(problems)}")


def _start(args: argparse.Namespace) -> datetime:
    """``--start``, else the next minute; with ``--serve``, the simulated day ends now and the served stack
    goes on in real time."""
    from databridge_pipeline.local.command import default_start

    if args.start:
        start: datetime = args.start
        return start
    if args.serve:
        return default_start() - timedelta(minutes=1 + int(args.hours * 60))
    return default_start()


def _finish(args: argparse.Namespace, log: Path, report: Path | None) -> Finish:
    """What runs once the simulated day is over, while its stack still exists: the summary, the report,
    and with ``--serve`` the server."""
    from databridge_pipeline.local.command import print_result, write_report

    def finish(result: LocalResult, simulation: Simulation, out: TextIO) -> None:
        print_result(result, out)
        say(f"the handlers' structured logs and metrics: {log}", file=out)
        if report is not None:
            write_report(result, report)
            say(f"report written to {report}", file=out)
        if args.serve:
            from databridge_pipeline.local.serve import serve

            serve(simulation, args.env, configs_dir(args), out, port=args.port)

    return finish
