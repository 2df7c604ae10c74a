"""The reconciliation pass: every minute, bring each active run to where AWS Batch says it is.

It walks the taken run slots (one Query) and the runs with unsent alerts (a sparse index), asks Batch about
submitted jobs in calls of 100, and applies ``reconcile.reconcile_run``'s decisions through the same
executor as the events. A run it cannot move and that is past its timeout is alerted as stuck, once.
Cost per pass: O(active runs + pending alerts), never O(ledger).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.errors import RetryLater, StaleRun
from databridge_pipeline.domain.repairs import REPAIR_KINDS, RepairKind, RetryPolicy, job_to_poll, reconcile_run
from databridge_pipeline.domain.runs import Run, step_since, stuck_runs
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.observability import count, log_run, logger
from databridge_pipeline.ports import BatchJobs, Clock, Ledger
from databridge_pipeline.services.executor import RunExecutor


class PassResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    active: int
    repairs: dict[str, int]
    describe_calls: int
    stuck_alerted: int
    alerts_posted: int
    alerts_pending: int
    oldest_pending_alert_minutes: float
    errors: int


@dataclass(eq=False)
class Reconciler:
    catalog: Catalog
    ledger: Ledger
    batch: BatchJobs
    executor: RunExecutor
    settings: PipelineSettings
    clock: Clock

    def run_pass(self) -> PassResult:
        """One pass at the clock's time. A run that fails to reconcile is logged and left for the next
        pass; the others go on."""
        now = self.clock()
        ledger, batch = self.ledger, self.batch
        repairs: Counter[RepairKind] = Counter()
        calls_before = batch.describe_calls
        errors = 0
        active: list[Run] = []
        for table_id, run_id, run in ledger.slots():
            if run is None:
                self.executor.free_orphan_slot(table_id, run_id)
                repairs["freed"] += 1
            elif isinstance(run, Run):
                active.append(run)
        polled = [job for run in active if (job := job_to_poll(run, now)) is not None]
        jobs = batch.states(polled) if polled else {}
        still_running: list[Run] = []
        for run in active:
            logger.set_correlation_id(run.run_id)
            try:
                running, repair = self._reconcile(run, jobs, now)
                still_running.extend(running)
                repairs.update([repair] if repair else [])
            except (StaleRun, RetryLater) as moved:  # an event or message got there first: nothing to do
                logger.info(f"{run.table} {run.run_id}: left as it is ({moved})")
            except Exception:
                errors += 1
                logger.exception(f"could not reconcile {run.table} {run.run_id}; the next pass tries again")
        logger.set_correlation_id(None)
        stuck_alerted, tried = self._alert_stuck(still_running, now)
        posted, pending = self._post_pending_alerts(tried)
        oldest = max(((now - r.updated_at).total_seconds() / 60 for r in pending), default=0.0)
        env = self.settings.environment
        count("ReconcilePasses", env)
        if pending:  # the alarm "alerts not reaching Slack" fires past 30 minutes
            count("AlertsPending", env, value=len(pending))
            count("OldestPendingAlertMinutes", env, value=round(oldest, 1), unit=MetricUnit.NoUnit)
        return PassResult(
            active=len(active),
            repairs={kind: repairs.get(kind, 0) for kind in REPAIR_KINDS},
            describe_calls=batch.describe_calls - calls_before,
            stuck_alerted=stuck_alerted,
            alerts_posted=posted,
            alerts_pending=len(pending),
            oldest_pending_alert_minutes=round(oldest, 1),
            errors=errors,
        )

    def _reconcile(self, run: Run, jobs: dict[str, JobState], now: datetime) -> tuple[list[Run], RepairKind | None]:
        """Apply the run's repair, if any; returns the run when it is still running afterwards, and the
        repair made (a resubmission that found its job already submitted is an adoption)."""
        table = self.catalog.get(run.table)
        if table is None:
            logger.error(f"run {run.run_id} names table {run.table}, which has no config; left as it is")
            return [run], None
        repair = reconcile_run(run, jobs, RetryPolicy.of(table, self.settings), now)
        if repair is None:
            return [run], None
        applied = self.executor.apply(repair.decision, table)
        saved = applied.run
        if applied.repair is None:
            self.executor.repaired(repair.kind, saved or run)
        made = applied.repair or repair.kind
        return ([saved] if saved is not None and not saved.finished else []), made

    def _alert_stuck(self, runs: list[Run], now: datetime) -> tuple[int, set[str]]:
        """Alert once per stuck run; when Slack refuses, the alert stays pending for the next pass.
        Returns how many were posted and the run ids tried."""
        timeouts = {str(t.id): t.config.timeout_minutes for t in self.catalog}
        alerted = 0
        tried: set[str] = set()
        for run in stuck_runs(runs, timeouts, now):
            tried.add(run.run_id)
            try:
                pending = run
                if run.stuck_alert == "none":
                    count("StuckRuns", self.settings.environment, run.table)
                    pending = self.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"}))
                    log_run("stuck", pending, state=run.step.status, since=step_since(run).isoformat())
                alerted += self.executor.try_post_alert(pending, "run_stuck").stuck_alert == "sent"
            except StaleRun:
                logger.info(f"{run.table} {run.run_id} moved on while being alerted as stuck; checked next pass")
        return alerted, tried

    def _post_pending_alerts(self, tried: set[str]) -> tuple[int, list[Run]]:
        """Post every alert Slack has not accepted yet; returns how many went out and those still pending."""
        posted = 0
        pending: list[Run] = []
        for run in self.ledger.pending_alert_runs():
            if not isinstance(run, Run):
                continue
            if run.run_id in tried and run.alert != "pending":
                pending.append(run)  # its stuck alert was just tried above
                continue
            after = self.executor.try_post_alert(run, "run_failed" if run.alert == "pending" else "run_stuck")
            if "pending" in (after.alert, after.stuck_alert):
                pending.append(after)
            else:
                posted += 1
        return posted, pending
