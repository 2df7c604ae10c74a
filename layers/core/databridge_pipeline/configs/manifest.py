"""The manifest ``sam build`` ships in the core layer: every config validated, then compiled to one JSON file."""

from __future__ import annotations

from pathlib import Path

from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.catalog import TABLES, Catalog, catalog_from_json


def write_manifest(configs: Path, out: Path) -> int:
    """Validate every config under ``configs`` as a deploy needs them (raising ConfigError: what Batch would
    refuse, what two tables share) and write the manifest; returns the count."""
    tables = load_tables(configs, deployable=True)
    out.write_bytes(TABLES.dump_json(tables))
    return len(tables)


def load_catalog(source: Path) -> Catalog:
    """From a config folder (validated now) or a compiled manifest file."""
    if source.is_dir():
        return Catalog(load_tables(source))
    return catalog_from_json(source.read_bytes())
