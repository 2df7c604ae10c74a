"""Each function's role grants what the function uses and nothing more. The README's bad day runs on the
local stack (with one rerun of a busy table added) while every AWS call a handler makes is recorded as the
IAM action it needs; the template's statements for that function must cover each call, and each grant must
be used, so an unused grant fails here as surely as a call nobody granted."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.client import BaseClient

from databridge_pipeline.local.command import run_local
from databridge_pipeline.local.scenario import ManualRun, load_scenario
from databridge_pipeline.local.simulation import Simulation
from databridge_pipeline.template_spec import load_template

ROOT = Path(__file__).resolve().parents[2]
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
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_actions(client: BaseClient, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The IAM actions one API call needs, each with the ledger partition it touches ('' if none)."""
    prefix = client.meta.service_model.signing_name
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", _partition(body))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "SendMessageBatch":
        return [("sqs:SendMessage", "")]
    actions = [(f"{prefix}:{operation}", _partition(params) if prefix == "dynamodb" else "")]
    if operation == "SubmitJob" and params.get("tags"):
        actions.append(("batch:TagResource", ""))
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


@pytest.fixture
def calls(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, set[tuple[str, str]]]]:
    """The (action, partition) pairs each function's invocations needed."""
    recorded: dict[str, set[tuple[str, str]]] = defaultdict(set)
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


def granted(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


@pytest.mark.slow
def test_each_function_is_granted_exactly_the_actions_a_bad_day_makes_it_use(calls):
    template = load_template(ROOT / "template.yaml")
    bad_day = load_scenario(ROOT / "tests" / "e2e" / "bad_day.yml")
    # ...and a rerun of inspections while its 11:15 run is still going: the submitter holds it back.
    busy = ManualRun(at_minute=(11 * 60 + 17) - 5 * 60, table="databridge/lni/inspections")
    scenario = bad_day.model_copy(update={"manual_runs": [*bad_day.manual_runs, busy]})

    result = run_local(ROOT / "table_configs", datetime(2026, 11, 24, 5, 0, tzinfo=UTC), 24, scenario)

    assert result.unexpected_errors == []
    for name, function in FUNCTIONS.items():
        statements = granted(template, function)
        grants = set().union(*(actions_of(s) for s in statements))
        used = {action for action, _ in calls[name]}
        assert used <= grants, f"{function} calls what its role does not grant"
        assert grants - USED_BY_LAMBDA - RARE_PATHS.get(function, set()) <= used, f"{function}: an unused grant"
        # An action granted only under a dynamodb:LeadingKeys condition keeps to those partitions.
        for action in grants:
            conditions = [s.get("Condition") or {} for s in statements if action in actions_of(s)]
            partitions = [c.get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys") for c in conditions]
            if all(partitions):
                keys = {key for listed in partitions for key in listed}
                assert {pk for used_action, pk in calls[name] if used_action == action} <= keys, (function, action)
