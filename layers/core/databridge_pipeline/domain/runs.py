"""The run state machine: what happens on a run request, on a job's SUCCEEDED or FAILED, on a stuck run.

Pure functions from (the run as the ledger has it, what just happened) to a decision. The caller saves the
decision's run with a conditional write on ``version`` and only then acts (submits a job, sends a retry,
posts an alert), so at-least-once delivery can never start a second job or send a second alert: a
duplicate finds the state already moved on and is dropped.

A retry waits for its time whoever sent it: the failed step keeps ``retry_at`` in the ledger, and a retry
message that arrives earlier (SQS delays at most 900 s; a hand-written or re-sent one not at all) is
deferred, sent back to the queue, rather than submitted. The ledger, not the message, says when.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.job_requests import step_names
from databridge_pipeline.domain.run_request import RunRequest, Trigger
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.domain.step_kinds import StepName
from databridge_pipeline.domain.tables import Table, TableId

StepStatus = Literal["pending", "submitting", "submitted", "retry_pending", "succeeded", "failed"]
RunStatus = Literal["running", "succeeded", "failed", "cancelled"]
AlertState = Literal["none", "pending", "sent"]

# SQS's longest DelaySeconds: a longer wait is made of several.
MAX_DELAY_SECONDS = 900
# A scheduled request may name a fire this far ahead of the submitter's clock (the dispatcher sends only
# fires at or before its tick); further ahead it is hand-written and would take a future fire's run id.
SCHEDULE_SKEW = timedelta(minutes=5)

# A step left "submitting" longer than this (longer than any handler's timeout) was abandoned by a crashed
# invocation; a later delivery may take it over. Younger, it is another invocation's work in flight.
SUBMIT_LEASE = timedelta(minutes=5)


class StepRecord(BaseModel):
    """One step of a run as the ledger keeps it."""

    model_config = ConfigDict(frozen=True)

    name: StepName
    status: StepStatus = "pending"
    attempts: int = 0
    job_id: str | None = None
    since: datetime | None = None
    status_reason: str | None = None
    exit_code: int | None = None
    log_stream: str | None = None
    resent_at: datetime | None = None
    began_at: datetime | None = None
    retry_at: datetime | None = None  # when a retry_pending step's next attempt is due


class Run(BaseModel):
    """One run of one table: its steps, where it is, and whether its alerts went out."""

    model_config = ConfigDict(frozen=True)

    table: str
    run_id: str
    trigger: Trigger
    scheduled_for: datetime | None = None
    status: RunStatus = "running"
    steps: tuple[StepRecord, ...]
    current: int = 0
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    alert: AlertState = "none"
    stuck_alert: AlertState = "none"
    alert_lease: datetime | None = None  # an invocation posting one of the run's alerts holds it until then
    note: str | None = None  # why the run ended when no job said (a cancellation's reason, a refusal)
    version: int = 0

    @property
    def step(self) -> StepRecord:
        return self.steps[self.current]

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def with_step(self, step: StepRecord, now: datetime, **changes: object) -> Run:
        steps = list(self.steps)
        steps[self.current] = step
        return self.model_copy(update={"steps": tuple(steps), "updated_at": now, **changes})


class JobOutcome(BaseModel):
    """What a Batch job-state-change event says about one of our jobs."""

    model_config = ConfigDict(frozen=True)

    table: str
    run_id: str
    step: StepName
    job_id: str
    status: Literal["SUCCEEDED", "FAILED"]
    status_reason: str | None = None
    exit_code: int | None = None
    log_stream: str | None = None


# --- decisions ---------------------------------------------------------------------------------------


class _Decision(BaseModel):
    model_config = ConfigDict(frozen=True)


class _RunDecision(_Decision):
    run: Run


class Start(_RunDecision):
    """A new run: take the table's slot, save the run, submit its first step."""

    kind: Literal["start"] = "start"


class Submit(_RunDecision):
    """Save ``run`` (its current step now ``submitting``), then submit that step's job.

    ``adopt``: a take-over of a step someone else was submitting; a job that invocation submitted for this
    run, step and attempt before it died is adopted instead of submitting a second one."""

    kind: Literal["submit"] = "submit"
    adopt: bool = False


class ScheduleRetry(_RunDecision):
    """Save ``run`` (step ``retry_pending``) unless ``save`` is off, then send ``request`` to the run queue
    after ``delay_seconds``."""

    kind: Literal["retry"] = "retry"
    request: RunRequest
    delay_seconds: int
    save: bool = True


class Finish(_RunDecision):
    """Save the finished ``run`` (unless ``save`` is off), free the table's slot and, when ``run.alert`` is
    pending, post the alert."""

    kind: Literal["finish"] = "finish"
    save: bool = True


