"""The house's size limits, checked: no function in sharebackup/ over 60 lines, no file over 400.

Long functions were where the copies of one idea hid (issue 9); a limit that is only written
down drifts. A function counts from its `def` line to its last line, decorators and docstring
included; nested functions count inside their parent too.
"""
from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "sharebackup"
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400


def _files():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_file_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _files() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert long == {}


def test_no_function_is_over_60_lines():
    long = {}
    for path in _files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                lines = node.end_lineno - first + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = lines
    assert long == {}
