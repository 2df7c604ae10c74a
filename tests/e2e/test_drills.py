"""Reconciliation drills: AWS loses an event, an invocation dies after SubmitJob, Slack or SubmitJob is down
for a while. Each must end with the run finished, one job per step attempt, and each failure alerted once.
The expected counts are derived here from the scenario, never copied from a run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from databridge_pipeline.local.command import run_local
from databridge_pipeline.local.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "table_configs"
INSPECTIONS = "databridge/lni/inspections"
START = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # INSPECTIONS fires at 11:15 UTC: extract, then load
STEPS = ("extract", "load")


@pytest.fixture(autouse=True)
def _credentials(aws_credentials: None) -> None:
    """moto needs credentials in the environment; the fixture provides fake ones."""


def runs_of(result, table: str) -> list[dict]:
    return [run for run in result.report["runs"] if run["table"] == table]


def repairs_other_than(result, *kinds: str) -> dict[str, int]:
    return {kind: n for kind, n in result.report["totals"]["repairs"].items() if kind not in kinds and n}


def assert_healthy(result, table: str = INSPECTIONS, status: str = "succeeded") -> dict:
    [run] = runs_of(result, table)
    assert run["status"] == status
    attempts = sum(step["attempts"] for r in result.report["runs"] for step in r["steps"])
    assert result.report["totals"]["duplicate_jobs"] == 0, "never two jobs for one step attempt"
    assert result.report["totals"]["jobs_submitted"] == attempts
    assert result.unexpected_errors == []
    return run


@pytest.mark.parametrize("step", STEPS)
def test_lost_events_are_found_by_polling_batch(step: str):
    times = 1
    scenario = Scenario(lost_events=[{"table": INSPECTIONS, "step": step, "times": times}])

    result = run_local(CONFIGS, START, hours=1, scenario=scenario)

    assert_healthy(result)
    assert result.counters["events_dropped"] == times
    assert result.report["totals"]["repairs"]["polled"] == times
    assert repairs_other_than(result, "polled") == {}
    assert result.alerts == []


def test_a_lost_failure_event_still_ends_in_a_retry_and_one_alert():
    failures = 2  # INSPECTIONS retries once: the second failure ends the run
    scenario = Scenario(
        failures=[{"table": INSPECTIONS, "step": "extract", "times": failures}],
        lost_events=[{"table": INSPECTIONS, "step": "extract", "times": failures}],
    )

    result = run_local(CONFIGS, START, hours=2, scenario=scenario)

    run = assert_healthy(result, status="failed")
    assert run["steps"][0]["attempts"] == failures
    assert result.report["totals"]["repairs"]["polled"] == failures
    assert len(result.alerts) == 1 and f"{INSPECTIONS} failed at step extract" in result.alerts[0]


@pytest.mark.parametrize("step", STEPS)
def test_an_invocation_that_dies_after_submit_job_is_adopted_not_resubmitted(step: str):
    scenario = Scenario(crash_after_submit=[{"table": INSPECTIONS, "step": step}])

    result = run_local(CONFIGS, START, hours=1, scenario=scenario)

    run = assert_healthy(result)
    assert result.counters["crashes_after_submit"] == 1
    assert result.report["totals"]["jobs_submitted"] == len(STEPS), "the orphan job was adopted"
    assert result.report["totals"]["repairs"]["adopted"] == 1
    assert [s["attempts"] for s in run["steps"]] == [1, 1]


def test_submit_job_down_when_the_extract_succeeds_is_repaired_once_it_is_back():
    fire, job_minutes = 15, 3
    down = {"from_minute": fire + job_minutes, "minutes": 5}  # the load's SubmitJob fails for 5 minutes
    scenario = Scenario(job_minutes=job_minutes, submit_job_down=[down])

    result = run_local(CONFIGS, START, hours=1, scenario=scenario)

    run = assert_healthy(result)
    assert [s["attempts"] for s in run["steps"]] == [1, 1]
    assert result.counters["events_lost"] == 0, "the run is in the ledger: the event is done, the pass submits"
    assert result.report["totals"]["repairs"]["resubmitted"] == 1
    assert result.alerts == []


def test_an_hour_of_slack_errors_ends_with_the_alert_posted_once():
    scenario = Scenario(
        failures=[{"table": INSPECTIONS, "step": "extract", "times": 2}],
        slack_down=[{"from_minute": 0, "minutes": 90}],
    )

    result = run_local(CONFIGS, START, hours=2, scenario=scenario)

    assert_healthy(result, status="failed")
    assert len(result.alerts) == 1
    assert result.expected_errors == 0, "no invocation fails for Slack: the alert waits in the ledger"


def test_a_hostile_status_reason_reaches_slack_escaped_and_the_terminal_without_escape_sequences():
    import io

    from databridge_pipeline.local.command import print_result

    reason = "\x1b[2J\x1b[31m<!channel> all clear\x1b[0m"
    scenario = Scenario.model_validate(
        {"failures": [{"table": INSPECTIONS, "step": "load", "times": 3, "reason": reason}]}
    )

    result = run_local(CONFIGS, START, 1, scenario, environment="prod")
    printed = io.StringIO()
    print_result(result, printed)

    [alert] = result.alerts
    assert "&lt;!channel&gt; all clear" in alert and "<!channel>" not in alert and "\x1b" not in alert
    assert "\x1b" not in printed.getvalue() and "&lt;!channel&gt; all clear" in printed.getvalue()
