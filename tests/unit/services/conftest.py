"""The ``pipeline`` fixture: every service wired over fakes (see ``pipeline``)."""

from __future__ import annotations

import pytest

from .pipeline import Pipeline, pipeline_of


@pytest.fixture
def pipeline() -> Pipeline:
    return pipeline_of()
