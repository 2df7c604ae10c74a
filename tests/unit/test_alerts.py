"""The Slack alert as data: everything a person needs to act, in text and in blocks, and nothing secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from databridge_pipeline.domain.alerts import log_stream_url, run_alert
from databridge_pipeline.domain.runs import Run, StepRecord

NOW = datetime(2026, 11, 24, 11, 33, tzinfo=UTC)


def failed_run() -> Run:
    return Run(
        table="knack/carto_phl/ppr/ppr_events",
        run_id="scheduled-20261124T0845Z",
        trigger="schedule",
        status="failed",
        steps=(
            StepRecord(name="extract", status="succeeded", attempts=1, job_id="job-1"),
            StepRecord(
                name="load",
                status="failed",
                attempts=3,
                job_id="job-4",
                status_reason="CartoException: statement timeout",
                exit_code=1,
                log_stream="load_ppr_ppr_events/default/abc123",
            ),
        ),
        current=1,
        created_at=NOW,
        updated_at=NOW,
        alert="pending",
    )


def test_a_failed_run_alert_names_everything_needed_to_act():
    alert = run_alert(failed_run(), "run_failed", "prod", "us-east-1", "/aws/batch/databridge-pipeline-prod")

    text = alert.text()

    assert text.splitlines()[0] == ":red_circle: [prod] knack/carto_phl/ppr/ppr_events failed at step load"
    assert "run scheduled-20261124T0845Z, attempts 3, job job-4" in text
    assert "reason: CartoException: statement timeout; exit code: 1" in text
    assert "rerun: databridge-pipeline rerun knack/carto_phl/ppr/ppr_events --from-step load --env prod" in text
    assert json.loads(alert.rerun_message) == {"table": "knack/carto_phl/ppr/ppr_events", "from_step": "load"}
    blocks = json.dumps(alert.blocks())
    for field in ("*Table*", "*Step*", "*Run*", "*Attempts*", "*Reason*", "*Exit code*", "Job log stream"):
        assert field in blocks


def test_the_log_link_opens_the_jobs_stream_in_the_cloudwatch_console():
    url = log_stream_url("us-east-1", "/aws/batch/job", "load_x/default/abc")

    assert url.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:")
    assert "log-group/$252Faws$252Fbatch$252Fjob/log-events/load_x$252Fdefault$252Fabc" in url
    assert (
        unquote(unquote(url.split("log-group/")[1].replace("$", "%"))) == "/aws/batch/job/log-events/load_x/default/abc"
    )


def test_a_stuck_run_alert_says_since_when_and_has_no_log_link_before_the_job_ends():
    run = failed_run().model_copy(update={"status": "running", "current": 0})
    run = run.with_step(run.step.model_copy(update={"status": "submitted", "since": NOW, "log_stream": None}), NOW)

    alert = run_alert(run, "run_stuck", "dev", "us-east-1", "/aws/batch/job")

    assert alert.text().splitlines()[0] == ":red_circle: [dev] knack/carto_phl/ppr/ppr_events is stuck at step extract"
    assert "step submitted since 2026-11-24 11:33 UTC, past the table's timeout" in alert.text()
    assert "attempt 1; Batch has not finished job" in alert.text(), "what was tried"
    assert alert.log_url is None


def test_a_stuck_submission_whose_lease_was_released_says_since_when_it_began():
    run = failed_run().model_copy(update={"status": "running", "current": 0})
    step = run.step.model_copy(update={"status": "submitting", "since": None, "began_at": NOW, "job_id": None})
    run = run.with_step(step, NOW + timedelta(minutes=30))

    alert = run_alert(run, "run_stuck", "dev", "us-east-1", "/aws/batch/job")

    assert "step submitting since 2026-11-24 11:33 UTC" in alert.text()
    assert "SubmitJob has not succeeded yet" in alert.text()


def failed_with(reason: str) -> Run:
    run = failed_run()
    return run.model_copy(update={"steps": (run.steps[0], run.steps[1].model_copy(update={"status_reason": reason}))})


def test_a_status_reason_that_anyone_may_set_cannot_ping_the_channel_or_disguise_a_link():
    hostile = "<!channel> see <https://evil.example/x|CloudWatch log> & \x1b[2Jcleared\x00"

    alert = run_alert(failed_with(hostile), "run_failed", "prod", "us-east-1", "/aws/batch/job")

    for shown in (alert.text(), json.dumps(alert.blocks())):
        assert "<!channel>" not in shown and "<https://evil" not in shown
        assert "\x1b" not in shown and "\\u001b" not in shown and "\x00" not in shown
    assert "&lt;!channel&gt; see &lt;https://evil.example/x|CloudWatch log&gt; &amp; [2Jcleared" in alert.text()


def test_a_long_status_reason_is_cut_in_the_alert():
    text = run_alert(failed_with("y" * 5000), "run_failed", "prod", "us-east-1", "/aws/batch/job").text()

    [reason_line] = [line for line in text.splitlines() if line.startswith("reason:")]
    assert reason_line.count("y") == 499 and "…" in reason_line


def cancelled_run(note: str | None) -> Run:
    running = failed_run().model_copy(update={"status": "cancelled", "finished_at": NOW, "note": note})
    return running.with_step(running.step.model_copy(update={"status": "submitted"}), NOW)


def test_a_cancelled_run_is_one_line_saying_who_cancelled_it_and_why():
    note = "cancelled by arn:aws:iam::123456789012:user/ops: wrong Carto table"
    alert = run_alert(cancelled_run(note), "run_cancelled", "dev", "us-east-1", "/aws/batch/databridge-pipeline-dev")

    assert alert.text() == (
        ":no_entry_sign: [dev] knack/carto_phl/ppr/ppr_events run scheduled-20261124T0845Z "
        "cancelled by arn:aws:iam::123456789012:user/ops: wrong Carto table"
    )
    assert alert.blocks() == [{"type": "section", "text": {"type": "mrkdwn", "text": alert.text()}}]
    assert alert.rerun_command == (
        "databridge-pipeline rerun knack/carto_phl/ppr/ppr_events --from-step load --env dev"
    ), "kept, though the line does not show it"


def test_a_cancellation_reason_cannot_ping_the_channel_break_the_line_or_run_on():
    note = (
        "cancelled by arn:aws:iam::1:user/x: <!channel> see <https://evil.example|the runbook>\nnext line " + "x" * 900
    )
    alert = run_alert(cancelled_run(note), "run_cancelled", "prod", "us-east-1", "/aws/batch/job")

    [line] = alert.text().splitlines()
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line
    assert "&lt;https://evil.example|the runbook&gt; next line xxx" in line
    assert line.endswith("…")
    assert len(line) < 400


def test_a_cancelled_run_without_a_note_still_says_it_was_cancelled():
    alert = run_alert(cancelled_run(None), "run_cancelled", "dev", "us-east-1", "/aws/batch/job")

    assert alert.text() == ":no_entry_sign: [dev] knack/carto_phl/ppr/ppr_events run scheduled-20261124T0845Z cancelled"
