"""``databridge-pipeline``: the operators' command line (configs, the local run, and the deployed stack)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO

from databridge_pipeline.cli import config_commands, pause_commands, run_commands
from databridge_pipeline.cli.args import (
    CommandFailed,
    UsageError,
    add_command,
    chosen_command_set,
    configs_dir,
    configured_tables,
    parse_time,
    positive_hours,
    positive_int,
    writable_file,
)
from databridge_pipeline.cli.output import iso_utc
from databridge_pipeline.configs.problems import ConfigError
from databridge_pipeline.domain.job_requests import step_names
from databridge_pipeline.domain.step_kinds import COMMAND_SETS


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

    run_commands.add_rerun(commands)
    run_commands.add_status(commands)
    pause_commands.add_pause(commands)
    pause_commands.add_resume(commands)
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
