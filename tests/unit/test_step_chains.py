"""Step chains: derived from the legacy keys or given in ``steps:``, checked at file:line, and what they run."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from databridge_pipeline.configs.loader import check_tables, load_tables
from databridge_pipeline.configs.manifest import load_catalog, write_manifest
from databridge_pipeline.domain.connections import CARTO_CONNECTIONS, KNACK_CONNECTIONS
from databridge_pipeline.domain.job_requests import ChainError, run_job_requests, step_names
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.step_kinds import (
    ChainContext,
    StepEntry,
    chain_problems,
    derived_chain,
    resolve_chain,
    step_kinds,
)
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

EXAMPLES = Path(__file__).resolve().parents[2] / "table_configs"
LEGACY = settings_for("prod")
CURRENT = settings_for("prod", {"COMMAND_SET": "current"})
BUCKET = LEGACY.s3_bucket


def words(command: list[str]) -> list[str]:
    assert command[:2] == ["bash", "-c"]
    return shlex.split(command[2])[1:]


def table(table_id: str, **config: object) -> Table:
    return Table(id=TableId.parse(table_id), config=TableConfig.model_validate(config))


def option(argv: list[str], name: str) -> str:
    """The value of ``--name VALUE`` in a current-set command."""
    return argv[argv.index(name) + 1]


LOADED = {"upload_to_carto": True, "carto_users": ["publicuser"]}
KNACK = {**LOADED, "knack_object_id": 12, "knack_conn_id": "knack"}
AIRTABLE = table(
    "airtable/airtable/immigrant_services",
    carto_users=["publicuser", "tileuser"],
    steps=[
        StepEntry(kind="airtable_extract"),
        StepEntry.model_validate(
            {
                "kind": "ais_geocode",
                "query_fields": ["street_address"],
                "ais_fields": ["lat", "lon", "shape"],
                "output": "oia_services",
            }
        ),
        StepEntry.model_validate({"kind": "carto_load", "carto_table": "oia_services"}),
    ],
)


# --- chains derived from the legacy keys ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table_id", "config", "legacy", "current"),
    [
        ("databridge/lni/permits", LOADED, ["extract", "load"], ["extract", "schema", "load"]),
        ("knack/carto_phl/ppr/ppr_events", KNACK, ["extract", "load"], ["extract", "schema", "load"]),
        ("databridge/lni/permits", {}, ["extract"], ["extract"]),
        ("knack/carto_phl/ppr/ppr_events", {**KNACK, "upload_to_carto": False}, ["extract"], ["extract"]),
    ],
)
def test_the_legacy_keys_give_extract_then_load_and_the_current_set_refreshes_the_schema_between(
    table_id, config, legacy, current
):
    subject = table(table_id, **config)

    assert step_names(subject, "legacy") == legacy
    assert step_names(subject, "current") == current


@pytest.mark.parametrize("source", ["databridge", "knack", "airtable"])
@pytest.mark.parametrize("upload", [True, False])
def test_every_chain_the_legacy_keys_derive_is_well_formed(source, upload):
    for knack_conn in KNACK_CONNECTIONS:
        for carto_conn in CARTO_CONNECTIONS:
            context = ChainContext("t", "s", knack_conn, carto_conn, has_knack_object=True)

            assert chain_problems(derived_chain(source, upload), context) == []


def test_the_current_load_reads_the_schema_that_postgres_extract_json_schema_writes():
    extract, schema, load = (
        words(r.command) for r in run_job_requests(table("databridge/lni/permits", **LOADED), CURRENT, "r")
    )

    csv_key = option(extract, "--s3_key")
    assert schema[:2] == ["databridge_etl_tools", "postgres"] and schema[-1] == "extract-json-schema"
    assert option(schema, "--s3_key") == csv_key
    # The tool writes the new-format schema at its CSV key with staging/ -> schemas/ and .csv -> _new.json.
    assert option(load, "--json_schema_s3_key") == csv_key.replace("staging/", "schemas/").replace(".csv", "_new.json")
    assert option(load, "--s3_key") == csv_key


def test_a_current_knack_extract_names_the_object_as_knacks_url_needs_it_and_its_schema_feeds_the_load():
    extract, schema, load = (
        words(r.command) for r in run_job_requests(table("knack/carto_phl/ppr/ppr_events", **KNACK), CURRENT, "r")
    )

    assert option(extract, "--knack_objectid") == "object_12"
    assert schema[:5] == ["extract-knack", "generate-schema", "${KNACK_APP_ID}", "${KNACK_API_KEY}", "12"]
    assert option(load, "--json_schema_s3_key") == option(schema, "--s3_key") == "schemas/ppr/ppr_events.json"


def test_the_legacy_set_runs_no_schema_step_and_loads_under_the_schema_file_already_in_s3():
    _, load = (words(r.command) for r in run_job_requests(table("databridge/lni/permits", **LOADED), LEGACY, "r"))

    assert "--json_schema_s3_key=schemas/lni/permits.json" in load


@pytest.mark.parametrize(
    ("table_id", "config", "postgres_schema", "legacy_schema"),
    [
        ("databridge/311/service_requests", {}, "threeoneone", "gis_311"),
        ("databridge/lni/permits", {}, "lni", "gis_lni"),
        ("databridge/planning/zoning", {"source_schema": "viewer_planning"}, "viewer_planning", "gis_planning"),
    ],
)
def test_postgres_schema_names_are_spelled_as_the_citys_database_spells_them(
    table_id, config, postgres_schema, legacy_schema
):
    subject = table(table_id, **config)

    (current,) = run_job_requests(subject, CURRENT, "r")
    (legacy,) = run_job_requests(subject, LEGACY, "r")

    assert option(words(current.command), "--table_schema") == postgres_schema
    assert f"--table_schema={legacy_schema}" in words(legacy.command)
    assert option(words(current.command), "--s3_key") == f"staging/{subject.id.schema_name}/{subject.id.name}.csv"


# --- the Airtable -> AIS -> Carto chain ---------------------------------------------------------------------


def test_the_airtable_chain_runs_the_legacy_operators_commands_in_the_legacy_set():
    extract, geocode, load = run_job_requests(AIRTABLE, LEGACY, "r")
    source = "staging/airtable/immigrant_services.csv"
    geocoded = "staging/airtable/oia_services.csv"

    assert words(extract.command) == [
        "extract-airtable", "extract-records", "${AIRTABLE_APP_ID}", "${AIRTABLE_TOKEN}", "immigrant_services",
        f"--s3-bucket={BUCKET}", f"--s3-key={source}",
    ]  # fmt: skip
    assert words(geocode.command) == [
        "batch_geocoder", "ais", f"--input-file=s3://{BUCKET}/{source}", f"--output-file=s3://{BUCKET}/{geocoded}",
        "--ais-url=${AIS_URL}", "--ais-key=${AIS_KEY}", "--ais-user=${AIS_USER}",
        "--query-fields=street_address", "--ais-fields=lat,lon,shape",
    ]  # fmt: skip
    assert words(load.command)[:3] == ["databridge_etl_tools", "cartoupdate", "--table_name=oia_services"]
    assert f"--csv_s3_key={geocoded}" in words(load.command)
    assert "--json_schema_s3_key=schemas/airtable/oia_services.json" in words(load.command)
    assert [r.job_definition for r in (extract, geocode, load)] == [
        "databridge-pipeline-prod-airtable-extract-airtable",
        "databridge-pipeline-prod-ais-geocode-ais",
        "databridge-pipeline-prod-carto-load-carto-phl",
    ]
    assert [r.job_queue for r in (extract, geocode, load)] == [
        "databridge-pipeline-prod-extract", "databridge-pipeline-prod-extract", "databridge-pipeline-prod-carto",
    ]  # fmt: skip


def test_the_airtable_chain_hands_each_steps_output_to_the_next_in_the_current_set():
    extract, geocode, load = (words(r.command) for r in run_job_requests(AIRTABLE, CURRENT, "r"))

    assert option(geocode, "--s3-input-key") == option(extract, "--s3_key")
    assert option(load, "--s3_key") == option(geocode, "--s3-output-key") == "staging/airtable/oia_services.csv"
    assert option(load, "--table_name") == "oia_services"
    assert option(geocode, "--ais-fields") == "lat,lon,shape"


def test_the_shipped_airtable_example_validates_and_plans_three_steps_in_both_sets():
    (example,) = [t for t in load_tables(EXAMPLES) if t.id.source == "airtable"]

    assert str(example.id) == "airtable/airtable/immigrant_services"
    assert step_names(example, "legacy") == step_names(example, "current") == ["extract", "geocode", "load"]


# --- validation at file:line --------------------------------------------------------------------------------

CHAIN = """\
carto_users: [publicuser]
steps:
  - kind: airtable_extract
  - kind: ais_geocode
    query_fields: [street_address]
    ais_fields: [lat, lon]
    output: geocoded
  - kind: carto_load
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("kind: carto_load", "kind: carto_upload"),
            "8: unknown step kind 'carto_upload' (did you mean 'carto_load'?)",
        ),
        (
            ("  - kind: airtable_extract\n", ""),
            "3: ais_geocode reads a csv that no earlier step writes (put a step that writes one before it)",
        ),
        (
            ("  - kind: airtable_extract\n", "  - kind: airtable_extract\n    connection: airtable_prod\n"),
            "4: connection 'airtable_prod' has no secret mapping (connections.py maps: airtable)",
        ),
        (
            ("  - kind: carto_load\n", "  - kind: carto_load\n    connection: knack\n"),
            "9: carto_load needs a carto connection (carto_phl, carto_gsg), not 'knack'",
        ),
        (("    ais_fields: [lat, lon]\n", ""), "4: ais_geocode needs option 'ais_fields'"),
        (("    output: geocoded\n", "    output: geocoded\n    outptu: x\n"), "8: ais_geocode has no option 'outptu'"),
        (("query_fields: [street_address]", "query_fields: street_address"), "5: query_fields takes a list of names"),
        (("ais_fields: [lat, lon]", "ais_fields: [lat, 'lon; rm']"), "6: ais_fields: 'lon; rm' must match"),
        (("carto_users: [publicuser]\n", ""), "7: carto_load needs carto_users"),
        (("carto_users: [publicuser]\n", "carto_users: [publicuser]\nupload_to_carto: true\n"), "2: with steps:"),
        (("    output: geocoded\n", "    output: airtable_table\n"), "4: ais_geocode would write the csv it reads"),
        (("  - kind: carto_load\n", "  - kind: airtable_extract\n"), "8: a second extract step (step 1 is one)"),
        (("steps:\n", "steps: []\n"), "2: steps: List should have at least 1 item"),
        (
            ("  - kind: carto_load\n", "  - kind: carto_load\n    carto_table: 3\n"),
            "9: steps: item 3: carto_table: a name or a list of names, got 3",
        ),
        (("output: geocoded", 'output: "geocoded\\n"'), "7: output: 'geocoded\\n' must match ^[A-Za-z0-9_]+$"),
        (("[lat, lon]", '[lat, "lon\\n"]'), "6: ais_fields: 'lon\\n' must match ^[A-Za-z0-9_]+$"),
    ],
)
def test_a_bad_chain_is_reported_at_its_line(tmp_path, monkeypatch, change, expected):
    monkeypatch.chdir(tmp_path)
    old, new = change
    assert old in CHAIN
    text = CHAIN.replace(old, new)
    if "steps: []" in text:
        text = text.split("steps: []")[0] + "steps: []\n"  # nothing under an empty list
    path = tmp_path / "airtable/airtable/airtable_table.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)

    _, found = check_tables(tmp_path)

    shown = [str(p).removeprefix("airtable/airtable/airtable_table.yml:") for p in found]
    assert any(line.startswith(expected) for line in shown), shown


