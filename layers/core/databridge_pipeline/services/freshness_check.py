"""The freshness check, on the dispatcher's tick: one ``stale`` alert per table and staleness episode, and
the ``StaleTables`` metric. It catches what the run checks cannot see: a table that is never dispatched.

Every ``EVERY_MINUTES`` (staleness is measured in hours): one Query for the freshness records, one for the
pauses, a write for each table seen for the first time and for each alert. Off when the environment's
schedule is off (dev by default), where nothing is expected to refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.alerts import StaleAlert
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.freshness import StaleTable, stale_tables
from databridge_pipeline.domain.pauses import pause_of
from databridge_pipeline.domain.run_request import as_utc
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.observability import count, logger
from databridge_pipeline.ports import AlertSink, Ledger

EVERY_MINUTES = 15


class FreshnessResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    stale: int
    alerted: int
    alerts_not_sent: int


@dataclass(eq=False)
class FreshnessCheck:
    catalog: Catalog
    ledger: Ledger
    alerts: AlertSink
    settings: PipelineSettings

    def check(self, time: datetime) -> FreshnessResult | None:
        """At the tick's ``time``; None on the ticks between checks, or when the schedule is off."""
        time = as_utc(time)
        if time.minute % EVERY_MINUTES or not self.settings.schedule_enabled:
            return None
        ledger = self.ledger
        records = ledger.freshness()
        scheduled = [str(t.id) for t in self.catalog if t.config.cron is not None]
        unseen = [table_id for table_id in scheduled if table_id not in records]
        if unseen:
            ledger.first_seen(unseen, time)
        pauses = ledger.pauses()
        paused = [table_id for table_id in scheduled if pause_of(table_id, pauses) is not None]
        stale = stale_tables(self.catalog, records, paused, time)
        env = self.settings.environment
        count("StaleTables", env, value=len(stale), unit=MetricUnit.Count)
        alerted = not_sent = 0
        for table in stale:
            if table.alerted:
                continue
            if self._alert(table):
                alerted += 1
            else:
                not_sent += 1
        return FreshnessResult(stale=len(stale), alerted=alerted, alerts_not_sent=not_sent)

    def _alert(self, stale: StaleTable) -> bool:
        """Post the table's stale alert, then record the episode as alerted; a Slack error leaves it for the
        next check."""
        table = self.catalog.get(stale.table)
        assert table is not None and table.config.cron is not None  # stale_tables only returns these
        env = self.settings.environment
        alert = StaleAlert(
            environment=env,
            table=stale.table,
            schedule=f"{table.config.cron} {table.config.timezone}, timeout {table.config.timeout_minutes} min",
            never_succeeded=stale.never_succeeded,
            reference=stale.reference,
            deadline=stale.deadline,
        )
        logger.warning(
            f"{stale.table}: stale since {stale.deadline.isoformat()}",
            extra={"table": stale.table, "run_status": "stale"},
        )
        try:
            self.alerts.post(alert)
        except Exception as error:
            count("AlertsNotSent", env, stale.table, outcome="stale")
            logger.warning(f"stale alert for {stale.table} not posted ({type(error).__name__}); tried again next check")
            return False
        count("AlertsSent", env, stale.table, outcome="stale")
        self.ledger.stale_alerted(stale.table, stale.reference)
        return True
