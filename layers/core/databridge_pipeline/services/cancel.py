"""Cancelling a run, as ``databridge-pipeline cancel`` does it: read the run, decide (``domain.cancel``), then
in this order save it cancelled (a conditional write), keep it as the table's latest run, free the table's
slot, and only then terminate its Batch job.

The order is the point: once the run is saved finished, everything else that meets it (the job's FAILED
event, a retry message, the reconciliation pass) finds it finished and drops what it would have done, so the
terminated job is never retried. What happens after the save cannot undo it: a failure there is reported on
the result (the reconciliation pass frees a slot its finished run still holds), never raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from databridge_pipeline.domain.cancel import Cancellation, CancelRefused, cancel_run
from databridge_pipeline.domain.errors import StaleRun
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.text import cut
from databridge_pipeline.ports import BatchJobs, Clock, Ledger

TERMINATE_REASON_LIMIT = 500  # of the note, as TerminateJob's reason (DescribeJobs and the FAILED event show it)


@dataclass(frozen=True)
class Cancelled:
    """A run saved cancelled, and what became of the rest. ``job_id``: the job terminated, or that
    TerminateJob failed for (``terminate_error``): it still runs. ``ledger_error``: keeping the run as the
    table's latest or freeing its slot failed (the reconciliation pass does both for a finished run)."""

    run: Run
    job_id: str | None
    in_flight: bool
    terminate_error: Exception | None = None
    ledger_error: Exception | None = None


@dataclass(eq=False)
class RunCanceller:
    """``attempts``: how many times a run that changed since it was read is read again and cancelled anew."""

    ledger: Ledger
    batch: BatchJobs
    clock: Clock
    attempts: int = 3

    def plan(self, table: str, run_id: str | None, reason: str, caller: str | None) -> Cancellation:
        """What ``cancel`` would do now, changing nothing (``--dry-run``); ``CancelRefused`` as it would."""
        run, _ = self._read(table, run_id)
        return cancel_run(run, table, run_id, reason, caller, self.clock())

    def cancel(self, table: str, run_id: str | None, reason: str, caller: str | None) -> Cancelled:
        """Cancel the run named, or the one holding ``table``'s slot; ``CancelRefused`` when it cannot be
        (none running, already finished, unreadable), or when it kept changing under us."""
        named = run_id
        for _ in range(self.attempts):
            run, named = self._read(table, named)  # a retry reads the same run again, not the slot anew
            cancellation = cancel_run(run, table, run_id, reason, caller, self.clock())
            try:
                saved = self.ledger.save_run(cancellation.run)
            except StaleRun:
                continue  # moved on since it was read (an event, the pass): read it again, maybe it finished
            return self._after_the_save(saved, cancellation)
        raise CancelRefused(
            f"run {named} of {table} changed each of the {self.attempts} times it was read: nothing was "
            "cancelled; try again"
        )

    def _after_the_save(self, saved: Run, cancellation: Cancellation) -> Cancelled:
        ledger_error = terminate_error = None
        try:
            self.ledger.record_finished(saved)  # before the slot goes: until then the slot leads to the run
            self.ledger.free_slot(saved.table, saved.run_id)
        except Exception as error:  # the run is cancelled already; the job must still be stopped
            ledger_error = error
        if cancellation.job_id is not None:
            try:
                self.batch.terminate(cancellation.job_id, cut(saved.note or "cancelled", TERMINATE_REASON_LIMIT))
            except Exception as error:
                terminate_error = error
        return Cancelled(saved, cancellation.job_id, cancellation.in_flight, terminate_error, ledger_error)

    def _read(self, table: str, run_id: str | None) -> tuple[Run | None, str | None]:
        """The run named (None when the ledger has none), or the run holding the table's slot with its id
        ((None, None) when no run holds it)."""
        if run_id is not None:
            try:
                return self.ledger.get_run(table, run_id), run_id
            except ValueError:  # pydantic's ValidationError: an item this version cannot parse
                raise CancelRefused(_unreadable(table, run_id)) from None
        for slot_table, holder, run in self.ledger.slots():
            if slot_table != table:
                continue
            if run is None:
                raise CancelRefused(
                    f"{table}'s slot is held by run {holder}, which the run ledger does not have: nothing to "
                    "cancel (the reconciliation pass frees the slot within a minute)"
                )
            if not isinstance(run, Run):
                raise CancelRefused(_unreadable(table, holder))
            return run, holder
        return None, None


def _unreadable(table: str, run_id: str) -> str:
    return (
        f"run {run_id} of {table} is in the run ledger in a form this version cannot read: not cancelled "
        "(the reconciliation pass alerts it once)"
    )
