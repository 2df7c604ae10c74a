"""Cancelling a run on fakes: saved cancelled first, then the slot freed, then the job terminated, so that the
job's FAILED event, a retry and the pass all find it finished; refusals change nothing."""

from __future__ import annotations

import pytest

from databridge_pipeline.domain.cancel import CancelRefused
from databridge_pipeline.domain.errors import StaleRun
from databridge_pipeline.services.cancel import RunCanceller

from .pipeline import INSPECTIONS, RUN_ID, SCHEDULED

CALLER = "arn:aws:iam::123456789012:user/ops"
NOTE = f"cancelled by {CALLER}: wrong Carto table"


@pytest.fixture
def started(pipeline):
    """The inspections run started: its extract job submitted (the table retries a failed step once)."""
    pipeline.request(SCHEDULED)
    return pipeline


@pytest.fixture
def canceller(started) -> RunCanceller:
    return RunCanceller(started.ledger, started.batch, started.clock)


def test_the_run_holding_the_slot_is_saved_cancelled_then_freed_then_its_job_terminated(started, canceller):
    job = started.last_job()
    seen_at_terminate = []
    terminate = started.batch.terminate

    def watching(job_id: str, reason: str) -> None:
        seen_at_terminate.append((started.run().status, started.ledger.slots(), started.ledger.table_records()[1]))
        terminate(job_id, reason)

    started.batch.terminate = watching

    done = canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    run = started.run()
    assert done.run == run and (done.job_id, done.terminate_error, done.ledger_error) == (job, None, None)
    assert (run.status, run.finished_at, run.note, run.alert) == ("cancelled", started.clock(), NOTE, "pending")
    assert seen_at_terminate == [("cancelled", [], {INSPECTIONS: run})], "finished, kept and freed before the job"
    assert started.batch.terminated == [job]
    assert started.batch.states([job])[job].status_reason == NOTE


def test_the_terminated_jobs_failed_event_is_dropped_and_never_retried(started, canceller):
    job = started.last_job()
    canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    started.event(job, "FAILED", status_reason=NOTE)

    assert started.run().status == "cancelled"
    assert started.queue.sent == [], "no retry sent"
    assert started.jobs() == [(RUN_ID, "extract", "1")], "no job submitted"
    assert started.ledger.slots() == []


def test_a_step_waiting_for_its_retry_has_no_job_to_stop_and_its_retry_is_dropped(started, canceller):
    started.event(started.last_job(), "FAILED", exit_code=1)
    [retry] = started.queue.sent

    done = canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    assert (done.job_id, started.batch.terminated) == (None, [])
    started.clock.advance(seconds=retry.delay_seconds)
    assert started.request(retry.body, message_id="retry-1") == "drop"
    assert started.jobs() == [(RUN_ID, "extract", "1")]


def test_a_run_named_by_its_id_is_cancelled(started, canceller):
    assert canceller.cancel(INSPECTIONS, RUN_ID, "wrong Carto table", CALLER).run.status == "cancelled"


def test_a_second_cancel_is_refused_and_changes_nothing(started, canceller):
    canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)
    cancelled = started.run()

    with pytest.raises(CancelRefused, match=f"^{INSPECTIONS} has no running run to cancel"):
        canceller.cancel(INSPECTIONS, None, "again", CALLER)
    with pytest.raises(CancelRefused, match=f"^run {RUN_ID} of {INSPECTIONS} already cancelled at "):
        canceller.cancel(INSPECTIONS, RUN_ID, "again", CALLER)

    assert started.run() == cancelled
    assert len(started.batch.terminated) == 1


def test_an_unknown_run_id_is_refused(started, canceller):
    with pytest.raises(CancelRefused, match=f"^the run ledger has no run manual-1 of {INSPECTIONS}"):
        canceller.cancel(INSPECTIONS, "manual-1", "x", CALLER)
    assert started.run().status == "running"


