"""The fixed seed set of the test suite: 200 seeds in 20 chunks of 10, half in test_seeds_a.py and half in
test_seeds_b.py, so that pytest-xdist's ``--dist loadfile`` (one file per worker) puts one half on each of the
machine's two cores."""

from __future__ import annotations

from .runner import run_seed

CHUNK = 10
CHUNKS_PER_FILE = 10


def chunk(file_index: int, index: int) -> range:
    """The seeds of chunk ``index`` of file ``file_index`` (0: a, 1: b)."""
    first = (file_index * CHUNKS_PER_FILE + index) * CHUNK
    return range(first, first + CHUNK)


def failures(seeds: range) -> list[str]:
    """The one line of each seed that failed."""
    return [result.line() for result in map(run_seed, seeds) if not result.ok]
