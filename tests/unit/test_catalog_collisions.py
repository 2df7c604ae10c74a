"""No two tables of a catalog share a staged object (an S3 key one of them writes) or a job name: validate and
the manifest build refuse each at path:line of one file, naming both files."""

from __future__ import annotations

from pathlib import Path

import pytest

from databridge_pipeline.cli import main
from databridge_pipeline.configs.loader import check_tables, load_tables
from databridge_pipeline.configs.problems import ConfigError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "legacy-databridge-airflow" / "dags"
EXAMPLES = Path(__file__).resolve().parents[2] / "table_configs"
LOADED = "upload_to_carto: true\ncarto_users:\n  - publicuser\n"
KNACK = "knack_object_id: 5\n" + LOADED


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def collisions(root: Path) -> tuple[list[str], list[str]]:
    """The valid tables' ids, and every problem as ``path:line: message`` with paths relative to ``root``."""
    tables, problems = check_tables(root, deployable=True)
    return [str(t.id) for t in tables], [str(p).replace(f"{root}/", "") for p in problems]


def test_a_databridge_and_an_airtable_table_of_one_schema_and_name_are_refused_naming_both_files(tmp_path):
    write(tmp_path, "databridge/lni/x.yml", LOADED)
    write(tmp_path, "airtable/lni/x.yml", "carto_users: [publicuser]\nsteps:\n  - kind: airtable_extract\n")

    valid, problems = collisions(tmp_path)

    assert valid == ["airtable/lni/x"], "the first by path keeps what it stages"
    assert problems == [
        "databridge/lni/x.yml:1: staging/lni/x.csv is also staged by airtable/lni/x.yml (airtable/lni/x); two "
        "tables would overwrite each other's data: rename one (a table's path names the keys it stages and its "
        "job names); they also share job name extract_lni_x"
    ]


def test_one_knack_table_under_both_carto_accounts_is_refused_unless_one_extracts_from_knack_test(tmp_path):
    write(tmp_path, "knack/carto_phl/ppr/ppr_days.yml", KNACK + "knack_conn_id: knack\n")
    write(tmp_path, "knack/carto_gsg/ppr/ppr_days.yml", KNACK + "knack_conn_id: knack\n")

    valid, problems = collisions(tmp_path)

    assert valid == ["knack/carto_gsg/ppr/ppr_days"]
    (problem,) = problems
    assert problem.startswith(
        "knack/carto_phl/ppr/ppr_days.yml:1: staging/ppr/ppr_days.csv is also staged by "
        "knack/carto_gsg/ppr/ppr_days.yml (knack/carto_gsg/ppr/ppr_days); two tables would overwrite"
    )
    assert problem.endswith(
        "they also share job name extract_ppr_ppr_days, job name load_ppr_ppr_days, "
        "schemas/ppr/ppr_days.json and 1 more"
    )

    write(tmp_path, "knack/carto_gsg/ppr/ppr_days.yml", KNACK + "knack_conn_id: knack_test\n")  # as the legacy one
    assert collisions(tmp_path) == (["knack/carto_gsg/ppr/ppr_days", "knack/carto_phl/ppr/ppr_days"], [])


def test_two_tables_whose_job_names_alone_agree_are_refused(tmp_path):
    write(tmp_path, "databridge/a_b/c.yml", "schedule_interval: false\n")
    write(tmp_path, "databridge/a/b_c.yml", "schedule_interval: false\n")

    valid, problems = collisions(tmp_path)

    assert valid == ["databridge/a/b_c"]
    assert problems == [
        "databridge/a_b/c.yml:1: job name extract_a_b_c is also a step's of databridge/a/b_c.yml (databridge/a/b_c); "
        "Batch, its logs and alerts could not tell the two apart: rename one (a table's path names the keys it "
        "stages and its job names)"
    ]


def test_a_staged_object_named_by_a_step_option_is_refused_at_the_options_line(tmp_path):
    example = (EXAMPLES / "airtable/airtable/immigrant_services.yml").read_text()
    write(tmp_path, "airtable/airtable/zz_services.yml", example)  # geocodes into staging/airtable/oia_services.csv
    write(tmp_path, "airtable/airtable/oia_services.yml", "schedule_interval: false\n")  # extracts into it

    valid, problems = collisions(tmp_path)

    assert valid == ["airtable/airtable/oia_services"]
    output = example.splitlines().index("    output: oia_services") + 1
    assert problems == [
        f"airtable/airtable/zz_services.yml:{output}: staging/airtable/oia_services.csv is also staged by "
        "airtable/airtable/oia_services.yml (airtable/airtable/oia_services); two tables would overwrite each "
        "other's data: rename one (a table's path names the keys it stages and its job names)"
    ]


