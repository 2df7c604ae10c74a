"""The whole flow on moto, through the real handlers and the template's EventBridge rule:
tick -> run queue -> submitter -> Batch job -> state-change event -> job-events -> next job or alert.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from databridge_pipeline.local.command import run_local
from databridge_pipeline.local.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "table_configs"
START = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # databridge/lni/inspections fires at 11:15 UTC
INSPECTIONS = "databridge/lni/inspections"


@pytest.fixture(autouse=True)
def _credentials(aws_credentials: None) -> None:
    """moto needs credentials in the environment; the fixture provides fake ones."""


def runs_of(result, table: str) -> list[dict]:
    return [run for run in result.report["runs"] if run["table"] == table]


def test_a_scheduled_run_goes_from_tick_to_extract_to_load_to_succeeded():
    result = run_local(CONFIGS, START, hours=1, scenario=Scenario(job_minutes=3))

    [run] = runs_of(result, INSPECTIONS)
    assert run["run_id"] == "scheduled-20261124T1115Z"
    assert run["status"] == "succeeded"
    assert [(s["step"], s["status"], s["attempts"]) for s in run["steps"]] == [
        ("extract", "succeeded", 1),
        ("load", "succeeded", 1),
    ]
    assert result.report["totals"] == {
        "runs": 1,
        "jobs_submitted": 2,
        "alerts": 0,
        "dlq_messages": 0,
        "repairs": {"adopted": 0, "resubmitted": 0, "polled": 0, "resent": 0, "freed": 0},
        "duplicate_jobs": 0,
    }, "events arrived: nothing for the reconciliation pass to repair"
    assert result.unexpected_errors == []


def test_a_load_that_fails_after_its_retries_sends_exactly_one_alert_despite_triple_delivery():
    scenario = Scenario(
        job_minutes=2,
        deliveries=3,
        failures=[{"table": INSPECTIONS, "step": "load", "times": 5, "exit_code": 1, "reason": "carto timed out"}],
    )

    result = run_local(CONFIGS, START, hours=1, scenario=scenario)

    [run] = runs_of(result, INSPECTIONS)  # retries: 1 in its config
    assert run["status"] == "failed"
    assert [(s["step"], s["status"], s["attempts"]) for s in run["steps"]] == [
        ("extract", "succeeded", 1),
        ("load", "failed", 2),
    ]
    assert result.report["totals"]["jobs_submitted"] == 3, "extract, load, one retry of the load: no duplicates"
    [alert] = result.alerts
    assert f"{INSPECTIONS} failed at step load" in alert
    assert "carto timed out" in alert
    assert result.unexpected_errors == []


def test_slack_down_delays_the_alert_but_does_not_lose_it():
    scenario = Scenario(
        job_minutes=2,
        failures=[{"table": INSPECTIONS, "step": "extract", "times": 2}],
        slack_down=[{"from_minute": 0, "minutes": 31}],  # the alert is due at 11:29
    )

    result = run_local(CONFIGS, START, hours=1, scenario=scenario)

    assert len(result.alerts) == 1, "posted once, by the reconciliation pass once Slack was back"
    assert result.expected_errors == 0, "job-events no longer raises for Slack: the alert waits in the ledger"
    assert result.counters["events_lost"] == 0
    assert result.unexpected_errors == []


def test_poison_messages_end_in_the_dlq_and_the_rest_flows():
    result = run_local(CONFIGS, START, hours=1, scenario=Scenario(poison_messages=2))

    assert result.report["totals"]["dlq_messages"] == 2
    assert runs_of(result, INSPECTIONS)[0]["status"] == "succeeded"
