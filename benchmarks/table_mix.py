"""A realistic mixture of table configs, modelled on the 98 legacy ones, for the benchmarks and the cost model.

Daily at minutes past 05-11 UTC, weekdays, weekly, monthly, quarterly first Sundays, a few hourly, about
30% manual-only; some read in Philadelphia time; a fifth are Knack tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

DAILY = [f"{m} {h} * * *" for h in (5, 6, 7, 8, 11) for m in (0, 3, 5, 10, 15, 30)]
OTHERS = ["0 8 * * 2-6", "30 8 * * 2-6", "45 8 * * 2-6", "0 10 * * 0", "0 15 * * 6", "0 7 1 * *", "0 8 * * 1",
          "0 5 * Jan,Apr,Jul,Oct 0#1", "00 15 * * *", "*/30 * * * *", "0 * * * *"]  # fmt: skip


@dataclass(frozen=True)
class MixedTable:
    index: int
    cron: str | None
    local_time: bool
    indexed: bool

    @property
    def knack(self) -> bool:
        return self.index % 5 == 0


def mixture(count: int, seed: int = 7) -> list[MixedTable]:
    rng = random.Random(seed)
    tables = []
    for index in range(count):
        roll = rng.random()
        cron = None if roll < 0.3 else rng.choice(DAILY) if roll < 0.85 else rng.choice(OTHERS)
        tables.append(MixedTable(index, cron, rng.random() < 0.15, rng.random() < 0.3))
    return tables


def generate_configs(root: Path, count: int, seed: int = 7) -> None:
    """Write ``count`` table configs of the mixture under ``root``."""
    for table in mixture(count, seed):
        lines = [
            f"schedule_interval: '{table.cron}'" if table.cron else "schedule_interval: false",
            "upload_to_carto: true",
            "carto_users:",
            "  - publicuser",
        ]
        if table.local_time:
            lines.append("timezone: America/New_York")
        if table.indexed:
            lines += ["indexes:", "  - opa_account_num"]
        if table.knack:
            path = root / "knack" / "carto_phl" / f"app{table.index % 7}" / f"table_{table.index:05}.yml"
            lines += [f"knack_object_id: {table.index % 90 + 1}", "knack_conn_id: knack", "carto_conn_id: carto_phl"]
        else:
            path = root / "databridge" / f"schema_{table.index % 40:02}" / f"table_{table.index:05}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