def test_the_good_chain_the_bad_ones_are_made_from_is_valid(tmp_path):
    path = tmp_path / "airtable/airtable/airtable_table.yml"
    path.parent.mkdir(parents=True)
    path.write_text(CHAIN)

    (loaded,) = load_tables(tmp_path)

    assert step_names(loaded, "current") == ["extract", "geocode", "load"]


def test_a_chain_survives_the_manifest_the_lambdas_load(tmp_path):
    out = tmp_path / "manifest.json"
    write_manifest(EXAMPLES, out)

    compiled = {str(t.id): t for t in load_catalog(out)}

    for source in load_tables(EXAMPLES):
        assert compiled[str(source.id)].config == source.config
        assert step_names(compiled[str(source.id)], "current") == step_names(source, "current")


def test_a_knack_step_in_a_table_that_is_not_a_knack_table_says_where_it_belongs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "databridge/lni/permits.yml"
    path.parent.mkdir(parents=True)
    path.write_text("steps:\n  - kind: knack_extract\n")

    _, found = check_tables(tmp_path)

    assert [str(p) for p in found] == [
        "databridge/lni/permits.yml:2: knack_extract reads a Knack object: "
        "it belongs to a knack table (knack/<carto_conn>/...)"
    ]


def test_source_schema_is_for_databridge_tables_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "knack/carto_phl/ppr/events.yml"
    path.parent.mkdir(parents=True)
    path.write_text("knack_object_id: 3\nknack_conn_id: knack\nsource_schema: ppr\n")

    _, found = check_tables(tmp_path)

    assert [str(p) for p in found] == [
        "knack/carto_phl/ppr/events.yml:3: source_schema is a Databridge schema; this is a knack table"
    ]


