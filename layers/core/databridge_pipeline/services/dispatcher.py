"""The dispatcher: a tick -> one run request per due table on the run queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.pauses import describe, pause_of
from databridge_pipeline.domain.run_request import RunRequest, as_utc, scheduled_run_id
from databridge_pipeline.domain.schedule import ScheduleIndex, Window
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.observability import count, logger
from databridge_pipeline.ports import Ledger, RunQueue

# With no cursor yet, a tick covers the minute before it. After an outage, catch-up looks back at most
# this far (one run per table, its latest, as Airflow's catchup=False).
FIRST_WINDOW = timedelta(minutes=1)
MAX_CATCH_UP = timedelta(hours=24)


class TickResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    window: Window | None
    dispatched: int
    send_calls: int
    skipped_paused: int = 0


@dataclass(eq=False)
class Dispatcher:
    catalog: Catalog
    ledger: Ledger
    queue: RunQueue
    settings: PipelineSettings
    _index: ScheduleIndex | None = field(default=None, init=False)

    @property
    def index(self) -> ScheduleIndex:
        """The catalog's schedule index, built at the first tick and kept while the container is warm (the
        catalog, hence the manifest, is fixed for a container's life)."""
        if self._index is None:
            self._index = ScheduleIndex(self.catalog)
        return self._index

    def tick(self, time: datetime) -> TickResult:
        """Dispatch the window (cursor, time] (the tick's own time, never the clock)."""
        time = as_utc(time)
        logger.set_correlation_id(None)  # the tick is about no one run; the lines about a run name it
        ledger = self.ledger
        last = ledger.cursor()
        after = max(last, time - MAX_CATCH_UP) if last else time - FIRST_WINDOW
        window: Window | None = None
        dispatched = calls = skipped = 0
        if time > after:
            window = Window(after=after, until=time)
            due = self.index.due(window) if self.settings.schedule_enabled else []
            requests = [
                RunRequest(
                    table=run.table,
                    trigger="schedule",
                    scheduled_for=run.scheduled_for,
                    run_id=scheduled_run_id(run.scheduled_for),
                )
                for run in due
            ]
            requests, skipped = self._skip_paused(requests)
            calls = self.queue.send_all(requests)
            ledger.advance_cursor(time)
            dispatched = len(requests)
            for request in requests:
                logger.info(
                    f"{request.table} {request.run_id}: dispatched",
                    extra={"table": str(request.table), "run_id": request.run_id, "run_status": "dispatched"},
                )
            if dispatched:
                count("RunsDispatched", self.settings.environment, value=dispatched)
        count("Ticks", self.settings.environment)  # the heartbeat alarm's metric
        return TickResult(window=window, dispatched=dispatched, send_calls=calls, skipped_paused=skipped)

    def _skip_paused(self, requests: list[RunRequest]) -> tuple[list[RunRequest], int]:
        """Leave out the fires of paused tables, each logged and counted (``FiresSkippedPaused``). The pauses
        are read only when something is due: one Query, O(paused)."""
        if not requests:
            return requests, 0
        pauses = self.ledger.pauses()
        kept: list[RunRequest] = []
        for request in requests:
            pause = pause_of(str(request.table), pauses)
            if pause is None:
                kept.append(request)
                continue
            logger.info(
                f"{request.table} {request.run_id}: scheduled fire skipped, {describe(pause)}",
                extra={"table": str(request.table), "run_id": request.run_id, "run_status": "skipped_paused"},
            )
        skipped = len(requests) - len(kept)
        if skipped:
            count("FiresSkippedPaused", self.settings.environment, value=skipped)
        return kept, skipped
