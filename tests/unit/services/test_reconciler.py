"""The reconciliation pass on fakes: it adopts a job an invocation that died had submitted, applies the outcome
of a job whose event never came, re-sends an overdue retry, frees slots no run holds, alerts a stuck run
once, and re-posts alerts Slack refused, each counted as a repair."""

from __future__ import annotations

from datetime import UTC, datetime

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.repairs import POLL_GRACE, RESEND_GRACE
from databridge_pipeline.domain.runs import SUBMIT_LEASE
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

from .pipeline import ASSESSMENTS, INSPECTIONS, RUN_ID, SCHEDULED, pipeline_of

NO_REPAIRS = {"adopted": 0, "resubmitted": 0, "polled": 0, "resent": 0, "freed": 0}


def repairs(**made: int) -> dict[str, int]:
    return NO_REPAIRS | made


def start(pipeline, body=SCHEDULED):
    pipeline.request(body)
    return pipeline.last_job()


def test_a_job_submitted_by_an_invocation_that_died_is_adopted_once_its_lease_expires(pipeline):
    extract = start(pipeline)
    run = pipeline.run()  # as if the ledger write after SubmitJob never happened:
    pipeline.ledger.put(
        run.with_step(run.step.model_copy(update={"status": "submitting", "job_id": None}), run.updated_at)
    )

    assert pipeline.reconciler.run_pass().repairs == NO_REPAIRS, "the lease is still held"
    pipeline.clock.advance(SUBMIT_LEASE)
    result = pipeline.reconciler.run_pass()

    assert result.repairs == repairs(adopted=1)
    assert pipeline.jobs() == [(RUN_ID, "extract", "1")], "adopted, not submitted again"
    assert (pipeline.run().step.status, pipeline.run().step.job_id) == ("submitted", extract)


def test_a_step_whose_submit_job_failed_is_submitted_by_the_next_pass(pipeline):
    pipeline.batch.refuse_next()
    pipeline.submitter.handle_batch([{"body": '{"table": "databridge/lni/inspections"}', "messageId": "m-1"}])
    assert pipeline.batch.submitted() == []

    result = pipeline.reconciler.run_pass()

    assert result.repairs == repairs(resubmitted=1)
    assert pipeline.jobs() == [("manual-m-1", "extract", "1")]
    assert pipeline.run(run_id="manual-m-1").step.status == "submitted"


def test_a_lost_success_event_is_applied_by_polling_and_the_late_event_is_then_a_duplicate(pipeline):
    extract = start(pipeline)
    event = pipeline.batch.state_change(extract, "SUCCEEDED", pipeline.clock())  # never delivered

    early = pipeline.reconciler.run_pass()
    assert (early.repairs, early.describe_calls) == (NO_REPAIRS, 0), "within the event's grace: left to the event"
    pipeline.clock.advance(POLL_GRACE)
    result = pipeline.reconciler.run_pass()

    assert (result.repairs, result.describe_calls) == (repairs(polled=1), 1)
    assert pipeline.jobs() == [(RUN_ID, "extract", "1"), (RUN_ID, "load", "1")]
    assert pipeline.job_events.handle_raw(event) == "drop"
    assert len(pipeline.batch.submitted()) == 2


def test_a_job_batch_no_longer_knows_is_taken_as_failed_and_retried(pipeline):
    pipeline.batch.forget(start(pipeline))
    pipeline.clock.advance(POLL_GRACE)

    assert pipeline.reconciler.run_pass().repairs == repairs(polled=1)

    step = pipeline.run().step
    assert step.status == "retry_pending"
    assert step.status_reason is not None and "no longer knows job" in step.status_reason
    [retry] = pipeline.queue.sent
    assert (retry.request.attempt, retry.delay_seconds) == (2, 600)


def test_an_overdue_retry_message_is_sent_again_once(pipeline):
    pipeline.event(start(pipeline), "FAILED", exit_code=1)  # the retry is sent, then lost: never handled
    pipeline.clock.advance(minutes=10)
    assert pipeline.reconciler.run_pass().repairs == NO_REPAIRS, "just due: SQS may still deliver it"

    pipeline.clock.advance(RESEND_GRACE)
    resent = pipeline.reconciler.run_pass()
    again = pipeline.reconciler.run_pass()

    assert (resent.repairs, again.repairs) == (repairs(resent=1), NO_REPAIRS)
    lost, sent_again = pipeline.queue.sent
    assert sent_again.delay_seconds == 0
    assert sent_again.request == lost.request
    assert pipeline.request(sent_again.body, message_id="resent") == "submit"
    assert pipeline.jobs()[-1] == (RUN_ID, "extract", "2")


def test_a_slot_whose_run_is_gone_is_freed(pipeline):
    pipeline.ledger.slot_holders[INSPECTIONS] = "manual-lost"

    result = pipeline.reconciler.run_pass()

    assert (result.repairs, result.active) == (repairs(freed=1), 0)
    assert pipeline.ledger.slots() == []
    assert pipeline.request(SCHEDULED) == "start", "the table can run again"


