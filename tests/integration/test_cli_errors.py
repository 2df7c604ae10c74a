"""The CLI's error cases, run as an operator runs them: the installed entry point in a subprocess.

Each refusal is one line on stderr naming what to do, exit 2 (usage) or 1 (failure), no traceback, and it
comes before any work starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from databridge_pipeline.cli.stack import explain

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "table_configs"
ENTRY_POINT = str(Path(sys.executable).with_name("databridge-pipeline"))
# No credentials, no region, no AWS config of the machine's: each test adds what it needs.
CLEAN_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "DATABRIDGE_CONFIGS": str(EXAMPLES),
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENTRY_POINT, *args], capture_output=True, text=True, env=CLEAN_ENV | (env or {}), cwd=cwd, timeout=120
    )


def refused(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    """One line, the message, the exit code, no traceback, and nothing on stdout (no work was done)."""
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].count(message) == 1
    assert result.returncode == code
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("-1", "argument --hours: '-1': give a number of hours from a minute (1/60) to 8784 (366 days)"),
        ("0", "argument --hours: '0': give a number of hours from a minute"),
        ("0.01", "argument --hours: '0.01': give a number of hours from a minute"),
        ("8785", "argument --hours: '8785': give a number of hours from a minute"),
        ("nan", "argument --hours: 'nan': give a number of hours from a minute"),
        ("inf", "argument --hours: 'inf': give a number of hours from a minute"),
        ("a day", "argument --hours: 'a day' is not a number of hours"),
    ],
)
def test_local_refuses_hours_that_are_not_positive_and_finite(hours, message):
    refused(cli("local", "--hours", hours), 2, message)


def test_local_refuses_a_report_into_a_missing_folder_before_simulating(tmp_path):
    result = cli("local", "--report", "missing/report.json", cwd=tmp_path)

    refused(result, 2, "--report missing/report.json: folder missing does not exist")
    assert "Simulating" not in result.stderr
    assert not (tmp_path / "local-run.log").exists(), "nothing was started"


def test_local_refuses_a_scenario_naming_an_unknown_table_or_step(tmp_path):
    scenario = tmp_path / "scenario.yml"
    scenario.write_text(
        "failures:\n  - {table: databridge/lni/inspection, step: load}\n"
        "stuck:\n  - {table: databridge/health/clinic_locations, step: load}\n"
    )

    result = cli("local", "--scenario", str(scenario), cwd=tmp_path)

    refused(
        result, 2, "failures[0]: unknown table 'databridge/lni/inspection' (did you mean databridge/lni/inspections?)"
    )
    assert "stuck[0]: databridge/health/clinic_locations has no step 'load' (its steps: extract)" in result.stderr


def test_a_six_field_cron_is_refused_with_its_file_and_line(tmp_path):
    config = tmp_path / "databridge" / "lni" / "permits.yml"
    config.parent.mkdir(parents=True)
    config.write_text("upload_to_carto: false\nschedule_interval: 0 0 5 * * *\n")

    result = cli("validate", "--configs", ".", cwd=tmp_path)

    assert "databridge/lni/permits.yml:2: schedule_interval: '0 0 5 * * *' has 6 fields; a cron has 5" in result.stderr
    assert (result.returncode, "Traceback" in result.stderr) == (1, False)


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv to run as a user without root's bypass")
def test_unreadable_configs_are_reported_as_path_reason(tmp_path):
    configs = tmp_path / "configs"
    (configs / "databridge" / "lni").mkdir(parents=True)
    (configs / "databridge" / "opa").mkdir(parents=True)
    (configs / "databridge" / "lni" / "inspections.yml").write_text("schedule_interval: 0 5 * * *\n")
    (configs / "databridge" / "lni" / "inspections.yml").chmod(0o000)
    (configs / "databridge" / "opa").chmod(0o000)
    for folder in (tmp_path, configs, configs / "databridge", configs / "databridge" / "lni"):
        folder.chmod(0o755)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []

    result = subprocess.run(
        [*as_nobody, ENTRY_POINT, "validate", "--configs", "."],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        cwd=configs,
        timeout=120,
    )

    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[:2] == [
        "databridge/lni/inspections.yml: cannot read this file (permission denied)",
        "databridge/opa: cannot read this folder (permission denied)",
    ]
    assert result.returncode == 1


def test_status_limit_must_be_at_least_one():
    refused(cli("status", "--env", "dev", "--limit", "0"), 2, "argument --limit: '0': give 1 or more")


def test_a_closed_pipe_ends_the_command_quietly():
    process = subprocess.Popen(
        [ENTRY_POINT, "tables", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CLEAN_ENV
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has read enough

    assert process.wait(timeout=120) == 1
    assert process.stderr.read() == b""


def test_version():
    result = cli("--version")

    assert result.stdout.strip() == "databridge-pipeline 0.1.0"
    assert result.returncode == 0


@pytest.mark.parametrize(
    "command", [["status", "--env", "dev"], ["rerun", "databridge/lni/inspections", "--env", "dev"]]
)
def test_without_aws_credentials_the_command_says_how_to_get_them(command):
    refused(
        cli(*command, env={"AWS_DEFAULT_REGION": "us-east-1"}),
        1,
        "no AWS credentials to read stack databridge-pipeline-dev: run `aws configure` or `aws sso login`",
    )


def test_without_a_region_the_command_says_how_to_give_one():
    env = {k: v for k, v in CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"}

    refused(
        cli("status", "--env", "dev", env=env), 1, "no AWS region to read stack databridge-pipeline-dev: pass --region"
    )


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_without_a_deployed_stack_the_command_says_so(moto_server):
    result = cli(
        "rerun", "databridge/lni/inspections", "--env", "prod", env=CREDENTIALS | {"AWS_ENDPOINT_URL": moto_server}
    )

    refused(result, 1, "no stack databridge-pipeline-prod in us-east-1: deploy it")


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("AccessDenied", "AWS refused to read stack s (AccessDenied): use credentials of a role allowed"),
        ("AccessDeniedException", "AWS refused to read stack s (AccessDeniedException)"),
        ("ExpiredToken", "AWS did not accept your credentials to read stack s (ExpiredToken): log in again"),
    ],
)
def test_access_denied_and_expired_credentials_say_what_to_do(code, says):
    error = ClientError({"Error": {"Code": code, "Message": "User: arn:aws:iam::1:user/x is not authorized"}}, "Op")

    message = explain(error, "read stack s")

    assert message is not None and message.startswith(says)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rerun", "--env", "dev"], "name a TABLE, or give --failed to rerun every table whose latest run failed"),
        (["rerun", "--failed", "--since=-1h", "--env", "dev"], "argument --since: '-1h': give a duration from 1m"),
        (["rerun", "--failed", "--prefix", "databridge/lnii", "--env", "dev"], "(did you mean databridge/lni?)"),
        (["pause", "knack/nowhere", "--reason", "x", "--env", "dev"], "no table is 'knack/nowhere' or under it"),
    ],
)
def test_operator_commands_refuse_bad_arguments_before_calling_aws(args, message):
    refused(cli(*args), 2, message)


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
QUIET_LOG = ["--log", "/dev/null"]  # the default log, in a folder nobody cannot write, would be refused first


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv to run as a user without root's bypass")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["local", "--template", "secret.yaml", *QUIET_LOG],
            "--template secret.yaml: cannot read it (permission denied)",
        ),
        (["local", "--scenario", "secret.yml", *QUIET_LOG], "secret.yml: Permission denied"),
        (["local", "--report", "locked/report.json", *QUIET_LOG], "--report locked/report.json: cannot write it"),
        (["local", "--log", "readonly.json"], "--log readonly.json: cannot write it (permission denied"),
        (["local"], "--log local-run.log: cannot write it (permission denied; choose another path)"),
        (["manifest", "--out", "locked/m.json"], "--out locked/m.json: cannot write it (permission denied"),
        (["manifest", "--out", "readonly.json"], "--out readonly.json: cannot write it (permission denied"),
    ],
)
def test_files_the_user_cannot_read_or_write_are_refused_before_any_work(tmp_path, argv, message):
    work = tmp_path / "work"
    (work / "locked").mkdir(parents=True)
    for name in ("secret.yaml", "secret.yml"):
        (work / name).write_text("failures: []\n")
        (work / name).chmod(0o000)
    (work / "readonly.json").write_text("{}")
    (work / "readonly.json").chmod(0o444)
    (work / "locked").chmod(0o555)
    work.chmod(0o755)
    before = sorted(p.name for p in work.rglob("*"))

    result = subprocess.run(
        [*AS_NOBODY, ENTRY_POINT, *argv], capture_output=True, text=True, env=CLEAN_ENV, cwd=work, timeout=120
    )

    refused(result, 2, message)
    assert sorted(p.name for p in work.rglob("*")) == before
    assert (work / "readonly.json").read_text() == "{}"


def test_a_path_in_bytes_that_are_not_utf8_is_written_and_shown_as_escapes(tmp_path):
    """Python reads such bytes as lone surrogates, which stdout could not encode after the manifest was
    written: shown as escapes instead. (A UTF-8 locale's stdout is strict, as PYTHONIOENCODING makes it here.)"""
    env = CLEAN_ENV | {"PYTHONIOENCODING": "utf-8:strict"}
    result = subprocess.run(
        [ENTRY_POINT, "manifest", "--out", b"\xff.json"], capture_output=True, env=env, cwd=tmp_path, timeout=120
    )

    assert (result.returncode, b"Traceback" in result.stderr) == (0, False)
    assert result.stdout == b"wrote 5 table(s) to \\udcff.json\n"
    assert (tmp_path / os.fsdecode(b"\xff.json")).is_file()


def test_a_table_id_in_bytes_that_are_not_utf8_is_refused_as_unknown():
    result = subprocess.run([ENTRY_POINT, "commands", b"\xffdata"], capture_output=True, env=CLEAN_ENV, timeout=120)

    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr.decode() == (
        "databridge-pipeline commands: unknown table '\\udcffdata' (`databridge-pipeline tables` lists them)\n"
    )
