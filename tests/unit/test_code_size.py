"""The size gate (with ruff's mccabe limit in `make lint`): no module of the product over 400 lines and no
function over 60, so that each can be read whole. The product is what ships or runs: the handlers, the core
package (CLI and local run included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [*sorted((ROOT / "functions").glob("*/app.py")), *sorted((ROOT / "layers").rglob("*.py"))]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_the_product_is_found():
    assert len(PRODUCT) > 40, "the glob must see the core package"


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PRODUCT if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules by concern: {long}"


def test_no_function_is_over_60_lines():
    long = {}
    for path in PRODUCT:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}, f"split these functions: {long}"
