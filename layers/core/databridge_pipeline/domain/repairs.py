"""Reconciliation decisions: what the ledger says of an active run, checked against what AWS Batch says.

Events and messages are hints. A run moves forward on its Batch event, but an event can be lost, an
invocation can die between SubmitJob and its ledger write, a retry message can vanish. The pass looks at
every active run each minute and decides, with the same pure functions the events use, what the missing
delivery would have done; an event that arrives afterwards finds the run moved on and is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.runs import (
    Decision,
    Drop,
    Finish,
    JobOutcome,
    Run,
    ScheduleRetry,
    Wait,
    on_job_outcome,
    retry_request,
    take_over,
)
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.domain.tables import Table

RepairKind = Literal["adopted", "resubmitted", "polled", "resent", "freed"]
REPAIR_KINDS: tuple[RepairKind, ...] = ("adopted", "resubmitted", "polled", "resent", "freed")

# A submitted job is asked about only once its event had this long to arrive: the event path usually wins,
# and the pass then finds nothing to do.
POLL_GRACE = timedelta(minutes=2)
# A retry message is re-sent when it is this much overdue (SQS delivers delayed messages within seconds).
RESEND_GRACE = timedelta(minutes=5)
TERMINAL = ("SUCCEEDED", "FAILED")


class RetryPolicy(BaseModel):
    """The table's retries and delay: its config's, else the environment's defaults."""

    model_config = ConfigDict(frozen=True)

    retries: int
    delay_minutes: int

    @classmethod
    def of(cls, table: Table, settings: PipelineSettings) -> RetryPolicy:
        config = table.config
        return cls(
            retries=settings.default_retries if config.retries is None else config.retries,
            delay_minutes=(
                settings.default_retry_delay_minutes
                if config.retry_delay_minutes is None
                else config.retry_delay_minutes
            ),
        )


class Repair(BaseModel):
    """A decision the pass takes for a run, and which repair it counts as."""

    model_config = ConfigDict(frozen=True)

    kind: RepairKind
    decision: Decision


def job_to_poll(run: Run, now: datetime) -> str | None:
    """The job id to ask Batch about: the current step's, once submitted and past the event's grace."""
    step = run.step
    if run.finished or step.status != "submitted" or step.job_id is None:
        return None
    if step.since is not None and now - step.since < POLL_GRACE:
        return None
    return step.job_id


def reconcile_run(run: Run, jobs: Mapping[str, JobState], policy: RetryPolicy, now: datetime) -> Repair | None:
    """What to do for one run that holds its table's slot; None when it is where it should be.

    ``jobs`` is what DescribeJobs said of the ids ``job_to_poll`` named; a polled id missing from it is a job
    Batch no longer knows.
    """
    if run.finished:  # the slot outlived its run: free it (and post the run's alert if still pending)
        return Repair(kind="freed", decision=Finish(run=run, save=False))
    step = run.step
    if step.status == "submitting":
        resubmit = take_over(run, now)  # adopts the job the lost invocation submitted, or submits it
        return None if isinstance(resubmit, Wait) else Repair(kind="resubmitted", decision=resubmit)
    if step.status == "retry_pending":
        delay = timedelta(minutes=policy.delay_minutes)
        due = max(filter(None, (step.since and step.since + delay, step.resent_at)), default=run.updated_at)
        if now - due < RESEND_GRACE:
            return None
        resent = run.with_step(step.model_copy(update={"resent_at": now}), now)
        return Repair(kind="resent", decision=ScheduleRetry(run=resent, request=retry_request(resent), delay_seconds=0))
    job_id = job_to_poll(run, now)
    if job_id is None:
        return None
    state = jobs.get(job_id)
    if state is None:
        state = JobState(job_id=job_id, status="FAILED", status_reason=f"AWS Batch no longer knows job {job_id}")
    if state.status not in TERMINAL:
        return None
    outcome = JobOutcome(
        table=run.table,
        run_id=run.run_id,
        step=step.name,
        job_id=job_id,
        status="SUCCEEDED" if state.status == "SUCCEEDED" else "FAILED",
        status_reason=state.status_reason,
        exit_code=state.exit_code,
        log_stream=state.log_stream,
    )
    decision = on_job_outcome(run, outcome, policy.retries, policy.delay_minutes, now)
    return None if isinstance(decision, Drop) else Repair(kind="polled", decision=decision)
