"""Carry out a run decision: the conditional ledger write first, then the one side effect it allows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Literal, Protocol

from databridge_pipeline.adapters.batch import BatchJobs
from databridge_pipeline.adapters.ledger import Ledger, StaleRun
from databridge_pipeline.adapters.run_queue import RunQueue
from databridge_pipeline.domain.alerts import Alert, StaleAlert, run_alert
from databridge_pipeline.domain.job_requests import ChainError, job_request, plan_steps
from databridge_pipeline.domain.runs import Decision, Drop, Finish, Run, ScheduleRetry, Start, Submit, Wait
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.domain.tables import Table
from databridge_pipeline.observability import count, log_run, logger


class AlertSink(Protocol):
    def post(self, alert: Alert | StaleAlert) -> None: ...


class RetryLater(Exception):
    """The work is in another invocation's hands right now; the message or event is retried later."""


class RunActions:
    def __init__(
        self,
        settings: PipelineSettings,
        ledger: Ledger,
        batch: BatchJobs,
        queue: RunQueue,
        alerts: AlertSink,
        clock: Callable[[], datetime],
        region: str,
        log_group: str,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.batch = batch
        self.queue = queue
        self.alerts = alerts
        self.clock = clock
        self.region = region
        self.log_group = log_group
        self.repairs: Counter[str] = Counter()

    def apply(self, decision: Decision, table: Table) -> Run | None:
        """Perform ``decision``; returns the run as saved (None when there was nothing to do)."""
        if isinstance(decision, Start):
            return self._submit(self.ledger.start_run(decision.run), table)
        if isinstance(decision, Submit):
            return self._submit(self.ledger.save_run(decision.run), table, adopt=decision.adopt)
        if isinstance(decision, ScheduleRetry):
            run = self.ledger.save_run(decision.run) if decision.save else decision.run
            self.queue.send(decision.request, delay_seconds=decision.delay_seconds)
            log_run("retry_scheduled", run, attempt=decision.request.attempt, delay_seconds=decision.delay_seconds)
            return run
        if isinstance(decision, Finish):
            return self._finish(decision)
        if isinstance(decision, Wait):
            raise RetryLater(decision.reason)
        assert isinstance(decision, Drop)
        logger.info(f"nothing to do: {decision.reason}", extra={"table": str(table.id)})
        return None

    def post_alert(self, run: Run, kind: Literal["run_failed", "run_stuck"]) -> Run:
        """Post a run's pending alert, then mark it sent. A Slack error propagates with the alert still pending."""
        self.alerts.post(run_alert(run, kind, self.settings.environment, self.region, self.log_group))
        count("AlertsSent", self.settings.environment, run.table, outcome=kind)
        field = "alert" if kind == "run_failed" else "stuck_alert"
        return self.ledger.save_run(run.model_copy(update={field: "sent", "updated_at": self.clock()}))

    def repaired(self, kind: str, run: Run) -> None:
        """Count a repair (metric ``Repairs`` by kind): the pass, or a take-over, did what a lost delivery
        should have done, a sign that something upstream lost work."""
        self.repairs[kind] += 1
        count("Repairs", self.settings.environment, run.table, kind=kind)
        log_run(f"repaired_{kind}", run)

    def _submit(self, run: Run, table: Table, adopt: bool = False) -> Run:
        steps = {step.name: step for step in plan_steps(table, self.settings.command_set)}
        step = steps.get(run.step.name)
        if step is None:  # e.g. a run started under another command set, at a step this one skips
            raise ChainError(f"{table.id} has no step {run.step.name!r} in the {self.settings.command_set} set")
        request = job_request(table, step, self.settings, run.run_id, attempt=run.step.attempts)
        try:
            job_id = self.batch.find(request) if adopt else None
            if job_id is not None:
                self.repaired("adopted", run)
            else:
                job_id = self.batch.submit(request)
        except Exception:
            self._release(run)
            raise
        now = self.clock()
        submitted = run.with_step(
            run.step.model_copy(update={"status": "submitted", "job_id": job_id, "since": now}), now
        )
        saved = self.ledger.save_run(submitted)
        count("JobsSubmitted", self.settings.environment, run.table, step=run.step.name)
        log_run("submitted", saved, job_id=job_id, attempt=run.step.attempts)
        return saved

    def _release(self, run: Run) -> None:
        """SubmitJob failed, so no job exists: clear the lease so the retried message may submit at once."""
        try:
            self.ledger.save_run(run.with_step(run.step.model_copy(update={"since": None}), self.clock()))
        except Exception:
            logger.exception(f"could not release the submit lease of {run.table} {run.run_id}; it expires by itself")

    def _finish(self, decision: Finish) -> Run:
        run = self.ledger.save_run(decision.run) if decision.save else decision.run
        self.ledger.record_finished(run)  # before the slot goes: until then the slot leads to the run
        self.ledger.free_slot(run.table, run.run_id)
        if decision.save:
            if run.status == "succeeded":
                self.ledger.record_success(run.table, run.finished_at or self.clock())
            outcome = "run_succeeded" if run.status == "succeeded" else "run_failed"
            count("RunsFinished", self.settings.environment, run.table, outcome=run.status)
            log_run(outcome, run)
        if run.alert == "pending":
            run = self.try_post_alert(run, "run_failed")
        return run

    def try_post_alert(self, run: Run, kind: Literal["run_failed", "run_stuck"]) -> Run:
        """Post the alert; when Slack refuses it stays pending in the ledger (the pass posts it again)."""
        try:
            return self.post_alert(run, kind)
        except StaleRun:
            raise
        except Exception as error:
            count("AlertsNotSent", self.settings.environment, run.table, outcome=kind)
            logger.warning(
                f"{kind} alert for {run.table} {run.run_id} not posted ({type(error).__name__}); "
                "it stays pending and the reconciliation pass posts it again",
                extra={"table": run.table, "run_id": run.run_id},
            )
            return run
