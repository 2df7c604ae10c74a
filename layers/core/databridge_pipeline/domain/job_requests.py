"""Steps: a table's Batch jobs, built from its chain of step kinds (``step_kinds``) in one command set.

Credentials are never in a command: a ``{secret.FIELD}`` placeholder becomes ``"$VAR"``, which the
container's shell expands from the variable the job definition fills from Secrets Manager. Every other piece
is ``shlex.quote``-d, so a value can never become shell syntax.
"""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from databridge_pipeline.domain.connections import CONNECTIONS
from databridge_pipeline.domain.settings import CommandSet, PipelineSettings
from databridge_pipeline.domain.step_kinds import PLACEHOLDER, ResolvedStep, StepName, resolve_chain
from databridge_pipeline.domain.tables import Table


class ChainError(ValueError):
    """A table's chain cannot run (configs are validated on load, so this means a config bypassed it)."""


def plan_steps(table: Table, command_set: CommandSet) -> list[ResolvedStep]:
    """The steps of one run in ``command_set``, in order (e.g. extract, schema, load)."""
    steps, problems = resolve_chain(table.chain, table.chain_context, command_set)
    if problems:
        raise ChainError(f"{table.id}: {problems[0].message}")
    return steps


def step_names(table: Table, command_set: CommandSet) -> list[StepName]:
    return [step.name for step in plan_steps(table, command_set)]


class JobRequest(BaseModel):
    """An AWS Batch SubmitJob request for one step of one run."""

    model_config = ConfigDict(frozen=True)

    step: StepName
    job_name: str
    job_queue: str
    job_definition: str
    command: list[str]
    environment: dict[str, str]
    tags: dict[str, str]
    timeout_seconds: int = Field(ge=60)

    def submit_job_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of boto3's ``batch.submit_job``."""
        return {
            "jobName": self.job_name,
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition,
            "containerOverrides": {
                "command": self.command,
                "environment": [{"name": k, "value": v} for k, v in self.environment.items()],
            },
            "tags": self.tags,
            "propagateTags": True,
            "timeout": {"attemptDurationSeconds": self.timeout_seconds},
        }


def job_request(
    table: Table, step: ResolvedStep, settings: PipelineSettings, run_id: str, attempt: int = 1
) -> JobRequest:
    """The SubmitJob request for attempt ``attempt`` of ``step`` of run ``run_id`` of ``table``.

    The tags name the run, step and attempt, so the job is findable again (``ports.BatchJobs.find``) by an
    invocation that takes over from one that died after SubmitJob returned."""
    template = step.kind.command(settings.command_set)
    if template is None:
        raise ChainError(f"the {settings.command_set} set has no command for {step.kind.kind}")
    values = {**template_values(table, settings), **step.values}
    secrets = {f"secret.{name}": field.env_var for name, field in CONNECTIONS[step.connection].fields.items()}
    words = [
        _render(item if isinstance(item, str) else item.arg, values, secrets)
        for item in template
        if isinstance(item, str) or values.get(item.when)
    ]
    return JobRequest(
        step=step.name,
        job_name=f"{step.name}_{table.staging_schema}_{table.id.name}",
        job_queue=settings.carto_job_queue if step.kind.queue == "carto" else settings.extract_job_queue,
        job_definition=settings.job_definition(step.kind.kind, step.connection),
        command=["bash", "-c", "exec " + " ".join(words)],
        environment={"PIPELINE_TABLE": str(table.id), "PIPELINE_RUN_ID": run_id, "PIPELINE_STEP": step.name},
        tags={"table": str(table.id), "run_id": run_id, "step": step.name, "attempt": str(attempt)},
        # Batch times an attempt from RUNNING; time spent RUNNABLE is the stuck-run check's (same timeout).
        timeout_seconds=max(60, table.config.timeout_minutes * 60),
    )


def run_job_requests(table: Table, settings: PipelineSettings, run_id: str) -> list[JobRequest]:
    """Every step's SubmitJob request for one run, in order."""
    return [job_request(table, step, settings, run_id) for step in plan_steps(table, settings.command_set)]


def template_values(table: Table, settings: PipelineSettings) -> dict[str, str]:
    """The table's non-secret placeholder values (the chain adds each step's S3 keys and options)."""
    config = table.config
    object_id = "" if config.knack_object_id is None else str(config.knack_object_id)
    return {
        "table": table.id.name,
        "schema": table.id.schema_name,
        "staging_schema": table.staging_schema,
        "s3_bucket": settings.s3_bucket,
        "postgres_schema": table.postgres_schema,
        "knack_object_id": object_id,
        "knack_object": f"object_{object_id}" if object_id else "",
        "select_users": ",".join(config.carto_users),
        "index_fields": ",".join(config.indexes or ()),
    }


def _render(template: str, values: dict[str, str], secrets: dict[str, str]) -> str:
    """One shell word: literal text quoted, secret placeholders as double-quoted variable references."""
    pieces: list[str] = []
    literal = ""
    position = 0
    for match in PLACEHOLDER.finditer(template):
        literal += template[position : match.start()]
        name = match.group(1)
        if name in secrets:
            if literal:
                pieces.append(shlex.quote(literal))
                literal = ""
            pieces.append(f'"${{{secrets[name]}}}"')
        else:
            literal += values[name]
        position = match.end()
    literal += template[position:]
    if literal or not pieces:
        pieces.append(shlex.quote(literal))
    return "".join(pieces)
