"""The flat-YAML reader gives exactly what PyYAML gives, line numbers included, or declines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from databridge_pipeline.configs.flat_yaml import parse_flat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
LEGACY = next(
    (p / "shared" / "legacy-databridge-airflow" / "dags" for p in ROOT.parents if (p / "shared").is_dir()), None
)


def pyyaml(text: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """PyYAML's data, and the line of each top-level key and list item (as config.py records them)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[tuple[str | int, ...], int] = {}
    for key, value in node.value:
        lines[(key.value,)] = key.start_mark.line + 1
        for index, item in enumerate(value.value if isinstance(value, yaml.SequenceNode) else []):
            lines[(key.value, index)] = item.start_mark.line + 1
    return yaml.safe_load(text), lines


def assert_same_or_declined(text: str) -> bool:
    flat = parse_flat(text)
    if flat is not None:
        assert flat == pyyaml(text), text
    return flat is not None


ACCEPTED = [
    "schedule_interval: false #manually triggered\nupload_to_carto: true\nupload_to_ago: \ncarto_users:\n"
    "  - publicuser\n  - tileuser",
    "schedule_interval: '0 5 * Jan,Apr,Jul,Oct 0#1'\ntimezone: America/New_York\n",
    "schedule_interval: 0 5 * Jan,Apr,Jul,Oct 0#1\nknack_object_id: 12\n",
    'schedule_interval: "15 6 * * *"  # daily\n\n# a comment\nindexes: # the columns\n    - opa_account_num\n',
    "schedule_interval: ~\nretries: 0\nretry_delay_minutes: 10\ncarto_conn_id: carto_phl\n",
    "schedule_interval: '@daily'\nsource_schema: threeoneone\n",
]
DECLINED = [
    "upload_to_carto: yes\n", "upload_to_carto: True\n", "retries: 010\n", "retries: 1_0\n", "retries: -1\n",
    "retries: 1.5\n", "timeout_minutes: 1:30\n", "schedule_interval: @daily\n", "schedule_interval: */5 * * * *\n",
    "schedule_interval: 'it''s'\n", 'schedule_interval: "a\\tb"\n', "on: 1\n", "key: &a x\n", "key: !!str 1\n",
    "key: [a, b]\n", "key: {a: b}\n", "key: |\n  text\n", "key:value\n", "key: x\n  - a\n", "key:\n- a\n",
    "key:\n  - a\n    - b\n", "key:\n  - a\n   - b\n", "steps:\n  - kind: carto_load\n", "a: 1\na: 2\n", "---\na: 1\n",
    "a:\tb\n", "a: 1\r\n", "", "# only a comment\n", "key: value\n  continued\n", "key: 2026-11-24\n",
    "key:\n  -\n", "key: NULL\n", "key: .inf\n", "key: 'unterminated\n",
    # aliases, anchors and repeated keys are PyYAML's, which refuses them; so are numbers past 18 digits
    "key: *a\n", "key:\n  - *a\n", "key:\n  - &a x\n", "key: &a\n  - x\n", "key: 1234567890123456789\n",
    'key: "publicuser\\n"\n', "key:\n  - a\nkey:\n  - b\n",
]  # fmt: skip


@pytest.mark.parametrize("text", ACCEPTED)
def test_flat_configs_read_as_pyyaml_reads_them(text):
    assert assert_same_or_declined(text), "read without PyYAML"


@pytest.mark.parametrize("text", DECLINED)
def test_anything_else_is_left_to_pyyaml(text):
    assert parse_flat(text) is None


def test_every_example_and_generated_config_reads_as_pyyaml_reads_it(tmp_path):
    from table_mix import clock_mixture, generate_configs, mixture

    generate_configs(tmp_path, mixture(300) + clock_mixture(50))
    paths = [*(ROOT / "table_configs").rglob("*.yml"), *tmp_path.rglob("*.yml")]

    read = [assert_same_or_declined(path.read_text()) for path in paths]

    assert sum(read) >= len(paths) - 1, "only the example with a steps: chain needs PyYAML"


@pytest.mark.skipif(LEGACY is None, reason="the legacy configs live in shared/ beside the clone")
def test_every_legacy_config_reads_as_pyyaml_reads_it_without_pyyaml():
    assert LEGACY is not None
    paths = sorted(LEGACY.rglob("*.yml"))

    assert len(paths) == 98
    assert all(assert_same_or_declined(path.read_text()) for path in paths)


def test_a_number_too_long_for_python_is_declined_not_a_crash():
    assert parse_flat("retries: 1" + "0" * 5_000 + "\n") is None  # int() refuses past 4,300 digits
    assert parse_flat("retries: 123456789012345678\n") == ({"retries": 123456789012345678}, {("retries",): 1})


def test_no_value_the_flat_reader_takes_has_a_control_character():
    for text in ("key: a\x1bb\n", "key:\n  - a\x00\n", "key: a\x85b\n", "key: a\u2028b\n"):
        assert parse_flat(text) is None, repr(text)
