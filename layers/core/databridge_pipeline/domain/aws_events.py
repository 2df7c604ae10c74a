"""The AWS events the Lambdas receive, as models.

Only the fields the pipeline reads are declared; AWS may add others, so extra fields are ignored. The
EventBridge envelope is declared here rather than taken from Powertools' parser models: importing those
loads every event model Powertools has (~100 ms of cold start) for the one envelope we need.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from databridge_pipeline.domain.runs import JobOutcome
from databridge_pipeline.domain.step_kinds import STEP_NAMES


class JobState(BaseModel):
    """What DescribeJobs says of one job: the fields a run needs, as a state-change event would carry them."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    status: str
    status_reason: str | None = None
    exit_code: int | None = None
    log_stream: str | None = None


class BatchContainer(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    exit_code: int | None = Field(default=None, alias="exitCode")
    log_stream_name: str | None = Field(default=None, alias="logStreamName")
    reason: str | None = None


class BatchAttempt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    container: BatchContainer | None = None
    statusReason: str | None = None


class BatchJobDetail(BaseModel):
    """``detail`` of a "Batch Job State Change" event."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    job_id: str = Field(alias="jobId")
    job_name: str = Field(alias="jobName")
    job_queue: str = Field(alias="jobQueue")
    status: str
    status_reason: str | None = Field(default=None, alias="statusReason")
    attempts: list[BatchAttempt] = Field(default_factory=list)
    container: BatchContainer | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class EventBridgeEvent(BaseModel):
    """The EventBridge envelope, as AWS delivers it to a Lambda target."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")


class BatchJobStateChange(EventBridgeEvent):
    detail: BatchJobDetail


class ScheduleTick(EventBridgeEvent):
    """An EventBridge scheduled-rule event; only its ``time`` matters."""

    detail: dict[str, Any] = Field(default_factory=dict)


TERMINAL = ("SUCCEEDED", "FAILED")


def job_outcome(event: BatchJobStateChange, our_queues: set[str]) -> JobOutcome | None:
    """The outcome of one of our jobs, or None for a job that is not ours or not finished.

    Ours means: on one of our job queues (by name or ARN) and tagged with table, run_id and step.
    """
    detail = event.detail
    queue_name = detail.job_queue.rsplit("/", 1)[-1]
    tags = detail.tags
    if detail.status not in TERMINAL or queue_name not in our_queues:
        return None
    if not {"table", "run_id", "step"} <= tags.keys() or tags["step"] not in STEP_NAMES:
        return None
    container = detail.container or (detail.attempts[-1].container if detail.attempts else None)
    return JobOutcome(
        table=tags["table"],
        run_id=tags["run_id"],
        step=tags["step"],
        job_id=detail.job_id,
        status=detail.status,
        status_reason=detail.status_reason or (container.reason if container else None),
        exit_code=container.exit_code if container else None,
        log_stream=container.log_stream_name if container else None,
    )
