"""The ``simulation`` marker (registered here, so ``--strict-markers`` knows it without pyproject): the seeded
simulation's tests; ``pytest -m 'not simulation'`` leaves them out."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "simulation: the seeded fault simulation (tests/simulation)")
