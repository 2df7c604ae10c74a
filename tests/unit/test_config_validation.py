"""Table configs: the legacy files drop in, and every kind of bad config fails with path:line: message."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from databridge_pipeline.configs import loader as config_module
from databridge_pipeline.configs.loader import check_tables, load_tables
from databridge_pipeline.configs.problems import ConfigError
from databridge_pipeline.domain.tables import TableId

SHARED = Path(__file__).resolve().parents[3] / "shared" / "legacy-databridge-airflow" / "dags"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(root: Path) -> list[str]:
    _, found = check_tables(root)
    return [
        f"{Path(p.path).relative_to(root) if Path(p.path).is_absolute() else p.path}:{p.line}: {p.message}"
        for p in found
    ]


@pytest.mark.skipif(not SHARED.is_dir(), reason="the legacy configs live in ../shared beside the clone")
def test_the_98_legacy_configs_drop_in_unchanged(tmp_path):
    for path in (SHARED / "databridge_dag_config").glob("*/*.yml"):
        target = tmp_path / "databridge" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    for path in (SHARED / "knack_dag_config").glob("*/*/*.yml"):
        target = tmp_path / "knack" / path.parent.parent.name / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)

    tables = load_tables(tmp_path)

    assert len(tables) == 98
    by_id = {str(t.id): t for t in tables}
    assert by_id["databridge/lni/permits"].config.cron == "3 11 * * *"
    assert by_id["databridge/lni/permits"].config.indexes == ["opa_account_num"]
    assert by_id["databridge/ams/ams_sensor_data_aqi_hourly"].config.cron is None
    quarterly = [t for t in tables if t.config.cron == "0 5 * Jan,Apr,Jul,Oct 0#1"]
    assert len(quarterly) == 7, "the trailing '#the first sunday' comment is a YAML comment"
    gsg = by_id["knack/carto_gsg/ppr/ppr_programs"]
    assert (gsg.config.knack_object_id, gsg.carto_conn, gsg.staging_schema) == (5, "carto_gsg", "ppr_test")


def test_the_example_configs_are_valid():
    tables = load_tables(Path(__file__).resolve().parents[2] / "table_configs")

    assert {str(t.id) for t in tables} >= {
        "databridge/lni/inspections",
        "databridge/health/clinic_locations",
        "knack/carto_phl/ppr/ppr_events",
    }


@pytest.mark.parametrize(
    ("relative", "text", "expected"),
    [
        (
            "databridge/lni/a.yml",
            "schedule_interval: 0 5 * * *\nupload_to_carto: true\ncarto_users: [publicuser]\nschedule: daily\n",
            "databridge/lni/a.yml:4: unknown key 'schedule' (did you mean 'schedule_interval'?)",
        ),
        (
            "databridge/lni/b.yml",
            "upload_to_carto: true\ncarto_users:\n  - publicuser\nschedule_interval: 61 5 * * *\n",
            "databridge/lni/b.yml:4: schedule_interval: '61 5 * * *' is not a valid cron expression",
        ),
        (
            "databridge/lni/c.yml",
            "schedule_interval: 0 5 * * *\nupload_to_carto: yes please\n",
            "databridge/lni/c.yml:2: upload_to_carto: Input should be a valid boolean, got 'yes please'",
        ),
        (
            "databridge/lni/d.yml",
            "schedule_interval: 0 5 * * *\nupload_to_carto: true\ncarto_users:\n  - publicuser\n  - 42\n",
            "databridge/lni/d.yml:5: carto_users: Input should be a valid string, got 42",
        ),
        (
            "databridge/lni/e.yml",
            "schedule_interval: [0 5 * * *\nupload_to_carto: true\n",
            "databridge/lni/e.yml:2: YAML syntax error",
        ),
        (
            "databridge/LNI/f.yml",
            "schedule_interval: false\n",
            "databridge/LNI/f.yml:1: not where a table config belongs: table id 'databridge/LNI/f': 'LNI' must match",
        ),
        (
            "knack/carto_phl/ppr/g.yml",
            "schedule_interval: 0 8 * * 2-6\nknack_conn_id: knack\n",
            "knack/carto_phl/ppr/g.yml:1: a knack table needs knack_object_id",
        ),
        (
            "knack/carto_phl/ppr/h.yml",
            "schedule_interval: 0 8 * * 2-6\nknack_object_id: 7\nknack_conn_id: knack_staging\n",
            "knack/carto_phl/ppr/h.yml:3: unknown connection id 'knack_staging' (known: knack, knack_test)",
        ),
        (
            "knack/carto_nyc/ppr/i.yml",
            "knack_object_id: 7\nknack_conn_id: knack\ncarto_conn_id: carto_nyc\n",
            "knack/carto_nyc/ppr/i.yml:3: unknown connection id 'carto_nyc' (known: carto_phl, carto_gsg)",
        ),
        (
            "knack/carto_phl/ppr/j.yml",
            "knack_object_id: 7\nknack_conn_id: knack\ncarto_conn_id: carto_gsg\n",
            "knack/carto_phl/ppr/j.yml:3: carto_conn_id 'carto_gsg' disagrees with the folder knack/carto_phl/",
        ),
        (
            "databridge/lni/k.yml",
            "schedule_interval: 0 5 * * *\ntimezone: Philadelphia\n",
            "databridge/lni/k.yml:2: timezone: 'Philadelphia' is not an IANA time zone",
        ),
        (
            "databridge/lni/l.yml",
            "schedule_interval: 0 5 * * *\nupload_to_carto: true\n",
            "databridge/lni/l.yml:2: upload_to_carto is true but carto_users is empty",
        ),
        (
            "databridge/lni/m.yml",
            "schedule_interval: true\n",
            "databridge/lni/m.yml:1: schedule_interval: true is not a schedule",
        ),
        (
            "databridge/lni/n.yml",
            "schedule_interval: 0 5 * * *\nretry_delay_minutes: 30\n",
            "databridge/lni/n.yml:2: retry_delay_minutes: Input should be less than or equal to 15, got 30",
        ),
        (
            "databridge/lni/o.yml",
            "schedule_interval: 0 5 * * *\nschedule_interval: 0 6 * * *\n",
            "databridge/lni/o.yml:2: duplicate key 'schedule_interval' (first at line 1)",
        ),
        ("databridge/lni/p.yml", "", "databridge/lni/p.yml:1: expected a mapping of config keys, got an empty file"),
        (
            "databridge/lni/q.yml",
            "schedule_interval: 0 5 * * *\nknack_object_id: 3\n",
            "databridge/lni/q.yml:2: knack_object_id belongs to knack tables; this is a databridge table",
        ),
        ("databridge/lni/r.yaml", "schedule_interval: false\n", "databridge/lni/r.yaml:1: table configs end in .yml"),
    ],
)
def test_a_bad_config_is_reported_with_its_line(tmp_path, monkeypatch, relative, text, expected):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, relative, text)

    found = problems(tmp_path)

    assert any(line.startswith(expected) for line in found), found


def test_every_bad_file_is_reported_not_just_the_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "databridge/a/one.yml", "schedule_interval: 99 * * * *\n")
    write(tmp_path, "databridge/a/two.yml", "bogus: 1\n")
    write(tmp_path, "databridge/a/fine.yml", "schedule_interval: 0 5 * * *\n")

    tables, found = check_tables(tmp_path)

    assert [str(t.id) for t in tables] == ["databridge/a/fine"]
    assert sorted(p.path for p in found) == ["databridge/a/one.yml", "databridge/a/two.yml"]
    with pytest.raises(ConfigError) as error:
        load_tables(tmp_path)
    assert len(error.value.problems) == 2


def test_windows_line_endings_read_as_unix_ones_and_other_bytes_fail_with_a_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "schedule_interval: 0 5 * * *\ncarto_users:\n  - publicuser\nbogus: 1\n"
    write(tmp_path, "databridge/a/unix.yml", text)
    (tmp_path / "databridge/a/windows.yml").write_bytes(text.replace("\n", "\r\n").encode())
    (tmp_path / "databridge/a/latin.yml").write_bytes("schedule_interval: false # caf\xe9\n".encode("latin-1"))

    assert [line.split(" (known keys")[0] for line in problems(tmp_path)] == [
        "databridge/a/latin.yml:1: not UTF-8 text",
        "databridge/a/unix.yml:4: unknown key 'bogus'",
        "databridge/a/windows.yml:4: unknown key 'bogus'",
    ]


@pytest.mark.parametrize(
    "value",
    ["databridge/lni", "databridge/lni/permits/x", "knack/ppr/x", "oracle/lni/permits", "databridge/lni/Permits"],
)
def test_malformed_table_ids_are_refused(value):
    with pytest.raises(ValueError):
        TableId.parse(value)


def test_a_table_id_round_trips_as_a_string():
    table_id = TableId.parse("knack/carto_phl/ppr/ppr_programs")

    assert (table_id.source, table_id.carto_conn, table_id.schema_name, table_id.name) == (
        "knack", "carto_phl", "ppr", "ppr_programs",
    )  # fmt: skip
    assert str(table_id) == "knack/carto_phl/ppr/ppr_programs"
    assert table_id.model_dump() == "knack/carto_phl/ppr/ppr_programs"


@pytest.mark.parametrize("cron", ["0 0 5 * * *", "0 0 5 * * * 2027"])
def test_a_cron_without_exactly_five_fields_is_refused(tmp_path, cron):
    write(tmp_path, "databridge/lni/a.yml", f"schedule_interval: {cron}\n")

    [problem] = problems(tmp_path)

    assert problem.startswith(f"databridge/lni/a.yml:1: schedule_interval: '{cron}' has ")
    assert "a cron has 5 (minute hour day-of-month month day-of-week)" in problem


def test_discovery_reports_the_links_it_does_not_follow_and_reads_links_to_files(tmp_path):
    good = write(tmp_path, "databridge/lni/a.yml", "schedule_interval: 0 5 * * *\n")
    (tmp_path / "databridge" / "lni" / "b.yml").symlink_to(good)
    (tmp_path / "databridge" / "lni" / "gone.yml").symlink_to(tmp_path / "nowhere.yml")
    (tmp_path / "databridge" / "lni" / "loop").symlink_to(tmp_path / "databridge" / "lni" / "loop")
    (tmp_path / "databridge" / "more").symlink_to(tmp_path / "databridge" / "lni")

    tables, found = check_tables(tmp_path)

    assert [str(t.id) for t in tables] == ["databridge/lni/a", "databridge/lni/b"]
    assert [(Path(p.path).name, p.line, p.message.split(";")[0]) for p in found] == [
        ("gone.yml", 0, f"a broken symbolic link (to {tmp_path / 'nowhere.yml'})"),
        ("loop", 0, "a symbolic link loop"),
        ("more", 0, "a symbolic link to a folder"),
    ]
    assert str(found[2]).endswith(
        "more: a symbolic link to a folder; not followed (copy the configs in, or point --configs at it)"
    )


def test_a_file_or_folder_that_cannot_be_read_is_a_problem_not_a_crash(tmp_path, monkeypatch):
    write(tmp_path, "databridge/lni/a.yml", "schedule_interval: 0 5 * * *\n")
    write(tmp_path, "databridge/opa/b.yml", "schedule_interval: 0 5 * * *\n")
    real_scandir = os.scandir

    def scandir(path):  # what the OS answers a user without read permission (as root, chmod cannot show it)
        if Path(path).name == "opa":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def read_only_b(path, *args, **kwargs):
        if Path(path).name == "a.yml":
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(config_module, "open", read_only_b, raising=False)  # what the loader opens files with

    tables, found = check_tables(tmp_path)

    assert tables == []
    assert sorted(str(p).removeprefix(f"{tmp_path}/") for p in found) == [
        "databridge/lni/a.yml: cannot read this file (permission denied)",
        "databridge/opa: cannot read this folder (permission denied)",
    ]


# --- hostile input (issue 21): each of these was accepted, crashed or ran away before -----------------------


@pytest.mark.parametrize(
    ("relative", "text", "expected"),
    [
        (
            "databridge/lni/a.yml",
            'upload_to_carto: true\ncarto_users:\n  - publicuser\n  - "tileuser\\n"\n',
            "databridge/lni/a.yml:4: carto_users: 'tileuser\\n' must match ^[A-Za-z0-9_-]+$",
        ),
        ("databridge/lni/b.yml", 'indexes: ["opa\\n"]\n', "databridge/lni/b.yml:1: indexes: 'opa\\n' must match"),
        ("databridge/lni/c.yml", 'source_schema: "lni\\n"\n', "databridge/lni/c.yml:1: source_schema: 'lni\\n' must"),
        ("databridge/lni/insp\n.yml", "schedule_interval: false\n", "databridge/lni/insp\\n.yml:1: not where"),
        ("databridge/lni\n/d.yml", "schedule_interval: false\n", "databridge/lni\\n/d.yml:1: not where"),
        ("databridge/lni/e.yml", 'schedule_interval: "0 5\\n* * *"\n', "databridge/lni/e.yml:1: schedule_interval:"),
    ],
)
def test_a_name_with_a_trailing_newline_is_refused_and_its_problem_stays_on_one_line(
    tmp_path, monkeypatch, relative, text, expected
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, relative, text)

    _, found = check_tables(tmp_path)

    assert [str(p) for p in found if str(p).startswith(expected)], [str(p) for p in found]
    assert all("\n" not in str(p) for p in found)


def test_a_table_id_with_a_trailing_newline_is_refused():
    with pytest.raises(ValueError, match="must match"):
        TableId.parse("databridge/lni/permits\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps:\n  - kind: airtable_extract\n    kind: carto_load\n", "3: steps: item 1: duplicate key 'kind' (first"),
        (
            "steps:\n  - kind: airtable_extract\n    airtable_table: a\n    airtable_table: b\n",
            "4: steps: item 1: duplicate key 'airtable_table' (first at line 3)",
        ),
        ("steps: [{kind: airtable_extract, kind: carto_load}]\n", "1: steps: item 1: duplicate key 'kind'"),
        ("carto_users: {a: 1, a: 2}\n", "1: carto_users: duplicate key 'a' (first at line 1)"),
        ("timeout_minutes: 5\n'timeout_minutes': 6\n", "2: duplicate key 'timeout_minutes' (first at line 1)"),
        ("1: a\n0x1: b\n", "2: duplicate key 1 (first at line 1)"),
        ("<<: {timezone: UTC}\ntimezone: UTC\n", "1: YAML merge keys (<<) are not accepted in table configs"),
    ],
)
def test_a_key_given_twice_is_refused_at_every_level_at_its_line(tmp_path, text, expected):
    write(tmp_path, "airtable/a/b.yml", text)

    found = [line.removeprefix("airtable/a/b.yml:") for line in problems(tmp_path)]

    assert any(line.startswith(expected) for line in found), found


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    + "carto_users: *i\n"
)  # 9**9 strings, echoed whole by the type error it gets once expanded


@pytest.mark.parametrize(
    ("text", "line"),
    [(BOMB, 1), ("carto_users: &u [publicuser]\nindexes: *u\n", 1), ("timezone: UTC\nindexes: &i [a]\n", 2)],
)
def test_anchors_and_aliases_are_refused_before_anything_is_built(tmp_path, text, line):
    assert len(BOMB) < 800
    write(tmp_path, "databridge/lni/a.yml", text)

    start = time.process_time()
    found = problems(tmp_path)

    assert time.process_time() - start < 1, "the aliases were expanded"
    assert found == [
        f"databridge/lni/a.yml:{line}: YAML anchors (&name) and aliases (*name) are not accepted in table configs: "
        "write each value out"
    ]


@pytest.mark.parametrize(
    "text", ["indexes: " + "[" * 100_000, "indexes:\n  " + "- " * 50_000 + "a\n", "indexes: " + "{a: " * 5_000]
)
def test_nesting_deeper_than_a_config_goes_is_a_problem_not_a_crash(tmp_path, text):
    write(tmp_path, "databridge/lni/a.yml", text)  # 100,000 brackets crashed libyaml's composer (SIGSEGV)

    [found] = problems(tmp_path)

    assert "nested more than 8 levels deep; a table config goes 4 deep" in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schedule_interval: 2026-13-45\n", "1: schedule_interval: '2026-13-45' cannot be read (month must be in"),
        ("retries: 1" + "0" * 5_000 + "\n", "1: retries: '10000000000"),
        ("timezone: " + "a" * 5_000 + "\n", "1: timezone: 'aaaaaaaa"),
    ],
)
def test_a_value_python_cannot_build_is_a_problem_at_its_line_not_a_traceback(tmp_path, text, expected):
    write(tmp_path, "databridge/lni/a.yml", text)

    [found] = problems(tmp_path)

    assert found.startswith(f"databridge/lni/a.yml:{expected}")
    assert len(found) < 200


@pytest.mark.parametrize(
    "text",
    [
        "bogus_" + "k" * 100_000 + ": 1\n",
        "timezone: '" + "z" * 100_000 + "'\n",
        "schedule_interval: 0 5 * * " + ",".join(["1"] * 50_000) + "\n",
        "retries: [" + "1, " * 10_000 + "]\n",
        "carto_users: ['" + "u;" * 50_000 + "']\n",
        "steps:\n  - kind: " + "c" * 100_000 + "\n",
    ],
)
def test_an_error_echoes_at_most_80_characters_of_its_input(tmp_path, text):
    write(tmp_path, "airtable/lni/a.yml", text)

    [found] = problems(tmp_path)

    assert len(found) < len("airtable/lni/a.yml:1: ") + 80 + 260, found[:400]


def test_a_config_over_a_mebibyte_is_not_read(tmp_path):
    write(tmp_path, "databridge/lni/a.yml", "# padding\n" * 120_000)

    assert problems(tmp_path) == ["databridge/lni/a.yml:0: over 1 MiB; a table config is a few lines"]
