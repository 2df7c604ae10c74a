"""Every documented command runs as written: each distinct command of the README and of the docs/ pages, the
local ones here, the AWS-facing ones against the local stack that the docs' own ``local --serve`` line starts.
A command this test does not know fails it, so a new documented command is either run or listed below with
the reason it cannot run here. And the README stays a front door: short, its links leading somewhere."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from readme_commands import BAD_DAY, CLI, README, ROOT, Command, documented_commands

AWS_FACING = {"status", "rerun", "pause", "resume"}
NOT_RUN_HERE = {
    "make test": "the suite this test is part of",
    "make setup": "the set-up make test runs first",
    "make lint": "make test runs it before the tests",
    "make typecheck": "make test runs it before the tests",
    "make docs": "make test runs it before the tests",
    "make unit": "a part of the suite this test is part of",
    "make soak": "the property tests of the suite this test is part of, with many more examples: minutes",
    ".venv/bin/python -m pytest": "the suite this test is part of",
    "make bench": "minutes of benchmarks on a quiet machine: figures, not tests",
    "make clean": "removes the .venv this test runs in",
    "make build": "sam build fetches arm64 wheels from the package index (CI runs it)",
    BAD_DAY: "tests/e2e/test_bad_day.py runs it as make expands it, in-process, to record its AWS calls",
    "cp": "copies the legacy configs from a checkout of the legacy repository",
    "aws": "talks to a deployed stack",
    "export": "the line `local --serve` prints; the test uses the one it printed",
    ".venv/bin/sam": "deploys to an AWS account",
}
README_MAX_LINES = 150
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DATABRIDGE_CONFIGS"):
    ENV.pop(name, None)


def kind(command: Command) -> str:
    words = command.words
    for prefix in NOT_RUN_HERE:
        if " ".join(words).startswith(prefix):
            return "not run"
    if words[0] in CLI:
        if words[1] == "local" and "--serve" in words:
            return "serve"
        return "aws" if words[1] in AWS_FACING else "local"
    if words[:2] in (["make", "validate"], ["make", "local"], ["make", "help"]):
        return "local"
    raise AssertionError(
        f"{command.where}: command {shlex.join(words)!r}: run it in this test, or say why not (NOT_RUN_HERE)"
    )


COMMANDS = documented_commands()


def run(words: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_docs_have_commands_of_every_kind():
    kinds = [kind(command) for command in COMMANDS]
    assert {"local", "aws", "serve"} <= set(kinds)


def test_the_bad_day_line_is_documented_once_and_left_to_its_own_test():
    assert [kind(c) for c in COMMANDS if " ".join(c.words).startswith(BAD_DAY)] == ["not run"]


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if kind(c) == "local"], ids=lambda command: shlex.join(command.words)
)
def test_each_local_documented_command_runs_as_written(command):
    result = run(command.words, ENV)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """The docs' ``local --serve`` line, running; yields the environment its export line gives."""
    [serve] = [command.words for command in COMMANDS if kind(command) == "serve"]
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


def test_the_aws_facing_documented_commands_run_against_the_served_stack_and_the_forced_rerun_is_taken_up(served):
    """One test, not two: with tests spread over workers, a second test could meet a served stack on which the
    documented commands never ran. They run in page order, so a page's pause comes before its refused rerun."""
    for command in [c for c in COMMANDS if kind(c) == "aws"]:
        expected = 1 if "(exit 1)" in command.comment else 0

        result = run(command.words, served)

        assert (result.returncode, "Traceback" in result.stderr) == (expected, False), (command, result.stderr)

    status = run([".venv/bin/databridge-pipeline", "status", "databridge/lni/inspections", "--env", "dev"], served)

    assert status.returncode == 0
    assert "databridge/lni/inspections" in status.stdout and "manual-" in status.stdout, "the forced rerun ran"


def test_the_readme_is_a_front_door_of_at_most_150_lines():
    lines = README.read_text().splitlines()

    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move the detail to a docs page"


def test_every_relative_link_in_the_readme_points_at_a_file_that_exists():
    text = README.read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"^\[[^\]]+\]:\s*(\S+)", text, re.M)
    relative = [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]

    missing = [t for t in relative if not (README.parent / t.partition("#")[0]).exists()]

    assert relative, "the README links into the docs"
    assert missing == []
