"""Steps: a table's Batch jobs, built from command templates (data files, one set per CLI generation).

Credentials are never in a command: a secret placeholder becomes ``"$VAR"``, which the container's shell
expands from the variable the job definition fills from Secrets Manager. Every other piece is
``shlex.quote``-d, so a value can never become shell syntax.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from databridge_pipeline.config import Table, YamlLoader
from databridge_pipeline.connections import CONNECTIONS
from databridge_pipeline.run_request import StepName
from databridge_pipeline.settings import CommandSet, PipelineSettings

StepKind = Literal["databridge_extract", "knack_extract", "carto_load"]
STEP_KINDS: tuple[StepKind, ...] = ("databridge_extract", "knack_extract", "carto_load")

# Placeholders a template may use; secrets become environment-variable references.
TEMPLATE_VALUES = (
    "table", "schema", "staging_schema", "s3_bucket", "csv_s3_key", "json_schema_s3_key",
    "select_users", "index_fields", "knack_object_id",
)  # fmt: skip
TEMPLATE_SECRETS = ("source_connection_string", "knack_app_id", "knack_api_key", "carto_connection_string")
_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")


class ConditionalArg(BaseModel):
    """An argument kept only when the value named by ``when`` is not empty."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    when: str
    arg: str


class CommandTemplates(BaseModel):
    """One set of step-command templates, as loaded from ``command_templates/<set>.yml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    databridge_extract: list[str | ConditionalArg] = Field(min_length=1)
    knack_extract: list[str | ConditionalArg] = Field(min_length=1)
    carto_load: list[str | ConditionalArg] = Field(min_length=1)

    def for_kind(self, kind: StepKind) -> list[str | ConditionalArg]:
        templates: list[str | ConditionalArg] = getattr(self, kind)
        return templates

    def unknown_placeholders(self) -> set[str]:
        known = set(TEMPLATE_VALUES) | set(TEMPLATE_SECRETS)
        found: set[str] = set()
        for kind in STEP_KINDS:
            for item in self.for_kind(kind):
                text = item if isinstance(item, str) else f"{{{item.when}}}{item.arg}"
                found.update(_PLACEHOLDER.findall(text))
        return found - known


class TemplateError(Exception):
    """A command template file is malformed or uses a placeholder nobody fills."""


@lru_cache(maxsize=4)
def command_templates(command_set: CommandSet) -> CommandTemplates:
    """The packaged templates for a CLI generation, validated once per process."""
    source = resources.files("databridge_pipeline") / "command_templates" / f"{command_set}.yml"
    name = f"command_templates/{command_set}.yml"
    try:
        templates = CommandTemplates.model_validate(yaml.load(source.read_text(), Loader=YamlLoader))
    except (yaml.YAMLError, ValidationError) as error:
        raise TemplateError(f"{name}: {error}") from None
    unknown = templates.unknown_placeholders()
    if unknown:
        raise TemplateError(f"{name}: unknown placeholders {sorted(unknown)}")
    return templates


class Step(BaseModel):
    """One step of a table's run: its name in the run, and the kind of job that does it."""

    model_config = ConfigDict(frozen=True)

    name: StepName
    kind: StepKind


def plan_steps(table: Table) -> list[Step]:
    """The steps of one run, in order: extract, then load to Carto when ``upload_to_carto``."""
    extract: StepKind = "knack_extract" if table.id.source == "knack" else "databridge_extract"
    steps = [Step(name="extract", kind=extract)]
    if table.config.upload_to_carto:
        steps.append(Step(name="load", kind="carto_load"))
    return steps


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
        }


def job_request(table: Table, step: Step, settings: PipelineSettings, run_id: str) -> JobRequest:
    """The SubmitJob request for ``step`` of run ``run_id`` of ``table``."""
    templates = command_templates(settings.command_set)
    values = template_values(table, settings)
    secrets = secret_references(table)
    words = [
        _render(item if isinstance(item, str) else item.arg, values, secrets)
        for item in templates.for_kind(step.kind)
        if isinstance(item, str) or values.get(item.when)
    ]
    is_load = step.kind == "carto_load"
    return JobRequest(
        step=step.name,
        job_name=f"{step.name}_{table.staging_schema}_{table.id.name}",
        job_queue=settings.carto_job_queue if is_load else settings.extract_job_queue,
        job_definition={
            "databridge_extract": settings.databridge_extract_job_definition,
            "knack_extract": settings.knack_extract_job_definition,
            "carto_load": settings.carto_load_job_definition,
        }[step.kind],
        command=["bash", "-c", "exec " + " ".join(words)],
        environment={"PIPELINE_TABLE": str(table.id), "PIPELINE_RUN_ID": run_id, "PIPELINE_STEP": step.name},
        tags={"table": str(table.id), "run_id": run_id, "step": step.name},
    )


def run_job_requests(table: Table, settings: PipelineSettings, run_id: str) -> list[JobRequest]:
    """Every step's SubmitJob request for one run, in order."""
    return [job_request(table, step, settings, run_id) for step in plan_steps(table)]


def template_values(table: Table, settings: PipelineSettings) -> dict[str, str]:
    """The non-secret placeholder values for a table (legacy S3 layout: staging/ and schemas/)."""
    staging = table.staging_schema
    config = table.config
    return {
        "table": table.id.name,
        "schema": table.id.schema_name,
        "staging_schema": staging,
        "s3_bucket": settings.s3_bucket,
        "csv_s3_key": f"staging/{staging}/{table.id.name}.csv",
        "json_schema_s3_key": f"schemas/{staging}/{table.id.name}.json",
        "select_users": ",".join(config.carto_users),
        "index_fields": ",".join(config.indexes or ()),
        "knack_object_id": "" if config.knack_object_id is None else str(config.knack_object_id),
    }


def secret_references(table: Table) -> dict[str, str]:
    """Secret placeholders -> the environment variable names that hold them in the job's container."""
    refs = {
        "source_connection_string": CONNECTIONS["databridge"].env_var("connection_string"),
        "carto_connection_string": CONNECTIONS[table.carto_conn].env_var("connection_string"),
    }
    if table.config.knack_conn_id:
        knack = CONNECTIONS[table.config.knack_conn_id]
        refs["knack_app_id"] = knack.env_var("app_id")
        refs["knack_api_key"] = knack.env_var("api_key")
    return refs


def _render(template: str, values: dict[str, str], secrets: dict[str, str]) -> str:
    """One shell word: literal text quoted, secret placeholders as double-quoted variable references."""
    pieces: list[str] = []
    literal = ""
    position = 0
    for match in _PLACEHOLDER.finditer(template):
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
