"""Step commands: the legacy operators' arguments, credentials only as environment-variable references."""

from __future__ import annotations

import shlex

import pytest

from databridge_pipeline.domain.connections import CONNECTIONS
from databridge_pipeline.domain.job_requests import run_job_requests
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.step_kinds import step_kinds
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

PERMITS = Table(
    id=TableId.parse("databridge/lni/permits"),
    config=TableConfig(
        schedule_interval="3 11 * * *",
        upload_to_carto=True,
        carto_users=["publicuser", "tileuser"],
        indexes=["opa_account_num", "address"],
    ),
)
PROGRAMS_TEST = Table(
    id=TableId.parse("knack/carto_gsg/ppr/ppr_programs"),
    config=TableConfig(
        upload_to_carto=True,
        carto_users=["publicuser"],
        knack_object_id=5,
        knack_conn_id="knack_test",
        carto_conn_id="carto_gsg",
    ),
)
EXTRACT_ONLY = Table(id=TableId.parse("databridge/health/clinics"), config=TableConfig())
ALL_SECRET_VARS = {f.env_var for c in CONNECTIONS.values() for f in c.fields.values()}


def words(command: list[str]) -> list[str]:
    """What the container's bash runs, split as bash would (variables left unexpanded)."""
    assert command[:2] == ["bash", "-c"]
    split = shlex.split(command[2])
    assert split[0] == "exec"
    return split[1:]


def test_a_databridge_table_extracts_then_loads_as_the_legacy_operators_did():
    extract, load = run_job_requests(PERMITS, settings_for("prod"), "scheduled-20261124T1103Z")

    assert words(extract.command) == [
        "databridge_etl_tools", "extract", "--table_name=permits", "--table_schema=gis_lni",
        "--connection_string=${DATABRIDGE_CONNECTION_STRING}", "--s3_bucket=citygeo-airflow-databridge2",
        "--s3_key=staging/lni/permits.csv",
    ]  # fmt: skip
    assert words(load.command) == [
        "databridge_etl_tools", "cartoupdate", "--table_name=permits",
        "--connection_string=${CARTO_PHL_CONNECTION_STRING}", "--s3_bucket=citygeo-airflow-databridge2",
        "--json_schema_s3_key=schemas/lni/permits.json", "--csv_s3_key=staging/lni/permits.csv",
        "--select_users=publicuser,tileuser", "--index_fields=opa_account_num,address",
    ]  # fmt: skip
    assert (extract.job_name, load.job_name) == ("extract_lni_permits", "load_lni_permits")
    assert (extract.job_queue, load.job_queue) == ("databridge-pipeline-prod-extract", "databridge-pipeline-prod-carto")
    assert load.job_definition == "databridge-pipeline-prod-carto-load-carto-phl"
    assert load.tags == {
        "table": "databridge/lni/permits",
        "run_id": "scheduled-20261124T1103Z",
        "step": "load",
        "attempt": "1",
    }


def test_a_knack_test_table_stages_under_schema_test_and_uses_the_test_app_and_its_carto_account():
    extract, load = run_job_requests(PROGRAMS_TEST, settings_for("dev"), "manual-1")

    assert words(extract.command) == [
        "extract-knack", "extract-records", "${KNACK_TEST_APP_ID}", "${KNACK_TEST_API_KEY}", "5",
        "--s3_bucket=citygeo-airflow-databridge2", "--s3_key=staging/ppr_test/ppr_programs.csv",
    ]  # fmt: skip
    assert "--connection_string=${CARTO_GSG_CONNECTION_STRING}" in words(load.command)
    assert not any(word.startswith("--index_fields") for word in words(load.command))
    assert extract.job_name == "extract_ppr_test_ppr_programs"
    assert (extract.job_definition, load.job_definition) == (
        "databridge-pipeline-dev-knack-extract-knack-test",
        "databridge-pipeline-dev-carto-load-carto-gsg",
    ), "each job reads only its own connection's secret"


def test_secrets_are_variable_references_that_the_shell_expands_and_nothing_else_is():
    for request in run_job_requests(PERMITS, settings_for("prod"), "r") + run_job_requests(
        PROGRAMS_TEST, settings_for("prod"), "r"
    ):
        script = request.command[2]
        referenced = {name for name in ALL_SECRET_VARS if f'"${{{name}}}"' in script}
        assert referenced, "each step needs a credential"
        assert script.count("$") == len([w for w in script.split() if "${" in w]), "no stray expansions"
        assert "password" not in script.lower()


def test_a_value_with_shell_syntax_cannot_escape_its_quotes():
    hostile = Table(
        id=TableId.parse("databridge/lni/permits"),
        config=TableConfig(upload_to_carto=True, carto_users=["publicuser"]),
    )
    settings = settings_for("dev", {"S3_BUCKET": "bucket; rm -rf / #"})

    extract, _ = run_job_requests(hostile, settings, "r")

    assert "--s3_bucket=bucket; rm -rf / #" in words(extract.command)


def test_a_table_without_upload_to_carto_has_only_the_extract_step():
    assert [r.step for r in run_job_requests(EXTRACT_ONLY, settings_for("dev"), "r")] == ["extract"]


@pytest.mark.parametrize("kind", sorted(step_kinds()))
def test_every_step_kind_file_uses_only_placeholders_something_fills(kind):
    spec = step_kinds()[kind]

    assert spec.problems() == []
    assert set(spec.commands) == {"legacy", "current"}


def test_the_current_cli_groups_its_options_before_the_action():
    settings = settings_for("dev", {"COMMAND_SET": "current"})

    extract, _, load = run_job_requests(PERMITS, settings, "r")

    assert words(extract.command)[:2] == ["databridge_etl_tools", "postgres"]
    assert words(extract.command)[-1] == "extract"
    assert words(load.command)[:2] == ["databridge_etl_tools", "carto"]
    assert words(load.command)[-3:] == ["--index_fields", "opa_account_num,address", "update"]


def test_the_submit_job_request_has_the_boto3_shape():
    extract = run_job_requests(PERMITS, settings_for("dev"), "r1")[0]

    kwargs = extract.submit_job_kwargs()

    assert set(kwargs) == {
        "jobName",
        "jobQueue",
        "jobDefinition",
        "containerOverrides",
        "tags",
        "propagateTags",
        "timeout",
    }
    assert kwargs["containerOverrides"]["environment"] == [
        {"name": "PIPELINE_TABLE", "value": "databridge/lni/permits"},
        {"name": "PIPELINE_RUN_ID", "value": "r1"},
        {"name": "PIPELINE_STEP", "value": "extract"},
    ]


def test_every_job_is_timed_out_by_batch_at_its_tables_timeout():
    quick = PERMITS.model_copy(update={"config": PERMITS.config.model_copy(update={"timeout_minutes": 45})})

    default = run_job_requests(PERMITS, settings_for("prod"), "manual-1")
    timed = run_job_requests(quick, settings_for("prod"), "manual-1")

    assert {r.submit_job_kwargs()["timeout"]["attemptDurationSeconds"] for r in default} == {240 * 60}
    assert {r.submit_job_kwargs()["timeout"]["attemptDurationSeconds"] for r in timed} == {45 * 60}