def test_the_docs_show_every_step_kinds_commands():
    page = (EXAMPLES.parent / "docs" / "step-kinds.md").read_text()

    for kind in step_kinds():
        assert f"| `{kind}` |" in page, f"docs/step-kinds.md: add {kind} to the step-kinds table"


@pytest.mark.parametrize("command_set", ["legacy", "current"])
def test_commands_json_shows_the_whole_chain_of_every_example(capsys, command_set):
    from databridge_pipeline.cli import main

    for subject in load_tables(EXAMPLES):
        args = ["commands", str(subject.id), "--configs", str(EXAMPLES), "--command-set", command_set, "--json"]
        assert main(args) == 0

        requests = json.loads(capsys.readouterr().out)
        assert [r["step"] for r in requests] == step_names(subject, command_set)
        assert all(r["command"][:2] == ["bash", "-c"] for r in requests)


# --- a step's connection agrees with the folder and the legacy keys ------------------------------------------

KNACK_CHAIN = """\
carto_users: [publicuser]
knack_object_id: 7
knack_conn_id: {app}
steps:
  - kind: knack_extract
    connection: {extract}
  - kind: knack_schema
  - kind: carto_load
    connection: {load}
"""


@pytest.mark.parametrize(
    ("relative", "text", "expected"),
    [
        (
            "knack/carto_phl/ppr/events.yml",
            KNACK_CHAIN.format(app="knack", extract="knack", load="carto_gsg"),
            "9: connection 'carto_gsg' disagrees with the folder knack/carto_phl/ this file is in",
        ),
        (
            "knack/carto_phl/ppr/events.yml",
            KNACK_CHAIN.format(app="knack", extract="knack_test", load="carto_phl"),
            "6: connection 'knack_test' disagrees with knack_conn_id 'knack', the Knack app this table extracts "
            "from (and whose staging path it uses)",
        ),
        (
            "knack/carto_gsg/ppr/events.yml",
            KNACK_CHAIN.format(app="knack_test", extract="knack", load="carto_gsg"),
            "6: connection 'knack' disagrees with knack_conn_id 'knack_test'",
        ),
        (
            "airtable/airtable/airtable_table.yml",
            CHAIN.replace("  - kind: carto_load\n", "  - kind: carto_load\n    connection: carto_gsg\n"),
            "9: connection 'carto_gsg' disagrees with the table's Carto connection 'carto_phl' (the default: to load "
            "into carto_gsg, set carto_conn_id: carto_gsg)",
        ),
        (
            "airtable/airtable/airtable_table.yml",
            "carto_conn_id: carto_gsg\n"
            + CHAIN.replace("  - kind: carto_load\n", "  - kind: carto_load\n    connection: carto_phl\n"),
            "10: connection 'carto_phl' disagrees with carto_conn_id 'carto_gsg'",
        ),
    ],
)
def test_a_step_connection_that_contradicts_the_folder_or_the_legacy_keys_is_refused_at_its_line(
    tmp_path, monkeypatch, relative, text, expected
):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text(text)

    _, found = check_tables(tmp_path)

    assert [str(p).removeprefix(f"{relative}:")[: len(expected)] for p in found] == [expected]


