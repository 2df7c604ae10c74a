"""Build the services from a Lambda's environment once, at cold start.

A missing or bad variable fails the cold start with the variable's name, not the first invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from databridge_pipeline.adapters.batch import BatchJobs
from databridge_pipeline.adapters.ledger import Ledger
from databridge_pipeline.adapters.run_queue import RunQueue
from databridge_pipeline.adapters.slack import SlackAlerts, secret_token
from databridge_pipeline.domain.catalog import Catalog, catalog_from_json
from databridge_pipeline.domain.settings import PipelineSettings, SettingsError, settings_from_environ
from databridge_pipeline.services.executor import RunActions

if TYPE_CHECKING:  # each handler imports only its own service, at cold start
    from databridge_pipeline.services.dispatcher import Dispatcher
    from databridge_pipeline.services.freshness_check import FreshnessWatch
    from databridge_pipeline.services.job_events import JobEvents
    from databridge_pipeline.services.reconciler import Reconciler
    from databridge_pipeline.services.submitter import Submitter

PACKAGED_MANIFEST = Path(__file__).with_name("manifest.json")  # written by the layer build
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


def build_actions(settings: PipelineSettings, env: LambdaEnvironment) -> RunActions:
    """Wire the core to AWS clients (moto's, under test) and to Slack. Tests and the local run swap the
    clock afterwards through ``<service>.actions.clock``."""
    session = botocore.session.get_session()  # botocore's own clients: boto3 adds ~15% to the imports
    kwargs: dict[str, Any] = {"config": _AWS_CONFIG, "region_name": env.region}
    return RunActions(
        settings=settings,
        ledger=Ledger(session.create_client("dynamodb", **kwargs), env.ledger_table),
        batch=BatchJobs(session.create_client("batch", **kwargs)),
        queue=RunQueue(session.create_client("sqs", **kwargs), env.run_queue_url),
        alerts=SlackAlerts(secret_token(env.slack_secret_name), env.slack_channel, env.slack_api_url),
        clock=lambda: datetime.now(UTC),
        region=env.region,
        log_group=env.batch_log_group,
    )


def catalog_from_environ(environ: Mapping[str, str]) -> Catalog:
    """The packaged manifest; ``$TABLE_CONFIGS`` names another manifest or a config folder (tests, local runs)."""
    configured = environ.get("TABLE_CONFIGS")
    if not configured:
        return catalog_from_json(PACKAGED_MANIFEST.read_bytes())
    from databridge_pipeline.configs.manifest import load_catalog  # not shipped to Lambda: off it only

    return load_catalog(Path(configured))


def _from_environ(environ: Mapping[str, str]) -> tuple[Catalog, RunActions]:
    actions = build_actions(settings_from_environ(environ), lambda_environment(environ))
    return catalog_from_environ(environ), actions


def dispatcher_from_environ(environ: Mapping[str, str]) -> tuple[Dispatcher, Reconciler, FreshnessWatch]:
    """The dispatcher handler's services (the tick, the reconciliation pass, the freshness check), sharing
    one RunActions."""
    from databridge_pipeline.services.dispatcher import Dispatcher
    from databridge_pipeline.services.freshness_check import FreshnessWatch
    from databridge_pipeline.services.reconciler import Reconciler

    catalog, actions = _from_environ(environ)
    return Dispatcher(catalog, actions), Reconciler(catalog, actions), FreshnessWatch(catalog, actions)


def submitter_from_environ(environ: Mapping[str, str]) -> Submitter:
    from databridge_pipeline.services.submitter import Submitter

    return Submitter(*_from_environ(environ))


def job_events_from_environ(environ: Mapping[str, str]) -> JobEvents:
    from databridge_pipeline.services.job_events import JobEvents

    return JobEvents(*_from_environ(environ))
