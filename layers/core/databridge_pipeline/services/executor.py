"""Carry out a run decision: the conditional ledger write first, then the one side effect it allows.

The executor returns what it did (the run as saved, and the repair it made when a take-over found the job
an earlier invocation submitted), so a caller needs no counter to learn it.

SubmitJob is made once per call (never retried inside the client): a job Batch refuses for good fails the
step as a failed job would; a throttled one releases the step's lease; one of unknown outcome keeps it, so the
pass's take-over finds the job before it submits again. An alert is claimed (a lease on the run, a
conditional write on a consistent re-read) before it is posted, so two invocations never both post it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from databridge_pipeline.domain.alerts import AlertKind, run_alert
from databridge_pipeline.domain.errors import JobRejected, LeftToPass, NotMade, RetryLater, StaleRun
from databridge_pipeline.domain.job_requests import ChainError, JobRequest, job_request, plan_steps
from databridge_pipeline.domain.repairs import RepairKind, RetryPolicy
from databridge_pipeline.domain.runs import (
    Decision,
    Drop,
    Finish,
    Run,
    ScheduleRetry,
    Start,
    Submit,
    Wait,
    on_submit_rejected,
)
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
AlertField = Literal["alert", "stuck_alert"]

# An invocation posting an alert holds it this long: longer than a Slack post can take (slack_sdk's timeout
# and its one retry), so the lease never lapses while a post is in flight.
ALERT_LEASE = timedelta(minutes=2)
SAVE_ATTEMPTS = 3  # re-reads when another invocation saved the run meanwhile (a stuck mark, an alert claim)


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

    def post_alert(self, run: Run, field: AlertField) -> Run:
        """Post the run's pending alert of ``field`` once: re-read the run consistently, claim the alert with a
        lease (a conditional write), post, then mark it sent. Another invocation's live claim, or an alert
        already sent, leaves it be. A Slack error propagates with the alert still pending (its lease lapses)."""
        fresh = self.ledger.get_run(run.table, run.run_id)
        now = self.clock()
        if fresh is None or getattr(fresh, field) != "pending":
            return fresh or run
        if fresh.alert_lease is not None and fresh.alert_lease > now:
            return fresh  # another invocation is posting it right now
        lease = now + ALERT_LEASE
        claimed = self.ledger.save_run(fresh.model_copy(update={"alert_lease": lease}))
        kind = alert_kind(claimed, field)
        links = self.links
        try:
            self.alerts.post(run_alert(claimed, kind, self.settings.environment, links.region, links.log_group))
        except Exception:
            self._release_claim(claimed)
            raise
        count("AlertsSent", self.settings.environment, run.table, outcome=kind)
        return self._mark_sent(claimed, field, lease)

    def _release_claim(self, run: Run) -> None:
        """Slack refused the post: give the claim up, so a redelivery or the next pass posts at once (if the
        release is lost, the lease lapses by itself)."""
        try:
            self.ledger.save_run(run.model_copy(update={"alert_lease": None}))
        except Exception as error:
            logger.info(f"alert claim of {run.table} {run.run_id} left to lapse ({type(error).__name__})")

    def _mark_sent(self, run: Run, field: AlertField, lease: datetime) -> Run:
        """Mark the posted alert sent, on the fresh version when an event saved the run meanwhile, as long as
        the claim is still ours."""
        saved = self._save_while_ours(
            run,
            lambda r: r.model_copy(update={field: "sent", "alert_lease": None}),
            lambda fresh: fresh.alert_lease == lease,
            "its alert was marked sent",
        )
        if saved is None:
            raise StaleRun(f"run {run.run_id} of {run.table}: another invocation took its alert claim over")
        return saved

    def _save_while_ours(
        self, run: Run, change: Callable[[Run], Run], still_ours: Callable[[Run], bool], doing: str
    ) -> Run | None:
        """Save ``change(run)``; when another invocation saved the run meanwhile (a stuck mark, an alert claim,
        an event), re-read it and make the change on its version while ``still_ours`` holds. None once it no
        longer does (the run gone or moved on); ``StaleRun`` when it keeps changing."""
        for _ in range(SAVE_ATTEMPTS):
            try:
                return self.ledger.save_run(change(run))
            except StaleRun:
                fresh = self.ledger.get_run(run.table, run.run_id)
                if fresh is None or not still_ours(fresh):
                    return None
                run = fresh
        raise StaleRun(f"run {run.run_id} of {run.table} kept changing while {doing}")

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
        job_id = self.batch.find(request) if adopt else None
        repair: RepairKind | None = "adopted" if job_id is not None else None
        if repair is not None:
            self.repaired(repair, run)
        else:
            try:
                job_id = self.batch.submit(request)
            except JobRejected as rejected:
                return self._rejected(run, table, rejected.reason)
            except Exception as error:
                self._submit_failed(run, error)
        assert job_id is not None
        saved = self._record_submitted(run, job_id, request)
        count("JobsSubmitted", self.settings.environment, run.table, step=run.step.name)
        log_run("submitted", saved, job_id=job_id, attempt=run.step.attempts)
        return Applied(saved, repair)

    def _rejected(self, run: Run, table: Table, reason: str) -> Applied:
        """Batch refused the job for good: the step failed, as a failed job's would (retries, then the alert)."""
        policy = RetryPolicy.of(table, self.settings)
        count("JobsRejected", self.settings.environment, run.table, step=run.step.name)
        log_run("submit_rejected", run, reason=reason)
        return self.apply(on_submit_rejected(run, reason, policy.retries, policy.delay_minutes, self.clock()), table)

    def _submit_failed(self, run: Run, error: Exception) -> None:
        """SubmitJob did not say it made a job. Throttled (``NotMade``): no job exists, so the lease is released
        and the pass submits at its next minute. Any other error may hide a job that exists: the lease stays
        until it lapses, and the take-over then finds that job before it submits. Either way the run is the
        pass's now."""
        if isinstance(error, NotMade):
            self._release(run)
        raise LeftToPass(
            f"run {run.run_id} of {run.table}: SubmitJob of {run.step.name} failed ({type(error).__name__}); "
            "the reconciliation pass submits it again"
        ) from error

    def _record_submitted(self, run: Run, job_id: str, request: JobRequest) -> Run:
        """Save the step as submitted with its job, on the fresh version while the step is still this attempt
        being submitted; if the run moved on (cancelled), the job belongs to no run: terminate it."""

        def submitted(current: Run) -> Run:
            now = self.clock()
            step = current.step.model_copy(update={"status": "submitted", "job_id": job_id, "since": now})
            return current.with_step(step, now)

        saved = self._save_while_ours(run, submitted, lambda fresh: _same_attempt(fresh, run), "its job was recorded")
        if saved is None:
            self._terminate_orphan(job_id, run, request)
            raise StaleRun(f"run {run.run_id} of {run.table} moved on while its job {job_id} was submitted")
        return saved

    def _terminate_orphan(self, job_id: str, run: Run, request: JobRequest) -> None:
        """A job no run records (its run was cancelled while it was submitted): stop it, or say so loudly."""
        try:
            self.batch.terminate(job_id, f"run {run.run_id} moved on while {request.job_name} was submitted")
        except Exception as error:
            count("OrphanJobsLeft", self.settings.environment, run.table)
            logger.error(f"job {job_id} of {run.table} belongs to no run and could not be stopped ({error!r})")

    def _release(self, run: Run) -> None:
        """SubmitJob was throttled, so no job exists: clear the lease so the pass may submit at once."""
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
            run = self.try_post_alert(run, "alert")
        return run

    def try_post_alert(self, run: Run, field: AlertField) -> Run:
        """Post the alert; when Slack refuses it stays pending in the ledger (the pass posts it again). A run
        another invocation moved on meanwhile is left to that invocation and the next pass."""
        try:
            return self.post_alert(run, field)
        except StaleRun:
            logger.info(f"{run.table} {run.run_id} moved on while its alert was claimed; the next pass looks again")
            return run
        except Exception as error:
            count("AlertsNotSent", self.settings.environment, run.table, outcome=alert_kind(run, field))
            logger.warning(
                f"{field} of {run.table} {run.run_id} not posted ({type(error).__name__}); "
                "it stays pending and the reconciliation pass posts it again",
                extra={"table": run.table, "run_id": run.run_id},
            )
            return run


def alert_kind(run: Run, field: AlertField) -> AlertKind:
    """Which alert a pending ``field`` of ``run`` is: its failure (or cancellation), or its stuck alert."""
    if field == "stuck_alert":
        return "run_stuck"
    return "run_cancelled" if run.status == "cancelled" else "run_failed"


def _same_attempt(fresh: Run, run: Run) -> bool:
    """Whether ``fresh`` is still at ``run``'s step and attempt, being submitted."""
    step = fresh.step
    return (
        not fresh.finished
        and fresh.current == run.current
        and step.status == "submitting"
        and step.attempts == run.step.attempts
    )
