"""The run ledger in memory, keeping every promise ``adapters.ledger.DynamoLedger`` keeps on DynamoDB.

- ``start_run`` takes the table's slot and creates the run in one step: ``SlotBusy`` (naming the holder)
  when another run holds the slot, checked first as DynamoDB's transaction reports it; ``StaleRun`` when the
  run already exists (the same run started twice, even after its slot was freed). Either way nothing changes.
- ``save_run`` is a conditional write on ``version``: ``StaleRun`` when the ledger holds another version,
  or no such run.
- ``free_slot`` frees only when ``run_id`` still holds the slot.
- Times the ledger keeps in its own attributes (cursor, last success, first seen, the alerted episode, the
  latest run's creation) are kept to the second in UTC, as the adapter's fixed-width ISO strings are, and
  compared at that resolution. Runs are kept whole.
- Reads come back in DynamoDB's order: slots and pauses by their sort key (table id, prefix), pending
  alerts by run id.

The state is public so a test can set up what a lost write or an expired item leaves behind: ``runs``
(by table and run id), ``slot_holders`` (table -> run id), ``last_tick``, ``pause_items``, ``records``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from databridge_pipeline.domain.errors import SlotBusy, StaleRun
from databridge_pipeline.domain.freshness import Freshness
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.ports import LedgerRun, UnreadableRun


def to_the_second(moment: datetime) -> datetime:
    """``moment`` as the ledger keeps its own times: UTC, whole seconds (truncated)."""
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass
class TableRecord:
    """A table's ``TABLE`` item: its freshness times and its latest finished run."""

    last_success: datetime | None = None
    first_seen: datetime | None = None
    alerted_for: datetime | None = None
    latest_run: Run | None = None
    latest_created: datetime | None = None

    def freshness(self, table_id: str) -> Freshness:
        return Freshness(
            table=table_id, last_success=self.last_success, first_seen=self.first_seen, alerted_for=self.alerted_for
        )


