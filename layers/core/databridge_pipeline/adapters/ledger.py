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
  staleness already alerted) and its latest finished run (``latest_run``); one partition, read in one Query
  by the freshness check and by ``status``, which so needs no Query per table.

A run whose failure or stuck alert Slack has not yet accepted carries ``alert_pending``, the key of the sparse
index ``pending-alerts``: the reconciliation pass finds those runs without scanning the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from databridge_pipeline.domain.errors import SlotBusy, StaleRun
from databridge_pipeline.domain.freshness import Freshness
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.ports import LedgerRun, UnreadableRun

RETENTION = timedelta(days=90)
BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
BATCH_GET_ATTEMPTS = 5  # for the keys DynamoDB leaves unprocessed when throttled: 0.05 s doubling, 1.5 s in all
FRESHNESS_ATTRIBUTES = ("sk", "last_success", "first_seen", "alerted_for")  # a TABLE record but its latest run
PENDING_ALERTS_INDEX = "pending-alerts"
PENDING_ALERT_KEY = "alert_pending"
PENDING_ALERTS_INDEX_VALUE = "pending"
Item = dict[str, str | int]


class LedgerThrottled(Exception):
    """DynamoDB left keys unprocessed through every attempt; the caller tries again later."""


class DynamoLedger:
    def __init__(self, client: Any, table_name: str) -> None:
        """``client`` is a DynamoDB client: botocore's own, as boto3's resource layer would cost the Lambdas
        ~15% more import time. Items hold only strings and integers, converted by ``_attributes``/``_plain``."""
        self._client = client
        self._name = table_name

    def get_run(self, table_id: str, run_id: str) -> Run | None:
        item = self._get(_run_key(table_id, run_id))
        return Run.model_validate_json(str(item["run"])) if item else None

    def start_run(self, run: Run) -> Run:
        """Create the run and take its table's slot, atomically; SlotBusy if another run holds it."""
        saved = run.model_copy(update={"version": 1})
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": _attributes(self._run_item(saved)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": _attributes(
                                {"pk": "SLOT", "sk": run.table, "run_id": run.run_id, "since": _iso(run.created_at)}
                            ),
                            "ConditionExpression": "attribute_not_exists(pk) OR run_id = :run",
                            "ExpressionAttributeValues": _attributes({":run": run.run_id}),
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
        if not self._conditional(
            self._client.put_item,
            Item=_attributes(self._run_item(saved)),
            ConditionExpression="version = :read",
            ExpressionAttributeValues=_attributes({":read": run.version}),
        ):
            raise StaleRun(f"run {run.run_id} of {run.table} changed since it was read")
        return saved

    def free_slot(self, table_id: str, run_id: str) -> None:
        """Release the slot if this run holds it; a no-op when it was already released."""
        self._conditional(
            self._client.delete_item,
            Key=_attributes({"pk": "SLOT", "sk": table_id}),
            ConditionExpression="run_id = :run",
            ExpressionAttributeValues=_attributes({":run": run_id}),
        )

    def slots(self) -> list[tuple[str, str, LedgerRun | None]]:
        """Every taken slot as (table, run id, the run or None when the ledger has no such run): one Query
        and one BatchGetItem per 100 slots, so a pass over 1,000 active runs makes 11 calls, not 1,001."""
        slots = [(str(slot["sk"]), str(slot["run_id"])) for slot in self._query("SLOT")]
        runs = self._get_runs(slots)
        return [(table, run_id, runs.get((table, run_id))) for table, run_id in slots]

    def pending_alert_runs(self) -> list[LedgerRun]:
        """Runs with an alert Slack has not accepted yet, through the sparse index (no scan). The index is
        eventually consistent: a caller re-reads a run before acting on it."""
        items = self._query(PENDING_ALERTS_INDEX_VALUE, index=PENDING_ALERTS_INDEX, key=PENDING_ALERT_KEY)
        return [_run_of(item) for item in items]

    def runs_exist(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``keys`` (table, run id) have a run item, read consistently (unreadable ones count)."""
        return set(self._get_runs(list(keys)))

    def claim_unreadable_alert(self, table_id: str, run_id: str) -> bool:
        """Mark the unreadable item alerted, only if it is not yet (and still exists)."""
        return self._conditional(
            self._client.update_item,
            Key=_attributes(_run_key(table_id, run_id)),
            UpdateExpression="SET unreadable_alerted = :yes",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(unreadable_alerted)",
            ExpressionAttributeValues=_attributes({":yes": 1}),
        )

    def release_unreadable_alert(self, table_id: str, run_id: str) -> None:
        self._client.update_item(
            TableName=self._name,
            Key=_attributes(_run_key(table_id, run_id)),
            UpdateExpression="REMOVE unreadable_alerted",
            ConditionExpression="attribute_exists(pk)",
        )

    def recent_runs(self, table_id: str, limit: int = 10) -> list[Run]:
        """A table's runs, newest first. Run ids do not sort by time across triggers, so all are read
        (finished runs expire after RETENTION, which keeps this small) and sorted by creation."""
        items = self._query(f"RUN#{table_id}")
        runs = [run for item in items if isinstance(run := _run_of(item), Run)]  # the pass alerts unreadable ones
        return sorted(runs, key=lambda r: r.created_at, reverse=True)[:limit]

    def pauses(self) -> list[Pause]:
        """Every pause, in one Query (O(paused))."""
        return [Pause.model_validate_json(str(item["pause"])) for item in self._query("PAUSE")]

    def pause(self, pause: Pause) -> Pause | None:
        """Pause ``pause.prefix`` (a new reason replaces the old one); returns the pause it replaced."""
        old = self._client.put_item(
            TableName=self._name,
            Item=_attributes({"pk": "PAUSE", "sk": pause.prefix, "pause": pause.model_dump_json()}),
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        return Pause.model_validate_json(str(_plain(old)["pause"])) if old else None

    def resume(self, prefix: str) -> Pause | None:
        """Remove the pause of exactly ``prefix``; returns it, or None when there was none."""
        old = self._client.delete_item(
            TableName=self._name, Key=_attributes({"pk": "PAUSE", "sk": prefix}), ReturnValues="ALL_OLD"
        ).get("Attributes")
        return Pause.model_validate_json(str(_plain(old)["pause"])) if old else None

    def freshness(self) -> dict[str, Freshness]:
        """Every table's freshness record, by table id, in one Query that leaves out the latest run kept there
        (the check runs every 15 minutes and needs only the times)."""
        items = self._query("TABLE", attributes=FRESHNESS_ATTRIBUTES)
        return {str(item["sk"]): _freshness(item) for item in items}

    def table_records(self) -> tuple[dict[str, Freshness], dict[str, Run]]:
        """Every table's freshness, and the latest finished run of each table that has one, in one Query."""
        items = self._query("TABLE")
        latest = {
            str(item["sk"]): Run.model_validate_json(str(item["latest_run"])) for item in items if "latest_run" in item
        }
        return {str(item["sk"]): _freshness(item) for item in items}, latest

    def record_success(self, table_id: str, at: datetime) -> None:
        """The table's data was refreshed at ``at`` (never moves back: a late write of an older run is a no-op)."""
        self._conditional(
            self._client.update_item,
            Key=_attributes({"pk": "TABLE", "sk": table_id}),
            UpdateExpression="SET last_success = :at",
            ConditionExpression="attribute_not_exists(last_success) OR last_success < :at",
            ExpressionAttributeValues=_attributes({":at": _iso(at)}),
        )

    def record_finished(self, run: Run) -> None:
        """Keep ``run`` as its table's latest finished run, unless a run created later is already kept (a late
        write of an older run is a no-op). Starts the freshness clock too, for a table first seen finishing."""
        self._conditional(
            self._client.update_item,
            Key=_attributes({"pk": "TABLE", "sk": run.table}),
            UpdateExpression=(
                "SET latest_run = :run, latest_created = :created, first_seen = if_not_exists(first_seen, :created)"
            ),
            ConditionExpression="attribute_not_exists(latest_created) OR latest_created <= :created",
            ExpressionAttributeValues=_attributes({":run": run.model_dump_json(), ":created": _iso(run.created_at)}),
        )

    def first_seen(self, table_ids: list[str], now: datetime) -> None:
        """Start the freshness clock of tables the ledger has no record of (new, or never run)."""
        for table_id in table_ids:
            self._conditional(
                self._client.put_item,
                Item=_attributes({"pk": "TABLE", "sk": table_id, "first_seen": _iso(now)}),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def stale_alerted(self, table_id: str, reference: datetime) -> None:
        """The staleness counted from ``reference`` has been alerted (once per episode)."""
        self._client.update_item(
            TableName=self._name,
            Key=_attributes({"pk": "TABLE", "sk": table_id}),
            UpdateExpression="SET alerted_for = :ref",
            ExpressionAttributeValues=_attributes({":ref": _iso(reference)}),
        )

    def cursor(self) -> datetime | None:
        item = self._get({"pk": "CURSOR", "sk": "dispatcher"})
        return datetime.fromisoformat(str(item["last_tick"])) if item else None

    def advance_cursor(self, tick: datetime) -> bool:
        """Move the cursor to ``tick`` unless it is already there or later; True when it moved."""
        return self._conditional(
            self._client.put_item,
            Item=_attributes({"pk": "CURSOR", "sk": "dispatcher", "last_tick": _iso(tick)}),
            ConditionExpression="attribute_not_exists(pk) OR last_tick < :tick",
            ExpressionAttributeValues=_attributes({":tick": _iso(tick)}),
        )

    def _conditional(self, write: Callable[..., Any], **request: Any) -> bool:
        """Make one conditional write to the ledger; False when its condition did not hold (the state the
        condition guards is already there: the caller decides whether that is news or a no-op)."""
        try:
            write(TableName=self._name, **request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _get(self, key: dict[str, str]) -> Item | None:
        item = self._client.get_item(TableName=self._name, Key=_attributes(key), ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def _get_runs(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], LedgerRun]:
        """The runs of ``keys`` (table, run id) that exist, read consistently, each parsed on its own. A key
        DynamoDB leaves unprocessed is asked again, never taken as missing: a missing run frees its slot."""
        runs: dict[tuple[str, str], LedgerRun] = {}
        for start in range(0, len(keys), BATCH_GET_KEYS):
            chunk = [_attributes(_run_key(table, run_id)) for table, run_id in keys[start : start + BATCH_GET_KEYS]]
            request: dict[str, Any] = {self._name: {"Keys": chunk, "ConsistentRead": True}}
            for attempt in range(BATCH_GET_ATTEMPTS):
                if attempt:
                    time.sleep(0.05 * 2 ** (attempt - 1))
                page = self._client.batch_get_item(RequestItems=request)
                for item in page["Responses"].get(self._name, []):
                    run = _run_of(_plain(item))
                    runs[(run.table, run.run_id)] = run
                request = page.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                left = len(request[self._name]["Keys"])
                raise LedgerThrottled(f"DynamoDB left {left} run(s) unread after {BATCH_GET_ATTEMPTS} attempts")
        return runs

    def _query(
        self, pk: str, index: str | None = None, key: str = "pk", attributes: tuple[str, ...] | None = None
    ) -> list[Item]:
        """Every item of the partition, page after page; only ``attributes`` of each when given."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self._name,
            "KeyConditionExpression": "#key = :pk",
            "ExpressionAttributeNames": {"#key": key},
            "ExpressionAttributeValues": _attributes({":pk": pk}),
        }
        if index is not None:
            kwargs["IndexName"] = index
        if attributes is not None:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            kwargs["ExpressionAttributeNames"] |= names
            kwargs["ProjectionExpression"] = ", ".join(names)
        while True:
            page = self._client.query(**kwargs)
            items.extend(_plain(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _run_item(run: Run) -> Item:
        item: Item = {
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


def _run_of(item: Item) -> LedgerRun:
    """The run an item holds, or ``UnreadableRun`` named by its key (the error's type and place, no values)."""
    try:
        return Run.model_validate_json(str(item["run"]))
    except (KeyError, ValidationError) as error:
        table = str(item.get("pk", "")).removeprefix("RUN#")
        return UnreadableRun(table=table, run_id=str(item.get("sk", "")), error=_unreadable(error))


def _unreadable(error: KeyError | ValidationError) -> str:
    if isinstance(error, KeyError):
        return "no run attribute"
    places = sorted({".".join(str(p) for p in e["loc"]) or "run" for e in error.errors()})
    return f"{error.error_count()} invalid field(s): {', '.join(places[:5])}"


def _freshness(item: Item) -> Freshness:
    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(str(item[key])) if item.get(key) else None

    return Freshness(
        table=str(item["sk"]),
        last_success=when("last_success"),
        first_seen=when("first_seen"),
        alerted_for=when("alerted_for"),
    )


def _attributes(item: Mapping[str, str | int]) -> dict[str, dict[str, str]]:
    """Plain values -> DynamoDB attribute values (the ledger stores only strings and integers)."""
    return {key: {"N": str(value)} if isinstance(value, int) else {"S": value} for key, value in item.items()}


def _plain(item: Mapping[str, Mapping[str, str]]) -> Item:
    return {key: int(value["N"]) if "N" in value else value["S"] for key, value in item.items()}


def _run_key(table_id: str, run_id: str) -> dict[str, str]:
    return {"pk": f"RUN#{table_id}", "sk": run_id}


def _iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601, so string comparison in conditions is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
