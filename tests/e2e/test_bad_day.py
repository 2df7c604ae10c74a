"""The documented bad day (`make local ARGS="--start 2026-11-24T05:00 --scenario tests/e2e/bad_day.yml ..."` in
docs/local-run.md), run once for this module as make expands that line, in-process, and what it must show:
- it ends as bad_day.yml's comments say;
- each function's role grants what the function uses and nothing more: every AWS call a handler makes is
  recorded as the IAM action it needs (the bad day, and an hour with a rerun of a busy table); the template's
  statements for that function must cover each call, and each grant must be used, so an unused grant fails
  here as surely as a call nobody granted; for the ledger, per item family: each DynamoDB call's partition
  (``pk``: ``RUN#<table>``, ``SLOT``, ``CURSOR``, ``PAUSE``, ``TABLE``; the index's own key for an index Query)
  is allowed by a statement's ``dynamodb:LeadingKeys`` condition, and each family a statement allows is used.
A whole simulated day is the suite's costliest step: ``make test`` distributes tests by file, so it runs once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.client import BaseClient
from readme_commands import BAD_DAY, documented_commands

from databridge_pipeline.cli import main
from databridge_pipeline.domain.runs import SUBMIT_LEASE
from databridge_pipeline.local import command as local_command
from databridge_pipeline.local.command import LocalResult, run_local
from databridge_pipeline.local.scenario import ManualRun, Scenario, load_scenario
from databridge_pipeline.local.simulation import Simulation
from databridge_pipeline.local.stack import REGION
from databridge_pipeline.local.template_spec import load_template

ROOT = Path(__file__).resolve().parents[2]
INSPECTIONS = "databridge/lni/inspections"
SLACK_TOKEN = "xoxb-local-stand-in"  # the token local/stack.py keeps in the local Slack secret


@dataclass(frozen=True)
class Call:
    """One IAM action a handler's AWS call needed; for the ledger, the partition (``pk``) it touched, and the
    index it queried, if any."""

    action: str
    partition: str = ""
    index: str = ""


Calls = dict[str, set[Call]]


FUNCTIONS = {"dispatcher": "DispatcherFunction", "submitter": "SubmitterFunction", "job_events": "JobEventsFunction"}
# Used by Lambda itself with the function's role, never by our code: the runtime's log writes and the SQS
# event source's polling.
USED_BY_LAMBDA = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}
# Granted for a path a simulated day cannot reach on its minute clock, each with the reason it is needed.
# Ledger grants a bad day does not use: an unreadable run item (tests/unit/services/test_reconciler.py).
RARE_LEDGER_GRANTS = {("DispatcherFunction", "LedgerMarksUnreadableRuns")}
RARE_PATHS = {
    # A redelivered request whose submit lease has expired: the take-over lists the step's jobs (done on this
    # day) and describes them only when one exists, i.e. when the dead invocation's SubmitJob had succeeded.
    "SubmitterFunction": {"batch:DescribeJobs"},
    "JobEventsFunction": {
        # An event for a step whose next step's submit lease has expired: the function takes the run over and
        # first looks for the job the dead invocation may have submitted (BatchJobs.find), as the pass would.
        "batch:ListJobs",
        "batch:DescribeJobs",
    },
}


@dataclass(frozen=True)
class BadDay:
    scenario: Scenario
    result: LocalResult
    calls: Calls  # per handler, the IAM actions (with ledger partitions) its invocations needed
    handler_log: str  # the handlers' own output (their JSON log lines, EMF metrics), as the --log file has it


@pytest.fixture(scope="module")
def bad_day(tmp_path_factory: pytest.TempPathFactory) -> BadDay:
    """The documented bad-day line (docs/local-run.md) as make expands it (`make -n`), run through the CLI's
    entry point in-process, with the handlers' AWS calls recorded; it must exit 0 and write its report, as the
    page says."""
    [line] = [c.words for c in documented_commands() if " ".join(c.words).startswith(BAD_DAY)]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # not make test's
    make = ["make", "-n", "--no-print-directory", *line[1:]]
    expanded = subprocess.run(make, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    argv = shlex.split(expanded.stdout.splitlines()[-1])  # after any set-up step make would run first
    assert Path(argv[0]).name == "databridge-pipeline" and "--report" in argv, f"make runs: {expanded.stdout}"
    report = Path(argv[argv.index("--report") + 1])
    report.unlink(missing_ok=True)
    if "--log" not in argv:  # the default local-run.log is shared with the docs' `make local`, run in parallel
        argv += ["--log", str(tmp_path_factory.mktemp("bad-day") / "local-run.log")]
    results: list[LocalResult] = []

    def kept(*args: Any, **kwargs: Any) -> LocalResult:
        results.append(run_local(*args, **kwargs))
        return results[-1]

    with pytest.MonkeyPatch.context() as monkeypatch, _recording(monkeypatch) as calls:
        monkeypatch.chdir(ROOT)
        monkeypatch.setattr(local_command, "run_local", kept)
        assert main(argv[1:]) == 0
    assert json.loads(report.read_text())["totals"] == results[0].report["totals"]
    scenario = load_scenario(ROOT / argv[argv.index("--scenario") + 1])
    log = ROOT / argv[argv.index("--log") + 1]
    handler_log = log.read_text(encoding="utf-8")
    return BadDay(scenario=scenario, result=results[0], calls=calls, handler_log=handler_log)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """The calls (actions, with ledger partitions) each function's invocations needed during the test."""
    with _recording(monkeypatch) as recorded:
        yield recorded


