"""The commands that read only the table configs, no AWS: validate, tables, due, commands, manifest.

They answer what the pipeline will do (which tables, when, with which Batch jobs) before it is deployed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
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
    readable_file,
    writable_file,
)
from databridge_pipeline.cli.output import iso_utc, print_table, quoted, say, shown_path
from databridge_pipeline.configs.batch_limits import StackJobDefinitions
from databridge_pipeline.configs.loader import check_tables
from databridge_pipeline.configs.manifest import write_manifest
from databridge_pipeline.configs.planned import ENVIRONMENT
from databridge_pipeline.domain.job_requests import run_job_requests, step_names
from databridge_pipeline.domain.names import clip
from databridge_pipeline.domain.schedule import Window, due_runs, next_fire_time
from databridge_pipeline.domain.settings import CommandSet, settings_for
from databridge_pipeline.domain.step_kinds import COMMAND_SETS

TEMPLATE = Path(__file__).resolve().parents[4] / "template.yaml"  # the repository's SAM template


def add_validate(commands: Subcommands) -> None:
    help_text = "check every table config; one line per problem as path:line: message"
    validate = add_command(commands, "validate", help_text)
    validate.add_argument(
        "--command-set", choices=COMMAND_SETS, help="the stack's command set (default: $COMMAND_SET, else legacy)"
    )
    validate.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PARAMETER",
        help="an image parameter the stack sets, e.g. ExtractAirtableImage (repeatable): its steps are no warning",
    )
    validate.add_argument("--strict", action="store_true", help="warnings are problems too (exit 1)")
    validate.add_argument(
        "--template", metavar="FILE", help="the SAM template the stack deploys (default: the repository's)"
    )
    validate.set_defaults(run=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Every problem of every config, not just the first: exit 1 if there is any error (with ``--strict``,
    any warning). Also what a deploy of the chosen stack would refuse: Batch's limits, two tables sharing
    a staged object, a step whose job definition the stack does not create."""
    template = readable_file("--template", args.template) if args.template is not None else TEMPLATE
    if args.template is None and not TEMPLATE.is_file():
        raise CommandFailed(f"no SAM template at {shown_path(str(TEMPLATE))}: give --template FILE")
    stack = stack_job_definitions(template, chosen_command_set(args), args.image)
    tables, problems = check_tables(configs_dir(args), stack=stack)
    if args.strict:
        problems = [replace(problem, severity="error") for problem in problems]
    for problem in problems:
        say(str(problem), file=sys.stderr)
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    if errors:
        refused = {p.path for p in errors}
        valid = sum(1 for table in tables if table.source_file not in refused)
        also = f" and {len(warnings)} warning(s)" if warnings else ""
        say(f"{len(errors)} problem(s) in {len(refused)} file(s){also}; {valid} table(s) valid", file=sys.stderr)
        return 1
    if warnings:
        say(f"{len(warnings)} warning(s) in {len({p.path for p in warnings})} file(s)", file=sys.stderr)
    say(f"{len(tables)} table config(s) valid")
    return 0


def stack_job_definitions(template: Path, command_set: CommandSet, images: Sequence[str]) -> StackJobDefinitions:
    """The job definitions a stack of ``command_set`` creates from ``template`` given ``images``, and which
    image parameter would create each of the others.

    Read from the SAM template itself (its AWS::Batch::JobDefinition resources and their Conditions, with
    the resolver tests/template checks them with), not from a list kept beside it: the template is what
    creates them, so validate cannot drift from a deploy. The image parameters are cli_facts.yml's (each
    command set's tools); those whose default is empty are the ones a stack may leave out. The CLI may read
    the template: it is not shipped to Lambda."""
    spec = _template(template)
    optional = [name for name in _image_parameters() if spec["Parameters"].get(name, {}).get("Default") == ""]
    unknown = [name for name in images if name not in optional]
    if unknown:
        raise UsageError(
            f"--image {quoted(unknown[0])}: not an image parameter the stack may leave empty "
            f"(those are: {', '.join(optional)})"
        )
    given = {name: f"<{name}>" for name in images}
    try:
        created = _created(spec, command_set, given)
        created_by: dict[str, str] = {}
        for parameter in (name for name in optional if name not in given):
            for definition in _created(spec, command_set, given | {parameter: f"<{parameter}>"}) - created:
                created_by.setdefault(definition, parameter)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CommandFailed(
            f"{shown_path(str(template))}: cannot resolve its job definitions ({clip(repr(error))})"
        ) from None
    return StackJobDefinitions(command_set=command_set, created=frozenset(created), created_by=created_by)


def _template(path: Path) -> dict[str, Any]:
    """The SAM template, read as CloudFormation does (``!Ref`` and the like); one line if it cannot be."""
    import yaml

    from databridge_pipeline.local.template_spec import load_template

    try:
        spec = load_template(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CommandFailed(f"{shown_path(str(path))}: cannot read it as a SAM template ({clip(str(error))})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("Parameters"), dict):
        raise CommandFailed(f"{shown_path(str(path))}: not a SAM template (no Parameters)")
    return spec


def _created(spec: dict[str, Any], command_set: CommandSet, parameters: dict[str, str]) -> set[str]:
    """The names of the job definitions a stack creates with ``parameters`` laid over the defaults."""
    from databridge_pipeline.local.template_spec import Resolver

    resolver = Resolver(spec, ENVIRONMENT, "123456789012", "us-east-1", {"CommandSet": command_set, **parameters})
    return {
        str(resolver.resolve(resource["Properties"]["JobDefinitionName"]))
        for resource in spec["Resources"].values()
        if resource.get("Type") == "AWS::Batch::JobDefinition"
        and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }


def _image_parameters() -> list[str]:
    """The template parameters cli_facts.yml says hold each command set's tools' images, in its order."""
    import yaml

    facts = yaml.safe_load(
        (resources.files("databridge_pipeline.domain") / "command_templates" / "cli_facts.yml").read_text()
    )
    return list(dict.fromkeys(name for tools in facts["images"].values() for name in tools.values()))


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
