"""Environment settings (dev / prod): bucket, job queues, job definitions, retry defaults, in one place.

The CLI uses the defaults below; a Lambda reads the same fields from its environment variables (set by
template.yaml), so a name lives in the template and nowhere else in deployed code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

EnvironmentName = Literal["dev", "prod"]
CommandSet = Literal["legacy", "current"]

LEGACY_BUCKET = "citygeo-airflow-databridge2"


class PipelineSettings(BaseModel):
    """Where a run's jobs go and how failures are retried, for one environment."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    environment: EnvironmentName = Field(alias="ENVIRONMENT")
    s3_bucket: str = Field(alias="S3_BUCKET", min_length=3)
    command_set: CommandSet = Field(default="legacy", alias="COMMAND_SET")
    extract_job_queue: str = Field(alias="EXTRACT_JOB_QUEUE", min_length=1)
    carto_job_queue: str = Field(alias="CARTO_JOB_QUEUE", min_length=1)
    job_definition_prefix: str = Field(alias="JOB_DEFINITION_PREFIX", min_length=1)
    default_retries: int = Field(alias="DEFAULT_RETRIES", ge=0, le=10)
    default_retry_delay_minutes: int = Field(default=5, alias="DEFAULT_RETRY_DELAY_MINUTES", ge=0, le=15)
    # Whether ticks dispatch scheduled runs (the template's ScheduleEnabled: off in dev unless turned on).
    # Off, the tick still advances its cursor and runs the reconciliation pass.
    schedule_enabled: bool = Field(default=True, alias="SCHEDULE_ENABLED")

    def job_definition(self, step_kind: str, connection: str) -> str:
        """One job definition per step kind and connection, so a job can read only its connection's secret:
        ``<prefix>-<kind>-<connection>`` with dashes, e.g. ``...-carto-load-carto-phl``."""
        return f"{self.job_definition_prefix}-{step_kind}-{connection}".replace("_", "-")


def default_settings(environment: EnvironmentName) -> dict[str, str]:
    """The names a stack of ``environment`` creates, keyed by environment variable."""
    prefix = f"databridge-pipeline-{environment}"
    return {
        "ENVIRONMENT": environment,
        "S3_BUCKET": LEGACY_BUCKET,
        "COMMAND_SET": "legacy",
        "EXTRACT_JOB_QUEUE": f"{prefix}-extract",
        "CARTO_JOB_QUEUE": f"{prefix}-carto",
        "JOB_DEFINITION_PREFIX": prefix,
        # Legacy: 2 retries 5 minutes apart in prod, none in dev.
        "DEFAULT_RETRIES": "2" if environment == "prod" else "0",
        "DEFAULT_RETRY_DELAY_MINUTES": "5",
    }


def settings_for(environment: EnvironmentName, overrides: Mapping[str, str] | None = None) -> PipelineSettings:
    """Settings for an environment: its defaults, with any environment variables given laid over them."""
    values = default_settings(environment) | dict(overrides or {})
    return PipelineSettings.model_validate(values)


class SettingsError(Exception):
    """A Lambda's environment is missing or has a bad variable; names the variable."""


def settings_from_environ(environ: Mapping[str, str]) -> PipelineSettings:
    """Settings from a Lambda's environment variables; fails at cold start naming the bad variable."""
    try:
        return PipelineSettings.model_validate(dict(environ))
    except ValidationError as error:
        fields = PipelineSettings.model_fields
        names = []
        for e in error.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            alias = fields[field].alias if field in fields else field
            names.append(f"{alias or field}: {e['msg']}")
        raise SettingsError("bad environment: " + "; ".join(names)) from None
