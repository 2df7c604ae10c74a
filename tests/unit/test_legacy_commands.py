"""Every one of the 98 legacy tables runs, in the legacy set, what its legacy Airflow operators ran.

The expected commands are built here the way the legacy DAG factories and operators built them (read with
plain YAML, not our config loader), credentials replaced by the variables the job definitions fill.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.job_requests import run_job_requests
from databridge_pipeline.domain.settings import settings_for

SHARED = Path(__file__).resolve().parents[3] / "shared" / "legacy-databridge-airflow" / "dags"
BUCKET = "citygeo-airflow-databridge2"  # the legacy operators' S3_BUCKET


def variable(conn_id: str, field: str) -> str:
    return "${" + f"{conn_id}_{field}".upper() + "}"


def legacy_commands(source: str, schema: str, table: str, config: dict) -> list[list[str]]:
    """The databridge and knack DAG factories: extract, then the Carto load when upload_to_carto."""
    if source == "knack":
        conn = config["knack_conn_id"]
        schema = f"{schema}_test" if "test" in conn else schema
        carto = config["carto_conn_id"]
        extract = [
            "extract-knack", "extract-records", variable(conn, "app_id"), variable(conn, "api_key"),
            str(config["knack_object_id"]), f"--s3_bucket={BUCKET}", f"--s3_key=staging/{schema}/{table}.csv",
        ]  # fmt: skip
    else:
        carto = "carto_phl"
        extract = [
            "databridge_etl_tools", "extract", f"--table_name={table}", f"--table_schema=gis_{schema}",
            f"--connection_string={variable('databridge', 'connection_string')}", f"--s3_bucket={BUCKET}",
            f"--s3_key=staging/{schema}/{table}.csv",
        ]  # fmt: skip
    if not config.get("upload_to_carto"):
        return [extract]
    load = [
        "databridge_etl_tools", "cartoupdate", f"--table_name={table}",
        f"--connection_string={variable(carto, 'connection_string')}", f"--s3_bucket={BUCKET}",
        f"--json_schema_s3_key=schemas/{schema}/{table}.json", f"--csv_s3_key=staging/{schema}/{table}.csv",
        f"--select_users={','.join(config['carto_users'])}",
    ]  # fmt: skip
    if config.get("indexes"):
        load.append(f"--index_fields={','.join(config['indexes'])}")
    return [extract, load]


@pytest.mark.skipif(not SHARED.is_dir(), reason="the legacy configs live in ../shared beside the clone")
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_98_legacy_tables_run_the_legacy_operators_commands_word_for_word(tmp_path, environment):
    originals: dict[str, Path] = {}
    for path in (SHARED / "databridge_dag_config").glob("*/*.yml"):
        originals[f"databridge/{path.parent.name}/{path.stem}"] = path
    for path in (SHARED / "knack_dag_config").glob("*/*/*.yml"):
        originals[f"knack/{path.parent.parent.name}/{path.parent.name}/{path.stem}"] = path
    for table_id, path in originals.items():
        (tmp_path / table_id).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{table_id}.yml").write_bytes(path.read_bytes())

    tables = load_tables(tmp_path)

    assert len(tables) == len(originals) == 98
    settings = settings_for(environment)
    for table in tables:
        config = yaml.safe_load(originals[str(table.id)].read_text())
        expected = legacy_commands(table.id.source, table.id.schema_name, table.id.name, config)
        ran = [shlex.split(request.command[2])[1:] for request in run_job_requests(table, settings, "r")]
        assert ran == expected, str(table.id)
