"""What a handler's cold start loads: the heavy SDKs stay out until they are needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
    "print(json.dumps({m: m in sys.modules for m in ('aws_xray_sdk.core', 'slack_sdk', "
    "'aws_lambda_powertools.utilities.parser.models')}))"
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
def test_with_tracing_off_no_xray_slack_or_parser_models_load_at_cold_start(stack, name):
    loaded = cold_start(name, {**stack.env, "POWERTOOLS_TRACE_DISABLED": "true"})

    assert loaded == {
        "aws_xray_sdk.core": False,
        "slack_sdk": False,
        "aws_lambda_powertools.utilities.parser.models": False,
    }


def test_with_tracing_on_the_powertools_tracer_wraps_the_handler(stack):
    loaded = cold_start("job_events", {**stack.env, "POWERTOOLS_TRACE_DISABLED": "false"})

    assert loaded["aws_xray_sdk.core"] is True
