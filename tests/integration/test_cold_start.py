"""What a handler's cold start loads: the heavy SDKs stay out until they are needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from databridge_pipeline.configs.manifest import write_manifest

ROOT = Path(__file__).resolve().parents[2]
WATCHED = (
    "aws_xray_sdk.core", "slack_sdk", "aws_lambda_powertools.utilities.parser.models",
    "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parameters", "boto3", "croniter", "yaml",
    "databridge_pipeline.cli", "databridge_pipeline.local", "databridge_pipeline.configs",
    "databridge_pipeline.services.dispatcher",
    "databridge_pipeline.services.submitter", "databridge_pipeline.services.job_events",
)  # fmt: skip
PROBE = (
    "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
    f"print(json.dumps({{m: m in sys.modules for m in {WATCHED!r}}}))"
)


def cold_start(name: str, env: dict[str, str]) -> dict[str, bool]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / name / "app.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("name", ["dispatcher", "submitter", "job_events"])
def test_a_cold_start_loads_its_own_service_and_no_sdk_it_does_not_call_yet(stack, name, tmp_path):
    manifest = tmp_path / "manifest.json"  # what a Lambda reads, as sam build compiles it
    write_manifest(ROOT / "table_configs", manifest)

    loaded = cold_start(name, {**stack.env, "POWERTOOLS_TRACE_DISABLED": "true", "TABLE_CONFIGS": str(manifest)})

    # Slack (and the secret holding its token) when an alert is posted; botocore without boto3; croniter in
    # the dispatcher only; PyYAML when a command template is first read; never the CLI, the local run or
    # another handler's service.
    own = {f"databridge_pipeline.services.{name}"} | ({"croniter"} if name == "dispatcher" else set())
    assert {module for module, present in loaded.items() if present} == own


def test_with_tracing_on_the_powertools_tracer_wraps_the_handler(stack):
    loaded = cold_start("job_events", {**stack.env, "POWERTOOLS_TRACE_DISABLED": "false"})

    assert loaded["aws_xray_sdk.core"] is True
