"""What the operator commands do against a deployed stack: rerun, pause and resume tables, read their runs,
cancel one.

The stack's outputs say where its run queue and ledger are, so an operator only names the environment.
``endpoint_url`` points every client at another endpoint (a local moto server, for instance).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
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

from databridge_pipeline.adapters.aws_clients import aws_clients
from databridge_pipeline.adapters.batch import AwsBatchJobs
from databridge_pipeline.adapters.ledger import DynamoLedger
from databridge_pipeline.adapters.run_queue import SqsRunQueue
from databridge_pipeline.domain.freshness import Freshness
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.step_kinds import StepName
from databridge_pipeline.services.cancel import RunCanceller

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


class Stack:
    """A deployed stack as the operator commands use it: its run queue and ledger, found from its outputs
    unless given, and AWS Batch; every AWS error turned into an ``OperatorError``."""

    def __init__(
        self,
        name: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        queue_url: str | None = None,
        ledger_table: str | None = None,
    ) -> None:
        self.name = name
        self._region, self._endpoint_url = region, endpoint_url
        self._kwargs = _clients_kwargs(region, endpoint_url)
        self._queue_url = queue_url
        self._ledger_table = ledger_table

    def output(self, key: str) -> str:
        with aws_call(f"read stack {self.name}"):
            client = boto3.client("cloudformation", **self._kwargs)
            try:
                stacks = client.describe_stacks(StackName=self.name)["Stacks"]
            except ClientError as error:
                if error.response["Error"].get("Code") != "ValidationError":
                    raise
                raise OperatorError(
                    f"no stack {self.name} in {client.meta.region_name}: deploy it (see docs/deploying.md), "
                    "or name it with --stack-name and --region"
                ) from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        if key not in outputs:
            raise OperatorError(f"stack {self.name} has no output {key} (outputs: {', '.join(outputs) or 'none'})")
        return outputs[key]

    @cached_property
    def ledger(self) -> DynamoLedger:
        table = self._ledger_table or self.output(LEDGER_OUTPUT)
        with aws_call(f"open the run ledger {table}"):
            return DynamoLedger(boto3.client("dynamodb", **self._kwargs), table)

    @cached_property
    def queue(self) -> SqsRunQueue:
        url = self._queue_url or self.output(QUEUE_OUTPUT)
        with aws_call("open the run queue"):
            return SqsRunQueue(boto3.client("sqs", **self._kwargs), url)

    @cached_property
    def batch(self) -> AwsBatchJobs:
        """AWS Batch, with the clients the Lambdas use (SubmitJob's makes one attempt)."""
        with aws_call("open AWS Batch"):
            client = aws_clients(self._region, self._endpoint_url)
            return AwsBatchJobs(client("batch"), submit_client=client("batch", no_retries=True))

    def canceller(self) -> RunCanceller:
        """Cancelling runs: over the ledger and Batch, on the wall clock. Its AWS errors are the caller's to
        wrap in ``aws_call``."""
        return RunCanceller(self.ledger, self.batch, clock=lambda: datetime.now(UTC))

    def send(self, requests: list[RunRequest]) -> list[str]:
        """Send run requests; returns their SQS message ids."""
        with aws_call("send to the run queue"):
            return [self.queue.send(request) for request in requests]

    def latest_runs(self, table_ids: list[str], limit: int) -> list[Run]:
        """The newest ``limit`` runs of each table, newest first."""
        with aws_call("read the run ledger"):
            runs = [run for table in table_ids for run in self.ledger.recent_runs(table, limit)]
        return sorted(runs, key=lambda r: r.created_at, reverse=True)

    def runs_and_freshness(self, table_ids: list[str]) -> tuple[dict[str, list[Run]], dict[str, Freshness]]:
        """Each table's running run and latest finished run, newest first, and every table's freshness: a few
        reads for all tables (the slots, their runs 100 a call, the TABLE records), plus one Query for each
        table with no finished run on record (one that never finished a run, or finished its last before the
        ledger kept it there)."""
        with aws_call("read the run ledger"):
            active = {table: run for table, _, run in self.ledger.slots() if isinstance(run, Run)}
            freshness, finished = self.ledger.table_records()
            runs: dict[str, list[Run]] = {}
            for table in table_ids:
                if table not in finished:
                    runs[table] = self.ledger.recent_runs(table, limit=100_000)
                    continue
                kept = {run.run_id: run for run in (finished[table], active.get(table)) if run is not None}
                runs[table] = sorted(kept.values(), key=lambda run: run.created_at, reverse=True)
            return runs, freshness

    def pauses(self) -> list[Pause]:
        with aws_call("read the pauses in the run ledger"):
            return self.ledger.pauses()

    def pause(self, pause: Pause) -> Pause | None:
        with aws_call("write the pause to the run ledger"):
            return self.ledger.pause(pause)

    def resume(self, prefix: str) -> Pause | None:
        with aws_call("remove the pause from the run ledger"):
            return self.ledger.resume(prefix)

    def caller(self) -> str | None:
        """Who is calling, as AWS knows them (recorded with a pause); None when AWS will not say."""
        try:
            arn: str = boto3.client("sts", **self._kwargs).get_caller_identity()["Arn"]
        except (BotoCoreError, ClientError):
            return None
        return arn


def manual_request(table_id: str, from_step: StepName | None, force: bool = False) -> RunRequest:
    """``force``: the request says so, or the submitter skips it while the table is paused."""
    fields = {"table": table_id, "trigger": "manual", "from_step": from_step, "force": True if force else None}
    return RunRequest.model_validate(fields)