class Defer(_Decision):
    """A retry that arrived before ``until``, when it is due: send it back to the queue to come again then
    (in steps of at most ``MAX_DELAY_SECONDS``). Only the submitter sees this decision."""

    kind: Literal["defer"] = "defer"
    until: datetime
    reason: str

    def delay_seconds(self, now: datetime) -> int:
        """The delay of the next step of the wait: the time left, at most SQS's longest delay."""
        return max(1, min(MAX_DELAY_SECONDS, math.ceil((self.until - now).total_seconds())))


class Wait(_Decision):
    """Another invocation is submitting this step right now; try again later."""

    kind: Literal["wait"] = "wait"
    reason: str


class Drop(_Decision):
    """Nothing to do: a duplicate, a stale event or a finished run. Acknowledge and log the reason."""

    kind: Literal["drop"] = "drop"
    reason: str


Decision = Start | Submit | ScheduleRetry | Finish | Wait | Drop


class RequestRejected(ValueError):
    """A request that can never succeed (e.g. a step the table does not have)."""


def on_request(
    run: Run | None, request: RunRequest, table: Table, run_id: str, now: datetime, command_set: CommandSet
) -> Decision | Defer:
    """A run request arrived (scheduled, manual, or a retry we sent ourselves)."""
    if run is None:
        if request.trigger == "retry":
            return Drop(reason=f"retry for run {run_id}, which the ledger does not have")
        _refuse_a_future_fire(request, now)
        return Start(run=new_run(table, request, run_id, now, command_set))
    if run.finished:
        return Drop(reason=f"run {run_id} already {run.status}")
    step = run.step
    if request.trigger == "retry":
        return _on_retry(run, request, now)
    if run.current == 0 and step.status == "submitting":
        return take_over(run, now)
    return Drop(reason=f"duplicate request: run {run_id} is in progress ({step.name} {step.status})")


def _refuse_a_future_fire(request: RunRequest, now: datetime) -> None:
    """A scheduled request for a fire still to come is not the dispatcher's: run now under that fire's id,
    it would make the real fire a duplicate."""
    fire = request.scheduled_for
    if request.trigger == "schedule" and fire is not None and fire > now + SCHEDULE_SKEW:
        raise RequestRejected(
            f"scheduled_for: {fire:%Y-%m-%dT%H:%M}Z has not come yet; the dispatcher sends a fire when it is due "
            "(send a manual request to run the table now)"
        )


def _on_retry(run: Run, request: RunRequest, now: datetime) -> Decision | Defer:
    """A retry of the run's current step: submitted once due (the ledger's ``retry_at``; for a step saved
    before it was kept, the message's ``not_before``), deferred until then, else a duplicate."""
    step = run.step
    if step.name != request.from_step:
        return Drop(reason=f"retry of {request.from_step}, but the run is at {step.name}")
    if step.status == "retry_pending" and step.attempts == request.attempt - 1:
        due = step.retry_at or request.not_before
        if due is not None and now < due:
            when = f"{due:%Y-%m-%d %H:%M:%S} UTC"
            return Defer(until=due, reason=f"retry {request.attempt} of {step.name} of run {run.run_id} is due {when}")
        return Submit(run=_submitting(run, now, attempt=step.attempts + 1))
    if step.status == "submitting" and step.attempts == request.attempt:
        return take_over(run, now)
    return Drop(reason=f"duplicate retry: {step.name} attempt {request.attempt} is already {step.status}")


def on_job_outcome(
    run: Run | None, outcome: JobOutcome, retries: int, retry_delay_minutes: int, now: datetime
) -> Decision:
    """One of our Batch jobs SUCCEEDED or FAILED."""
    if run is None:
        return Drop(reason=f"no run {outcome.run_id} in the ledger")
    if run.finished:
        return Finish(run=run, save=False) if run.alert == "pending" else Drop(reason=f"run already {run.status}")
    step = run.step
    if step.name != outcome.step or step.job_id != outcome.job_id:
        if _is_previous_step(run, outcome) and step.status == "submitting":
            return take_over(run, now)
        return Drop(reason=f"stale event: the run is at {step.name} job {step.job_id}")
    if step.status == "retry_pending" and outcome.status == "FAILED":
        return _retry(run, step, retry_delay_minutes, save=False)
    if step.status != "submitted":
        return Drop(reason=f"duplicate event: {step.name} is already {step.status}")
    finished_step = step.model_copy(
        update={
            "status": "succeeded" if outcome.status == "SUCCEEDED" else "failed",
            "since": now,
            "status_reason": outcome.status_reason,
            "exit_code": outcome.exit_code,
            "log_stream": outcome.log_stream,
        }
    )
    if outcome.status == "SUCCEEDED":
        if run.current + 1 < len(run.steps):
            advanced = run.with_step(finished_step, now).model_copy(update={"current": run.current + 1})
            return Submit(run=_submitting(advanced, now, attempt=1))
        return Finish(run=run.with_step(finished_step, now, status="succeeded", finished_at=now))
    return _failed(run, finished_step, retries, retry_delay_minutes, now)


