"""``databridge-pipeline local``: the whole pipeline on this machine, no AWS account and no Docker."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.local.scenario import Scenario
from databridge_pipeline.local.simulation import SimClock, Simulation

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


@dataclass
class LocalResult:
    report: dict[str, Any]
    summary: list[dict[str, Any]]
    alerts: list[str]
    unexpected_errors: list[str]
    expected_errors: int
    counters: dict[str, int]


def run_local(
    configs: Path,
    start: datetime,
    hours: float,
    scenario: Scenario,
    environment: str = "dev",
    template: Path | None = None,
    progress: TextIO | None = None,
    handler_log: TextIO | None = None,
    command_set: CommandSet = "legacy",
    then: Callable[[LocalResult, Simulation, TextIO], None] | None = None,
) -> LocalResult:
    """Simulate ``hours`` from ``start`` over the configs in ``configs`` and return what happened.

    The handlers' own output (structured logs, EMF metrics) goes to ``handler_log`` when given. ``then`` is
    called with the result, while the local stack still exists (``--serve`` keeps it up there), and the
    stream to print on.
    """
    from moto import mock_aws

    from databridge_pipeline.configs.manifest import load_catalog
    from databridge_pipeline.local.moto_patches import sqs_on_clock
    from databridge_pipeline.local.slack_standin import SlackStandIn
    from databridge_pipeline.local.stack import REGION, create_resources, load_handler, stack_spec

    catalog = load_catalog(configs)  # fail fast, with file:line, before building anything
    spec = stack_spec(template, environment)
    clock = SimClock(start)
    minutes = int(hours * 60)
    with (
        _environ(FAKE_CREDENTIALS | {"AWS_DEFAULT_REGION": REGION}),
        mock_aws(config={"batch": {"use_docker": False}}),
        sqs_on_clock(clock),
        SlackStandIn() as slack,
    ):
        env = create_resources(environment, spec) | {"COMMAND_SET": command_set}
        with _environ(env | {"SLACK_API_URL": slack.url, "TABLE_CONFIGS": str(configs)}):
            handlers = {name: load_handler(name) for name in ("dispatcher", "submitter", "job_events")}
            from databridge_pipeline.observability import logger

            simulation = Simulation(
                env=env,
                clock=clock,
                scenario=scenario,
                slack=slack,
                handlers=handlers,
                start=start,
                minutes=minutes,
                on_progress=_progress_bar(progress, minutes) if progress else None,
            )
            out = sys.stdout  # ours; the handlers' own output goes to handler_log when given
            with _handler_output(logger.registered_handler, handler_log):
                simulation.run()
            result = _result(simulation, catalog, env, list(slack.posts))
            if then is not None:  # e.g. serve: while the stack still exists
                with _handler_output(logger.registered_handler, handler_log):
                    then(result, simulation, out)
    return result


def _result(simulation: Simulation, catalog: Catalog, env: dict[str, str], posts: list[dict[str, Any]]) -> LocalResult:
    """What the simulated window left: every run in the ledger, the alerts posted, the dead-letter queue."""
    import boto3

    from databridge_pipeline.adapters.ledger import DynamoLedger
    from databridge_pipeline.local.report import run_report, table_summary
    from databridge_pipeline.local.stack import REGION

    ledger = DynamoLedger(boto3.client("dynamodb", region_name=REGION), env["LEDGER_TABLE"])
    runs = [run for table in catalog for run in ledger.recent_runs(str(table.id), limit=10_000)]
    sqs = boto3.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=env["DLQ_URL"], AttributeNames=["ApproximateNumberOfMessages"])
    dlq = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    ids = catalog.ids()

    alerts_by_table = Counter(_alert_table(post.get("text", ""), ids) for post in posts)
    return LocalResult(
        report=run_report(
            runs, len(simulation.jobs), len(posts), dlq, simulation.repairs(), simulation.duplicate_jobs()
        ),
        summary=table_summary(runs, {k: v for k, v in alerts_by_table.items() if k}),
        alerts=[str(post.get("text", "")) for post in posts],
        unexpected_errors=[
            f"{e.at:%Y-%m-%d %H:%M}Z {e.handler}: {e.error}" for e in simulation.errors if not e.expected
        ],
        expected_errors=sum(e.expected for e in simulation.errors),
        counters=vars(simulation.counters),
    )


def _alert_table(text: str, ids: list[str]) -> str:
    first = text.splitlines()[0] if text else ""
    return next((table for table in ids if f" {table} " in f"{first} "), "")


def _progress_bar(out: TextIO, minutes: int) -> Any:
    width = 30
    shown = {"percent": -1}

    def show(minute: int, simulation: Simulation) -> None:
        percent = 100 * minute // max(minutes, 1)
        if percent == shown["percent"] and minute != minutes:
            return
        shown["percent"] = percent
        filled = width * percent // 100
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {percent:3d}%  {simulation.clock.now:%Y-%m-%d %H:%M}Z  "
            f"jobs {len(simulation.jobs)}  alerts {len(simulation.slack.posts)}"
        )
        end = "\n" if minute == minutes else ""
        if out.isatty():
            out.write("\r" + line + end)
        elif percent % 10 == 0 or minute == minutes:
            out.write(line + "\n")
        out.flush()

    return show


@contextmanager
def _handler_output(log_handler: Any, out: TextIO | None) -> Iterator[None]:
    """Send the handlers' log lines (Powertools Logger) and EMF metrics (printed) to ``out``; with None,
    leave them where they go."""
    if out is None:
        yield
        return
    previous = log_handler.setStream(out)
    try:
        with redirect_stdout(out):
            yield
    finally:
        log_handler.setStream(previous)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def default_start(now: datetime | None = None) -> datetime:
    """The next whole minute."""
    now = now or datetime.now(UTC)
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def print_result(result: LocalResult, out: TextIO = sys.stdout) -> None:
    """The run summary for a terminal: control characters a job's status reason may carry are removed."""
    from databridge_pipeline.domain.text import for_terminal
    from databridge_pipeline.local.report import format_summary

    lines: list[str] = []
    totals = result.report["totals"]
    if result.alerts:
        lines.append(f"\nSlack alerts ({len(result.alerts)}):")
        lines.extend("  " + alert.replace("\n", "\n  ") + "\n" for alert in result.alerts)
    lines.append("\n" + format_summary(result.summary) + "\n")
    lines.append(
        f"runs {totals['runs']}, jobs submitted {totals['jobs_submitted']}, alerts {totals['alerts']}, "
        f"DLQ messages {totals['dlq_messages']}, ticks {result.counters['ticks']} "
        f"(dropped {result.counters['ticks_dropped']}; "
        f"quiet minutes passed over {result.counters['minutes_skipped']})"
    )
    repairs = totals["repairs"]
    lines.append("repairs by the reconciliation pass: " + ", ".join(f"{kind} {n}" for kind, n in repairs.items()))
    if totals["duplicate_jobs"]:
        lines.append(f"DUPLICATE JOBS {totals['duplicate_jobs']}: a step attempt was submitted more than once")
    if result.counters["events_lost"]:
        lines.append(
            f"{result.counters['events_lost']} Batch event(s) failed every retry (kept in the job-events failure "
            "queue); the reconciliation pass applied what they said"
        )
    if result.expected_errors:
        lines.append(f"{result.expected_errors} handler error(s) during injected faults, retried as Lambda would")
    lines.extend(f"PIPELINE ERROR {error}" for error in result.unexpected_errors)
    out.write(for_terminal("\n".join(lines) + "\n"))


def write_report(result: LocalResult, path: Path) -> None:
    path.write_text(json.dumps(result.report, indent=2) + "\n")
