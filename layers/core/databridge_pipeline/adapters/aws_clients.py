"""botocore clients for the adapters: one session per wiring (a cold start), standard retries.

botocore's own clients rather than boto3's: boto3 adds about 15% to a handler's imports and the adapters
use nothing of it. Standard retry mode absorbs brief throttling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def aws_clients(region: str) -> Callable[[str], Any]:
    """A maker of clients in ``region`` (moto's, under test) sharing one new session."""
    session = botocore.session.get_session()

    def client(service: str) -> Any:
        return session.create_client(service, region_name=region, config=RETRIES)

    return client
