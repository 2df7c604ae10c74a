"""The composition root: settings from a Lambda's environment, the adapters built, the services wired, once
at cold start.

A missing or bad variable fails the cold start with the variable's name, not the first invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from databridge_pipeline.adapters.aws_clients import aws_clients
from databridge_pipeline.adapters.batch import AwsBatchJobs
from databridge_pipeline.adapters.ledger import DynamoLedger
from databridge_pipeline.adapters.run_queue import SqsRunQueue
from databridge_pipeline.adapters.slack import SlackAlerts, secret_token
from databridge_pipeline.domain.catalog import Catalog, catalog_from_json
from databridge_pipeline.domain.settings import PipelineSettings, SettingsError, settings_from_environ
from databridge_pipeline.ports import AlertSink, BatchJobs, Clock, Ledger, RunQueue
from databridge_pipeline.services.executor import LogLinks, RunExecutor

if TYPE_CHECKING:  # each handler imports only its own service, at cold start
    from databridge_pipeline.services.dispatcher import Dispatcher
    from databridge_pipeline.services.freshness_check import FreshnessCheck
    from databridge_pipeline.services.job_events import JobEvents
    from databridge_pipeline.services.reconciler import Reconciler
    from databridge_pipeline.services.submitter import Submitter

PACKAGED_MANIFEST = Path(__file__).with_name("manifest.json")  # written by the layer build


class LambdaEnvironment(BaseModel):
    """The variables every function gets from template.yaml beyond the pipeline settings."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ledger_table: str = Field(alias="LEDGER_TABLE", min_length=3)
    run_queue_url: str = Field(alias="RUN_QUEUE_URL", min_length=1)
    slack_secret_name: str = Field(alias="SLACK_SECRET_NAME", min_length=1)
    slack_channel: str = Field(alias="SLACK_CHANNEL", min_length=1)
    batch_log_group: str = Field(default="/aws/batch/job", alias="BATCH_LOG_GROUP")
    slack_api_url: str | None = Field(default=None, alias="SLACK_API_URL")  # a stand-in Slack, for local runs
    region: str = Field(default="us-east-1", alias="AWS_REGION")


def lambda_environment(environ: Mapping[str, str]) -> LambdaEnvironment:
    try:
        return LambdaEnvironment.model_validate(dict(environ))
    except ValidationError as error:
        names = [str(LambdaEnvironment.model_fields[str(e["loc"][0])].alias) for e in error.errors()]
        raise SettingsError(f"bad environment: {', '.join(names)} missing or invalid") from None


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class Wiring:
    """One handler's adapters and the executor its services share. ``clock`` may be swapped (tests and the
    local run drive simulated time): the services read it through ``now``."""

    catalog: Catalog
    settings: PipelineSettings
    ledger: Ledger
    batch: BatchJobs
    queue: RunQueue
    alerts: AlertSink
    links: LogLinks
    clock: Clock = wall_clock
    executor: RunExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = RunExecutor(
            self.settings, self.ledger, self.batch, self.queue, self.alerts, self.now, self.links
        )

    def now(self) -> datetime:
        return self.clock()


def wiring_from_environ(environ: Mapping[str, str]) -> Wiring:
    """Wire the core to AWS clients (moto's, under test) and to Slack."""
    settings, env = settings_from_environ(environ), lambda_environment(environ)
    client = aws_clients(env.region)
    return Wiring(
        catalog=catalog_from_environ(environ),
        settings=settings,
        ledger=DynamoLedger(client("dynamodb"), env.ledger_table),
        batch=AwsBatchJobs(client("batch"), submit_client=client("batch", no_retries=True)),
        queue=SqsRunQueue(client("sqs"), env.run_queue_url),
        alerts=SlackAlerts(secret_token(env.slack_secret_name), env.slack_channel, env.slack_api_url),
        links=LogLinks(region=env.region, log_group=env.batch_log_group),
    )


def catalog_from_environ(environ: Mapping[str, str]) -> Catalog:
    """The packaged manifest; ``$TABLE_CONFIGS`` names another manifest or a config folder (tests, local runs)."""
    source = Path(environ.get("TABLE_CONFIGS") or PACKAGED_MANIFEST)
    if not source.is_dir():
        return catalog_from_json(source.read_bytes())
    from databridge_pipeline.configs.loader import load_tables  # not shipped to Lambda: a folder only off it

    return Catalog(load_tables(source))


def dispatcher_services(wiring: Wiring) -> tuple[Dispatcher, Reconciler, FreshnessCheck]:
    """The dispatcher handler's services: the tick, the reconciliation pass, the freshness check."""
    from databridge_pipeline.services.dispatcher import Dispatcher
    from databridge_pipeline.services.freshness_check import FreshnessCheck
    from databridge_pipeline.services.reconciler import Reconciler

    w = wiring
    return (
        Dispatcher(w.catalog, w.ledger, w.queue, w.settings),
        Reconciler(w.catalog, w.ledger, w.batch, w.executor, w.alerts, w.settings, w.now),
        FreshnessCheck(w.catalog, w.ledger, w.alerts, w.settings),
    )


def submitter_service(wiring: Wiring) -> Submitter:
    from databridge_pipeline.services.submitter import Submitter

    w = wiring
    return Submitter(w.catalog, w.ledger, w.queue, w.executor, w.settings, w.now)


def job_events_service(wiring: Wiring) -> JobEvents:
    from databridge_pipeline.services.job_events import JobEvents

    w = wiring
    return JobEvents(w.catalog, w.ledger, w.executor, w.settings, w.now)
