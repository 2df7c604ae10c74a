"""The status of every configured table, whether it ever ran or not: what ``databridge-pipeline status``
shows, built from the configs, each table's runs, the pauses and the freshness records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.freshness import Freshness, is_stale
from databridge_pipeline.domain.pauses import Pause, pause_of
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.schedule import next_fire_time
from databridge_pipeline.domain.tables import Table

TableState = Literal["never run", "running", "succeeded", "failed", "cancelled"]


class TableStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    table: str
    state: TableState
    run_id: str | None = None
    step: str | None = None  # the current step of a running run, the failed step of a failed one
    reason: str | None = None  # one line
    updated_at: datetime | None = None
    next_fire: datetime | None = None  # None: manual only
    paused: Pause | None = None
    last_success: datetime | None = None
    stale: bool = False


def table_statuses(
    tables: Iterable[Table],
    runs: Mapping[str, Sequence[Run]],
    pauses: Sequence[Pause],
    freshness: Mapping[str, Freshness],
    now: datetime,
) -> list[TableStatus]:
    """One row per table, in id order; ``runs`` holds each table's runs, newest first."""
    rows = []
    for table in tables:
        table_id = str(table.id)
        table_runs = runs.get(table_id, ())
        latest = table_runs[0] if table_runs else None
        successes = [r.finished_at for r in table_runs if r.status == "succeeded" and r.finished_at]
        known = freshness.get(table_id)
        last_success = max([*successes, *([known.last_success] if known and known.last_success else [])], default=None)
        reference = last_success or (known.first_seen if known else None)
        cron = table.config.cron
        rows.append(
            TableStatus(
                table=table_id,
                state=latest.status if latest else "never run",
                run_id=latest.run_id if latest else None,
                step=latest.step.name if latest else None,
                reason=run_reason(latest) if latest else None,
                updated_at=latest.updated_at if latest else None,
                next_fire=next_fire_time(cron, table.config.timezone, now) if cron else None,
                paused=pause_of(table_id, pauses),
                last_success=last_success,
                stale=is_stale(table, reference, now),
            )
        )
    return rows


def run_reason(run: Run) -> str | None:
    """One line on where the run is or why it failed."""
    step = run.step
    if run.status == "failed":
        reason = " ".join((step.status_reason or "no reason given").split())
        return f"{reason} (exit code {step.exit_code})" if step.exit_code is not None else reason
    if run.status == "running":
        retry = f", attempt {step.attempts}" if step.attempts > 1 else ""
        return f"{step.name} {step.status.replace('_', ' ')}{retry}"
    if run.status == "cancelled":
        return " ".join((run.note or "cancelled").split())
    return None
