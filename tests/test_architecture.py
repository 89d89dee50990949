"""Issue 12: the rules that keep the codebase one others can copy, checked on the source itself.

- no function in flows/ is longer than 80 lines;
- no HTML or SVG is built in Python strings in flows/ (the report renders Jinja2 templates with
  autoescape; an f-string with a tag would bypass it);
- no module reads the environment at import time (settings are read once, by
  flows.settings.load_settings, when called);
- Prefect is imported only where it is wired in: flows/orchestration/ (pipeline, deploy, parallel);
- the stages depend one way: reference <- ingest <- warehouse <- outputs <- orchestration (a stage
  imports only the stages before it, and the shared modules at the top of flows/); the portal and
  the generator sit beside them and never import the orchestration.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent / "flows"
SOURCES = sorted(FLOWS.rglob("*.py"))
MAX_FUNCTION_LINES = 80
TAG = re.compile(r"<\s*/?\s*(html|head|body|div|span|p|table|thead|tbody|tr|td|th|svg|rect|text|g|path|line|polyline|"
                 r"circle|section|h[1-6]|a|ul|ol|li|b|i|em|strong|code|style|meta|title|nav|header|main|footer|br|"
                 r"script|img|link|tspan)\b[^<>]*>", re.I)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_source_list_is_not_empty():
    assert len(SOURCES) > 20


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FLOWS)))
def test_no_function_is_longer_than_80_lines(path):
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(_tree(path))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (they describe markup, they build none)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FLOWS)))
def test_no_html_or_svg_is_built_in_python_strings(path):
    tree = _tree(path)
    docs = _docstrings(tree)
    found = [(node.lineno, node.value[:60]) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
             and TAG.search(node.value)]
    assert found == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FLOWS)))
def test_no_module_reads_the_environment_at_import(path):
    tree = _tree(path)
    at_import = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
            continue
        for node in ast.walk(stmt):
            text = ast.unparse(node) if isinstance(node, (ast.Attribute, ast.Call)) else ""
            if text.startswith(("os.environ", "os.getenv")):
                at_import.append((node.lineno, text[:60]))
    assert at_import == []


def test_prefect_is_imported_only_by_the_wiring_modules():
    importers = set()
    for path in SOURCES:
        for node in ast.walk(_tree(path)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "prefect" or n.startswith(("prefect.", "prefect_dask")) for n in names):
                importers.add(path.relative_to(FLOWS).as_posix())
    assert importers == {"orchestration/pipeline.py", "orchestration/deploy.py", "orchestration/parallel.py"}


# Which stage (a package of flows/) may import which. The modules at the top of flows/ (settings,
# errors, dates, escape, files, resources, progress) are shared by every stage; cli.py is the door.
MAY_IMPORT = {
    "reference": set(),
    "ingest": {"reference"},
    "warehouse": {"reference", "ingest"},
    "outputs": {"reference", "ingest", "warehouse"},
    "orchestration": {"reference", "ingest", "warehouse", "outputs"},
    "portal": {"reference", "ingest", "outputs"},
    "synth": {"reference", "ingest", "warehouse", "portal"},
}


def _stage_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(_tree(path)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "flows" and len(parts) > 1 and (FLOWS / parts[1]).is_dir() and parts[1] in MAY_IMPORT:
                out.add(parts[1])
    return out


def test_the_stages_are_the_packages_of_flows():
    assert {p.name for p in FLOWS.iterdir() if (p / "__init__.py").exists()} == set(MAY_IMPORT)


@pytest.mark.parametrize("path", [p for p in SOURCES if p.parent != FLOWS and p.relative_to(FLOWS).parts[0] in MAY_IMPORT],
                         ids=lambda p: str(p.relative_to(FLOWS)))
def test_a_stage_imports_only_the_stages_before_it(path):
    stage = path.relative_to(FLOWS).parts[0]
    assert _stage_imports(path) - {stage} <= MAY_IMPORT[stage]


@pytest.mark.parametrize("name", ["settings", "errors", "dates", "escape", "files", "resources", "progress"])
def test_the_shared_modules_at_the_top_import_no_stage_but_the_reference_lists(name):
    assert _stage_imports(FLOWS / f"{name}.py") <= {"reference"}
