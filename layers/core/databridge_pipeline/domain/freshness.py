"""Freshness: is a table's data as recent as its schedule promises?

A scheduled table is stale once a fire after its last success has had its whole timeout and no success
came: the deadline is the first fire after the last success, plus ``timeout_minutes``. For a daily table
that is the expected interval plus the timeout; for ``2-6`` weekday crons and quarterly crons it follows
the calendar (no alert over a weekend). A table that never succeeded counts from when the pipeline first
saw it. Manual-only tables are exempt. This catches what the run checks cannot: a table never dispatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.run_request import as_utc
from databridge_pipeline.domain.tables import Table


class Freshness(BaseModel):
    """What the ledger keeps per table (``TABLE/<id>``): its last success, when the pipeline first saw it,
    and the staleness episode already alerted (the reference time it was stale from)."""

    model_config = ConfigDict(frozen=True)

    table: str
    last_success: datetime | None = None
    first_seen: datetime | None = None
    alerted_for: datetime | None = None

    @property
    def reference(self) -> datetime | None:
        """What freshness counts from: the last success, else when the table was first seen."""
        return self.last_success or self.first_seen


def stale_deadline(table: Table, reference: datetime | None) -> datetime | None:
    """When the table turns stale if no success lands: None for a manual-only table or with no reference."""
    # Imported here: the ledger (so every handler) imports this module for Freshness, and croniter belongs
    # to the dispatcher's cold start only.
    from databridge_pipeline.domain.schedule import next_fire_time

    cron = table.config.cron
    if cron is None or reference is None:
        return None
    return next_fire_time(cron, table.config.timezone, as_utc(reference)) + timedelta(
        minutes=table.config.timeout_minutes
    )


def is_stale(table: Table, reference: datetime | None, now: datetime) -> bool:
    deadline = stale_deadline(table, reference)
    return deadline is not None and as_utc(now) > deadline


class StaleTable(BaseModel):
    """A table past its freshness deadline; ``alerted``: this episode (this reference time) was alerted."""

    model_config = ConfigDict(frozen=True)

    table: str
    reference: datetime
    never_succeeded: bool
    deadline: datetime
    alerted: bool


def stale_tables(
    tables: Iterable[Table], records: Mapping[str, Freshness], paused: Iterable[str], now: datetime
) -> list[StaleTable]:
    """The scheduled, unpaused tables past their deadline. One episode per reference time: a new success
    moves the reference, so the next staleness is a new episode with its own alert."""
    skip = set(paused)
    stale = []
    for table in tables:
        table_id = str(table.id)
        record = records.get(table_id)
        reference = record.reference if record else None
        if table_id in skip or record is None or reference is None:
            continue
        deadline = stale_deadline(table, reference)
        if deadline is not None and as_utc(now) > deadline:
            stale.append(
                StaleTable(
                    table=table_id,
                    reference=reference,
                    never_succeeded=record.last_success is None,
                    deadline=deadline,
                    alerted=record.alerted_for == reference,
                )
            )
    return stale


def age(since: datetime | None, now: datetime) -> str:
    """``3d 4h``, ``5h 20m``, ``12m``; ``never`` without a time."""
    if since is None:
        return "never"
    minutes = max(int((as_utc(now) - as_utc(since)).total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"
