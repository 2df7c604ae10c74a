"""The table-config parser takes outside input (a pull request's YAML), so it is tried as a hostile reviewer
would: a corpus of hostile configs, each refused at its line, and generated configs, valid and hostile, under
hypothesis. The properties: only ``ConfigProblem`` results (never an exception), each one ``path:line:
message`` on one line with its line inside the file and its message bounded, and a valid config round-trips
(its model dumped back to YAML loads to the same table)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_step_chains import CHAIN  # the Airtable -> AIS -> Carto chain the chain tests validate

from databridge_pipeline.configs.flat_yaml import parse_flat
from databridge_pipeline.configs.loader import check_tables, load_table
from databridge_pipeline.configs.problems import KNOWN_KEYS, ConfigProblem
from databridge_pipeline.domain.names import ECHO_LIMIT

MAX_MESSAGE = 400  # the longest message a config problem has: an unknown key, its echo and the known keys


class Hostile(NamedTuple):
    """A config a reviewer would try: where it is, what it says, and the problem it must get."""

    relative: str
    text: str | bytes
    line: int
    expected: str


KNACK_CHAIN = """\
carto_users: [publicuser]
knack_object_id: 7
knack_conn_id: {app}
steps:
  - kind: knack_extract
    connection: {step}
  - kind: knack_schema
  - kind: carto_load
