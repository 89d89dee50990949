"""The import graph of flows/ as a Mermaid flowchart (docs/architecture.md shows it).

    .venv/bin/python -m tests.module_graph            # modules grouped by stage (package)
    .venv/bin/python -m tests.module_graph --stages   # one node per stage, edges counted

Read from the source (ast), nothing is imported or run.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

FLOWS = Path(__file__).resolve().parent.parent / "flows"


def _unit(path: Path, stages: bool) -> str:
    rel = path.relative_to(FLOWS).with_suffix("")
    parts = rel.parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if len(parts) > 1 and (stages or parts[0] in ("portal", "synth") or parts[:2] == ("outputs", "report")):
        return "/".join(parts[:2]) if parts[:2] == ("outputs", "report") and not stages else parts[0]
    return "/".join(parts) or "flows"


def _target(name: str, stages: bool) -> str | None:
    parts = name.split(".")[1:]
    while parts:
        base = FLOWS.joinpath(*parts)
        if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
            return _unit(base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py", stages)
        parts = parts[:-1]
    return None


def edges(stages: bool) -> Counter:
    out: Counter = Counter()
    for path in sorted(FLOWS.rglob("*.py")):
        src = _unit(path, stages)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                if name.startswith("flows."):
                    dst = _target(name, stages)
                    if dst and dst != src and dst != "flows":
                        out[(src, dst)] += 1
    return out


def mermaid(stages: bool) -> str:
    ident = lambda s: s.replace("/", "_").replace(".", "_")
    lines = ["flowchart LR"]
    found = edges(stages)
    if not stages:
        groups: dict[str, list[str]] = {}
        for node in sorted({n for e in found for n in e}):
            groups.setdefault(node.split("/")[0] if "/" in node else "(top)", []).append(node)
        for group, nodes in groups.items():
            lines.append(f"  subgraph {ident(group)}[\"{group}\"]")
            lines += [f"    {ident(n)}[\"{n.split('/')[-1]}\"]" for n in nodes]
            lines.append("  end")
    lines += [f"  {ident(a)} -->{'|' + str(c) + '|' if stages else ''} {ident(b)}" for (a, b), c in sorted(found.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid("--stages" in sys.argv[1:]))
