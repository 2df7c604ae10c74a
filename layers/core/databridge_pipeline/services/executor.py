"""Carry out a run decision: the conditional ledger write first, then the one side effect it allows.

The executor returns what it did (the run as saved, and the repair it made when a take-over found the job
an earlier invocation submitted), so a caller needs no counter to learn it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from databridge_pipeline.domain.alerts import run_alert
from databridge_pipeline.domain.errors import RetryLater, StaleRun
from databridge_pipeline.domain.job_requests import ChainError, job_request, plan_steps
from databridge_pipeline.domain.repairs import RepairKind
from databridge_pipeline.domain.runs import Decision, Drop, Finish, Run, ScheduleRetry, Start, Submit, Wait
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.domain.tables import Table
from databridge_pipeline.observability import count, log_run, logger
from databridge_pipeline.ports import AlertSink, BatchJobs, Clock, Ledger, RunQueue


@dataclass(frozen=True)
class Applied:
    """What carrying out a decision did: the run as saved (None when there was nothing to do), and
    ``adopted`` when it found the step's job already submitted instead of submitting one."""

    run: Run | None
    repair: RepairKind | None = None


@dataclass(frozen=True)
class LogLinks:
    """Where a failed job's CloudWatch log stream is, for the alert's link."""

    region: str
    log_group: str


RepairObserver = Callable[[RepairKind, str], None]  # (kind, table id)


@dataclass(eq=False)
class RunExecutor:
    """``on_repair`` is told of each repair besides its metric and log line (the local run tallies them)."""

    settings: PipelineSettings
    ledger: Ledger
    batch: BatchJobs
    queue: RunQueue
    alerts: AlertSink
    clock: Clock
    links: LogLinks
    on_repair: RepairObserver | None = None

    def apply(self, decision: Decision, table: Table) -> Applied:
        """Perform ``decision``; ``RetryLater`` when it says to wait."""
        if isinstance(decision, Start):
            return self._submit(self.ledger.start_run(decision.run), table)
        if isinstance(decision, Submit):
            return self._submit(self.ledger.save_run(decision.run), table, adopt=decision.adopt)
        if isinstance(decision, ScheduleRetry):
            run = self.ledger.save_run(decision.run) if decision.save else decision.run
            self.queue.send(decision.request, delay_seconds=decision.delay_seconds)
            log_run("retry_scheduled", run, attempt=decision.request.attempt, delay_seconds=decision.delay_seconds)
            return Applied(run)
        if isinstance(decision, Finish):
            return Applied(self._finish(decision))
        if isinstance(decision, Wait):
            raise RetryLater(decision.reason)
        assert isinstance(decision, Drop)
        logger.info(f"nothing to do: {decision.reason}", extra={"table": str(table.id)})
        return Applied(None)

    def post_alert(self, run: Run, kind: Literal["run_failed", "run_stuck"]) -> Run:
        """Post a run's pending alert, then mark it sent. A Slack error propagates with the alert still pending."""
        links = self.links
        self.alerts.post(run_alert(run, kind, self.settings.environment, links.region, links.log_group))
        count("AlertsSent", self.settings.environment, run.table, outcome=kind)
        field = "alert" if kind == "run_failed" else "stuck_alert"
        return self.ledger.save_run(run.model_copy(update={field: "sent", "updated_at": self.clock()}))

    def repaired(self, kind: RepairKind, run: Run) -> None:
        """Count a repair (metric ``Repairs`` by kind): the pass, or a take-over, did what a lost delivery
        should have done, a sign that something upstream lost work."""
        count("Repairs", self.settings.environment, run.table, kind=kind)
        log_run(f"repaired_{kind}", run)
        if self.on_repair is not None:
            self.on_repair(kind, run.table)

    def free_orphan_slot(self, table_id: str, run_id: str) -> None:
        """Free a slot whose run the ledger does not have (it expired, or a write was lost): a repair."""
        self.ledger.free_slot(table_id, run_id)
        logger.warning(f"freed the slot of {table_id}: run {run_id} is not in the ledger")
        count("Repairs", self.settings.environment, table_id, kind="freed")
        if self.on_repair is not None:
            self.on_repair("freed", table_id)

    def _submit(self, run: Run, table: Table, adopt: bool = False) -> Applied:
        steps = {step.name: step for step in plan_steps(table, self.settings.command_set)}
        step = steps.get(run.step.name)
        if step is None:  # e.g. a run started under another command set, at a step this one skips
            raise ChainError(f"{table.id} has no step {run.step.name!r} in the {self.settings.command_set} set")
        request = job_request(table, step, self.settings, run.run_id, attempt=run.step.attempts)
        try:
            job_id = self.batch.find(request) if adopt else None
            repair: RepairKind | None = "adopted" if job_id is not None else None
            if repair is not None:
                self.repaired(repair, run)
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
        return Applied(saved, repair)

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