def test_a_table_reading_a_schema_another_writes_is_refused_and_two_that_only_read_one_are_not(tmp_path):
    # In the current set knack/carto_phl/lni/x's schema step writes schemas/lni/x.json; databridge/lni/w's
    # load reads that standing key (its chain has no schema step).
    write(tmp_path, "knack/carto_phl/lni/x.yml", KNACK + "knack_conn_id: knack\n")
    chain = (
        "carto_users: [publicuser]\nsteps:\n  - kind: databridge_extract\n  - kind: carto_load\n    carto_table: x\n"
    )
    write(tmp_path, "databridge/lni/w.yml", chain)

    valid, problems = collisions(tmp_path)

    assert valid == ["knack/carto_phl/lni/x"]
    assert problems == [
        "databridge/lni/w.yml:5: schemas/lni/x.json, which this table reads, is staged by knack/carto_phl/lni/x.yml "
        "(knack/carto_phl/lni/x); it would read the other table's data: rename one (a table's path names the keys "
        "it stages and its job names)"
    ]
    (tmp_path / "knack/carto_phl/lni/x.yml").unlink()
    write(tmp_path, "databridge/lni/v.yml", chain)  # reads the same standing schemas/lni/x.json, writes nothing of w's
    assert collisions(tmp_path) == (["databridge/lni/v", "databridge/lni/w"], [])


def test_each_later_table_sharing_a_key_is_refused_naming_the_first(tmp_path):
    for source in ("airtable", "databridge"):
        write(tmp_path, f"{source}/lni/x.yml", "schedule_interval: false\n")
    write(tmp_path, "knack/carto_phl/lni/x.yml", "knack_object_id: 5\nknack_conn_id: knack\n")

    valid, problems = collisions(tmp_path)

    assert valid == ["airtable/lni/x"]
    assert [p.split("; two tables")[0] for p in problems] == [
        "databridge/lni/x.yml:1: staging/lni/x.csv is also staged by airtable/lni/x.yml (airtable/lni/x)",
        "knack/carto_phl/lni/x.yml:1: staging/lni/x.csv is also staged by airtable/lni/x.yml (airtable/lni/x)",
    ]


def test_the_manifest_build_refuses_a_collision_and_the_plain_load_leaves_it_to_validate(tmp_path):
    write(tmp_path, "databridge/lni/x.yml", LOADED)
    write(tmp_path, "airtable/lni/x.yml", "schedule_interval: false\n")

    assert len(load_tables(tmp_path)) == 2
    with pytest.raises(ConfigError) as refused:
        load_tables(tmp_path, deployable=True)
    assert [p.path for p in refused.value.problems] == [f"{tmp_path}/databridge/lni/x.yml"]


def test_the_examples_share_nothing():
    valid, problems = collisions(EXAMPLES)

    assert (valid, problems) == ([str(t.id) for t in load_tables(EXAMPLES)], [])
    assert len(valid) == 5


@pytest.mark.skipif(not SHARED.is_dir(), reason="the legacy configs live in ../shared beside the clone")
def test_the_98_legacy_configs_share_nothing_and_stay_within_batchs_limits(tmp_path):
    for path in (SHARED / "databridge_dag_config").glob("*/*.yml"):
        write(tmp_path, f"databridge/{path.parent.name}/{path.name}", path.read_text())
    for path in (SHARED / "knack_dag_config").glob("*/*/*.yml"):
        write(tmp_path, f"knack/{path.parent.parent.name}/{path.parent.name}/{path.name}", path.read_text())

    valid, problems = collisions(tmp_path)

    assert (len(valid), problems) == (98, [])


# --- the CLI ------------------------------------------------------------------------------------------------


def test_validate_refuses_a_collision_at_one_file_naming_both_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "table_configs/databridge/lni/x.yml", LOADED)
    write(tmp_path, "table_configs/airtable/lni/x.yml", "schedule_interval: false\n")

    assert main(["validate", "--configs", "table_configs", "--image", "ExtractAirtableImage"]) == 1

    assert capsys.readouterr().err.splitlines() == [
        "table_configs/databridge/lni/x.yml:1: staging/lni/x.csv is also staged by table_configs/airtable/lni/x.yml "
        "(airtable/lni/x); two tables would overwrite each other's data: rename one (a table's path names the "
        "keys it stages and its job names); they also share job name extract_lni_x",
        "1 problem(s) in 1 file(s); 1 table(s) valid",
    ]


def test_the_manifest_command_refuses_a_collision(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "configs/databridge/lni/x.yml", LOADED)
    write(tmp_path, "configs/airtable/lni/x.yml", "schedule_interval: false\n")

    assert main(["manifest", "--configs", "configs", "--out", "manifest.json"]) == 1

    err = capsys.readouterr().err
    assert err.startswith(
        "configs/databridge/lni/x.yml:1: staging/lni/x.csv is also staged by configs/airtable/lni/x.yml"
    )
    assert not (tmp_path / "manifest.json").exists()
