"""The executor on fakes: each decision's conditional ledger write first, then the one side effect it allows;
it returns what it did (the run as saved, and an adoption when it found the job already submitted)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes import SubmitRefused

from databridge_pipeline.domain import runs as decisions
from databridge_pipeline.domain.errors import LeftToPass, RetryLater, SlotBusy, StaleRun
from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import SUBMIT_LEASE, JobOutcome, Run, on_job_outcome, on_request, take_over
from databridge_pipeline.services.executor import RunExecutor

from .pipeline import ASSESSMENTS, EXAMPLES, INSPECTIONS, LINKS, RUN_ID, SCHEDULED

TABLE = EXAMPLES.get(INSPECTIONS)
assert TABLE is not None


@pytest.fixture
def repairs() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def executor(pipeline, repairs) -> RunExecutor:
    p = pipeline
    return RunExecutor(
        p.settings, p.ledger, p.batch, p.queue, p.alerts, p.clock, LINKS, on_repair=lambda *r: repairs.append(r)
    )


def start_decision(pipeline, run_id: str = RUN_ID) -> decisions.Start:
    decision = on_request(
        None, RunRequest.model_validate(SCHEDULED), TABLE, run_id, pipeline.clock(), pipeline.settings.command_set
    )
    assert isinstance(decision, decisions.Start)
    return decision


def outcome(run: Run, status: str, **details: object) -> JobOutcome:
    fields = {"table": run.table, "run_id": run.run_id, "step": run.step.name, "job_id": run.step.job_id}
    return JobOutcome.model_validate({**fields, "status": status, **details})


def test_a_start_takes_the_slot_submits_the_first_step_and_saves_its_job_id(pipeline, executor):
    applied = executor.apply(start_decision(pipeline), TABLE)

    assert applied.repair is None
    assert applied.run == pipeline.run()
    assert (applied.run.step.status, applied.run.step.job_id, applied.run.version) == (
        "submitted",
        pipeline.last_job(),
        2,
    )
    assert pipeline.jobs() == [(RUN_ID, "extract", "1")]
    assert pipeline.ledger.slot_holders == {INSPECTIONS: RUN_ID}


def test_a_start_for_a_busy_table_raises_slot_busy_and_submits_nothing(pipeline, executor):
    executor.apply(start_decision(pipeline), TABLE)

    with pytest.raises(SlotBusy):
        executor.apply(start_decision(pipeline, run_id="manual-2"), TABLE)

    assert len(pipeline.batch.submitted()) == 1
    assert pipeline.ledger.get_run(INSPECTIONS, "manual-2") is None


def test_a_throttled_submit_job_releases_the_lease_and_leaves_the_run_to_the_pass(pipeline, executor):
    pipeline.batch.refuse_next()

    with pytest.raises(LeftToPass) as left:
        executor.apply(start_decision(pipeline), TABLE)

    assert isinstance(left.value.__cause__, SubmitRefused)
    run = pipeline.run()
    assert (run.step.status, run.step.since, run.step.job_id) == ("submitting", None, None)
    assert pipeline.batch.submitted() == []
    decision = take_over(run, pipeline.clock())
    assert isinstance(decision, decisions.Submit), "a released lease is taken over at once"


def test_a_take_over_adopts_the_job_an_earlier_invocation_submitted_instead_of_a_second_one(
    pipeline, executor, repairs
):
    executor.apply(start_decision(pipeline), TABLE)
    job = pipeline.last_job()
    run = pipeline.run()
    lost = pipeline.ledger.put(
        run.with_step(run.step.model_copy(update={"status": "submitting", "job_id": None}), run.updated_at)
    )
    pipeline.clock.advance(SUBMIT_LEASE)

    applied = executor.apply(take_over(lost, pipeline.clock()), TABLE)

    assert applied.repair == "adopted"
    assert repairs == [("adopted", INSPECTIONS)]
    assert applied.run is not None and applied.run.step.job_id == job
    assert len(pipeline.batch.submitted()) == 1


def test_a_take_over_with_no_job_to_adopt_submits_one(pipeline, executor, repairs):
    pipeline.batch.refuse_next()
    with pytest.raises(LeftToPass):
        executor.apply(start_decision(pipeline), TABLE)

    applied = executor.apply(take_over(pipeline.run(), pipeline.clock()), TABLE)

    assert applied.repair is None and repairs == []
    assert pipeline.jobs() == [(RUN_ID, "extract", "1")]


def test_a_scheduled_retry_saves_the_run_then_sends_its_request_after_the_delay(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    decision = on_job_outcome(run, outcome(run, "FAILED", exit_code=1), 1, 10, pipeline.clock())
    assert isinstance(decision, decisions.ScheduleRetry)

    applied = executor.apply(decision, TABLE)

    assert applied.run == pipeline.run() and applied.run.step.status == "retry_pending"
    [sent] = pipeline.queue.sent
    assert (sent.request, sent.delay_seconds) == (decision.request, 600)


def test_finishing_a_succeeded_run_frees_the_slot_records_the_success_and_posts_nothing(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    done = run.model_copy(update={"status": "succeeded", "finished_at": pipeline.clock()})

    applied = executor.apply(decisions.Finish(run=done), TABLE)

    assert applied.run == pipeline.run() and applied.run.status == "succeeded"
    assert pipeline.ledger.slots() == []
    assert pipeline.ledger.freshness()[INSPECTIONS].last_success == pipeline.clock()
    assert pipeline.ledger.table_records()[1] == {INSPECTIONS: applied.run}
    assert pipeline.alerts.posts == []


def test_finishing_a_failed_run_posts_its_alert_once_and_marks_it_sent(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    failed = run.model_copy(update={"status": "failed", "finished_at": pipeline.clock(), "alert": "pending"})

    applied = executor.apply(decisions.Finish(run=failed), TABLE)

    [alert] = pipeline.alerts.posts
    assert (alert.kind, alert.run_id) == ("run_failed", RUN_ID)
    assert applied.run == pipeline.run() and applied.run.alert == "sent"
    assert pipeline.ledger.freshness()[INSPECTIONS].last_success is None, "no success to record"
    assert executor.apply(decisions.Finish(run=applied.run, save=False), TABLE).run == applied.run, (
        "sent: not posted again"
    )
    assert len(pipeline.alerts.posts) == 1


def test_when_slack_refuses_the_alert_it_stays_pending_in_the_ledger(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    failed = run.model_copy(update={"status": "failed", "finished_at": pipeline.clock(), "alert": "pending"})
    pipeline.alerts.fail_next()

    applied = executor.apply(decisions.Finish(run=failed), TABLE)

    assert applied.run is not None and applied.run.alert == "pending"
    assert pipeline.ledger.pending_alert_runs() == [pipeline.run()]
    assert pipeline.ledger.slots() == [], "the slot is free all the same"


def test_a_decision_on_a_run_that_moved_on_raises_stale_run_and_does_nothing(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    decision = on_job_outcome(run, outcome(run, "SUCCEEDED"), 1, 10, pipeline.clock())
    executor.apply(decision, TABLE)  # the first delivery: the load is submitted

    with pytest.raises(StaleRun):
        executor.apply(decision, TABLE)  # the same decision, taken on the same read

    assert pipeline.jobs() == [(RUN_ID, "extract", "1"), (RUN_ID, "load", "1")]


def test_a_wait_raises_retry_later_and_a_drop_changes_nothing(pipeline, executor):
    with pytest.raises(RetryLater):
        executor.apply(decisions.Wait(reason="another invocation is submitting"), TABLE)

    assert executor.apply(decisions.Drop(reason="duplicate"), TABLE).run is None
    assert pipeline.ledger.runs == {} and pipeline.batch.submitted() == [] and pipeline.queue.sent == []


def test_freeing_an_orphan_slot_frees_it_and_reports_the_repair(pipeline, executor, repairs):
    pipeline.ledger.slot_holders[ASSESSMENTS] = "manual-lost"

    executor.free_orphan_slot(ASSESSMENTS, "manual-lost")

    assert pipeline.ledger.slots() == []
    assert repairs == [("freed", ASSESSMENTS)]


def test_a_stuck_alert_is_posted_with_the_step_it_is_stuck_at(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    pipeline.clock.advance(timedelta(hours=5))
    pending = pipeline.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"}))

    sent = executor.post_alert(pending, "stuck_alert")

    [alert] = pipeline.alerts.posts
    assert (alert.kind, alert.step, alert.job_id) == ("run_stuck", "extract", run.step.job_id)
    assert sent == pipeline.run() and sent.stuck_alert == "sent"


def test_a_submit_job_of_unknown_outcome_keeps_the_lease_so_the_take_over_adopts_the_job_it_made(
    pipeline, executor, repairs
):
    """A 5xx or a read timeout after Batch made the job: no second SubmitJob, the lapsed lease's take-over
    finds the job by its tags."""
    real = pipeline.batch.submit

    def made_then_lost(request):
        real(request)
        raise TimeoutError("read timeout")

    pipeline.batch.submit = made_then_lost
    with pytest.raises(LeftToPass):
        executor.apply(start_decision(pipeline), TABLE)
    pipeline.batch.submit = real
    run = pipeline.run()
    assert run.step.since is not None, "the lease is kept: the job may exist"
    assert isinstance(take_over(run, pipeline.clock()), decisions.Wait)

    pipeline.clock.advance(SUBMIT_LEASE)
    applied = executor.apply(take_over(run, pipeline.clock()), TABLE)

    assert applied.repair == "adopted" and len(pipeline.batch.submitted()) == 1
    assert applied.run is not None and applied.run.step.status == "submitted"


def test_a_submit_job_batch_rejects_for_good_fails_the_step_retries_it_then_fails_the_run_with_its_cause(
    pipeline, executor
):
    assert TABLE.config.retries == 1
    pipeline.batch.job_definitions = set()  # the stack has no job definition for the step

    executor.apply(start_decision(pipeline), TABLE)

    run = pipeline.run()
    assert (run.status, run.step.status, run.step.job_id) == ("running", "retry_pending", None)
    assert run.step.status_reason is not None and "does not exist" in run.step.status_reason
    [sent] = pipeline.queue.sent
    assert (sent.request.attempt, sent.delay_seconds) == (2, 600)
    pipeline.clock.now = run.step.retry_at
    retry = on_request(run, sent.request, TABLE, run.run_id, pipeline.clock(), pipeline.settings.command_set)

    executor.apply(retry, TABLE)

    run = pipeline.run()
    assert (run.status, run.step.status, run.step.attempts, run.alert) == ("failed", "failed", 2, "sent")
    assert pipeline.ledger.slot_holders == {} and pipeline.batch.submitted() == []
    [alert] = pipeline.alerts.posts
    assert "does not exist" in alert.text()


def test_an_alert_another_invocation_has_claimed_is_not_posted_again(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    pending = pipeline.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"}))
    claimed = pipeline.ledger.save_run(pending.model_copy(update={"alert_lease": pipeline.clock() + SUBMIT_LEASE}))

    after = executor.post_alert(pending, "stuck_alert")  # the caller read the run before the claim

    assert pipeline.alerts.posts == [] and after == claimed
    pipeline.clock.advance(SUBMIT_LEASE + timedelta(seconds=1))
    assert executor.post_alert(claimed, "stuck_alert").stuck_alert == "sent", "a lapsed claim is taken over"
    assert len(pipeline.alerts.posts) == 1


def test_an_alert_already_sent_is_not_posted_from_a_stale_read(pipeline, executor):
    """The pending-alerts index lags: a run it still lists may have had its alert sent."""
    run = executor.apply(start_decision(pipeline), TABLE).run
    pending = pipeline.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"}))
    executor.post_alert(pending, "stuck_alert")

    executor.post_alert(pending, "stuck_alert")

    assert len(pipeline.alerts.posts) == 1


def test_an_event_saving_the_run_while_its_alert_is_posted_does_not_make_it_post_twice(pipeline, executor):
    run = executor.apply(start_decision(pipeline), TABLE).run
    pending = pipeline.ledger.save_run(run.model_copy(update={"stuck_alert": "pending"}))
    real = pipeline.alerts.post

    def post_while_an_event_saves(alert):
        real(alert)
        moved = pipeline.run()
        pipeline.ledger.save_run(moved.model_copy(update={"updated_at": pipeline.clock()}))

    pipeline.alerts.post = post_while_an_event_saves
    sent = executor.post_alert(pending, "stuck_alert")
    pipeline.alerts.post = real

    assert sent.stuck_alert == "sent" and sent.alert_lease is None
    executor.post_alert(pending, "stuck_alert")
    assert len(pipeline.alerts.posts) == 1


def test_a_job_submitted_for_a_run_cancelled_meanwhile_is_terminated(pipeline, executor):
    real = pipeline.batch.submit

    def submit_while_cancelled(request):
        job_id = real(request)
        run = pipeline.run()
        pipeline.ledger.save_run(run.model_copy(update={"status": "cancelled", "finished_at": pipeline.clock()}))
        return job_id

    pipeline.batch.submit = submit_while_cancelled
    with pytest.raises(StaleRun):
        executor.apply(start_decision(pipeline), TABLE)

    [job] = pipeline.batch.jobs.values()
    assert pipeline.batch.terminated == [job.job_id] and job.state.status == "FAILED"