def test_a_run_that_changed_since_it_was_read_is_read_again_and_cancelled(started, canceller, monkeypatch):
    """Another invocation saved the run between the read and the write (here: a job-events retry bumping it)."""
    save = started.ledger.save_run
    calls = []

    def racing(run):
        calls.append(run.version)
        if len(calls) == 1:
            save(started.run().model_copy(update={"updated_at": started.clock()}))  # the other writer
        return save(run)

    monkeypatch.setattr(started.ledger, "save_run", racing)

    done = canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    assert calls[0] + 1 == calls[1], "the second try writes over the version it read again"
    assert done.run.status == "cancelled" and started.batch.terminated == [done.job_id]


def test_a_run_that_finished_meanwhile_is_refused_and_not_touched(started, canceller, monkeypatch):
    save = started.ledger.save_run

    def finished_first(run):
        if run.status == "cancelled" and started.run().status == "running":
            save(started.run().model_copy(update={"status": "failed", "finished_at": started.clock()}))
        return save(run)

    monkeypatch.setattr(started.ledger, "save_run", finished_first)

    with pytest.raises(CancelRefused, match=f"^run {RUN_ID} of {INSPECTIONS} already failed at "):
        canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    assert started.run().status == "failed" and started.batch.terminated == []


def test_a_run_that_keeps_changing_is_refused_after_three_reads(started, canceller, monkeypatch):
    def always_stale(run):
        raise StaleRun("moved on")

    monkeypatch.setattr(started.ledger, "save_run", always_stale)

    with pytest.raises(CancelRefused, match="changed each of the 3 times it was read: nothing was cancelled"):
        canceller.cancel(INSPECTIONS, None, "x", CALLER)

    assert started.run().status == "running"
    assert [table for table, _, _ in started.ledger.slots()] == [INSPECTIONS]
    assert started.batch.terminated == []


def test_a_failed_terminate_leaves_the_run_cancelled_and_says_so(started, canceller, monkeypatch):
    def refused(job_id, reason):
        raise RuntimeError("AccessDeniedException")

    monkeypatch.setattr(started.batch, "terminate", refused)

    done = canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    assert str(done.terminate_error) == "AccessDeniedException"
    assert started.run().status == "cancelled" and started.ledger.slots() == []


def test_a_failed_slot_release_still_terminates_the_job(started, canceller, monkeypatch):
    def unavailable(table, run_id):
        raise RuntimeError("ServiceUnavailable")

    monkeypatch.setattr(started.ledger, "free_slot", unavailable)

    done = canceller.cancel(INSPECTIONS, None, "wrong Carto table", CALLER)

    assert str(done.ledger_error) == "ServiceUnavailable"
    assert started.batch.terminated == [done.job_id]
    assert started.run().status == "cancelled"


def test_the_plan_says_what_would_happen_and_changes_nothing(started, canceller):
    before = (dict(started.ledger.runs), started.ledger.slots(), started.ledger.table_records())

    plan = canceller.plan(INSPECTIONS, None, "wrong Carto table", CALLER)

    assert (plan.run.run_id, plan.run.step.name, plan.job_id) == (RUN_ID, "extract", started.last_job())
    assert plan.run.note == NOTE
    assert (dict(started.ledger.runs), started.ledger.slots(), started.ledger.table_records()) == before
    assert started.batch.terminated == []


def test_a_slot_held_by_a_run_the_ledger_lacks_or_cannot_read_is_refused(pipeline):
    canceller = RunCanceller(pipeline.ledger, pipeline.batch, pipeline.clock)
    pipeline.ledger.slot_holders[INSPECTIONS] = "manual-lost"

    with pytest.raises(CancelRefused, match="held by run manual-lost, which the run ledger does not have"):
        canceller.cancel(INSPECTIONS, None, "x", CALLER)

    pipeline.ledger.plant_unreadable(INSPECTIONS, "manual-odd")
    with pytest.raises(
        CancelRefused, match=f"run manual-odd of {INSPECTIONS} is in the run ledger in a form this version cannot read"
    ):
        canceller.cancel(INSPECTIONS, None, "x", CALLER)
    with pytest.raises(
        CancelRefused, match=f"run manual-odd of {INSPECTIONS} is in the run ledger in a form this version cannot read"
    ):
        canceller.cancel(INSPECTIONS, "manual-odd", "x", CALLER)
