"""The run ledger: one DynamoDB table holding runs, each table's run slot, and the dispatcher's cursor.

Items (partition key ``pk``, sort key ``sk``):
- ``RUN#<table>`` / ``<run_id>``: one run, its JSON in ``run``, ``version`` for conditional writes;
  finished runs expire (``expires_at``, TTL) after ``RETENTION``.
- ``SLOT`` / ``<table>``: the table's active run (legacy ``max_active_runs=1``); one partition, so a
  Query lists every active run.
- ``CURSOR`` / ``dispatcher``: the last tick dispatched.
- ``PAUSE`` / ``<prefix>``: a paused table or prefix (``pauses.Pause``); one partition, so one Query reads
  every pause.
- ``TABLE`` / ``<table>``: the table's freshness (``freshness.Freshness``: last success, first seen, the
  staleness already alerted); one partition, read in one Query by the freshness check and ``status``.

A run whose failure or stuck alert Slack has not yet accepted carries ``alert_pending``, the key of the sparse
index ``pending-alerts``: the reconciliation pass finds those runs without scanning the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from databridge_pipeline.freshness import Freshness
from databridge_pipeline.pauses import Pause
from databridge_pipeline.runs import Run

RETENTION = timedelta(days=90)
PENDING_ALERTS_INDEX = "pending-alerts"
PENDING_ALERT_KEY = "alert_pending"
PENDING_ALERTS_INDEX_VALUE = "pending"


class SlotBusy(Exception):
    """The table's slot belongs to another run."""

    def __init__(self, table: str, holder: str | None) -> None:
        self.holder = holder
        super().__init__(f"{table} is busy with run {holder}")


class StaleRun(Exception):
    """The run changed since it was read (another invocation moved it on)."""


