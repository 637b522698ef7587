"""The layer's package boundaries (docs/architecture.md, "Module map"), read from the source.

- The domain (``rules``, ``scoring``, ``models``, ``alerts``, ``crm``, ``errors``, ``principals``) imports no
  adapter: not ``dal``, ``ingest``, ``api``, ``services``, ``http``, ``settings``, nor
  boto3/botocore or Powertools. It is pure code, testable without AWS.
- No cycle between the layer's packages: orchestration (``services``) may depend on the domain and
  the adapters, never the other way round.
- Runtime code (the layer and the functions) never imports ``tools`` or ``tests``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import ROOT

LAYER = ROOT / "shared" / "leadscore"
DOMAIN = {"rules", "scoring", "models", "alerts", "errors", "principals", "crm"}
ADAPTERS = {"dal", "ingest", "api", "services", "http", "settings"}
THIRD_PARTY_ADAPTERS = {"boto3", "botocore", "aws_lambda_powertools"}


def _package(path: Path) -> str:
    """``shared/leadscore/scoring/engine.py`` -> ``scoring``; ``shared/leadscore/alerts.py`` -> ``alerts``."""
    rel = path.relative_to(LAYER)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (function-level imports count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = path.relative_to(ROOT / "shared").with_suffix("").parts[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                yield f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.module


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in LAYER.rglob("*.py"):
        source = _package(path)
        if source == "__init__":
            continue
        targets = graph.setdefault(source, set())
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "leadscore" and len(parts) > 1 and parts[1] != source:
                targets.add(parts[1])
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_domain_imports_no_adapter() -> None:
    offences = []
    for path in LAYER.rglob("*.py"):
        if _package(path) not in DOMAIN:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if (parts[0] == "leadscore" and len(parts) > 1 and parts[1] in ADAPTERS) or (
                parts[0] in THIRD_PARTY_ADAPTERS
            ):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_the_layer_packages_form_no_cycle() -> None:
    graph = package_graph()
    assert {"rules", "scoring", "dal", "services", "api", "ingest"} <= set(graph)  # the walk saw them
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert _cycle({"dal": {"scoring"}, "scoring": {"rules", "dal"}, "rules": set()}) == [
        "dal",
        "scoring",
        "dal",
    ]


def test_runtime_code_never_imports_tools_or_tests() -> None:
    offences = []
    for path in [*LAYER.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        for name in _imports(path):
            if name.split(".")[0] in {"tools", "tests", "bench", "shared", "functions"}:
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_unit_tests_need_no_aws_emulator() -> None:
    """``make unit`` is pure: moto, the template's stack and the AWS fixtures live in tests/integration."""
    needs_aws = ("moto", "mock_aws", "aws: None", "stack: Stack", "moto_server", "Stack.create")
    offences = [
        f"{path.name}: {marker}"
        for path in sorted((ROOT / "tests" / "unit").glob("test_*.py"))
        if path.name != "test_boundaries.py"  # this file names the markers
        for marker in needs_aws
        if marker in path.read_text()
    ]
    assert offences == []
