"""make build says plainly that it needs python3.12 (the Lambda runtime's), before sam build starts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/bin:/bin"


@pytest.mark.skipif(shutil.which("python3.12", path=SYSTEM_PATH) is not None, reason="this system has python3.12")
def test_make_build_without_python312_says_how_to_get_it():
    result = subprocess.run(
        ["make", "build"], cwd=ROOT, env={"PATH": SYSTEM_PATH, "HOME": "/nonexistent"}, capture_output=True, text=True
    )

    assert result.returncode == 2
    assert "make build needs Python 3.12 (the Lambda runtime) as python3.12 on PATH" in result.stderr
    assert "sam build" not in result.stdout, "it stopped before sam build"
