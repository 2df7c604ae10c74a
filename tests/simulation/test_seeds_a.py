"""Seeds 0-99 of the fixed set (see seeds.py), ten to a test."""

from __future__ import annotations

import pytest

from .seeds import CHUNKS_PER_FILE, chunk, failures

pytestmark = pytest.mark.simulation


@pytest.mark.parametrize("index", range(CHUNKS_PER_FILE))
def test_seeds(index: int) -> None:
    seeds = chunk(0, index)
    failed = failures(seeds)
    assert not failed, f"{len(failed)} of seeds {seeds.start}-{seeds.stop - 1} failed:\n" + "\n".join(failed)
