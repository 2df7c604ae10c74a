"""The reconciliation pass: every minute, bring each active run to where AWS Batch says it is.

It walks the taken run slots (one Query) and the runs with unsent alerts (a sparse index), asks Batch about
submitted jobs in calls of 100, and applies ``repairs.reconcile_run``'s decisions through the same executor
as the events. A run it cannot move and that is past its timeout is alerted as stuck, once.

No one item stops the pass: each ledger item is parsed on its own (an unreadable one is counted, alerted once
and skipped), a run whose repair raises stays in the stuck check, and a run another invocation moved is left
to it. The pass budgets its time from the Lambda context: the pending-alert figures go out before any post,
and the work that does not fit is the next pass's. Cost per pass: O(active runs + pending alerts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.errors import LeftToPass, RetryLater, StaleRun
from databridge_pipeline.domain.ledger_alerts import UnreadableAlert
from databridge_pipeline.domain.repairs import REPAIR_KINDS, RepairKind, RetryPolicy, job_to_poll, reconcile_run
from databridge_pipeline.domain.runs import Run, step_since, stuck_runs
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.observability import count, log_run, logger
from databridge_pipeline.ports import AlertSink, BatchJobs, Clock, Ledger, UnreadableRun
from databridge_pipeline.services.executor import AlertField, RunExecutor

Remaining = Callable[[], float]  # seconds left in this invocation (the Lambda context's)

# Kept for what follows the pass in the same invocation (the freshness check, the metrics flush).
RESERVE_SECONDS = 10.0
# What one repair may take (a few AWS calls with their retries), and one Slack post (slack_sdk's timeout,
# its one retry on a connection error, and the ledger writes around it).
REPAIR_SECONDS = 3.0
POST_SECONDS = 12.0


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
    unreadable: int = 0
    cut_short: bool = False


@dataclass
class _Budget:
    """Whether the invocation has time left for one more piece of work; remembers that it ran out."""

    remaining: Remaining | None
    cut_short: bool = False

    def allows(self, seconds: float) -> bool:
        if self.remaining is None or self.remaining() > seconds + RESERVE_SECONDS:
            return True
        self.cut_short = True
        return False


@dataclass
class _Tally:
    repairs: Counter[RepairKind] = field(default_factory=Counter)
    errors: int = 0
    still_running: list[Run] = field(default_factory=list)


@dataclass(eq=False)
class Reconciler:
    catalog: Catalog
    ledger: Ledger
    batch: BatchJobs
    executor: RunExecutor
    alerts: AlertSink
    settings: PipelineSettings
    clock: Clock

    def run_pass(self, remaining: Remaining | None = None) -> PassResult:
        """One pass at the clock's time, within ``remaining`` seconds when given."""
        now, budget, tally = self.clock(), _Budget(remaining), _Tally()
        calls_before = self.batch.describe_calls
        active, unreadable = self._read_slots(tally)
        polled = [job for run in active if (job := job_to_poll(run, now)) is not None]
        jobs = self.batch.states(polled) if polled and budget.allows(REPAIR_SECONDS) else {}
        for run in active:
            if not budget.allows(REPAIR_SECONDS):
                tally.still_running.append(run)
                continue
            self._reconcile_one(run, jobs, now, tally)
        marked = self._mark_stuck(tally.still_running, now)
        indexed = self.ledger.pending_alert_runs()
        unreadable += [item for item in indexed if isinstance(item, UnreadableRun) and item not in unreadable]
        pending = _merged([run for run in indexed if isinstance(run, Run)], marked)
        self._emit_pending(pending, now)  # before any post: a pass cut short still reports them
        self._alert_unreadable(unreadable, budget)
        posted, stuck_alerted, left = self._post_pending_alerts(pending, budget)
        oldest = max(((now - r.updated_at).total_seconds() / 60 for r in left), default=0.0)
        count("ReconcilePasses", self.settings.environment)
        if budget.cut_short:
            count("PassesCutShort", self.settings.environment)
            logger.warning("the pass ran out of time; the next pass does the rest")
        return PassResult(
            active=len(active),
            repairs={kind: tally.repairs.get(kind, 0) for kind in REPAIR_KINDS},
            describe_calls=self.batch.describe_calls - calls_before,
            stuck_alerted=stuck_alerted,
            alerts_posted=posted,
            alerts_pending=len(left),
            oldest_pending_alert_minutes=round(oldest, 1),
            errors=tally.errors,
            unreadable=len(unreadable),
            cut_short=budget.cut_short,
        )

    def _read_slots(self, tally: _Tally) -> tuple[list[Run], list[UnreadableRun]]:
        """The runs holding slots; an orphan slot (its run gone) is freed, an unreadable run set aside."""
        active: list[Run] = []
        unreadable: list[UnreadableRun] = []
        for table_id, run_id, run in self.ledger.slots():
            if run is None:
                self.executor.free_orphan_slot(table_id, run_id)
                tally.repairs["freed"] += 1
            elif isinstance(run, UnreadableRun):
                unreadable.append(run)
            else:
                active.append(run)
        return active, unreadable

    def _reconcile_one(self, run: Run, jobs: dict[str, JobState], now: datetime, tally: _Tally) -> None:
        """Apply the run's repair. Whatever happens, a run not known to be finished stays in the stuck check."""
        logger.set_correlation_id(run.run_id)
        try:
            finished, repair = self._reconcile(run, jobs, now)
            tally.repairs.update([repair] if repair else [])
            if not finished:
                tally.still_running.append(run)
        except (StaleRun, RetryLater, LeftToPass) as moved:  # another invocation has it, or the next pass
            logger.info(f"{run.table} {run.run_id}: left as it is ({moved})")
            tally.still_running.append(run)
        except Exception:
            tally.errors += 1
            logger.exception(f"could not reconcile {run.table} {run.run_id}; the next pass tries again")
            tally.still_running.append(self._reread(run))  # the repair may have saved it before it raised
        finally:
            logger.set_correlation_id(None)

    def _reread(self, run: Run) -> Run:
        """The run as the ledger has it now, for the stuck check; the copy at hand if that read fails too."""
        try:
            return self.ledger.get_run(run.table, run.run_id) or run
        except Exception:
            return run

    def _reconcile(self, run: Run, jobs: dict[str, JobState], now: datetime) -> tuple[bool, RepairKind | None]:
        """Apply the run's repair, if any; returns whether the run finished, and the repair made (a
        resubmission that found its job already submitted is an adoption)."""
        table = self.catalog.get(run.table)
        if table is None:
            logger.error(f"run {run.run_id} names table {run.table}, which has no config; left as it is")
            return False, None
        repair = reconcile_run(run, jobs, RetryPolicy.of(table, self.settings), now)
        if repair is None:
            return False, None
        applied = self.executor.apply(repair.decision, table)
        saved = applied.run
        if applied.repair is None:
            self.executor.repaired(repair.kind, saved or run)
        finished = saved is None or saved.finished
        return finished, applied.repair or repair.kind

    def _emit_pending(self, pending: list[Run], now: datetime) -> None:
        if not pending:  # the alarm "alerts not reaching Slack" fires past 30 minutes
            return
        env = self.settings.environment
        oldest = max((now - r.updated_at).total_seconds() / 60 for r in pending)
        count("AlertsPending", env, value=len(pending))
        count("OldestPendingAlertMinutes", env, value=round(oldest, 1), unit=MetricUnit.NoUnit)

    def _alert_unreadable(self, items: list[UnreadableRun], budget: _Budget) -> None:
        """Count every unreadable item each pass (its alarm's metric); alert each once, claimed first."""
        env = self.settings.environment
        for item in items:
            count("UnreadableRuns", env, item.table)
            logger.error(f"run item {item.run_id} of {item.table} is unreadable ({item.error}); skipped")
            if not budget.allows(POST_SECONDS):
                continue
            try:
                if not self.ledger.claim_unreadable_alert(item.table, item.run_id):
                    continue
            except Exception as error:  # its metric still counts it, and its alarm reaches a person
                logger.warning(f"could not claim the unreadable item's alert ({type(error).__name__})")
                continue
            try:
                self.alerts.post(UnreadableAlert(environment=env, **item.model_dump()))
            except Exception as error:
                logger.warning(f"unreadable-item alert not posted ({type(error).__name__}); the next pass tries")
                self._release_unreadable(item)

    def _release_unreadable(self, item: UnreadableRun) -> None:
        try:
            self.ledger.release_unreadable_alert(item.table, item.run_id)
        except Exception as error:
            logger.warning(f"could not release the unreadable item's alert claim ({type(error).__name__})")

    def _mark_stuck(self, runs: list[Run], now: datetime) -> list[Run]:
        """Mark each run past its timeout as owing a stuck alert (once); returns the runs owing one, marked now
        or before (a mark is one conditional write; the post is the executor's, with the others)."""
        timeouts = {str(t.id): t.config.timeout_minutes for t in self.catalog}
        marked: list[Run] = []
        for run in stuck_runs(runs, timeouts, now):
            if run.stuck_alert == "pending":
                marked.append(run)
                continue
            try:
                marked.append(self.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"})))
            except StaleRun:
                logger.info(f"{run.table} {run.run_id} moved on while being marked stuck; checked next pass")
                continue
            count("StuckRuns", self.settings.environment, run.table)
            log_run("stuck", run, state=run.step.status, since=step_since(run).isoformat())
        return marked

    def _post_pending_alerts(self, pending: list[Run], budget: _Budget) -> tuple[int, int, list[Run]]:
        """Post every alert Slack has not accepted yet (each re-read and claimed by the executor); returns how
        many went out, how many of those were stuck alerts, and the runs still owing one."""
        posted = stuck = 0
        left: list[Run] = []
        for run in pending:
            if not budget.allows(POST_SECONDS):
                left.append(run)
                continue
            owed: AlertField = "alert" if run.alert == "pending" else "stuck_alert"
            after = self.executor.try_post_alert(run, owed)
            if getattr(after, owed) == "sent":
                posted += 1
                stuck += owed == "stuck_alert"
            if "pending" in (after.alert, after.stuck_alert):
                left.append(after)
        return posted, stuck, left


def _merged(indexed: list[Run], marked: list[Run]) -> list[Run]:
    """The runs owing an alert: the index's (eventually consistent, so it may lag) and those just marked."""
    runs = {(run.table, run.run_id): run for run in indexed}
    for run in marked:
        known = runs.get((run.table, run.run_id))
        if known is None or known.version < run.version:
            runs[(run.table, run.run_id)] = run
    return list(runs.values())