@contextmanager
def _recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Record each handler's AWS calls as IAM actions (the stand-in's own calls left out); with fake
    credentials in the environment, as moto needs."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    recorded: Calls = defaultdict(set)
    current: list[str] = []
    make_api_call = BaseClient._make_api_call
    invoke = Simulation._invoke

    def recording_call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if current and not _from_the_simulation():
            recorded[current[-1]].update(iam_actions(self, operation, params))
        return make_api_call(self, operation, params)

    def attributed_invoke(self: Simulation, name: str, event: dict[str, Any], minute: int) -> Any:
        parameters.clear_caches()  # each function is its own container: it reads the Slack token itself
        current.append(name)
        try:
            return invoke(self, name, event, minute)
        finally:
            current.pop()

    monkeypatch.setattr(BaseClient, "_make_api_call", recording_call)
    monkeypatch.setattr(Simulation, "_invoke", attributed_invoke)
    yield recorded


TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_actions(client: BaseClient, operation: str, params: dict[str, Any]) -> list[Call]:
    """The IAM actions one API call needs, each with the ledger partition it touches: the ``pk`` of each item
    (each key of a BatchGetItem, each item of a transaction), or the partition a Query reads, which for an
    index Query is the index's own partition key, as ``dynamodb:LeadingKeys`` sees it."""
    prefix = client.meta.service_model.signing_name
    if operation == "TransactWriteItems":
        return [
            Call(f"dynamodb:{TRANSACT_ACTIONS[kind]}", _partition(body))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "BatchGetItem":
        return [
            Call("dynamodb:BatchGetItem", _partition({"Key": key}))
            for request in params["RequestItems"].values()
            for key in request["Keys"]
        ]
    if operation == "Query":
        return [Call("dynamodb:Query", _queried_partition(params), params.get("IndexName", ""))]
    if operation == "SendMessageBatch":
        return [Call("sqs:SendMessage")]
    actions = [Call(f"{prefix}:{operation}", _partition(params) if prefix == "dynamodb" else "")]
    if operation == "SubmitJob" and params.get("tags"):
        actions.append(Call("batch:TagResource"))
    return actions


def _from_the_simulation() -> bool:
    """True for the stand-in's own calls, not the handler's. The stand-in wraps the handler's SubmitJob and
    DescribeJobs (a wrapper's caller is the handler) and describes each job it records (a wrapper's caller is
    the stand-in itself)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and "botocore" in frame.f_code.co_filename:
        frame = frame.f_back
    caller = frame.f_back if frame is not None and _in_simulation(frame) else None
    return caller is not None and _in_simulation(caller)


def _in_simulation(frame: FrameType) -> bool:
    return frame.f_code.co_filename.endswith(str(Path("local", "simulation.py")))


def _partition(params: dict[str, Any]) -> str:
    key = params.get("Key") or params.get("Item") or {}
    value = key.get("pk", "")
    return str(value.get("S", "") if isinstance(value, dict) else value)


def _queried_partition(params: dict[str, Any]) -> str:
    """The partition key value of a Query's ``#key = :value`` key condition."""
    [condition, *_] = re.split(r"\s+AND\s+", params["KeyConditionExpression"], flags=re.IGNORECASE)
    _, placeholder = (part.strip() for part in condition.split("="))
    value = params["ExpressionAttributeValues"][placeholder]
    return str(value.get("S", "") if isinstance(value, dict) else value)


@pytest.mark.slow
def test_the_bad_day_scenario_from_the_readme_ends_as_its_comments_say(bad_day):
    scenario, result = bad_day.scenario, bad_day.result  # the documented make local line, run in-process

    by_table = {row["table"]: row for row in result.summary}
    assert by_table[INSPECTIONS]["failed"] == 1
    assert by_table[INSPECTIONS]["alerts"] == 2, "failed once, then stale once"
    assert by_table["knack/carto_phl/ppr/ppr_events"]["alerts"] == 2, "stuck once, then stale once"
    assert by_table["databridge/health/clinic_locations"]["succeeded"] == 1, "the manual rerun ran"
    assert len(result.alerts) == 4
    assert sorted(a.splitlines()[0] for a in result.alerts if " is stale" in a) == [
        f":warning: [dev] {INSPECTIONS} is stale",
        ":warning: [dev] knack/carto_phl/ppr/ppr_events is stale",
    ]
    assert result.report["totals"]["dlq_messages"] == 1, "only the poison message"
    attempts = sum(step["attempts"] for run in result.report["runs"] for step in run["steps"])
    assert result.report["totals"]["jobs_submitted"] == attempts, "one job per attempt despite double delivery"
    assert result.report["totals"]["duplicate_jobs"] == 0
    assert by_table["airtable/airtable/immigrant_services"]["succeeded"] == 1, "its lost event was polled"
    repairs = result.report["totals"]["repairs"]
    assert repairs["adopted"] == len(scenario.crash_after_submit)
    # An orphan job that ends before its submit lease expires sends its event while the run has no job id
    # yet: the event is dropped as stale, so after adopting the job the pass applies its outcome too.
    lease = SUBMIT_LEASE.total_seconds() / 60
    orphans_done_first = sum(scenario.job_duration(c.step) < lease for c in scenario.crash_after_submit)
    assert repairs["polled"] == sum(lost.times for lost in scenario.lost_events) + orphans_done_first
    assert result.unexpected_errors == []


@pytest.mark.slow
def test_no_line_the_functions_log_carries_the_one_secret_they_can_read(bad_day):
    """The functions' log groups skip a customer-managed key (template.yaml) because of this: their roles can
    read no secret but the Slack token, and a day of alerts, retries and repairs logs no line that carries it."""
    readers = {name for name in FUNCTIONS if Call("secretsmanager:GetSecretValue") in bad_day.calls[name]}
    lines = [line for line in bad_day.handler_log.splitlines() if line.startswith('{"level"')]

    assert readers == {"dispatcher", "job_events"} and bad_day.result.alerts, "the token was read, and used"
    assert len(lines) > 20
    assert not re.search(r"xox[abpr]-", bad_day.handler_log), "a Slack token in a log line"
    assert SLACK_TOKEN not in bad_day.handler_log


def granted(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


LEDGER = {"Fn::GetAtt": ["RunLedger", "Arn"]}
LEADING_KEYS = "dynamodb:LeadingKeys"


def ledger_resource(call: Call) -> Any:
    """The template's resource for the ledger or the index a DynamoDB call reads."""
    return {"Fn::Sub": f"${{RunLedger.Arn}}/index/{call.index}"} if call.index else LEDGER


def leading_keys(statement: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The statement's dynamodb:LeadingKeys condition as (operator, patterns), or None."""
    found = [
        (op, keys[LEADING_KEYS]) for op, keys in (statement.get("Condition") or {}).items() if LEADING_KEYS in keys
    ]
    assert len(found) <= 1, statement.get("Sid")
    return found[0] if found else None


def matches(operator: str, pattern: str, partition: str) -> bool:
    """IAM's string matching of one condition value: StringLike's * and ? wildcards, StringEquals exactly."""
    if operator == "ForAllValues:StringEquals":
        return partition == pattern
    assert operator == "ForAllValues:StringLike", operator
    return (
        re.fullmatch(".*".join(".".join(map(re.escape, p.split("?"))) for p in pattern.split("*")), partition)
        is not None
    )


def allows(statement: dict[str, Any], call: Call, pattern: str | None = None) -> bool:
    """Whether ``statement`` grants ``call``: its action, for DynamoDB its resource (the table or the index), and
    its partition under the statement's LeadingKeys condition (under ``pattern`` of it, when given)."""
    if call.action not in actions_of(statement):
        return False
    if not call.action.startswith("dynamodb:"):
        return True
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    if ledger_resource(call) not in resources:
        return False
    condition = leading_keys(statement)
    if condition is None:
        return True
    operator, patterns = condition
    return any(matches(operator, p, call.partition) for p in patterns if pattern in (None, p))


@pytest.mark.slow
def test_each_function_is_granted_exactly_the_actions_a_bad_day_makes_it_use(bad_day, calls):
    template = load_template(ROOT / "template.yaml")
    # The bad day's calls, and an hour in which inspections is rerun while its 11:15 run is still going:
    # the submitter holds the request back.
    busy = Scenario(manual_runs=[ManualRun(at_minute=17, table="databridge/lni/inspections")])
    result = run_local(ROOT / "table_configs", datetime(2026, 11, 24, 11, 0, tzinfo=UTC), 1, busy)
    assert result.unexpected_errors == [] and bad_day.result.unexpected_errors == []
    assert Call("sqs:SendMessage") in calls["submitter"], "the busy table's request went back to the queue"
    used_calls = {name: bad_day.calls[name] | calls[name] for name in FUNCTIONS}

    for name, function in FUNCTIONS.items():
        statements = granted(template, function)
        grants = set().union(*(actions_of(s) for s in statements))
        used = {call.action for call in used_calls[name]}
        assert used <= grants, f"{function} calls what its role does not grant"
        assert grants - USED_BY_LAMBDA - RARE_PATHS.get(function, set()) <= used, f"{function}: an unused grant"
        # Each call is granted for the item family it touches, on the table or the index it reads ...
        for call in used_calls[name]:
            assert any(allows(s, call) for s in statements), f"{function}: {call} is not granted for its partition"
        # ... and each ledger grant is used: every action of it, for every partition family it allows.
        for statement in statements:
            if (function, statement.get("Sid")) in RARE_LEDGER_GRANTS:
                continue
            condition = leading_keys(statement)
            assert condition or not any(a.startswith("dynamodb:") for a in actions_of(statement)), (
                f"{function} {statement.get('Sid')}: a ledger grant names the item families it may touch"
            )
            for action in actions_of(statement) if condition else ():
                for pattern in condition[1]:
                    assert any(allows(statement, c, pattern) for c in used_calls[name] if c.action == action), (
                        f"{function} {statement.get('Sid')}: {action} on {pattern} is granted and never used"
                    )


def test_a_leading_keys_pattern_matches_as_iam_matches_it():
    assert matches("ForAllValues:StringLike", "RUN#*", "RUN#databridge/lni/permits")
    assert not matches("ForAllValues:StringLike", "RUN#*", "SLOT")
    assert not matches("ForAllValues:StringLike", "RUN#*", "XRUN#databridge/lni/permits")
    assert matches("ForAllValues:StringLike", "SLO?", "SLOT") and not matches(
        "ForAllValues:StringLike", "SLO?", "SLOTS"
    )
    assert matches("ForAllValues:StringEquals", "SLOT", "SLOT") and not matches(
        "ForAllValues:StringEquals", "SLO*", "SLOT"
    )
    index_query = Call("dynamodb:Query", "pending", "pending-alerts")
    on_index = {"Action": "dynamodb:Query", "Resource": ledger_resource(index_query),
                "Condition": {"ForAllValues:StringEquals": {LEADING_KEYS: ["pending"]}}}  # fmt: skip
    assert allows(on_index, index_query) and not allows(on_index, Call("dynamodb:Query", "pending"))
