"""Mixtures of table configs for the benchmarks and the cost model.

``mixture``, modelled on the 98 legacy ones: daily at minutes past 05-11 UTC, weekdays, weekly, monthly,
quarterly first Sundays, a few hourly, about 30% manual-only; some read in Philadelphia time; a fifth are
Knack tables. ``clock_mixture``, the dispatcher's worst case at City scale: every table daily, at one of
the 1,440 minutes of the day, in one of three time zones, so few tables share a (cron, time zone) pair.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

DAILY = [f"{m} {h} * * *" for h in (5, 6, 7, 8, 11) for m in (0, 3, 5, 10, 15, 30)]
OTHERS = ["0 8 * * 2-6", "30 8 * * 2-6", "45 8 * * 2-6", "0 10 * * 0", "0 15 * * 6", "0 7 1 * *", "0 8 * * 1",
          "0 5 * Jan,Apr,Jul,Oct 0#1", "00 15 * * *", "*/30 * * * *", "0 * * * *"]  # fmt: skip
MINUTE_CRONS = [f"{minute % 60} {minute // 60} * * *" for minute in range(24 * 60)]
CLOCK_ZONES = ["UTC", "America/New_York", "America/Los_Angeles"]


@dataclass(frozen=True)
class MixedTable:
    index: int
    cron: str | None
    timezone: str
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
        timezone = "America/New_York" if rng.random() < 0.15 else "UTC"
        tables.append(MixedTable(index, cron, timezone, rng.random() < 0.3))
    return tables


def clock_mixture(count: int, seed: int = 7) -> list[MixedTable]:
    rng = random.Random(seed)
    return [
        MixedTable(index, MINUTE_CRONS[index % len(MINUTE_CRONS)], rng.choice(CLOCK_ZONES), rng.random() < 0.3)
        for index in range(count)
    ]


def generate_configs(root: Path, tables: list[MixedTable]) -> None:
    """Write one table config per mixed table under ``root``."""
    for table in tables:
        lines = [
            f"schedule_interval: '{table.cron}'" if table.cron else "schedule_interval: false",
            "upload_to_carto: true",
            "carto_users:",
            "  - publicuser",
        ]
        if table.timezone != "UTC":
            lines.append(f"timezone: {table.timezone}")
        if table.indexed:
            lines += ["indexes:", "  - opa_account_num"]
        if table.knack:
            path = root / "knack" / "carto_phl" / f"app{table.index % 7}" / f"table_{table.index:05}.yml"
            lines += [f"knack_object_id: {table.index % 90 + 1}", "knack_conn_id: knack", "carto_conn_id: carto_phl"]
        else:
            path = root / "databridge" / f"schema_{table.index % 40:02}" / f"table_{table.index:05}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