"""
BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    + "carto_users: *i\n"
)  # 9**9 strings, echoed whole by the type error it gets once expanded
LOADED = "schedule_interval: 0 5 * * *\nupload_to_carto: true\ncarto_users:\n"
NAME = "must match ^[a-z0-9_]+$"
COLUMN = "must match ^[A-Za-z0-9_]+$"
ANCHORS = "YAML anchors (&name) and aliases (*name) are not accepted in table configs"
DEEP = "nested more than 8 levels deep"


def _chain(old: str, new: str) -> str:
    assert old in CHAIN
    return CHAIN.replace(old, new)


HOSTILE: dict[str, Hostile] = {
    # names that carry a newline (or another control character) into commands, S3 keys and Carto SQL
    "user_newline": Hostile("databridge/h/user_newline.yml", LOADED + '  - "publicuser\\n"\n', 4, "must match"),
    "index_newline": Hostile("databridge/h/index_newline.yml", 'indexes: ["opa\\n"]\n', 1, COLUMN),
    "schema_newline": Hostile("databridge/h/schema_newline.yml", 'source_schema: "lni\\n"\n', 1, NAME),
    "file_newline": Hostile("databridge/h/insp\n.yml", "schedule_interval: false\n", 1, NAME),
    "folder_newline": Hostile("databridge/lni\n/permits.yml", "schedule_interval: false\n", 1, NAME),
    "carto_folder_newline": Hostile(
        "knack/carto_phl\n/ppr/events.yml", "knack_object_id: 7\nknack_conn_id: knack\n", 1, NAME
    ),
    "option_newline": Hostile(
        "airtable/h/option_newline.yml", _chain("output: geocoded", 'output: "geocoded\\n"'), 7, COLUMN
    ),
    "list_option_newline": Hostile(
        "airtable/h/list_option_newline.yml", _chain("[lat, lon]", '[lat, "lon\\n"]'), 6, COLUMN
    ),
    "cron_newline": Hostile("databridge/h/cron_newline.yml", 'schedule_interval: "0 5\\n* * *"\n', 1, "one line"),
    "timezone_newline": Hostile("databridge/h/timezone_newline.yml", 'timezone: "UTC\\n"\n', 1, "IANA time zone"),
    "knack_conn_newline": Hostile(
        "knack/carto_phl/h/knack_conn_newline.yml", 'knack_object_id: 7\nknack_conn_id: "knack\\n"\n', 2, "unknown"
    ),
    "kind_newline": Hostile(
        "airtable/h/kind_newline.yml", _chain("kind: carto_load", 'kind: "carto_load\\n"'), 8, "unknown step kind"
    ),
    "connection_newline": Hostile(
        "airtable/h/connection_newline.yml",
        _chain("  - kind: carto_load\n", '  - kind: carto_load\n    connection: "carto_phl\\n"\n'),
        9,
        "has no secret mapping",
    ),
    "user_rtl_override": Hostile("databridge/h/user_rtl.yml", LOADED + "  - public\u202euser\n", 4, "must match"),
    # duplicate keys, at every level
    "step_kind_twice": Hostile(
        "airtable/h/step_kind_twice.yml",
        _chain("  - kind: carto_load\n", "  - kind: carto_load\n    kind: airtable_extract\n"),
        9,
        "steps: item 3: duplicate key 'kind' (first at line 8)",
    ),
    "step_option_twice": Hostile(
        "airtable/h/step_option_twice.yml",
        _chain("    output: geocoded\n", "    output: geocoded\n    output: other\n"),
        8,
        "steps: item 2: duplicate key 'output' (first at line 7)",
    ),
    "flow_step_twice": Hostile(
        "airtable/h/flow_step_twice.yml",
        "carto_users: [publicuser]\nsteps: [{kind: airtable_extract, kind: carto_load}]\n",
        2,
        "steps: item 1: duplicate key 'kind'",
    ),
    "top_level_twice": Hostile(
        "airtable/h/top_level_twice.yml", CHAIN + "carto_users: [tileuser]\n", 9, "duplicate key 'carto_users'"
    ),
    "quoted_twice": Hostile(
        "databridge/h/quoted_twice.yml",
        "schedule_interval: false\n'schedule_interval': 0 5 * * *\n",
        2,
        "duplicate key 'schedule_interval' (first at line 1)",
    ),
    "number_key_twice": Hostile("databridge/h/number_key_twice.yml", "1: a\n0x1: b\n", 2, "duplicate key 1"),
    "nested_mapping_twice": Hostile(
        "databridge/h/nested_twice.yml", "carto_users: {a: 1, a: 2}\n", 1, "carto_users: duplicate key 'a'"
    ),
    # anchors, aliases, merge keys
    "alias_bomb": Hostile("databridge/h/alias_bomb.yml", BOMB, 1, ANCHORS),
    "anchor_and_alias": Hostile(
        "databridge/h/anchor_and_alias.yml", "carto_users: &u [publicuser]\nindexes: *u\n", 1, ANCHORS
    ),
    "alias_only": Hostile("databridge/h/alias_only.yml", "carto_users: [publicuser]\nindexes: *u\n", 2, "YAML"),
    "anchor_only": Hostile("databridge/h/anchor_only.yml", "schedule_interval: false\nindexes: &i [a]\n", 2, ANCHORS),
    "merge_key": Hostile("databridge/h/merge_key.yml", "<<: {schedule_interval: false}\n", 1, "merge keys (<<)"),
    "alias_as_key": Hostile("databridge/h/alias_as_key.yml", "timezone: UTC\n? *a\n: 1\n", 2, "YAML"),
    # nesting, size
    "deep_brackets": Hostile("databridge/h/deep_brackets.yml", "indexes: " + "[" * 100_000, 1, DEEP),
    "deep_dashes": Hostile("databridge/h/deep_dashes.yml", "indexes: \n  " + "- " * 50_000 + "x\n", 2, DEEP),
    "deep_mappings": Hostile("databridge/h/deep_mappings.yml", "indexes: " + "{a: " * 5_000, 1, DEEP),
    "deep_steps": Hostile(
        "airtable/h/deep_steps.yml", "steps:\n  - kind: airtable_extract\n    output: [[[[[[[[x]]]]]]]]\n", 3, DEEP
    ),
    "over_a_mebibyte": Hostile("databridge/h/big.yml", "# padding\n" * 120_000, 0, "over 1 MiB"),
    "huge_value": Hostile("databridge/h/huge_value.yml", "bogus: " + "x" * 500_000 + "\n", 1, "unknown key 'bogus'"),
    "huge_key": Hostile("databridge/h/huge_key.yml", "k" * 200_000 + ": 1\n", 1, "unknown key 'kkkk"),
    "huge_cron": Hostile(
        "databridge/h/huge_cron.yml", "schedule_interval: 0 5 * * " + ",".join(["1"] * 100_000) + "\n", 1, "cron"
    ),
    "huge_user": Hostile("databridge/h/huge_user.yml", LOADED + "  - '" + "u;" * 100_000 + "'\n", 4, "must match"),
    "huge_kind": Hostile(
        "airtable/h/huge_kind.yml", _chain("kind: carto_load", "kind: " + "c" * 300_000), 8, "unknown step kind"
    ),
    "many_bad_items": Hostile(
        "databridge/h/many_bad_items.yml", LOADED + "".join(f"  - {i}\n" for i in range(50_000)), 4, "valid string"
    ),
    "huge_number": Hostile("databridge/h/huge_number.yml", "retries: 1" + "0" * 5_000 + "\n", 1, "cannot be read"),
    "long_number": Hostile("databridge/h/long_number.yml", "retries: 1" + "0" * 30 + "\n", 1, "less than or equal"),
    "bad_date": Hostile("databridge/h/bad_date.yml", "schedule_interval: 2026-13-45\n", 1, "cannot be read"),
    "huge_timezone": Hostile("databridge/h/huge_timezone.yml", "timezone: " + "a" * 5_000 + "\n", 1, "IANA"),
    "nul_timezone": Hostile("databridge/h/nul_timezone.yml", 'timezone: "UTC\\0"\n', 1, "IANA"),
    "float_overflow": Hostile("databridge/h/float_overflow.yml", "retries: 1e400\n", 1, "valid integer"),
    # control characters and odd bytes
    "escape_in_key": Hostile(
        "databridge/h/escape_in_key.yml", '"bo\\e[31mgus": 1\n', 1, "unknown key 'bo\\x1b[31mgus'"
    ),
    "nul_byte": Hostile("databridge/h/nul_byte.yml", "schedule_interval: false\nindexes: [a\x00]\n", 2, "U+0000"),
    "raw_escape": Hostile("databridge/h/raw_escape.yml", "timezone: UTC\n\nindexes: [\x1b[2J]\n", 3, "U+001B"),
    "escape_file_name": Hostile("databridge/h/a\x1b[2J.yml", "schedule_interval: false\n", 1, "must match"),
    "tab_indent": Hostile("databridge/h/tab_indent.yml", "indexes:\n\t- a\n", 2, "YAML syntax error"),
    "latin_1": Hostile("databridge/h/latin_1.yml", "timezone: caf\xe9\n".encode("latin-1"), 1, "not UTF-8"),
    "utf_16": Hostile("databridge/h/utf_16.yml", "timezone: UTC\n".encode("utf-16"), 1, "not UTF-8"),
    "empty": Hostile("databridge/h/empty.yml", "", 1, "an empty file"),
    "crlf_unknown_key": Hostile("databridge/h/crlf.yml", b"timezone: UTC\r\nbogus: 1\r\n", 2, "unknown key 'bogus'"),
    "empty_stem": Hostile("databridge/h/.yml", "schedule_interval: false\n", 1, NAME),
    "double_suffix": Hostile("databridge/h/x.yml.yml", "schedule_interval: false\n", 1, NAME),
    "unicode_name": Hostile("databridge/h/caf\xe9.yml", "schedule_interval: false\n", 1, NAME),
    "too_deep_path": Hostile("databridge/h/a/b.yml", "schedule_interval: false\n", 1, "not of the form"),
    "yaml_suffix": Hostile("databridge/h/y.yaml", "schedule_interval: false\n", 1, "end in .yml"),
    # shapes and types
    "top_level_list": Hostile("databridge/h/list.yml", "- schedule_interval: false\n", 1, "got list"),
    "top_level_scalar": Hostile("databridge/h/scalar.yml", "hello\n", 1, "got str"),
    "two_documents": Hostile("databridge/h/two_docs.yml", "timezone: UTC\n---\ntimezone: UTC\n", 2, "single document"),
    "complex_key": Hostile("databridge/h/complex_key.yml", "? [a, b]\n: 1\n", 1, "not a list or a mapping"),
    "number_key": Hostile("databridge/h/number_key.yml", "1: x\n", 1, "key 1 is not a name"),
    "null_key": Hostile("databridge/h/null_key.yml", "~: x\n", 1, "is not a name"),
    "python_tag": Hostile(
        "databridge/h/python_tag.yml",
        'timezone: !!python/object/apply:os.system ["ls"]\n',
        1,
        "constructor for the tag",
    ),
    "bad_binary": Hostile("databridge/h/bad_binary.yml", "timezone: !!binary xyz\n", 1, "base64"),
    "set_value": Hostile("databridge/h/set_value.yml", "carto_users: !!set {a, b}\n", 1, "valid list"),
    "steps_string": Hostile(
        "airtable/h/steps_string.yml", "steps: carto_load\n", 1, "steps: Input should be a valid list"
    ),
    "steps_numbers": Hostile("airtable/h/steps_numbers.yml", "steps: [1, 2]\n", 1, "steps: Input should be"),
    "kind_list": Hostile("airtable/h/kind_list.yml", "steps:\n  - kind: [a]\n", 2, "valid string"),
    "connection_number": Hostile(
        "airtable/h/connection_number.yml", "steps:\n  - kind: airtable_extract\n    connection: 3\n", 3, "valid string"
    ),
    "option_nested_list": Hostile(
        "airtable/h/option_nested_list.yml", _chain("[lat, lon]", "[[lat], lon]"), 6, "a name or a list of names"
    ),
    "thousand_steps": Hostile(
        "airtable/h/thousand_steps.yml", "steps:\n" + "  - kind: airtable_extract\n" * 1000, 3, "a second extract"
    ),
    "cron_mapping": Hostile("databridge/h/cron_mapping.yml", "schedule_interval: {a: b}\n", 1, "schedule_interval"),
    "quoted_bool": Hostile("databridge/h/quoted_bool.yml", "upload_to_carto: 'true'\n", 1, "valid boolean"),
    "reboot": Hostile("databridge/h/reboot.yml", "schedule_interval: '@reboot'\n", 1, "@reboot"),
    # a step's connection that contradicts the folder or the legacy keys
    "gsg_load_in_phl_folder": Hostile(
        "knack/carto_phl/ppr/gsg_load.yml",
        KNACK_CHAIN.format(app="knack", step="knack") + "    connection: carto_gsg\n",
        9,
        "connection 'carto_gsg' disagrees with the folder knack/carto_phl/",
    ),
    "test_app_in_production": Hostile(
        "knack/carto_phl/ppr/test_app.yml",
        KNACK_CHAIN.format(app="knack", step="knack_test"),
        6,
        "connection 'knack_test' disagrees with knack_conn_id 'knack'",
    ),
    "production_app_in_test": Hostile(
        "knack/carto_gsg/ppr/prod_app.yml",
        KNACK_CHAIN.format(app="knack_test", step="knack"),
        6,
        "connection 'knack' disagrees with knack_conn_id 'knack_test'",
    ),
    "gsg_load_by_default": Hostile(
        "airtable/h/gsg_default.yml",
        _chain("  - kind: carto_load\n", "  - kind: carto_load\n    connection: carto_gsg\n"),
        9,
        "disagrees with the table's Carto connection 'carto_phl' (the default",
    ),
    "phl_load_against_carto_conn_id": Hostile(
        "airtable/h/phl_against_key.yml",
        "carto_conn_id: carto_gsg\n"
        + _chain("  - kind: carto_load\n", "  - kind: carto_load\n    connection: carto_phl\n"),
        10,
        "connection 'carto_phl' disagrees with carto_conn_id 'carto_gsg'",
    ),
}


def write(root: Path, relative: str, text: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def lines_in(text: str | bytes) -> int:
    return (text.count(b"\n" if isinstance(text, bytes) else "\n")) + 1


def assert_well_formed(problem: ConfigProblem, text: str | bytes) -> None:
    """One line, ``path:line: message``, its line inside the file, its message bounded."""
    shown = str(problem)
    assert "\n" not in shown and "\r" not in shown, shown[:200]
    assert 0 <= problem.line <= lines_in(text), (problem.line, shown[:200])
    assert 0 < len(problem.message) <= MAX_MESSAGE, shown[:200]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_hostile_config_is_refused_at_its_line_in_one_bounded_line(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    case = HOSTILE[name]
    write(tmp_path, case.relative, case.text)

    start = time.process_time()
    tables, found = check_tables(tmp_path)

    assert time.process_time() - start < 2
    assert tables == []
    assert found, name
    for problem in found:
        assert_well_formed(problem, case.text)
    assert any(p.line == case.line and case.expected in p.message for p in found), [str(p)[:300] for p in found]


def test_a_file_with_many_problems_says_the_first_twenty_and_how_many_more(tmp_path):
    case = HOSTILE["many_bad_items"]
    write(tmp_path, case.relative, case.text)

    _, found = check_tables(tmp_path)

    assert len(found) == 21
    assert found[-1].message == "and 49980 more problem(s) in this file"


def test_validate_refuses_every_hostile_config_in_one_run_as_a_user_would(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    from databridge_pipeline.cli import main

    for case in HOSTILE.values():
        write(tmp_path / "configs", case.relative, case.text)

    assert main(["validate", "--configs", "configs"]) == 1

    out = capsys.readouterr()
    lines = out.err.splitlines()
    assert "Traceback" not in out.err and out.out == ""
    assert lines[-1].startswith(f"{len(lines) - 1} problem(s) in {len(HOSTILE)} file(s); 0 table(s) valid")
    for case in HOSTILE.values():
        shown = repr(f"configs/{case.relative}")[1:-1]
        assert any(line.startswith(f"{shown}:") and case.expected in line for line in lines), case.relative
    assert max(len(line) for line in lines) < MAX_MESSAGE + 100


def test_the_good_configs_the_hostile_ones_are_made_from_are_valid(tmp_path):
    write(tmp_path, "airtable/h/chain.yml", CHAIN)
    write(tmp_path, "knack/carto_phl/ppr/production.yml", KNACK_CHAIN.format(app="knack", step="knack"))
    write(tmp_path, "knack/carto_gsg/ppr/test.yml", KNACK_CHAIN.format(app="knack_test", step="knack_test"))

    tables, found = check_tables(tmp_path)

    assert found == []
    assert [(str(t.id), t.staging_schema) for t in tables] == [
        ("airtable/h/chain", "h"),
        ("knack/carto_gsg/ppr/test", "ppr_test"),
        ("knack/carto_phl/ppr/production", "ppr"),
    ]


# --- generated configs ----------------------------------------------------------------------------------------

WORDS = st.sampled_from(["publicuser", "tileuser", "opa_account_num", "lni", "a", "x_1", "carto_phl", "knack"])
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x9F).filter(lambda c: not c.isprintable())
HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.builds(lambda word, c: word + c, WORDS, CONTROL),  # a name with a trailing newline, an escape, a NUL
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "[", "{a: ", "- ", "&a ", "*a ", "9"]), st.integers(1, 5000)),
    st.sampled_from(["yes", "on", "~", "null", "0x1F", "1e400", "2026-13-45", "&a x", "*a", "<<", "!!binary x"]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), HOSTILE_TEXT, WORDS, st.just("0 5 * * *")
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3), max_leaves=12
)
KEYS = st.one_of(st.sampled_from([*KNOWN_KEYS, "kind", "connection", "output"]), HOSTILE_TEXT)
MAPPINGS = st.dictionaries(KEYS, VALUES, max_size=6)
STEP = st.dictionaries(st.sampled_from(["kind", "connection", "output", "carto_table", "ais_fields", "x"]), VALUES)
WITH_STEPS = st.builds(lambda data, steps: {**data, "steps": steps}, MAPPINGS, st.lists(STEP | VALUES, max_size=4))
RELATIVE = st.one_of(
    st.sampled_from(["databridge/lni/permits.yml", "knack/carto_phl/ppr/events.yml", "airtable/a/b.yml"]),
    st.builds(lambda name: f"databridge/lni/{name}.yml", st.text(min_size=0, max_size=20)),
)


def _edits(text: str, data: st.DataObject) -> str:
    """Turn a dumped config hostile: a line repeated (a duplicate key), an anchor, an alias, or noise."""
    lines = text.splitlines(keepends=True) or ["\n"]
    at = data.draw(st.integers(0, len(lines) - 1))
    edit = data.draw(st.sampled_from(["none", "repeat", "anchor", "alias", "insert", "cut", "indent"]))
    if edit == "repeat":
        lines.insert(at, lines[at])
    elif edit == "anchor":
        lines[at] = lines[at].replace(": ", ": &a ", 1)
    elif edit == "alias":
        lines.append("zz: *a\n")
    elif edit == "insert":
        lines.insert(at, data.draw(HOSTILE_TEXT) + "\n")
    elif edit == "cut":
        return text[: data.draw(st.integers(0, len(text)))]
    elif edit == "indent":
        lines[at] = "  " + lines[at]
    return "".join(lines)


def _dump(data: Any) -> str:
    """YAML of the generated data; its repr when PyYAML cannot write it (a lone surrogate): hostile too."""
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return repr(data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("generated")


def load_text(folder: Path, relative: str, text: str | bytes) -> tuple[Any, list[ConfigProblem]]:
    """``load_table`` on ``text`` as the config at ``relative`` (any name: the file itself is always file.yml)."""
    path = folder / "file.yml"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return load_table(path, relative, relative)


def assert_result(table: Any, found: list[ConfigProblem], text: str | bytes, relative: str) -> None:
    assert (table is None) == bool(found), found
    for problem in found:
        assert isinstance(problem, ConfigProblem) and problem.path == relative
        assert_well_formed(problem, text)


@pytest.mark.property
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=st.one_of(MAPPINGS, WITH_STEPS, VALUES), relative=RELATIVE)
def test_any_yaml_gets_a_table_or_well_formed_problems_never_an_exception(folder, data, config, relative):
    text = _edits(_dump(config), data)

    table, found = load_text(folder, relative, text)

    assert_result(table, found, text, relative)


@pytest.mark.property
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300)), relative=RELATIVE)
def test_any_bytes_get_a_table_or_well_formed_problems(folder, text, relative):
    table, found = load_text(folder, relative, text)

    assert_result(table, found, text, relative)


@pytest.mark.property
@given(text=st.text(alphabet=st.sampled_from("ab_1: -#'\"\n\t~&*[]{}é\x1b"), max_size=120))
def test_the_flat_reader_reads_as_pyyaml_does_or_declines(text):
    flat = parse_flat(text)

    if flat is not None:
        assert flat[0] == yaml.safe_load(text)
        values = [item for value in flat[0].values() for item in (value if isinstance(value, list) else [value])]
        assert all(value.isprintable() for value in [*values, *flat[0]] if isinstance(value, str))


CRONS = st.sampled_from([False, "", "0 5 * * *", "3 11 * * *", "0 5 * Jan,Apr,Jul,Oct 0#1", "@daily", "*/15 * * * *"])
NAMES = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)
USERS = st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True), min_size=1, max_size=3)
COMMON = st.fixed_dictionaries(
    {},
    optional={
        "schedule_interval": CRONS,
        "timezone": st.sampled_from(["UTC", "America/New_York"]),
        "retries": st.integers(0, 10),
        "retry_delay_minutes": st.integers(0, 15),
        "timeout_minutes": st.integers(1, 1440),
        "indexes": st.lists(st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True), max_size=3),
        "upload_to_ago": st.booleans(),
    },
)
VALID = st.one_of(
    st.tuples(
        st.builds(lambda s, t: f"databridge/{s}/{t}.yml", NAMES, NAMES),
        st.builds(lambda c, u, up, schema: {**c, "carto_users": u, "upload_to_carto": up, **schema}, COMMON, USERS,
                  st.booleans(), st.sampled_from([{}, {"source_schema": "viewer_lni"}])),
    ),
    st.tuples(
        st.builds(lambda c, s, t: f"knack/{c}/{s}/{t}.yml", st.sampled_from(["carto_phl", "carto_gsg"]), NAMES, NAMES),
        st.builds(lambda c, u, o, k: {**c, "carto_users": u, "knack_object_id": o, "knack_conn_id": k}, COMMON, USERS,
                  st.integers(1, 10**6), st.sampled_from(["knack", "knack_test"])),
    ),
    st.tuples(
        st.builds(lambda s, t: f"airtable/{s}/{t}.yml", NAMES, NAMES),
        st.builds(lambda c, u, out: {**c, "carto_users": u, "steps": [
            {"kind": "airtable_extract", "connection": "airtable"},
            {"kind": "ais_geocode", "query_fields": ["street_address"], "ais_fields": ["lat", "lon"], "output": out},
            {"kind": "carto_load", "connection": "carto_phl"},
        ]}, COMMON, USERS, st.from_regex(r"out_[a-z0-9_]{1,8}", fullmatch=True)),
    ),
)  # fmt: skip


@pytest.mark.property
@given(case=VALID, flow=st.booleans())
def test_a_valid_config_round_trips_through_its_model_dumped_back_to_yaml(folder, case, flow):
    relative, config = case
    table, found = load_text(folder, relative, yaml.safe_dump(config, default_flow_style=flow or None))
    assert found == [] and table is not None

    dumped = yaml.safe_dump(table.config.model_dump(exclude_unset=True), default_flow_style=not flow or None)
    again, found = load_text(folder, relative, dumped)

    assert found == []
    assert again == table


def test_an_echo_never_shows_more_than_80_characters_of_input(tmp_path):
    write(tmp_path, "databridge/h/a.yml", "timezone: '" + "z" * 1000 + "'\nretries: [" + "1, " * 1000 + "]\n")

    _, found = check_tables(tmp_path)

    assert len(found) == 2
    assert all(len(p.message) < ECHO_LIMIT + 100 for p in found), found
