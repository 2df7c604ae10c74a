"""Why a run could not move now: raised by the ledger (a port) and by the executor, caught by the services."""

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
