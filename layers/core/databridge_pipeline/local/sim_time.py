"""Simulated time for moto's SQS, so delays and visibility timeouts pass as fast as a simulation runs.

moto reads the wall clock for DelaySeconds and visibility timeouts; here its SQS reads ``clock`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock


@contextmanager
def sqs_on_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    import moto.sqs.models as sqs_models

    def unix_time(dt: datetime | None = None) -> float:
        return (dt or clock()).timestamp()

    def unix_time_millis(dt: datetime | None = None) -> float:
        return unix_time(dt) * 1000

    with (
        mock.patch.object(sqs_models, "unix_time", unix_time),
        mock.patch.object(sqs_models, "unix_time_millis", unix_time_millis),
    ):
        yield
