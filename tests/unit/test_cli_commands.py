"""The operator CLI on config folders: validate, tables, due, commands, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from databridge_pipeline.cli import main
from databridge_pipeline.configs.manifest import load_catalog

EXAMPLES = str(Path(__file__).resolve().parents[2] / "table_configs")


def test_validate_passes_the_examples(capsys):
    assert main(["validate", "--configs", EXAMPLES]) == 0
    assert capsys.readouterr().out.strip() == "5 table config(s) valid"


def test_validate_lists_every_problem_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "databridge" / "lni").mkdir(parents=True)
    (tmp_path / "databridge" / "lni" / "a.yml").write_text("schedule_interval: 0 5 * * *\nupload_to_cartoo: true\n")
    (tmp_path / "databridge" / "lni" / "b.yml").write_text("schedule_interval: every day\n")

    assert main(["validate", "--configs", "."]) == 1

    err = capsys.readouterr().err.splitlines()
    assert err[0] == "databridge/lni/a.yml:2: unknown key 'upload_to_cartoo' (did you mean 'upload_to_carto'?)"
    assert err[1].startswith("databridge/lni/b.yml:1: schedule_interval: 'every day' is not a valid cron expression")
    assert err[2] == "2 problem(s) in 2 file(s); 0 table(s) valid"


def test_tables_json_lists_source_schedule_timezone_next_run_and_steps(capsys):
    assert main(["tables", "--configs", EXAMPLES, "--json", "--now", "2026-11-24T09:00"]) == 0

    rows = {row["table"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["databridge/lni/inspections"] == {
        "table": "databridge/lni/inspections",
        "source": "databridge",
        "schedule": "15 6 * * *",
        "timezone": "America/New_York",
        "next_run": "2026-11-24T11:15:00Z",
        "steps": ["extract", "load"],
    }
    assert rows["databridge/health/clinic_locations"]["schedule"] == "manual"
    assert rows["databridge/health/clinic_locations"]["next_run"] is None
    assert rows["knack/carto_phl/ppr/ppr_events"]["source"] == "knack"


def test_due_json_is_sorted_by_time_then_table_and_leaves_out_manual_tables(capsys):
    assert main(["due", "--configs", EXAMPLES, "--from", "2026-11-24T00:00", "--to", "2026-11-26T00:00", "--json"]) == 0

    assert json.loads(capsys.readouterr().out) == [
        {"table": "airtable/airtable/immigrant_services", "scheduled_for": "2026-11-24T07:30:00Z"},
        {"table": "knack/carto_phl/ppr/ppr_events", "scheduled_for": "2026-11-24T08:45:00Z"},
        {"table": "databridge/lni/inspections", "scheduled_for": "2026-11-24T11:15:00Z"},
        {"table": "airtable/airtable/immigrant_services", "scheduled_for": "2026-11-25T07:30:00Z"},
        {"table": "knack/carto_phl/ppr/ppr_events", "scheduled_for": "2026-11-25T08:45:00Z"},
        {"table": "databridge/lni/inspections", "scheduled_for": "2026-11-25T11:15:00Z"},
    ]


def test_due_takes_offsets_and_rejects_a_bad_time(capsys):
    args = [
        "due",
        "--configs",
        EXAMPLES,
        "--from",
        "2026-11-24T06:00-05:00",
        "--to",
        "2026-11-24T06:15-05:00",
        "--json",
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"table": "databridge/lni/inspections", "scheduled_for": "2026-11-24T11:15:00Z"}
    ]

    assert main(["due", "--configs", EXAMPLES, "--from", "yesterday", "--to", "2026-11-24"]) == 2
    assert "'yesterday' is not an ISO-8601 time" in capsys.readouterr().err


def test_commands_json_gives_each_steps_submit_job_request(capsys):
    assert main(["commands", "databridge/lni/inspections", "--configs", EXAMPLES, "--env", "prod", "--json"]) == 0

    extract, load = json.loads(capsys.readouterr().out)
    assert set(extract) == {
        "step",
        "job_name",
        "job_queue",
        "job_definition",
        "command",
        "environment",
        "tags",
        "timeout_seconds",
    }
    assert (extract["step"], load["step"]) == ("extract", "load")
    assert extract["timeout_seconds"] == 240 * 60, "the table's timeout_minutes (default 240)"
    assert load["job_definition"] == "databridge-pipeline-prod-carto-load-carto-phl"
    assert '"${CARTO_PHL_CONNECTION_STRING}"' in load["command"][2]


def test_commands_of_an_unknown_table_suggests_the_nearest(capsys):
    assert main(["commands", "databridge/lni/inspection", "--configs", EXAMPLES]) == 2
    assert "did you mean databridge/lni/inspections?" in capsys.readouterr().err


def test_manifest_compiles_what_validate_accepts(tmp_path, capsys):
    out = tmp_path / "manifest.json"

    assert main(["manifest", "--configs", EXAMPLES, "--out", str(out)]) == 0

    assert [str(t.id) for t in load_catalog(out)] == [str(t.id) for t in load_catalog(Path(EXAMPLES))]


def test_a_missing_config_folder_is_an_error_not_an_empty_list(tmp_path, capsys):
    assert main(["tables", "--configs", str(tmp_path / "nowhere")]) == 1
    assert "no such config directory" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["validate"], ["tables"], ["due", "--from", "2026-01-01", "--to", "2026-01-02"]])
def test_configs_default_to_the_environment_variable(monkeypatch, capsys, command):
    monkeypatch.setenv("DATABRIDGE_CONFIGS", EXAMPLES)

    assert main(command) == 0
