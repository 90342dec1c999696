"""The package rules of docs/architecture.md, checked on every import statement (lazy ones too)."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MAY_IMPORT: dict[str, set[str]] = {
    "schemas": set(),
    "workflows": {"schemas"},
    "store": {"schemas"},
    "telephony": {"schemas"},
    "infra": {"schemas", "store", "workflows"},
    "activities": {"schemas", "store", "telephony", "infra", "workflows"},
    "voice_worker": {"schemas", "infra", "telephony", "workflows"},
    "simulator": {"schemas", "telephony", "voice_worker", "infra", "workflows"},
    # The dashboard's text chat runs the agent (voice_worker) on the chosen model (simulator's scripted one offline)
    # in the API's process: api/services/agent_talk.py.
    "api": {"schemas", "store", "telephony", "infra", "workflows", "voice_worker", "simulator"},
    "worker": {"schemas", "store", "telephony", "infra", "workflows", "activities", "simulator", "voice_worker", "api"},
    "cli": {
        "schemas",
        "store",
        "telephony",
        "infra",
        "workflows",
        "activities",
        "simulator",
        "voice_worker",
        "api",
        "worker",
    },
}


def _imports_between_packages() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> the ``file:line`` places that import it."""
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in MAY_IMPORT:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic scripts are loaded by Alembic, not imported
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in MAY_IMPORT and top != package:
                        found[package][top].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_package_imports_only_what_the_architecture_allows() -> None:
    forbidden = [
        f"{package} imports {other} at {', '.join(places)}"
        for package, imported in _imports_between_packages().items()
        for other, places in imported.items()
        if other not in MAY_IMPORT[package]
    ]
    assert forbidden == []


def test_the_packages_import_each_other_without_a_cycle() -> None:
    graph = {package: set(imported) for package, imported in _imports_between_packages().items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(package: str) -> list[str] | None:
        if package in visiting:
            return [*visiting[visiting.index(package) :], package]
        if package in done:
            return None
        visiting.append(package)
        for other in sorted(graph.get(package, ())):
            cycle = visit(other)
            if cycle:
                return cycle
        visiting.pop()
        done.add(package)
        return None

    cycles = [cycle for package in sorted(graph) if (cycle := visit(package))]
    assert cycles == []


def test_api_activities_and_the_voice_worker_never_import_the_worker_process() -> None:
    imported = _imports_between_packages()
    assert [package for package in ("api", "activities", "voice_worker") if "worker" in imported[package]] == []
