"""The benchmark's cost model: its arithmetic, checked by hand for small inputs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from cost_model import ALARMS, METRIC_COMBINATIONS, PRICE, legacy_monthly_usd, pipeline_monthly_usd, runs_per_month


def test_with_no_runs_only_the_ticks_and_the_fixed_costs_remain():
    cost = pipeline_monthly_usd(tables=0, runs=0)

    ticks = 43_200
    lambda_by_hand = ticks * 0.20 / 1e6 + ticks * 0.06 * 0.5 * 0.0000133334
    assert cost["lambda"] == pytest.approx(lambda_by_hand)
    assert cost["dynamodb"] == pytest.approx(ticks * 3 * 0.125 / 1e6 + ticks * 1 * 0.625 / 1e6)
    fixed_cloudwatch = 45 * 0.30 + 3.00 + 10 * 0.10 + ticks * 400 / 1e9 * 0.50
    assert cost["cloudwatch"] == pytest.approx(fixed_cloudwatch)
    assert cost["xray"] == 0.0
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k not in ("runs", "total")))


def test_each_run_adds_its_counted_requests():
    none, thousand = pipeline_monthly_usd(tables=0, runs=0), pipeline_monthly_usd(tables=0, runs=1000)

    assert thousand["sqs"] - none["sqs"] == pytest.approx(1000 * 3 * PRICE["sqs_request"])
    assert thousand["dynamodb"] - none["dynamodb"] == pytest.approx(
        1000 * (3 * PRICE["dynamodb_read_unit"] + 17 * PRICE["dynamodb_write_unit"])
    )
    assert pipeline_monthly_usd(tables=0, runs=1000, xray_tracing=True)["xray"] == pytest.approx(
        (43_200 + 3000) * 5.00 / 1e6
    )


def test_runs_per_month_counts_the_mixtures_fire_times():
    assert runs_per_month(0) == 0
    assert runs_per_month(100) > 0


def test_the_legacy_footprint_is_the_always_on_server_and_database():
    legacy = legacy_monthly_usd()

    assert legacy["ec2"] == pytest.approx(0.0832 * 730 + 50 * 0.08)
    assert legacy["rds_postgres"] == pytest.approx(0.072 * 730 + 100 * 0.115)


def test_the_model_counts_every_metric_the_code_emits_and_every_alarm_of_the_template():
    root = Path(__file__).resolve().parents[2]
    core = root / "layers" / "core" / "databridge_pipeline"
    emitted = {name for path in core.rglob("*.py") for name in re.findall(r'\bcount\(\s*"(\w+)"', path.read_text())}

    assert emitted == set(METRIC_COMBINATIONS)
    assert (root / "template.yaml").read_text().count("Type: AWS::CloudWatch::Alarm") == ALARMS
