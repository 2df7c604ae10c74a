"""`databridge-pipeline rerun` and `status` against moto: in-process, and as a server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from databridge_pipeline.cli import main
from databridge_pipeline.configs.manifest import load_catalog

INSPECTIONS = "databridge/lni/inspections"
ASSESSMENTS = "databridge/opa/assessment_history"
EXAMPLES = Path(__file__).resolve().parents[2] / "table_configs"


@pytest.fixture(autouse=True)
def _example_configs(monkeypatch) -> None:
    monkeypatch.setenv("DATABRIDGE_CONFIGS", str(EXAMPLES))


def outputs_stack(stack, name: str = "databridge-pipeline-dev") -> None:
    """A CloudFormation stack whose outputs name the run queue and ledger, as the SAM stack's do."""
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "RunQueueUrl": {"Value": stack.queue_url},
            "LedgerTableName": {"Value": stack.env["LEDGER_TABLE"]},
        },
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def test_rerun_sends_a_manual_request_to_the_stacks_queue(stack, capsys):
    outputs_stack(stack)

    code = main(["rerun", INSPECTIONS, "--from-step", "load", "--env", "dev"])

    assert code == 0
    [message] = stack.receive()
    assert json.loads(message["Body"]) == {"table": INSPECTIONS, "from_step": "load", "trigger": "manual", "attempt": 1}
    assert message["MessageId"] in capsys.readouterr().out


def test_rerun_of_an_unknown_table_suggests_one_and_sends_nothing(stack, capsys):
    outputs_stack(stack)

    code = main(["rerun", "databridge/lni/inspection", "--env", "dev"])

    assert code == 2
    assert "did you mean databridge/lni/inspections?" in capsys.readouterr().err
    assert stack.receive() == []


def test_rerun_of_a_step_the_table_lacks_is_refused(stack, capsys):
    outputs_stack(stack)

    assert main(["rerun", "databridge/health/clinic_locations", "--from-step", "load", "--env", "dev"]) == 2
    assert "has no step 'load'" in capsys.readouterr().err
    assert stack.receive() == []


def test_rerun_without_a_deployed_stack_says_so(stack, capsys):
    assert main(["rerun", INSPECTIONS, "--env", "prod"]) == 1
    assert "databridge-pipeline-prod" in capsys.readouterr().err


