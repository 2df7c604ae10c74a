"""The dispatcher: a tick -> one run request per due table on the run queue, and stuck runs alerted."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.catalog import Catalog
from databridge_pipeline.observability import count, log_run, logger
from databridge_pipeline.run_actions import RunActions
from databridge_pipeline.run_request import RunRequest, scheduled_run_id
from databridge_pipeline.runs import stuck_runs
from databridge_pipeline.schedule import Window, as_utc, due_runs

# With no cursor yet, a tick covers the minute before it. After an outage, catch-up looks back at most
# this far (one run per table, its latest, as Airflow's catchup=False).
FIRST_WINDOW = timedelta(minutes=1)
MAX_CATCH_UP = timedelta(hours=24)


class TickResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    window: Window | None
    dispatched: int
    send_calls: int
    stuck_alerted: int


class Dispatcher:
    def __init__(self, catalog: Catalog, actions: RunActions) -> None:
        self.catalog = catalog
        self.actions = actions

    def tick(self, time: datetime) -> TickResult:
        """Dispatch the window (cursor, time] (the tick's own time, never the clock), then check stuck runs."""
        time = as_utc(time)
        ledger = self.actions.ledger
        last = ledger.cursor()
        after = max(last, time - MAX_CATCH_UP) if last else time - FIRST_WINDOW
        window: Window | None = None
        dispatched = calls = 0
        if time > after:
            window = Window(after=after, until=time)
            requests = [
                RunRequest(
                    table=run.table,
                    trigger="schedule",
                    scheduled_for=run.scheduled_for,
                    run_id=scheduled_run_id(run.scheduled_for),
                )
                for run in due_runs(self.catalog, window)
            ]
            calls = self.actions.queue.send_all(requests)
            ledger.advance_cursor(time)
            dispatched = len(requests)
            for request in requests:
                logger.info(
                    f"{request.table} {request.run_id}: dispatched",
                    extra={"table": str(request.table), "run_id": request.run_id, "run_status": "dispatched"},
                )
            if dispatched:
                count("RunsDispatched", self.actions.settings.environment, value=dispatched)
        return TickResult(window=window, dispatched=dispatched, send_calls=calls, stuck_alerted=self._alert_stuck(time))

    def _alert_stuck(self, now: datetime) -> int:
        """Alert once per stuck run; a Slack failure leaves the alert pending for the next tick."""
        timeouts = {str(t.id): t.config.timeout_minutes for t in self.catalog}
        alerted = 0
        for run in stuck_runs(self.actions.ledger.active_runs(), timeouts, now):
            count("StuckRuns", self.actions.settings.environment, run.table)
            pending = run
            if run.stuck_alert == "none":
                pending = self.actions.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"}))
                log_run("stuck", pending)
            try:
                self.actions.post_alert(pending, "run_stuck")
                alerted += 1
            except Exception:
                logger.exception(f"stuck alert for {run.table} {run.run_id} not sent; retried next tick")
        return alerted