class Ledger:
    def __init__(self, table: Any) -> None:
        """``table`` is a boto3 DynamoDB Table resource; its client takes and returns plain Python values."""
        self._table = table
        self._client = table.meta.client

    def get_run(self, table_id: str, run_id: str) -> Run | None:
        item = self._table.get_item(Key=_run_key(table_id, run_id), ConsistentRead=True).get("Item")
        return Run.model_validate_json(item["run"]) if item else None

    def start_run(self, run: Run) -> Run:
        """Create the run and take its table's slot, atomically; SlotBusy if another run holds it."""
        saved = run.model_copy(update={"version": 1})
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": self._run_item(saved),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {
                                "pk": "SLOT",
                                "sk": run.table,
                                "run_id": run.run_id,
                                "since": _iso(run.created_at),
                            },
                            "ConditionExpression": "attribute_not_exists(pk) OR run_id = :run",
                            "ExpressionAttributeValues": {":run": run.run_id},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons: list[dict[str, Any]] = error.response.get("CancellationReasons") or []  # type: ignore[assignment]
            if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                holder = reasons[1].get("Item", {}).get("run_id")
                holder = holder.get("S") if isinstance(holder, dict) else holder
                raise SlotBusy(run.table, holder) from None
            raise StaleRun(f"run {run.run_id} of {run.table} already exists") from None
        return saved

    def save_run(self, run: Run) -> Run:
        """Write ``run`` if the ledger still has the version it was read at; StaleRun otherwise."""
        saved = run.model_copy(update={"version": run.version + 1})
        try:
            self._table.put_item(
                Item=self._run_item(saved),
                ConditionExpression="version = :read",
                ExpressionAttributeValues={":read": run.version},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleRun(f"run {run.run_id} of {run.table} changed since it was read") from None
            raise
        return saved

    def free_slot(self, table_id: str, run_id: str) -> None:
        """Release the slot if this run holds it; a no-op when it was already released."""
        try:
            self._table.delete_item(
                Key={"pk": "SLOT", "sk": table_id},
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": run_id},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def active_runs(self) -> list[Run]:
        """Every run that holds a slot."""
        return [run for _, _, run in self.slots() if run is not None]

    def slots(self) -> list[tuple[str, str, Run | None]]:
        """Every taken slot as (table, run id, the run or None when the ledger has no such run)."""
        return [(slot["sk"], slot["run_id"], self.get_run(slot["sk"], slot["run_id"])) for slot in self._query("SLOT")]

    def pending_alert_runs(self) -> list[Run]:
        """Runs with an alert Slack has not accepted yet, through the sparse index (no scan)."""
        items = self._query(PENDING_ALERTS_INDEX_VALUE, index=PENDING_ALERTS_INDEX, key=PENDING_ALERT_KEY)
        return [Run.model_validate_json(item["run"]) for item in items]

    def recent_runs(self, table_id: str, limit: int = 10) -> list[Run]:
        """A table's runs, newest first. Run ids do not sort by time across triggers, so all are read
        (finished runs expire after RETENTION, which keeps this small) and sorted by creation."""
        items = self._query(f"RUN#{table_id}")
        runs = [Run.model_validate_json(item["run"]) for item in items]
        return sorted(runs, key=lambda r: r.created_at, reverse=True)[:limit]

    def pauses(self) -> list[Pause]:
        """Every pause, in one Query (O(paused))."""
        return [Pause.model_validate_json(item["pause"]) for item in self._query("PAUSE")]

    def pause(self, pause: Pause) -> Pause | None:
        """Pause ``pause.prefix`` (a new reason replaces the old one); returns the pause it replaced."""
        old = self._table.put_item(
            Item={"pk": "PAUSE", "sk": pause.prefix, "pause": pause.model_dump_json()}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return Pause.model_validate_json(old["pause"]) if old else None

    def resume(self, prefix: str) -> Pause | None:
        """Remove the pause of exactly ``prefix``; returns it, or None when there was none."""
        old = self._table.delete_item(Key={"pk": "PAUSE", "sk": prefix}, ReturnValues="ALL_OLD").get("Attributes")
        return Pause.model_validate_json(old["pause"]) if old else None

    def freshness(self) -> dict[str, Freshness]:
        """Every table's freshness record, by table id, in one Query."""
        return {item["sk"]: _freshness(item) for item in self._query("TABLE")}

    def record_success(self, table_id: str, at: datetime) -> None:
        """The table's data was refreshed at ``at`` (never moves back: a late write of an older run is a no-op)."""
        try:
            self._table.update_item(
                Key={"pk": "TABLE", "sk": table_id},
                UpdateExpression="SET last_success = :at",
                ConditionExpression="attribute_not_exists(last_success) OR last_success < :at",
                ExpressionAttributeValues={":at": _iso(at)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def first_seen(self, table_ids: list[str], now: datetime) -> None:
        """Start the freshness clock of tables the ledger has no record of (new, or never run)."""
        for table_id in table_ids:
            try:
                self._table.put_item(
                    Item={"pk": "TABLE", "sk": table_id, "first_seen": _iso(now)},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def stale_alerted(self, table_id: str, reference: datetime) -> None:
        """The staleness counted from ``reference`` has been alerted (once per episode)."""
        self._table.update_item(
            Key={"pk": "TABLE", "sk": table_id},
            UpdateExpression="SET alerted_for = :ref",
            ExpressionAttributeValues={":ref": _iso(reference)},
        )

    def cursor(self) -> datetime | None:
        item = self._table.get_item(Key={"pk": "CURSOR", "sk": "dispatcher"}, ConsistentRead=True).get("Item")
        return datetime.fromisoformat(item["last_tick"]) if item else None

    def advance_cursor(self, tick: datetime) -> bool:
        """Move the cursor to ``tick`` unless it is already there or later; True when it moved."""
        try:
            self._table.put_item(
                Item={"pk": "CURSOR", "sk": "dispatcher", "last_tick": _iso(tick)},
                ConditionExpression="attribute_not_exists(pk) OR last_tick < :tick",
                ExpressionAttributeValues={":tick": _iso(tick)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _query(self, pk: str, index: str | None = None, key: str = "pk") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "#key = :pk",
            "ExpressionAttributeNames": {"#key": key},
            "ExpressionAttributeValues": {":pk": pk},
        }
        if index is not None:
            kwargs["IndexName"] = index
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _run_item(run: Run) -> dict[str, Any]:
        item: dict[str, Any] = {
            **_run_key(run.table, run.run_id),
            "run": run.model_dump_json(),
            "status": run.status,
            "version": run.version,
            "created_at": _iso(run.created_at),
        }
        if "pending" in (run.alert, run.stuck_alert):
            item[PENDING_ALERT_KEY] = PENDING_ALERTS_INDEX_VALUE
        if run.finished_at is not None:
            item["expires_at"] = int((run.finished_at + RETENTION).timestamp())
        return item


def _freshness(item: dict[str, Any]) -> Freshness:
    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(item[key]) if item.get(key) else None

    return Freshness(
        table=item["sk"],
        last_success=when("last_success"),
        first_seen=when("first_seen"),
        alerted_for=when("alerted_for"),
    )


def _run_key(table_id: str, run_id: str) -> dict[str, str]:
    return {"pk": f"RUN#{table_id}", "sk": run_id}


def _iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601, so string comparison in conditions is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
