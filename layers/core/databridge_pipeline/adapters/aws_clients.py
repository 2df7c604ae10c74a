"""botocore clients for the adapters: one session per wiring (a cold start), standard retries, and one client
kind that never retries, for the calls a retry could make twice.

botocore's own clients rather than boto3's: boto3 adds about 15% to a handler's imports and the adapters
use nothing of it. Standard retry mode absorbs brief throttling.

A retry happens inside botocore, below the adapter: an attempt whose response was lost (a timeout, a 5xx
after the work was done) is sent again. That is harmless for reads and conditional writes, not for AWS
Batch's SubmitJob, which has no idempotency token: a second attempt makes a second job. botocore's Config
documents ``retries={"total_max_attempts": N}`` as "the maximum number of total attempts ... includes the
initial request, so a value of 1 indicates that no requests will be retried", taking precedence over
``max_attempts`` (which counts retries, not attempts) and over ``AWS_MAX_ATTEMPTS`` and the config file
(botocore.args ``_compute_retry_max_attempts``); in standard mode it is the ``max_attempts`` of the
retry handler botocore registers (botocore.client ``_register_v2_standard_retries``), so one attempt,
whatever the error. urllib3 below it never retries (botocore gives it ``retries=False``).
"""

from __future__ import annotations

from typing import Any, Protocol

import botocore.session
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})  # 5 retries: 6 attempts in all
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


class ClientMaker(Protocol):
    def __call__(self, service: str, *, no_retries: bool = False) -> Any:
        """A client of ``service``; ``no_retries``: each call made exactly once (SubmitJob)."""
        ...


def aws_clients(region: str | None, endpoint_url: str | None = None) -> ClientMaker:
    """A maker of clients in ``region`` (None: the AWS configuration's), at ``endpoint_url`` when given (a moto
    server), sharing one new session: the second client of a service reuses the session's loaded model."""
    session = botocore.session.get_session()

    def client(service: str, *, no_retries: bool = False) -> Any:
        config = ONE_ATTEMPT if no_retries else RETRIES
        return session.create_client(service, region_name=region, endpoint_url=endpoint_url, config=config)

    return client