class FakeLedger:
    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], Run] = {}
        self.slot_holders: dict[str, str] = {}
        self.last_tick: datetime | None = None
        self.pause_items: dict[str, Pause] = {}
        self.records: dict[str, TableRecord] = {}
        self.unreadable: dict[tuple[str, str], UnreadableRun] = {}  # items the code cannot parse, by key
        self.unreadable_alerted: set[tuple[str, str]] = set()

    # --- set-up for tests and benchmarks -------------------------------------------------------------

    def put(self, run: Run) -> Run:
        """Store ``run`` as it is (its version included), holding its table's slot while it is running: the
        state a run reaches through ``start_run`` and saves, without going through them."""
        self.runs[(run.table, run.run_id)] = run
        if not run.finished:
            self.slot_holders[run.table] = run.run_id
        return run

    def plant_unreadable(self, table_id: str, run_id: str, holds_slot: bool = True) -> None:
        """An item only another version of the code could read (a step kind added, then rolled back), holding
        its table's slot as a running run would."""
        self.unreadable[(table_id, run_id)] = UnreadableRun(table=table_id, run_id=run_id, error="1 invalid field(s)")
        self.runs.pop((table_id, run_id), None)
        if holds_slot:
            self.slot_holders[table_id] = run_id

    # --- the Ledger port -------------------------------------------------------------------------------

    def get_run(self, table_id: str, run_id: str) -> Run | None:
        if (table_id, run_id) in self.unreadable:
            raise ValueError(f"run {run_id} of {table_id} is unreadable")  # pydantic's ValidationError, in AWS
        return self.runs.get((table_id, run_id))

    def start_run(self, run: Run) -> Run:
        holder = self.slot_holders.get(run.table)
        if holder is not None and holder != run.run_id:
            raise SlotBusy(run.table, holder)
        if (run.table, run.run_id) in self.runs or (run.table, run.run_id) in self.unreadable:
            raise StaleRun(f"run {run.run_id} of {run.table} already exists")
        saved = run.model_copy(update={"version": 1})
        self.runs[(run.table, run.run_id)] = saved
        self.slot_holders[run.table] = run.run_id
        return saved

    def save_run(self, run: Run) -> Run:
        stored = self.runs.get((run.table, run.run_id))
        if stored is None or stored.version != run.version:
            raise StaleRun(f"run {run.run_id} of {run.table} changed since it was read")
        saved = run.model_copy(update={"version": run.version + 1})
        self.runs[(run.table, run.run_id)] = saved
        return saved

    def free_slot(self, table_id: str, run_id: str) -> None:
        if self.slot_holders.get(table_id) == run_id:
            del self.slot_holders[table_id]

    def slots(self) -> list[tuple[str, str, LedgerRun | None]]:
        return [
            (table_id, run_id, self._item(table_id, run_id)) for table_id, run_id in sorted(self.slot_holders.items())
        ]

    def pending_alert_runs(self) -> list[LedgerRun]:
        pending = [run for run in self.runs.values() if "pending" in (run.alert, run.stuck_alert)]
        return sorted(pending, key=lambda run: run.run_id)

    def runs_exist(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {key for key in keys if key in self.runs or key in self.unreadable}

    def claim_unreadable_alert(self, table_id: str, run_id: str) -> bool:
        key = (table_id, run_id)
        if key not in self.unreadable or key in self.unreadable_alerted:
            return False
        self.unreadable_alerted.add(key)
        return True

    def release_unreadable_alert(self, table_id: str, run_id: str) -> None:
        self.unreadable_alerted.discard((table_id, run_id))

    def _item(self, table_id: str, run_id: str) -> LedgerRun | None:
        return self.unreadable.get((table_id, run_id)) or self.runs.get((table_id, run_id))

    def recent_runs(self, table_id: str, limit: int = 10) -> list[Run]:
        runs = [run for (table, _), run in self.runs.items() if table == table_id]
        return sorted(runs, key=lambda run: run.created_at, reverse=True)[:limit]

    def pauses(self) -> list[Pause]:
        return [self.pause_items[prefix] for prefix in sorted(self.pause_items)]

    def pause(self, pause: Pause) -> Pause | None:
        old = self.pause_items.get(pause.prefix)
        self.pause_items[pause.prefix] = pause
        return old

    def resume(self, prefix: str) -> Pause | None:
        return self.pause_items.pop(prefix, None)

    def freshness(self) -> dict[str, Freshness]:
        return {table_id: self.records[table_id].freshness(table_id) for table_id in sorted(self.records)}

    def table_records(self) -> tuple[dict[str, Freshness], dict[str, Run]]:
        latest = {table_id: r.latest_run for table_id, r in sorted(self.records.items()) if r.latest_run is not None}
        return self.freshness(), latest

    def record_success(self, table_id: str, at: datetime) -> None:
        record = self.records.setdefault(table_id, TableRecord())
        at = to_the_second(at)
        if record.last_success is None or record.last_success < at:
            record.last_success = at

    def record_finished(self, run: Run) -> None:
        record = self.records.setdefault(run.table, TableRecord())
        created = to_the_second(run.created_at)
        if record.latest_created is None or record.latest_created <= created:
            record.latest_run, record.latest_created = run, created
            record.first_seen = record.first_seen or created

    def first_seen(self, table_ids: list[str], now: datetime) -> None:
        for table_id in table_ids:
            if table_id not in self.records:
                self.records[table_id] = TableRecord(first_seen=to_the_second(now))

    def stale_alerted(self, table_id: str, reference: datetime) -> None:
        self.records.setdefault(table_id, TableRecord()).alerted_for = to_the_second(reference)

    def cursor(self) -> datetime | None:
        return self.last_tick

    def advance_cursor(self, tick: datetime) -> bool:
        tick = to_the_second(tick)
        if self.last_tick is not None and self.last_tick >= tick:
            return False
        self.last_tick = tick
        return True
