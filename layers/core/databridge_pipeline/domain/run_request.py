"""RunRequest: the run queue's message body. An operator may write one by hand, so it is strict."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from databridge_pipeline.domain.step_kinds import StepName
from databridge_pipeline.domain.tables import TableId

Trigger = Literal["schedule", "manual", "retry"]
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:+=@-]{0,99}$"


class RunRequest(BaseModel):
    """``{"table": "databridge/lni/permits"}`` is enough; the rest has defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableId
    from_step: StepName | None = None
    trigger: Trigger = "manual"
    scheduled_for: datetime | None = None
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN)
    attempt: int = Field(default=1, ge=1, le=11)

    @field_validator("table", mode="before")
    @classmethod
    def _table(cls, value: object) -> object:
        if isinstance(value, str):
            return TableId.parse(value)
        return value

    @field_validator("scheduled_for", mode="before")
    @classmethod
    def _iso(cls, value: object) -> object:
        if isinstance(value, str):
            return as_utc(datetime.fromisoformat(value))
        return value


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def scheduled_run_id(scheduled_for: datetime) -> str:
    """A scheduled run's id: from its fire time, so a repeated tick can never start a second run."""
    return "scheduled-" + as_utc(scheduled_for).strftime("%Y%m%dT%H%MZ")


def manual_run_id(message_id: str) -> str:
    """A manual run's id: from the SQS message id, so a redelivered message is the same run."""
    return "manual-" + re.sub(r"[^A-Za-z0-9-]", "", message_id)[:64]


def run_id_for(request: RunRequest, message_id: str) -> str:
    if request.run_id:
        return request.run_id
    if request.trigger == "schedule" and request.scheduled_for is not None:
        return scheduled_run_id(request.scheduled_for)
    return manual_run_id(message_id)
