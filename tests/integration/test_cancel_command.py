"""`databridge-pipeline cancel` against moto: a run started through the real submitter is cancelled, its slot
freed and its Batch job terminated, the job's FAILED event then dropped; refusals in one line, no traceback."""

from __future__ import annotations

import pytest
from test_operator_commands import ASSESSMENTS, EXAMPLES, INSPECTIONS, outputs_stack

from databridge_pipeline.cli import main

CANCEL = ["cancel", INSPECTIONS, "--reason", "wrong Carto table", "--env", "dev"]
SCHEDULED_RUN = "scheduled-20261124T1115Z"
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"  # what moto's GetCallerIdentity says
NOTE = f"cancelled by {MOTO_CALLER}: wrong Carto table"


@pytest.fixture(autouse=True)
def _example_configs(monkeypatch) -> None:
    monkeypatch.setenv("DATABRIDGE_CONFIGS", str(EXAMPLES))


def started_run(stack, context) -> dict:
    """A scheduled run of inspections through the real submitter: its extract job submitted on moto."""
    outputs_stack(stack)
    stack.send({"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"})
    stack.deliver(stack.receive(), context)
    [job] = stack.jobs()
    return job


def test_cancel_finishes_the_run_cancelled_frees_its_slot_and_terminates_its_job(stack, context, capsys):
    job = started_run(stack, context)
    capsys.readouterr()

    assert main(CANCEL) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"cancelled run {SCHEDULED_RUN} of {INSPECTIONS} at extract (submitted since ")
    assert out[0].endswith(f"): {NOTE}")
    assert out[1:] == [
        f"terminated job {job['jobId']}: Batch ends it FAILED, and its event finds the run cancelled",
        "the reconciliation pass posts the Slack line within a minute",
    ]
    run = stack.run_item(INSPECTIONS, SCHEDULED_RUN)
    assert (run["status"], run["note"], run["alert"]) == ("cancelled", NOTE, "pending")
    assert stack.slot(INSPECTIONS) is None
    # moto's Docker-less jobs have SUCCEEDED already, so TerminateJob changes no status there; it keeps the
    # reason, which is how its DescribeJobs shows the call was made (AWS would end a running job FAILED).
    [terminated] = stack.jobs()
    assert terminated["statusReason"] == NOTE

    # The job's FAILED event finds the run finished: no retry (inspections retries once), no new job.
    events = stack.handler("job_events")
    events.lambda_handler(stack.job_event(job, "FAILED", status_reason=NOTE), context)
    assert stack.run_item(INSPECTIONS, SCHEDULED_RUN)["status"] == "cancelled"
    assert stack.receive() == [] and len(stack.jobs()) == 1
    assert [post for post in stack.slack.posts if SCHEDULED_RUN in post.get("text", "")] != [], "one Slack line"
    assert len(stack.slack.posts) == 1

    assert main(CANCEL) == 1
    assert capsys.readouterr().err == (
        f"databridge-pipeline cancel: {INSPECTIONS} has no running run to cancel "
        f"(`status {INSPECTIONS}` shows its latest runs)\n"
    )
    assert main([*CANCEL, "--run-id", SCHEDULED_RUN]) == 1
    err = capsys.readouterr().err
    assert f"run {SCHEDULED_RUN} of {INSPECTIONS} already cancelled at " in err
    assert f"(`rerun {INSPECTIONS}` starts a new run)" in err


def test_cancel_dry_run_says_what_it_would_cancel_and_stop_and_changes_nothing(stack, context, capsys):
    job = started_run(stack, context)
    before = stack.run_item(INSPECTIONS, SCHEDULED_RUN)
    capsys.readouterr()

    assert main([*CANCEL, "--dry-run"]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith(f"would cancel run {SCHEDULED_RUN} of {INSPECTIONS} at extract (submitted")
    assert out.splitlines()[1:] == [f"would terminate job {job['jobId']}"]
    assert err == "--dry-run: nothing changed\n"
    assert stack.run_item(INSPECTIONS, SCHEDULED_RUN) == before
    assert stack.slot(INSPECTIONS) == SCHEDULED_RUN
    assert "statusReason" not in stack.jobs()[0]


def test_cancel_whose_terminate_job_fails_says_the_run_is_cancelled_and_how_to_stop_the_job(
    stack, context, capsys, monkeypatch
):
    from botocore.exceptions import ClientError

    from databridge_pipeline.adapters.batch import AwsBatchJobs

    job = started_run(stack, context)
    denied = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed batch:TerminateJob"}}

    def refused(self, job_id, reason):
        raise ClientError(denied, "TerminateJob")

    monkeypatch.setattr(AwsBatchJobs, "terminate", refused)
    capsys.readouterr()

    assert main(CANCEL) == 1

    out, err = capsys.readouterr()
    assert out.startswith(f"cancelled run {SCHEDULED_RUN} of {INSPECTIONS}")
    assert err == (
        f"databridge-pipeline cancel: run {SCHEDULED_RUN} of {INSPECTIONS} is cancelled, but its job {job['jobId']} "
        f"still runs (AWS refused to terminate job {job['jobId']} (AccessDeniedException): use credentials of a "
        "role allowed to operate the pipeline (AWS_PROFILE), or ask an administrator for access); stop it with "
        f"`aws batch terminate-job --job-id {job['jobId']} --reason cancelled`\n"
    )
    assert stack.run_item(INSPECTIONS, SCHEDULED_RUN)["status"] == "cancelled"
    assert stack.slot(INSPECTIONS) is None


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["cancel", ASSESSMENTS, "--reason", "x", "--env", "dev"], 1, f"{ASSESSMENTS} has no running run to cancel"),
        (["cancel", INSPECTIONS, "--run-id", "manual-1", "--reason", "x", "--env", "dev"], 1, "has no run manual-1"),
        (["cancel", INSPECTIONS, "--env", "dev"], 2, "the following arguments are required: --reason"),
        (["cancel", INSPECTIONS, "--reason", "  ", "--env", "dev"], 2, "argument --reason: give a reason"),
        (["cancel", INSPECTIONS, "--reason", "a\nb", "--env", "dev"], 2, "argument --reason: give one line"),
        (["cancel", INSPECTIONS, "--reason", "x" * 201, "--env", "dev"], 2, "at most 200 characters"),
        (["cancel", INSPECTIONS, "--run-id", "no such", "--reason", "x", "--env", "dev"], 2, "is not a run id"),
        (["cancel", "databridge/lni/inspection", "--reason", "x", "--env", "dev"], 2, "did you mean"),
        (["cancel", INSPECTIONS, "--reason", "x", "--env", "prod"], 1, "no stack databridge-pipeline-prod"),
    ],
)
def test_cancel_refuses_in_one_line_without_a_traceback(stack, capsys, argv, code, says):
    outputs_stack(stack)

    assert main(argv) == code

    lines = capsys.readouterr().err.strip().splitlines()
    assert says in lines[-1] and "Traceback" not in "\n".join(lines)
    assert len(lines) == 1 or (code == 2 and lines[0].startswith("usage: ")), "one line, or argparse's usage and one"
