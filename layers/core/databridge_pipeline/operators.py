"""What the operator commands do against a deployed stack: rerun a table, read the latest runs.

The stack's outputs say where its run queue and ledger are, so an operator only names the environment.
``endpoint_url`` points every client at another endpoint (a local moto server, for instance).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from databridge_pipeline.adapters.ledger import Ledger
from databridge_pipeline.adapters.run_queue import RunQueue
from databridge_pipeline.run_request import RunRequest
from databridge_pipeline.runs import Run
from databridge_pipeline.step_kinds import StepName

QUEUE_OUTPUT = "RunQueueUrl"
LEDGER_OUTPUT = "LedgerTableName"


class OperatorError(Exception):
    """An AWS call the command needs could not be made; the message is one sentence saying what to do."""


def default_stack_name(environment: str) -> str:
    return f"databridge-pipeline-{environment}"


def _clients_kwargs(region: str | None, endpoint_url: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return kwargs


_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException")
_EXPIRED = ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId")


def explain(error: Exception, doing: str) -> str | None:
    """One sentence for an AWS error an operator can fix, or None when it is not one of ours to explain."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials to {doing}: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
    if isinstance(error, NoRegionError):
        return f"no AWS region to {doing}: pass --region (e.g. us-east-1) or set AWS_DEFAULT_REGION"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach AWS to {doing} ({error.kwargs.get('endpoint_url')}): check the network or --endpoint-url"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in _DENIED:
            return (
                f"AWS refused to {doing} ({code}): use credentials of a role allowed to operate the pipeline "
                "(AWS_PROFILE), or ask an administrator for access"
            )
        if code in _EXPIRED:
            return f"AWS did not accept your credentials to {doing} ({code}): log in again (`aws sso login`)"
        if code in ("ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return f"cannot {doing}: {error.response['Error'].get('Message', code)} (check --env and --region)"
    return None


@contextmanager
def aws_call(doing: str) -> Iterator[None]:
    """Turn the AWS errors an operator can act on into an ``OperatorError`` saying what to do."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        message = explain(error, doing)
        if message is None:
            raise OperatorError(f"AWS error while trying to {doing}: {error}") from None
        raise OperatorError(message) from None


def stack_output(stack_name: str, key: str, region: str | None = None, endpoint_url: str | None = None) -> str:
    with aws_call(f"read stack {stack_name}"):
        client = boto3.client("cloudformation", **_clients_kwargs(region, endpoint_url))
        try:
            stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if error.response["Error"].get("Code") != "ValidationError":
                raise
            raise OperatorError(
                f"no stack {stack_name} in {client.meta.region_name}: deploy it (see Deploying to AWS in the "
                "README), or name it with --stack-name and --region"
            ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if key not in outputs:
        raise OperatorError(f"stack {stack_name} has no output {key} (outputs: {', '.join(outputs) or 'none'})")
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
    with aws_call("send to the run queue"):
        queue = RunQueue(boto3.client("sqs", **_clients_kwargs(region, endpoint_url)), queue_url)
        return request, queue.send(request)


def latest_runs(
    table_ids: list[str], ledger_table: str, limit: int, region: str | None = None, endpoint_url: str | None = None
) -> list[Run]:
    """The newest ``limit`` runs of each table, newest first."""
    with aws_call(f"read the run ledger {ledger_table}"):
        ledger = Ledger(boto3.resource("dynamodb", **_clients_kwargs(region, endpoint_url)).Table(ledger_table))
        runs = [run for table in table_ids for run in ledger.recent_runs(table, limit)]
    return sorted(runs, key=lambda r: r.created_at, reverse=True)