def on_submit_rejected(run: Run, reason: str, retries: int, retry_delay_minutes: int, now: datetime) -> Decision:
    """AWS Batch refused the current step's SubmitJob for good (no job exists): the step failed, as a failed
    job's would, so the table's retries apply and then the run finishes failed with its alert."""
    failed = run.step.model_copy(update={"status": "failed", "since": now, "job_id": None, "status_reason": reason})
    return _failed(run, failed, retries, retry_delay_minutes, now)


def _failed(run: Run, failed: StepRecord, retries: int, retry_delay_minutes: int, now: datetime) -> Decision:
    """The current step ended ``failed``: a retry while the table allows one, else the run fails, alerted."""
    if failed.attempts <= retries:
        due = now + timedelta(minutes=retry_delay_minutes)
        pending = failed.model_copy(update={"status": "retry_pending", "retry_at": due})
        return _retry(run.with_step(pending, now), pending, retry_delay_minutes, save=True)
    return Finish(run=run.with_step(failed, now, status="failed", finished_at=now, alert="pending"))


def stuck_runs(runs: list[Run], timeouts: dict[str, int], now: datetime) -> list[Run]:
    """Running runs whose current step has been in its state past the table's timeout, not yet alerted.

    Every non-terminal state counts (submitting with a released lease too). A run whose stuck alert is still
    ``pending`` (Slack failed last time) is returned again.
    """
    stuck = []
    for run in runs:
        minutes = timeouts.get(run.table)
        if run.finished or minutes is None or run.stuck_alert == "sent":
            continue
        if now - step_since(run) > timedelta(minutes=minutes):
            stuck.append(run)
    return stuck


def step_since(run: Run) -> datetime:
    """When the run's current step entered its state. A step being submitted counts from when its attempt
    began (take-overs renew the lease, not this clock; a released lease has no ``since``)."""
    step = run.step
    if step.status == "submitting":
        return step.began_at or step.since or run.updated_at
    return step.since or run.updated_at


def new_run(table: Table, request: RunRequest, run_id: str, now: datetime, command_set: CommandSet) -> Run:
    names = step_names(table, command_set)
    if request.from_step is not None:
        if request.from_step not in names:
            raise RequestRejected(f"{table.id} has no step {request.from_step!r} (its steps: {', '.join(names)})")
        names = names[names.index(request.from_step) :]
    steps = tuple(StepRecord(name=name) for name in names)
    run = Run(
        table=str(table.id),
        run_id=run_id,
        trigger=request.trigger,
        scheduled_for=request.scheduled_for,
        steps=steps,
        created_at=now,
        updated_at=now,
    )
    return _submitting(run, now, attempt=1)


def _submitting(run: Run, now: datetime, attempt: int) -> Run:
    """The current step's ``attempt`` being submitted from ``now`` (the lease). A take-over of the same
    attempt keeps when the attempt began, so a step whose submission keeps failing is still timed."""
    same = run.step.status == "submitting" and run.step.attempts == attempt
    began = (run.step.began_at or run.step.since) if same else None
    step = run.step.model_copy(
        update={
            "status": "submitting",
            "attempts": attempt,
            "since": now,
            "job_id": None,
            "began_at": began or now,
            "retry_at": None,
        }
    )
    return run.with_step(step, now)


def take_over(run: Run, now: datetime) -> Submit | Wait:
    """Submit a step left ``submitting``: at once when its lease was released (SubmitJob failed, no job
    exists), else only once the lease has expired (the invocation that held it crashed)."""
    since = run.step.since
    if since is not None and now - since < SUBMIT_LEASE:
        return Wait(reason=f"{run.step.name} of run {run.run_id} is being submitted by another invocation")
    return Submit(run=_submitting(run, now, attempt=run.step.attempts), adopt=True)


def _is_previous_step(run: Run, outcome: JobOutcome) -> bool:
    if run.current == 0 or outcome.status != "SUCCEEDED":
        return False
    previous = run.steps[run.current - 1]
    return previous.name == outcome.step and previous.job_id == outcome.job_id


def _retry(run: Run, step: StepRecord, retry_delay_minutes: int, save: bool) -> ScheduleRetry:
    return ScheduleRetry(run=run, request=retry_request(run), delay_seconds=retry_delay_minutes * 60, save=save)


def retry_request(run: Run) -> RunRequest:
    """The message that retries the run's current step as its next attempt (a duplicate of it is dropped),
    saying when it is due."""
    return RunRequest(
        table=TableId.parse(run.table),
        run_id=run.run_id,
        from_step=run.step.name,
        trigger="retry",
        attempt=run.step.attempts + 1,
        scheduled_for=run.scheduled_for,
        not_before=run.step.retry_at,
    )
