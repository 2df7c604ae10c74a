"""Cancelling a run by hand: whether the run can be cancelled now, and the run as it is saved cancelled.

Pure. The caller (``services.cancel``) saves the cancelled run with a conditional write first, frees the
table's slot, and only then stops the step's Batch job: the job's FAILED event then finds the run finished
and is dropped, never retried, and a retry message already on the queue is dropped the same way. The run's
alert is left pending, so the reconciliation pass posts one Slack line saying who cancelled it and why.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.runs import Run

UNKNOWN_CALLER = "an unknown caller"  # AWS would not say who is calling (the STS call failed)


class CancelRefused(Exception):
    """The run cannot be cancelled now; the message is one line saying why and what to do instead."""


class Cancellation(BaseModel):
    """What cancelling a run does: save ``run`` (cancelled), then terminate ``job_id`` when there is one.

    ``in_flight``: the step was being submitted, so a SubmitJob may be under way whose job is not recorded
    (nor stopped here)."""

    model_config = ConfigDict(frozen=True)

    run: Run
    job_id: str | None
    in_flight: bool = False


def cancel_note(caller: str | None, reason: str) -> str:
    """The run's note: who cancelled it and why (status and the Slack line show it)."""
    return f"cancelled by {caller or UNKNOWN_CALLER}: {reason}"


def cancel_run(
    run: Run | None, table: str, run_id: str | None, reason: str, caller: str | None, now: datetime
) -> Cancellation:
    """Cancel ``run``, the one named ``run_id`` or, when that is None, the one holding ``table``'s slot
    (``run`` is None when there is no such run). Refused for a run already finished, cancelled included."""
    if not reason.strip():
        raise ValueError("a cancellation needs a reason")
    if run is None:
        if run_id is None:
            raise CancelRefused(f"{table} has no running run to cancel (`status {table}` shows its latest runs)")
        raise CancelRefused(f"the run ledger has no run {run_id} of {table} (`status {table}` lists its runs)")
    if run.finished:
        when = f" at {run.finished_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if run.finished_at else ""
        raise CancelRefused(
            f"run {run.run_id} of {table} already {run.status}{when}: nothing to cancel "
            f"(`rerun {table}` starts a new run)"
        )
    step = run.step
    cancelled = run.model_copy(
        update={
            "status": "cancelled",
            "finished_at": now,
            "updated_at": now,
            "note": cancel_note(caller, reason.strip()),
            "alert": "pending",
        }
    )
    # Only a submitted step has a job that may still be going: a retry_pending step's job has failed, a
    # submitting step's job is not recorded yet, a pending step has none.
    job_id = step.job_id if step.status == "submitted" else None
    return Cancellation(run=cancelled, job_id=job_id, in_flight=step.status == "submitting")
