"""Each function's role grants what the function uses and nothing more. The README's bad day (shared with
test_flow, see conftest.py) and an hour with a rerun of a busy table run on the local stack while every AWS
call a handler makes is recorded as the IAM action it needs; the template's statements for that function
must cover each call, and each grant must be used, so an unused grant fails here as surely as a call nobody
granted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from databridge_pipeline.local.command import run_local
from databridge_pipeline.local.scenario import ManualRun, Scenario
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


def granted(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


@pytest.mark.slow
@pytest.mark.xdist_group("bad_day")
def test_each_function_is_granted_exactly_the_actions_a_bad_day_makes_it_use(bad_day, calls):
    template = load_template(ROOT / "template.yaml")
    # The bad day's calls, and an hour in which inspections is rerun while its 11:15 run is still going:
    # the submitter holds the request back.
    busy = Scenario(manual_runs=[ManualRun(at_minute=17, table="databridge/lni/inspections")])
    result = run_local(ROOT / "table_configs", datetime(2026, 11, 24, 11, 0, tzinfo=UTC), 1, busy)
    assert result.unexpected_errors == [] and bad_day.result.unexpected_errors == []
    assert ("sqs:SendMessage", "") in calls["submitter"], "the busy table's request went back to the queue"
    used_calls = {name: bad_day.calls[name] | calls[name] for name in FUNCTIONS}

    for name, function in FUNCTIONS.items():
        statements = granted(template, function)
        grants = set().union(*(actions_of(s) for s in statements))
        used = {action for action, _ in used_calls[name]}
        assert used <= grants, f"{function} calls what its role does not grant"
        assert grants - USED_BY_LAMBDA - RARE_PATHS.get(function, set()) <= used, f"{function}: an unused grant"
        # An action granted only under a dynamodb:LeadingKeys condition keeps to those partitions.
        for action in grants:
            conditions = [s.get("Condition") or {} for s in statements if action in actions_of(s)]
            partitions = [c.get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys") for c in conditions]
            if all(partitions):
                keys = {key for listed in partitions for key in listed}
                touched = {pk for used_action, pk in used_calls[name] if used_action == action}
                assert touched <= keys, (function, action)
