"""The monthly AWS cost of the pipeline for N tables, beside the always-on legacy Airflow footprint.

List prices: AWS us-east-1, on-demand, as published in 2025 (DynamoDB on-demand after its November 2024
price cut), without free tiers. Recheck them before quoting. Batch compute is left out: the same ETL
containers run in both. Usage per run is counted from the code paths (see the constants below).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from table_mix import mixture

from databridge_pipeline.domain.schedule import Window, fire_times

PRICES_AS_OF = "2025 list prices, us-east-1"
PRICE = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand WRU
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand RRU
    "logs_ingested_gb": 0.50,
    "custom_metric_month": 0.30,
    "dashboard_month": 3.00,
    "alarm_month": 0.10,
    "xray_trace": 5.00 / 1e6,
    "secret_month": 0.40,
    # legacy: one EC2 instance for Airflow (webserver, scheduler, RabbitMQ, Celery) and a Postgres database
    "ec2_t3_large_hour": 0.0832,
    "rds_db_t3_medium_hour": 0.072,
    "rds_gp2_gb_month": 0.115,
    "ebs_gp3_gb_month": 0.08,
}
HOURS_PER_MONTH = 730
TICKS_PER_MONTH = 43_200  # one a minute for 30 days
MEMORY_GB = 0.5  # every function has 512 MB

# Usage counted from the code (per tick, per run of two steps: extract then load).
DISPATCHER_BASE_S = 0.06  # ledger cursor read + write, slot query; measured compute is added per table
DISPATCHER_S_PER_TABLE = 0.00002  # the tick's schedule work, from the 10,000-table dispatch benchmark
TICK_READS, TICK_WRITES = 3, 1  # cursor GetItem, slot Query (+ consistent reads), cursor PutItem
RUN_INVOCATIONS = {"submitter": 1, "job_events": 2}  # a run's first step; one event per finished step
RUN_SECONDS = {"submitter": 0.25, "job_events": 0.25}  # each: a few DynamoDB calls and one SubmitJob
RUN_READS = 3  # GetItem of the run by the submitter and by each job event
RUN_WRITES = 17  # transaction (run + slot, 2 x 2), submitted (2), step done + next submitting (2), submitted (2),
#                  finished (2), the table's latest run (2), its last success (1), slot delete (1),
#                  rounding for 1-2 KB items (3)
RUN_SQS_REQUESTS = 3  # the send (a tenth of a batch, rounded up), the receive, the delete
POLLER_REQUESTS_PER_MONTH = 5 * 3 * 60 * 24 * 30  # Lambda's 5 long-polling SQS pollers, 20 s waits
RUN_LOG_BYTES = 6_000  # ~6 structured lines, ~4 EMF blobs and 3 invocations' START/END/REPORT
TICK_LOG_BYTES = 400  # START/END/REPORT of an idle tick
# Each custom metric the code emits, with how many dimension combinations it takes per environment (steps:
# extract, schema, geocode, load; repairs: 5 kinds; alerts: failed, stuck, cancelled, stale; runs: succeeded,
# failed, cancelled).
METRIC_COMBINATIONS = {
    "Ticks": 1, "ReconcilePasses": 1, "RunsDispatched": 1, "FiresSkippedPaused": 1, "MessagesRejected": 1,
    "MessagesSkippedPaused": 1,
    "AlertsPending": 1, "OldestPendingAlertMinutes": 1, "StaleTables": 1, "StuckRuns": 1,
    "JobsSubmitted": 4, "StepsFinished": 4 * 2, "RunsFinished": 3, "Repairs": 5, "AlertsSent": 4, "AlertsNotSent": 4,
    "JobsRejected": 4, "UnreadableRuns": 1, "PassesCutShort": 1, "OrphanJobsLeft": 1,
}  # fmt: skip
CUSTOM_METRICS = sum(METRIC_COMBINATIONS.values())
ALARMS = 10  # the template's CloudWatch alarms


@lru_cache(maxsize=8)
def runs_per_month(tables: int) -> int:
    """Scheduled runs in 30 days (November 2026) for ``tables`` tables of the benchmark's mixture."""
    month = Window(after=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 12, 1, tzinfo=UTC))
    fires: dict[str, int] = {}
    total = 0
    for table in mixture(tables):
        if table.cron:
            if table.cron not in fires:
                fires[table.cron] = len(fire_times(table.cron, "UTC", month))
            total += fires[table.cron]
    return total


def pipeline_monthly_usd(tables: int, runs: int | None = None, xray_tracing: bool = False) -> dict[str, float]:
    """Each service's monthly cost for ``tables`` tables (``runs`` scheduled runs, else from the mixture).

    X-Ray is off by default in the template (XRayTracing=false); pass ``xray_tracing`` to count its traces.
    """
    runs = runs_per_month(tables) if runs is None else runs
    dispatcher_s = TICKS_PER_MONTH * (DISPATCHER_BASE_S + DISPATCHER_S_PER_TABLE * tables)
    run_s = runs * sum(RUN_INVOCATIONS[f] * RUN_SECONDS[f] for f in RUN_INVOCATIONS)
    invocations = TICKS_PER_MONTH + runs * sum(RUN_INVOCATIONS.values())
    lambda_usd = (
        invocations * PRICE["lambda_request"] + (dispatcher_s + run_s) * MEMORY_GB * PRICE["lambda_gb_second_arm64"]
    )
    sqs_usd = (POLLER_REQUESTS_PER_MONTH + runs * RUN_SQS_REQUESTS) * PRICE["sqs_request"]
    dynamodb_usd = (TICK_READS * TICKS_PER_MONTH + RUN_READS * runs) * PRICE["dynamodb_read_unit"] + (
        TICK_WRITES * TICKS_PER_MONTH + RUN_WRITES * runs
    ) * PRICE["dynamodb_write_unit"]
    logs_gb = (TICKS_PER_MONTH * TICK_LOG_BYTES + runs * RUN_LOG_BYTES) / 1e9
    cloudwatch_usd = (
        logs_gb * PRICE["logs_ingested_gb"]
        + CUSTOM_METRICS * PRICE["custom_metric_month"]
        + PRICE["dashboard_month"]
        + ALARMS * PRICE["alarm_month"]
    )
    xray_usd = invocations * PRICE["xray_trace"] if xray_tracing else 0.0
    costs = {
        "runs": float(runs),
        "lambda": lambda_usd,
        "sqs": sqs_usd,
        "eventbridge": 0.0,  # the schedule rule and AWS service events on the default bus are free
        "dynamodb": dynamodb_usd,
        "cloudwatch": cloudwatch_usd,
        "xray": xray_usd,
        "secrets_manager": PRICE["secret_month"],  # the Slack token; the ETL secrets exist in both worlds
    }
    costs["total"] = sum(value for key, value in costs.items() if key != "runs")
    return costs


def legacy_monthly_usd() -> dict[str, float]:
    """The legacy Airflow server, always on: EC2 t3.large with 50 GB gp3, RDS Postgres db.t3.medium, 100 GB."""
    costs = {
        "ec2": PRICE["ec2_t3_large_hour"] * HOURS_PER_MONTH + 50 * PRICE["ebs_gp3_gb_month"],
        "rds_postgres": PRICE["rds_db_t3_medium_hour"] * HOURS_PER_MONTH + 100 * PRICE["rds_gp2_gb_month"],
    }
    costs["total"] = sum(costs.values())
    return costs
