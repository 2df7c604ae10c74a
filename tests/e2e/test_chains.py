"""A chain beyond extract -> load, end to end: the Airtable -> AIS -> Carto example on the local stack."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from databridge_pipeline.local.command import run_local
from databridge_pipeline.local.scenario import Scenario

EXAMPLE = Path(__file__).resolve().parents[2] / "table_configs" / "airtable" / "airtable" / "immigrant_services.yml"
TABLE = "airtable/airtable/immigrant_services"
START = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # the example fires at 07:30 UTC


@pytest.fixture(autouse=True)
def _credentials(aws_credentials: None) -> None:
    """moto needs credentials in the environment; the fixture provides fake ones."""


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    target = tmp_path / "airtable" / "airtable" / EXAMPLE.name
    target.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE, target)
    return tmp_path


def test_the_airtable_example_runs_extract_geocode_load_to_succeeded(configs):
    result = run_local(configs, START, hours=1, scenario=Scenario(job_minutes=3))

    [run] = result.report["runs"]
    assert (run["table"], run["status"]) == (TABLE, "succeeded")
    assert [(s["step"], s["status"]) for s in run["steps"]] == [
        ("extract", "succeeded"),
        ("geocode", "succeeded"),
        ("load", "succeeded"),
    ]
    assert result.report["totals"]["jobs_submitted"] == 3
    assert result.unexpected_errors == []


def test_a_failed_geocode_is_alerted_at_the_geocode_step_and_the_load_never_runs(configs):
    failure = {"table": TABLE, "step": "geocode", "times": 1, "reason": "AIS answered 503"}
    result = run_local(configs, START, hours=1, scenario=Scenario.model_validate({"failures": [failure]}))

    [run] = result.report["runs"]
    assert [(s["step"], s["status"]) for s in run["steps"]] == [
        ("extract", "succeeded"),
        ("geocode", "failed"),
        ("load", "pending"),
    ]
    [alert] = result.alerts
    assert f"{TABLE} failed at step geocode" in alert
    assert "AIS answered 503" in alert
    assert f"databridge-pipeline rerun {TABLE} --from-step geocode" in alert


def test_in_the_current_set_a_knack_table_refreshes_its_schema_between_extract_and_load(tmp_path):
    source = EXAMPLE.parents[2] / "knack" / "carto_phl" / "ppr" / "ppr_events.yml"
    target = tmp_path / "knack" / "carto_phl" / "ppr" / source.name
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    start = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)  # the example fires at 08:45 UTC, Tuesday to Saturday

    result = run_local(tmp_path, start, hours=1, scenario=Scenario(job_minutes=3), command_set="current")

    [run] = result.report["runs"]
    assert [(s["step"], s["status"]) for s in run["steps"]] == [
        ("extract", "succeeded"),
        ("schema", "succeeded"),
        ("load", "succeeded"),
    ]