def test_a_slot_that_outlived_its_failed_run_is_freed_and_the_runs_pending_alert_posted(pipeline):
    pipeline.request({"table": ASSESSMENTS}, message_id="m-1")
    run = pipeline.run(ASSESSMENTS, "manual-m-1")
    # The run was saved as failed, then the invocation died before freeing the slot and posting the alert.
    failed = run.model_copy(update={"status": "failed", "finished_at": pipeline.clock(), "alert": "pending"})
    pipeline.ledger.put(failed)
    pipeline.ledger.slot_holders[ASSESSMENTS] = "manual-m-1"

    result = pipeline.reconciler.run_pass()

    assert result.repairs == repairs(freed=1)
    assert pipeline.ledger.slots() == []
    [alert] = pipeline.alerts.posts
    assert (alert.kind, alert.run_id) == ("run_failed", "manual-m-1")
    assert pipeline.run(ASSESSMENTS, "manual-m-1").alert == "sent"


def test_a_run_past_its_timeout_is_alerted_as_stuck_once(pipeline):
    start(pipeline)  # timeout_minutes defaults to 240; the job never leaves SUBMITTED
    pipeline.clock.now = datetime(2026, 11, 24, 15, 14, tzinfo=UTC)
    assert pipeline.reconciler.run_pass().stuck_alerted == 0, "not yet past four hours"

    pipeline.clock.now = datetime(2026, 11, 24, 15, 16, tzinfo=UTC)
    first = pipeline.reconciler.run_pass()
    pipeline.clock.advance(minutes=1)
    second = pipeline.reconciler.run_pass()

    assert (first.stuck_alerted, second.stuck_alerted) == (1, 0)
    [alert] = pipeline.alerts.posts
    assert (alert.kind, alert.table, alert.run_id, alert.step) == ("run_stuck", INSPECTIONS, RUN_ID, "extract")
    assert pipeline.run().stuck_alert == "sent"
    assert pipeline.run().status == "running", "alerted, not ended: Batch may still finish it"


def test_a_stuck_alert_slack_refused_is_posted_by_the_next_pass_and_only_then(pipeline):
    start(pipeline)
    pipeline.alerts.fail_next(10)
    pipeline.clock.now = datetime(2026, 11, 24, 15, 16, tzinfo=UTC)

    refused = pipeline.reconciler.run_pass()
    assert (refused.stuck_alerted, refused.alerts_pending) == (0, 1)
    assert pipeline.run().stuck_alert == "pending"
    pipeline.alerts.fail_next(0)
    pipeline.clock.advance(minutes=1)
    posted = pipeline.reconciler.run_pass()
    pipeline.clock.advance(minutes=1)
    again = pipeline.reconciler.run_pass()

    assert posted.stuck_alerted == 1
    assert (again.stuck_alerted, again.alerts_posted, again.alerts_pending) == (0, 0, 0)
    assert len(pipeline.alerts.posts) == 1


def test_a_failure_alert_slack_refused_is_posted_once_slack_is_back(pipeline):
    pipeline.request({"table": ASSESSMENTS}, message_id="m-1")  # dev: no retries
    pipeline.alerts.fail_next(1000)
    pipeline.event(pipeline.last_job(), "FAILED", exit_code=2)
    pipeline.clock.advance(minutes=45)

    waiting = pipeline.reconciler.run_pass()
    assert (waiting.alerts_pending, waiting.active) == (1, 0), "the run is finished, its alert is not"
    assert waiting.oldest_pending_alert_minutes >= 45
    pipeline.alerts.fail_next(0)
    posted = pipeline.reconciler.run_pass()
    again = pipeline.reconciler.run_pass()

    assert (posted.alerts_posted, posted.alerts_pending) == (1, 0)
    assert again.alerts_posted == 0
    [alert] = pipeline.alerts.posts
    assert (alert.kind, alert.table, alert.exit_code) == ("run_failed", ASSESSMENTS, 2)
    assert pipeline.ledger.pending_alert_runs() == []


def test_a_pass_over_250_active_runs_asks_batch_in_three_describe_jobs_calls():
    catalog = Catalog(
        [Table(id=TableId.parse(f"databridge/parks/site_{n:03}"), config=TableConfig()) for n in range(250)]
    )
    parks = pipeline_of(catalog)
    for table in catalog:
        parks.request({"table": str(table.id)}, message_id=f"m-{table.id.name}")
    parks.clock.advance(POLL_GRACE)

    result = parks.reconciler.run_pass()

    assert (result.active, result.describe_calls, result.repairs) == (250, 3, NO_REPAIRS)


def broken_find(pipeline) -> None:
    """ListJobs fails for good for inspections' jobs: every take-over of its step raises."""
    real = pipeline.batch.find

    def find(request):
        if request.tags["table"] == INSPECTIONS:
            raise RuntimeError("ListJobs is broken for this table")
        return real(request)

    pipeline.batch.find = find


