"""What the operator commands do against a deployed stack: rerun a table, read the latest runs.

The stack's outputs say where its run queue and ledger are, so an operator only names the environment.
``endpoint_url`` points every client at another endpoint (a local moto server, for instance).
"""

from __future__ import annotations

from typing import Any

import boto3

from databridge_pipeline.adapters.ledger import Ledger
from databridge_pipeline.adapters.run_queue import RunQueue
from databridge_pipeline.run_request import RunRequest
from databridge_pipeline.runs import Run
from databridge_pipeline.step_kinds import StepName

QUEUE_OUTPUT = "RunQueueUrl"
LEDGER_OUTPUT = "LedgerTableName"


class StackNotFound(Exception):
    """The stack, or the output asked for, is not there; the message says which."""


def default_stack_name(environment: str) -> str:
    return f"databridge-pipeline-{environment}"


def _clients_kwargs(region: str | None, endpoint_url: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return kwargs


def stack_output(stack_name: str, key: str, region: str | None = None, endpoint_url: str | None = None) -> str:
    client = boto3.client("cloudformation", **_clients_kwargs(region, endpoint_url))
    try:
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except client.exceptions.ClientError as error:
        raise StackNotFound(f"stack {stack_name}: {error.response['Error']['Message']}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if key not in outputs:
        raise StackNotFound(f"stack {stack_name} has no output {key} (outputs: {', '.join(outputs) or 'none'})")
    return outputs[key]


def send_rerun(
    table_id: str,
    from_step: StepName | None,
    queue_url: str,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> tuple[RunRequest, str]:
    """Send a manual RunRequest; returns it and the SQS message id."""
    request = RunRequest.model_validate({"table": table_id, "trigger": "manual", "from_step": from_step})
    queue = RunQueue(boto3.client("sqs", **_clients_kwargs(region, endpoint_url)), queue_url)
    return request, queue.send(request)


def latest_runs(
    table_ids: list[str], ledger_table: str, limit: int, region: str | None = None, endpoint_url: str | None = None
) -> list[Run]:
    """The newest ``limit`` runs of each table, newest first."""
    ledger = Ledger(boto3.client("dynamodb", **_clients_kwargs(region, endpoint_url)), ledger_table)
    runs = [run for table in table_ids for run in ledger.recent_runs(table, limit)]
    return sorted(runs, key=lambda r: r.created_at, reverse=True)