def run_to_the_end(stack, context, table: str, outcome: str, **details) -> None:
    """A scheduled run of ``table`` whose every job ends with ``outcome`` (retries included), through the
    real handlers."""
    stack.send({"table": table, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"})
    stack.deliver(stack.receive(), context)
    for _ in range(10):
        run = stack.run_item(table, "scheduled-20261124T1115Z")
        step = run["steps"][run["current"]]
        if run["status"] != "running":
            return
        if step["status"] == "retry_pending":
            stack.clock.advance(minutes=16)  # past any retry delay (at most 15 minutes)
            stack.deliver(stack.receive(), context)
            continue
        job = next(j for j in stack.jobs() if j["jobId"] == step["job_id"])
        stack.handler("job_events").lambda_handler(stack.job_event(job, outcome, **details), context)
    raise AssertionError(f"the run of {table} did not end")


def test_status_lists_every_table_with_state_step_reason_next_fire_and_last_success(stack, context, capsys):
    outputs_stack(stack)
    run_to_the_end(stack, context, ASSESSMENTS, "FAILED", exit_code=2, status_reason="ORA-12541: no listener")
    run_to_the_end(stack, context, "knack/carto_phl/ppr/ppr_events", "SUCCEEDED")
    stack.send({"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"})
    stack.deliver(stack.receive(), context)
    assert main(["pause", "databridge/health", "--reason", "clinic list moving", "--env", "dev"]) == 0
    capsys.readouterr()

    assert main(["status", "--env", "dev", "--json"]) == 0

    rows = {row["table"]: row for row in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == sorted(load_catalog(EXAMPLES).ids()), "every configured table, run or not"
    failed = rows[ASSESSMENTS]
    assert (failed["state"], failed["step"], failed["reason"]) == (
        "failed",
        "extract",
        "ORA-12541: no listener (exit code 2)",
    )
    assert rows[INSPECTIONS]["state"] == "running"
    assert rows[INSPECTIONS]["reason"] == "extract submitted"
    assert rows["knack/carto_phl/ppr/ppr_events"]["state"] == "succeeded"
    assert rows["knack/carto_phl/ppr/ppr_events"]["last_success"] is not None
    never = rows["airtable/airtable/immigrant_services"]
    assert (never["state"], never["run_id"], never["last_success"]) == ("never run", None, None)
    assert never["next_fire"].endswith("T07:30:00Z")
    clinics = rows["databridge/health/clinic_locations"]
    assert (clinics["next_fire"], clinics["paused"]["reason"]) == (None, "clinic list moving")

    assert main(["status", "--env", "dev", "--failed"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "TABLE",
        "STATE",
        "STEP",
        "UPDATED",
        "(UTC)",
        "NEXT",
        "(UTC)",
        "LAST",
        "SUCCESS",
        "PAUSED",
        "REASON",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [[ASSESSMENTS, "failed", "extract"]]
    assert lines[1].endswith("ORA-12541: no listener (exit code 2)")

    assert main(["status", "--env", "dev", "--prefix", "databridge/health"]) == 0
    [clinic_line] = capsys.readouterr().out.splitlines()[1:]
    assert clinic_line.split()[:6] == ["databridge/health/clinic_locations", "never", "run", "-", "-", "manual"]
    assert "by databridge/health: clinic list moving" in clinic_line


def test_status_reads_each_tables_last_finished_run_from_its_table_record_not_a_query_per_table(
    stack, context, capsys, monkeypatch
):
    from databridge_pipeline.adapters.ledger import DynamoLedger

    outputs_stack(stack)
    run_to_the_end(stack, context, ASSESSMENTS, "FAILED", exit_code=2, status_reason="ORA-12541: no listener")
    run_to_the_end(stack, context, "knack/carto_phl/ppr/ppr_events", "SUCCEEDED")
    # A run that finished before the ledger kept the latest run on the TABLE record: read by a Query.
    stack.ledger.update_item(
        Key={"pk": "TABLE", "sk": ASSESSMENTS}, UpdateExpression="REMOVE latest_run, latest_created"
    )
    queried: list[str] = []
    recent_runs = DynamoLedger.recent_runs
    monkeypatch.setattr(
        DynamoLedger,
        "recent_runs",
        lambda self, table, limit=10: queried.append(table) or recent_runs(self, table, limit),
    )
    capsys.readouterr()

    assert main(["status", "--env", "dev", "--json"]) == 0

    rows = {row["table"]: row for row in json.loads(capsys.readouterr().out)}
    assert (rows[ASSESSMENTS]["state"], rows[ASSESSMENTS]["reason"]) == (
        "failed",
        "ORA-12541: no listener (exit code 2)",
    )
    assert rows["knack/carto_phl/ppr/ppr_events"]["state"] == "succeeded"
    assert "knack/carto_phl/ppr/ppr_events" not in queried, "its finished run is on its TABLE record"
    assert sorted(queried) == sorted(set(rows) - {"knack/carto_phl/ppr/ppr_events"})


def test_status_of_one_table_shows_its_recent_runs(stack, context, capsys):
    outputs_stack(stack)
    stack.send({"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"})
    stack.deliver(stack.receive(), context)
    capsys.readouterr()

    assert main(["status", INSPECTIONS, "--env", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["TABLE", "RUN", "STATUS"]
    assert lines[1].split()[:6] == [INSPECTIONS, "scheduled-20261124T1115Z", "running", "extract", "submitted", "1"]

    assert main(["status", INSPECTIONS, "--env", "dev", "--json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert (run["run_id"], run["steps"][0]["status"]) == ("scheduled-20261124T1115Z", "submitted")

    assert main(["status", INSPECTIONS, "--env", "dev", "--failed"]) == 2


@pytest.fixture
def moto_server(aws_credentials) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_rerun_and_status_reach_a_moto_server_by_endpoint_url(moto_server, capsys):
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="runs")["QueueUrl"]
    boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server).create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    rerun = ["rerun", INSPECTIONS, "--env", "dev", "--queue-url", url, "--ledger-table", "ledger"]
    assert main([*rerun, "--endpoint-url", moto_server]) == 0
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"])["table"] == INSPECTIONS

    args = ["status", INSPECTIONS, "--env", "dev", "--ledger-table", "ledger", "--endpoint-url", moto_server]
    assert main(args) == 0
    assert f"no runs of {INSPECTIONS} in the ledger yet" in capsys.readouterr().err


def test_pause_skips_the_tables_runs_until_resume_and_a_rerun_needs_force(stack, context, capsys):
    outputs_stack(stack)

    assert main(["pause", "databridge/lni", "--reason", "Oracle maintenance", "--env", "dev"]) == 0
    assert "paused: databridge/lni (1 table(s): databridge/lni/inspections): Oracle maintenance" in (
        capsys.readouterr().out
    )

    assert main(["rerun", INSPECTIONS, "--env", "dev"]) == 1
    err = capsys.readouterr().err
    assert f"{INSPECTIONS} is paused by databridge/lni since " in err
    assert "`resume databridge/lni` first, or pass --force to run it once" in err
    assert stack.receive() == []

    assert main(["rerun", INSPECTIONS, "--env", "dev", "--force"]) == 0
    assert len(stack.receive()) == 1

    assert main(["resume", INSPECTIONS, "--env", "dev"]) == 1
    assert f"{INSPECTIONS} is not paused ({INSPECTIONS} is paused by databridge/lni since" in capsys.readouterr().err

    assert main(["resume", "databridge/lni", "--env", "dev"]) == 0
    assert "resumed: databridge/lni (1 table(s))" in capsys.readouterr().out
    assert main(["rerun", INSPECTIONS, "--env", "dev"]) == 0


def test_pause_of_a_prefix_no_table_has_is_refused_with_a_guess(stack, capsys):
    outputs_stack(stack)

    assert main(["pause", "databridge/lnii", "--reason", "x", "--env", "dev"]) == 2
    assert "no table is 'databridge/lnii' or under it (did you mean databridge/lni?)" in capsys.readouterr().err
    assert main(["pause", "databridge/lni", "--reason", " ", "--env", "dev"]) == 2


def test_rerun_failed_reruns_each_failed_table_from_its_failed_step_and_skips_paused_ones(stack, context, capsys):
    outputs_stack(stack)
    stack.clock.now = datetime.now(UTC)  # --since counts back from now
    run_to_the_end(stack, context, ASSESSMENTS, "FAILED", exit_code=2, status_reason="ORA-12541: no listener")
    run_to_the_end(stack, context, INSPECTIONS, "FAILED", exit_code=1)  # dev: no retries; fails at extract
    assert main(["pause", "databridge/lni", "--reason", "Carto rebuild", "--env", "dev"]) == 0
    capsys.readouterr()

    assert main(["rerun", "--failed", "--since", "1h", "--dry-run", "--env", "dev"]) == 0
    out = capsys.readouterr()
    assert f"would  rerun {ASSESSMENTS} from extract (run scheduled-20261124T1115Z failed " in out.out
    assert "ORA-12541: no listener)" in out.out
    assert f"skip   {INSPECTIONS}: paused by databridge/lni since " in out.out
    assert "1 rerun(s) would be sent (--dry-run: nothing sent), 1 skipped" in out.err
    assert stack.receive() == []

    assert main(["rerun", "--failed", "--since", "1h", "--prefix", "databridge/opa", "--env", "dev"]) == 0
    assert f"sent   rerun {ASSESSMENTS} from extract" in capsys.readouterr().out
    [message] = stack.receive()
    assert json.loads(message["Body"]) == {
        "table": ASSESSMENTS,
        "from_step": "extract",
        "trigger": "manual",
        "attempt": 1,
    }


def test_rerun_needs_a_table_or_failed(stack, capsys):
    assert main(["rerun", "--env", "dev"]) == 2
    assert "name a TABLE, or give --failed" in capsys.readouterr().err
    assert main(["rerun", INSPECTIONS, "--failed", "--env", "dev"]) == 2
    assert main(["rerun", INSPECTIONS, "--dry-run", "--env", "dev"]) == 2
