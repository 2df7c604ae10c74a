"""The moto side of the contract suite: one stack per module, made as tests/conftest.py's ``stack`` makes it
(``local.stack.create_resources``, Batch without Docker, SQS on a settable clock), shared by the module's tests.

Sharing is safe because each test gets resources no other test sees: the ledger table is emptied after each
test, each run-queue test sends to a queue of its own, and each Batch test names a table (so a job name) of
its own. Building the stack takes ~0.3 s; once a module, not once a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from fakes import FakeClock
from moto import mock_aws

from databridge_pipeline.local.moto_patches import sqs_on_clock
from databridge_pipeline.local.stack import REGION, create_resources, stack_spec

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class MotoStack:
    env: dict[str, str]
    clock: FakeClock  # moto's SQS reads it for delays

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def moto_stack() -> Iterator[MotoStack]:
    clock = FakeClock()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        with mock_aws(config={"batch": {"use_docker": False}}), sqs_on_clock(clock):
            yield MotoStack(env=create_resources("dev", stack_spec(environment="dev")), clock=clock)
