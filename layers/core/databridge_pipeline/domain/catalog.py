"""The table catalog a service works from, and the compiled manifest it is read from in Lambda.

Loading and validating YAML at every cold start costs time, so ``sam build`` compiles the validated
configs into one JSON manifest shipped in the core layer; the folder stays the source of truth.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import TypeAdapter

from databridge_pipeline.domain.tables import COMPILED, Table

TABLES = TypeAdapter(list[Table])


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


def catalog_from_json(manifest: bytes) -> Catalog:
    """A compiled manifest's tables, trusted as validated in full when it was built."""
    return Catalog(TABLES.validate_json(manifest, context=COMPILED))