@pytest.mark.parametrize(
    ("relative", "app", "load", "staging"),
    [
        ("knack/carto_phl/ppr/events.yml", "knack", "carto_phl", "ppr"),
        ("knack/carto_gsg/ppr/events.yml", "knack_test", "carto_gsg", "ppr_test"),
    ],
)
def test_a_step_connection_that_repeats_the_folder_and_the_keys_is_valid(tmp_path, relative, app, load, staging):
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text(KNACK_CHAIN.format(app=app, extract=app, load=load))

    (loaded,) = load_tables(tmp_path)

    extract, *_ = run_job_requests(loaded, CURRENT, "r")
    assert loaded.staging_schema == staging
    assert option(words(extract.command), "--s3_key") == f"staging/{staging}/events.csv"


def test_the_staging_schema_follows_the_knack_app_the_extract_uses():
    """Validation refuses the disagreement, and so does planning a run; even so, what the extract would write
    follows the app it extracts, so a test app's records are never staged on the production path."""
    steps = [StepEntry(kind="knack_extract", connection="knack_test"), StepEntry(kind="carto_load")]
    subject = table("knack/carto_phl/ppr/ppr_events", **{**KNACK, "upload_to_carto": False, "steps": steps})

    (extract, _), found = resolve_chain(subject.chain, subject.chain_context, "legacy")

    assert (subject.knack_conn, subject.staging_schema) == ("knack_test", "ppr_test")
    assert (extract.connection, extract.values["output_csv"]) == ("knack_test", "staging/ppr_test/ppr_events.csv")
    assert [p.where for p in found] == [("steps", 0, "connection")]
    with pytest.raises(ChainError, match="disagrees with knack_conn_id 'knack'"):
        run_job_requests(subject, LEGACY, "r")