def test_a_run_that_cannot_be_reconciled_is_counted_and_the_others_go_on(pipeline):
    pipeline.batch.refuse_next()
    pipeline.submitter.handle_batch([{"body": '{"table": "databridge/lni/inspections"}', "messageId": "m-1"}])
    pipeline.request({"table": ASSESSMENTS}, message_id="m-2")
    pipeline.batch.set_state(pipeline.last_job(), "SUCCEEDED")
    pipeline.clock.advance(POLL_GRACE)
    broken_find(pipeline)

    result = pipeline.reconciler.run_pass()

    assert (result.errors, result.repairs) == (1, repairs(polled=1))
    assert pipeline.jobs() == [("manual-m-2", "extract", "1"), ("manual-m-2", "load", "1")]
    pipeline.clock.advance(SUBMIT_LEASE)  # the failed take-over renewed the lease: SubmitJob may have run
    assert pipeline.reconciler.run_pass().errors == 1, "the next pass tries it again"


def test_a_run_whose_repair_keeps_raising_is_still_alerted_stuck_once_past_its_timeout(pipeline):
    pipeline.batch.refuse_next()
    pipeline.submitter.handle_batch([{"body": '{"table": "databridge/lni/inspections"}', "messageId": "m-1"}])
    broken_find(pipeline)
    pipeline.clock.now = datetime(2026, 11, 24, 15, 16, tzinfo=UTC)  # past the table's four hours

    result = pipeline.reconciler.run_pass()

    assert (result.errors, result.stuck_alerted) == (1, 1)
    [alert] = pipeline.alerts.posts
    assert (alert.kind, alert.run_id) == ("run_stuck", "manual-m-1")


def test_an_unreadable_run_item_is_skipped_counted_and_alerted_once_while_the_others_are_repaired(pipeline):
    pipeline.request({"table": ASSESSMENTS}, message_id="m-2")
    pipeline.batch.set_state(pipeline.last_job(), "SUCCEEDED")
    pipeline.clock.advance(POLL_GRACE)
    pipeline.ledger.plant_unreadable(INSPECTIONS, "manual-from-a-newer-version")

    first = pipeline.reconciler.run_pass()
    second = pipeline.reconciler.run_pass()

    assert (first.unreadable, first.errors, first.repairs) == (1, 0, repairs(polled=1))
    assert second.unreadable == 1
    [alert] = pipeline.alerts.posts
    assert "manual-from-a-newer-version" in alert.text() and "unreadable" in alert.headline
    assert pipeline.ledger.slot_holders[INSPECTIONS] == "manual-from-a-newer-version", "not freed: it may run"


def test_an_unreadable_item_whose_alert_slack_refused_is_alerted_by_the_next_pass(pipeline):
    pipeline.ledger.plant_unreadable(INSPECTIONS, "manual-x")
    pipeline.alerts.fail_next(1)

    pipeline.reconciler.run_pass()
    pipeline.reconciler.run_pass()
    pipeline.reconciler.run_pass()

    assert len(pipeline.alerts.posts) == 1


def test_a_pass_short_of_time_reports_its_pending_alerts_and_leaves_the_posts_to_the_next(pipeline, capsys):
    pipeline.request({"table": ASSESSMENTS}, message_id="m-1")  # dev: no retries
    pipeline.alerts.fail_next(1)
    pipeline.event(pipeline.last_job(), "FAILED", exit_code=2)

    short = pipeline.reconciler.run_pass(remaining=lambda: 15.0)

    assert (short.cut_short, short.alerts_posted, short.alerts_pending) == (True, 0, 1)
    assert '"AlertsPending":[1.0]' in capsys.readouterr().out.replace(" ", "")
    assert pipeline.alerts.posts == []
    plenty = pipeline.reconciler.run_pass(remaining=lambda: 55.0)
    assert (plenty.cut_short, plenty.alerts_posted) == (False, 1)


def test_a_run_moved_on_while_its_alert_is_claimed_never_fails_the_pass(pipeline):
    pipeline.request({"table": ASSESSMENTS}, message_id="m-1")
    pipeline.alerts.fail_next(1)
    pipeline.event(pipeline.last_job(), "FAILED", exit_code=2)
    real = pipeline.ledger.get_run

    def moved_after_read(table, run_id):
        run = real(table, run_id)
        if run is not None:
            pipeline.ledger.save_run(run)  # another invocation saved it just after this read
        return run

    pipeline.ledger.get_run = moved_after_read
    result = pipeline.reconciler.run_pass()
    pipeline.ledger.get_run = real

    assert (result.errors, result.alerts_posted, result.alerts_pending) == (0, 0, 1)
    assert pipeline.reconciler.run_pass().alerts_posted == 1


def test_a_run_of_a_table_with_no_config_is_left_as_it_is(pipeline):
    start(pipeline)
    run = pipeline.run()
    pipeline.ledger.put(run.model_copy(update={"table": "databridge/lni/retired"}))
    pipeline.clock.advance(hours=5)

    result = pipeline.reconciler.run_pass()

    assert (result.active, result.errors) == (2, 0)
    assert pipeline.ledger.get_run("databridge/lni/retired", RUN_ID) == run.model_copy(
        update={"table": "databridge/lni/retired"}
    )
