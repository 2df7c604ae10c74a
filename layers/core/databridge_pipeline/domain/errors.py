"""Why a run could not move now: raised by the ledger and Batch (ports) and by the executor, caught by the
services."""

from __future__ import annotations


class SlotBusy(Exception):
    """The table's slot belongs to another run."""

    def __init__(self, table: str, holder: str | None) -> None:
        self.holder = holder
        super().__init__(f"{table} is busy with run {holder}")


class StaleRun(Exception):
    """The run changed since it was read (another invocation moved it on)."""


class RetryLater(Exception):
    """The work is in another invocation's hands right now; the message or event is retried later."""


class JobRejected(Exception):
    """AWS Batch refused a SubmitJob for good (a ClientException: an unknown job definition, a bad job name, a
    request over 30 KiB). No job exists, and sending the same request again would be refused again."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotMade(Exception):
    """An AWS call refused before it did anything (throttled): nothing changed, so it may be made again now.
    Any other error of a call leaves its outcome unknown (a 5xx, a timeout: the job may exist)."""


class LeftToPass(Exception):
    """The run is in the ledger but could not move now (SubmitJob failed, or another invocation holds the
    step): the reconciliation pass finishes it, so the message or event that brought it is done."""
