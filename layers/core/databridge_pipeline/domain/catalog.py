"""The table catalog a Lambda or the CLI works from: a config folder, or a manifest compiled from one.

Loading and validating YAML at every cold start costs time, so ``sam build`` compiles the validated
configs into one JSON manifest shipped in the core layer; the folder stays the source of truth.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import TypeAdapter

from databridge_pipeline.domain.tables import COMPILED, Table, load_tables

PACKAGED_MANIFEST = Path(__file__).with_name("manifest.json")
_TABLES = TypeAdapter(list[Table])


class Catalog:
    """Tables by id, in id order."""

    def __init__(self, tables: list[Table]) -> None:
        self._tables = {str(t.id): t for t in tables}

    def __iter__(self) -> Iterator[Table]:
        return iter(self._tables.values())

    def __len__(self) -> int:
        return len(self._tables)

    def get(self, table_id: str) -> Table | None:
        return self._tables.get(table_id)

    def ids(self) -> list[str]:
        return list(self._tables)


def write_manifest(configs: Path, out: Path) -> int:
    """Validate every config under ``configs`` (raising ConfigError) and write the manifest; returns the count."""
    tables = load_tables(configs)
    out.write_bytes(_TABLES.dump_json(tables))
    return len(tables)


def load_catalog(source: Path | None = None) -> Catalog:
    """From ``source`` (a manifest file or a config folder), else ``$TABLE_CONFIGS``, else the packaged manifest."""
    if source is None:
        configured = os.environ.get("TABLE_CONFIGS")
        source = Path(configured) if configured else PACKAGED_MANIFEST
    if source.is_dir():
        return Catalog(load_tables(source))
    return Catalog(_TABLES.validate_json(source.read_bytes(), context=COMPILED))
