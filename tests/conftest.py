"""Shared fixtures: a whole pipeline stack on moto (queues, ledger, Batch), a stand-in Slack, the handlers."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

# Imported at collection, so the handlers' log handler writes to the session's stdout: imported first inside
# a test, it would keep that test's captured stream, closed once the test ends, and later tests that swap
# the stream (to read the log lines) would fail on it.
from databridge_pipeline import observability  # noqa: F401
from databridge_pipeline.local.batch_events import job_state_change
from databridge_pipeline.local.moto_patches import RUNNING, answer_describe_jobs, sqs_on_clock
from databridge_pipeline.local.slack_standin import SlackStandIn
from databridge_pipeline.local.stack import (
    ACCOUNT,
    REGION,
    StackSpec,
    create_resources,
    load_handler,
    sqs_event,
    stack_spec,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIGS = ROOT / "table_configs"

# mock_aws starts every test with a new boto3 session, and each new botocore session (the test's, each
# handler's) would parse botocore's service-model and endpoint files again, about 0.15 s a stack: the sessions
# of a test run share one loader, which only caches what it reads from those files.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)

# Property tests (marker `property`): a fixed, derandomized profile in `make test`, so a run is repeatable and
# quick; `make soak` runs the same properties with many more examples (HYPOTHESIS_PROFILE=soak).
settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None, print_blob=True)
settings.register_profile(
    "soak", max_examples=5000, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@dataclass
class Clock:
    """A settable clock the services read instead of the wall clock."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 11, 15, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Stack:
    """One environment's resources on moto, and ways to drive and inspect them as a test would."""

    env: dict[str, str]
    sqs: Any
    batch: Any
    ledger: Any
    queue_url: str
    dlq_url: str
    slack: SlackStandIn
    clock: Clock
    spec: StackSpec
    handlers: dict[str, ModuleType] = field(default_factory=dict)
    # What DescribeJobs answers the handlers, by job id: moto's jobs succeed at once, so a job is RUNNING
    # until the test says otherwise (``job_event`` records the outcome it builds); None: Batch forgot it.
    batch_says: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def handler(self, name: str) -> ModuleType:
        """Import functions/<name>/app.py fresh (its cold start reads this stack's environment)."""
        if name not in self.handlers:
            module = load_handler(name)
            wiring = module.wiring
            wiring.clock = self.clock
            answer_describe_jobs(wiring.batch.client, self._batch_state)
            self.handlers[name] = module
        return self.handlers[name]

    def _batch_state(self, job_id: str) -> dict[str, Any] | None:
        if job_id not in self.batch_says:
            return RUNNING
        said = self.batch_says[job_id]
        return None if said is None else (said or RUNNING)

    def pause(self, prefix: str, watched: str) -> list[str]:
        """Pause ``prefix`` in the ledger; returns the partitions of the ``watched`` handler's ledger Queries
        from now on."""
        from databridge_pipeline.domain.pauses import Pause

        ledger = self.handler(watched).wiring.ledger
        ledger.pause(Pause(prefix=prefix, reason="Oracle maintenance", paused_at=datetime(2026, 11, 24, tzinfo=UTC)))
        queries: list[str] = []
        query = ledger._client.query
        ledger._client.query = lambda **kw: queries.append(kw["ExpressionAttributeValues"][":pk"]["S"]) or query(**kw)
        return queries

    # --- the run queue ---
    def send(self, body: dict[str, Any] | str) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)["MessageId"])

    def receive(self, url: str | None = None, max_messages: int = 10) -> list[dict[str, Any]]:
        """Receive what is visible now (moto honours visibility timeouts and DelaySeconds in real time)."""
        response = self.sqs.receive_message(
            QueueUrl=url or self.queue_url,
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            **({"VisibilityTimeout": 0} if url == self.dlq_url else {}),
        )
        return list(response.get("Messages", []))

    def queued(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def after_visibility_timeout(self) -> None:
        """Let the run queue's visibility timeout (the template's) pass."""
        self.clock.advance(seconds=self.spec.visibility_timeout + 1)

    def deliver(self, messages: list[dict[str, Any]], context: Any) -> dict[str, Any]:
        """Give messages to the submitter as Lambda would, deleting the ones it did not report as failed."""
        assert messages, "Lambda never invokes the submitter with no records"
        reply: dict[str, Any] = self.handler("submitter").lambda_handler(sqs_event(messages), context)
        failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return reply

    # --- Batch ---
    def jobs(self) -> list[dict[str, Any]]:
        """Every job submitted to our queues, oldest first, with command and tags."""
        ids = [
            summary["jobId"]
            for queue in (self.env["EXTRACT_JOB_QUEUE"], self.env["CARTO_JOB_QUEUE"])
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
            for summary in self.batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
        ]
        if not ids:
            return []
        jobs = self.batch.describe_jobs(jobs=list(dict.fromkeys(ids)))["jobs"]
        return sorted(jobs, key=lambda j: j["createdAt"])

    def job_event(self, job: dict[str, Any], status: str, **kwargs: Any) -> dict[str, Any]:
        """The state-change event of ``job`` reaching ``status``; DescribeJobs says the same from now on."""
        event = job_state_change(job, status, self.clock(), ACCOUNT, REGION, **kwargs)
        self.batch_says[job["jobId"]] = event["detail"]
        return event

    def run_item(self, table: str, run_id: str) -> dict[str, Any] | None:
        item = self.ledger.get_item(Key={"pk": f"RUN#{table}", "sk": run_id}).get("Item")
        return json.loads(item["run"]) if item else None

    def slot(self, table: str) -> str | None:
        item = self.ledger.get_item(Key={"pk": "SLOT", "sk": table}).get("Item")
        return item["run_id"] if item else None


class LambdaContextStub:
    function_name = "databridge-pipeline-test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:databridge-pipeline-test"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def context() -> LambdaContextStub:
    return LambdaContextStub()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def stack_env() -> str:
    """The environment the stack is built for; a test module overrides this fixture for prod."""
    return "dev"


@pytest.fixture
def stack(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, slack: SlackStandIn, stack_env: str
) -> Iterator[Stack]:
    clock = Clock()
    with mock_aws(config={"batch": {"use_docker": False}}), sqs_on_clock(clock):
        spec = stack_spec(environment=stack_env)
        env = create_resources(stack_env, spec)
        env |= {"SLACK_API_URL": slack.url, "TABLE_CONFIGS": str(EXAMPLE_CONFIGS)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield Stack(
            env=env,
            sqs=boto3.client("sqs", region_name=REGION),
            batch=boto3.client("batch", region_name=REGION),
            ledger=boto3.resource("dynamodb", region_name=REGION).Table(env["LEDGER_TABLE"]),
            queue_url=env["RUN_QUEUE_URL"],
            dlq_url=env["DLQ_URL"],
            slack=slack,
            clock=clock,
            spec=spec,
        )
