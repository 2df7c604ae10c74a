"""Build the services from a Lambda's environment once, at cold start.

A missing or bad variable fails the cold start with the variable's name, not the first invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from databridge_pipeline.adapters.batch import BatchJobs
from databridge_pipeline.adapters.ledger import Ledger
from databridge_pipeline.adapters.run_queue import RunQueue
from databridge_pipeline.adapters.slack import SlackAlerts, secret_token
from databridge_pipeline.catalog import Catalog, load_catalog
from databridge_pipeline.dispatcher import Dispatcher
from databridge_pipeline.freshness_watch import FreshnessWatch
from databridge_pipeline.job_events import JobEvents
from databridge_pipeline.reconciler import Reconciler
from databridge_pipeline.run_actions import RunActions
from databridge_pipeline.settings import PipelineSettings, SettingsError, settings_from_environ
from databridge_pipeline.submitter import Submitter

_AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


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


@dataclass(frozen=True)
class Services:
    dispatcher: Dispatcher
    submitter: Submitter
    job_events: JobEvents
    reconciler: Reconciler
    freshness: FreshnessWatch


def build_services(settings: PipelineSettings, env: LambdaEnvironment, catalog: Catalog) -> Services:
    """Wire the core to AWS clients (moto's, under test) and to Slack. Tests and the local run swap the
    clock afterwards through ``<service>.actions.clock``."""
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {"config": _AWS_CONFIG, "region_name": env.region}
    actions = RunActions(
        settings=settings,
        ledger=Ledger(session.resource("dynamodb", **kwargs).Table(env.ledger_table)),
        batch=BatchJobs(session.client("batch", **kwargs)),
        queue=RunQueue(session.client("sqs", **kwargs), env.run_queue_url),
        alerts=SlackAlerts(secret_token(env.slack_secret_name), env.slack_channel, env.slack_api_url),
        clock=lambda: datetime.now(UTC),
        region=env.region,
        log_group=env.batch_log_group,
    )
    return Services(
        dispatcher=Dispatcher(catalog, actions),
        submitter=Submitter(catalog, actions),
        job_events=JobEvents(catalog, actions),
        reconciler=Reconciler(catalog, actions),
        freshness=FreshnessWatch(catalog, actions),
    )


def services_from_environ(environ: Mapping[str, str]) -> Services:
    """What a handler calls at import time."""
    return build_services(settings_from_environ(environ), lambda_environment(environ), load_catalog())
