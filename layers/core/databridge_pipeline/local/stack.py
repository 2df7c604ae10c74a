"""One environment's AWS resources on moto, shaped by ``StackSpec`` (read from template.yaml when given).

Used by the local run and by the integration and end-to-end tests, so both exercise the same stack.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict

from databridge_pipeline.adapters.ledger import PENDING_ALERT_KEY, PENDING_ALERTS_INDEX
from databridge_pipeline.domain.connections import connections_of_type
from databridge_pipeline.domain.settings import PipelineSettings, default_settings
from databridge_pipeline.domain.step_kinds import step_kinds

ACCOUNT = "123456789012"
REGION = "us-east-1"
REPO_ROOT = Path(__file__).resolve().parents[4]
SLACK_SECRET = "databridge-pipeline/slack"


class StackSpec(BaseModel):
    """What the local stack takes from the deployed one's template (see ``stack_spec``)."""

    model_config = ConfigDict(frozen=True)

    visibility_timeout: int
    max_receive_count: int
    batch_event_pattern: dict[str, Any]


def stack_spec(template: Path | None = None, environment: str = "dev") -> StackSpec:
    """The spec read from ``template`` (default: the repo's template.yaml), so local cannot drift from AWS."""
    path = template or REPO_ROOT / "template.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no SAM template to build the local stack from")
    from databridge_pipeline.local import template_spec

    queue = template_spec.queue_settings(path)
    return StackSpec(
        visibility_timeout=queue["visibility_timeout"],
        max_receive_count=queue["max_receive_count"],
        batch_event_pattern=template_spec.batch_event_pattern(path, environment, ACCOUNT, REGION),
    )


def create_resources(environment: str, spec: StackSpec) -> dict[str, str]:
    """Create the queues, ledger, Batch queues and job definitions, the Slack secret and the Batch-events rule.

    Returns the Lambda environment variables pointing at them (plus ``DLQ_URL`` and ``EVENTS_QUEUE_URL``).
    Call inside ``moto.mock_aws``.
    """
    names = default_settings(environment)  # type: ignore[arg-type]
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=f"databridge-pipeline-{environment}-runs-dlq")["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=f"databridge-pipeline-{environment}-runs",
        Attributes={
            "VisibilityTimeout": str(spec.visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": _queue_arn(sqs, dlq_url), "maxReceiveCount": str(spec.max_receive_count)}
            ),
        },
    )["QueueUrl"]
    ledger = f"databridge-pipeline-{environment}-ledger"
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=ledger,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": PENDING_ALERT_KEY, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": PENDING_ALERTS_INDEX,
                "KeySchema": [
                    {"AttributeName": PENDING_ALERT_KEY, "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    _create_batch(names)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SLACK_SECRET, SecretString=json.dumps({"token": "xoxb-local-stand-in"})
    )
    events_queue_url = _route_batch_events(sqs, environment, spec, names)
    return {
        **names,
        "LEDGER_TABLE": ledger,
        "RUN_QUEUE_URL": queue_url,
        "DLQ_URL": dlq_url,
        "EVENTS_QUEUE_URL": events_queue_url,
        "SLACK_SECRET_NAME": SLACK_SECRET,
        "SLACK_CHANNEL": "#databridge-alerts",
        "BATCH_LOG_GROUP": f"/aws/batch/databridge-pipeline-{environment}",
        "POWERTOOLS_METRICS_NAMESPACE": "DatabridgePipeline",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def _queue_arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


def _create_batch(names: dict[str, str]) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="databridge-pipeline-batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", region_name=REGION)
    compute = batch.create_compute_environment(
        computeEnvironmentName="databridge-pipeline-local", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    for queue in (names["EXTRACT_JOB_QUEUE"], names["CARTO_JOB_QUEUE"]):
        batch.create_job_queue(
            jobQueueName=queue,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute["computeEnvironmentArn"]}],
        )
    settings = PipelineSettings.model_validate(names)
    for name, kind in step_kinds().items():
        for connection in connections_of_type(kind.connection):
            batch.register_job_definition(
                jobDefinitionName=settings.job_definition(name, connection),
                type="container",
                containerProperties={"image": "databridge-etl-tools", "vcpus": 1, "memory": 2048, "command": ["true"]},
            )


def _route_batch_events(sqs: Any, environment: str, spec: StackSpec, names: dict[str, str]) -> str:
    """The template's Batch-events rule, with an SQS queue standing in for the job-events function."""
    url: str = sqs.create_queue(QueueName=f"databridge-pipeline-{environment}-batch-events")["QueueUrl"]
    pattern = json.loads(
        json.dumps(spec.batch_event_pattern).replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
    )
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name=f"databridge-pipeline-{environment}-batch-events", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=f"databridge-pipeline-{environment}-batch-events",
        Targets=[{"Id": "job-events", "Arn": _queue_arn(sqs, url)}],
    )
    return url


def load_handler(name: str, functions_dir: Path | None = None) -> ModuleType:
    """Import ``functions/<name>/app.py`` afresh: its module-level code is the Lambda's cold start."""
    path = (functions_dir or REPO_ROOT / "functions") / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"databridge_handler_{name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no handler at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def sqs_event(messages: Sequence[Mapping[str, Any]], queue: str = "databridge-pipeline-runs") -> dict[str, Any]:
    """The Lambda SQS event the event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }
