"""Every command in the README runs as written: the local ones here, the AWS-facing ones against the local
stack that the README's own ``local --serve`` line starts. A command this test does not know fails it, so a
new README command is either run or listed below with the reason it cannot run here."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from readme_commands import BAD_DAY, ROOT, readme_commands

CLI = {"databridge-pipeline", ".venv/bin/databridge-pipeline"}
AWS_FACING = {"status", "rerun", "pause", "resume"}
NOT_RUN_HERE = {
    "make test": "the suite this test is part of",
    "make build": "sam build fetches arm64 wheels from the package index (CI runs it)",
    BAD_DAY: "tests/e2e/test_bad_day.py runs it as make expands it, in-process, to record its AWS calls",
    "cp": "copies the legacy configs from a checkout of the legacy repository",
    "aws": "talks to a deployed stack",
    "export": "the line `local --serve` prints; the test uses the one it printed",
    ".venv/bin/sam": "deploys to an AWS account",
}
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DATABRIDGE_CONFIGS"):
    ENV.pop(name, None)


def kind(words: list[str]) -> str:
    for prefix in NOT_RUN_HERE:
        if " ".join(words).startswith(prefix):
            return "not run"
    if words[0] in CLI:
        if words[1] == "local" and "--serve" in words:
            return "serve"
        return "aws" if words[1] in AWS_FACING else "local"
    if words[:2] in (["make", "validate"], ["make", "local"]):
        return "local"
    raise AssertionError(f"README command {shlex.join(words)!r}: run it in this test, or say why not (NOT_RUN_HERE)")


COMMANDS = readme_commands()


def run(words: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_has_commands_of_every_kind():
    kinds = [kind(words) for words, _ in COMMANDS]
    assert {"local", "aws", "serve"} <= set(kinds)


@pytest.mark.parametrize("words", [w for w, _ in COMMANDS if kind(w) == "local"], ids=shlex.join)
def test_each_local_readme_command_runs_as_written(words):
    result = run(words, ENV)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """The README's ``local --serve`` line, running; yields the environment its export line gives."""
    [serve] = [words for words, _ in COMMANDS if kind(words) == "serve"]
    process = subprocess.Popen(serve, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    env = dict(ENV)
    for line in process.stdout:
        if line.startswith("export "):
            env |= dict(word.split("=", 1) for word in shlex.split(line)[1:])
            break
    else:
        pytest.fail(f"local --serve printed no export line: {process.stderr.read()[-2000:]}")
    yield env
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert "stopped serving" in process.stdout.read()
    assert "Traceback" not in process.stderr.read()


def test_the_aws_facing_readme_commands_run_against_the_served_stack_and_the_forced_rerun_is_taken_up(served):
    """One test, not two: with tests spread over workers, a second test could meet a served stack on which the
    README's commands never ran."""
    for words, comment in [(w, c) for w, c in COMMANDS if kind(w) == "aws"]:
        expected = 1 if "(exit 1)" in comment else 0

        result = run(words, served)

        assert (result.returncode, "Traceback" in result.stderr) == (expected, False), (words, result.stderr)

    status = run([".venv/bin/databridge-pipeline", "status", "databridge/lni/inspections", "--env", "dev"], served)

    assert status.returncode == 0
    assert "databridge/lni/inspections" in status.stdout and "manual-" in status.stdout, "the forced rerun ran"
