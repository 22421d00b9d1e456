"""The layers import downwards only: nothing below the HTTP layer imports sharebackup.api.

services/, queue/, workflows/, db/, shares/ and policies/ are used by the worker processes, which serve no
HTTP; an import of the API from there would tie them to Falcon and to the request schemas.
(The engine has a stricter rule of its own: tests/engine/test_engine_contract.py.)
"""
from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "sharebackup"


def _imports(path: pathlib.Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", ["services", "queue", "workflows", "db", "shares", "policies"])
def test_layer_imports_nothing_of_the_api(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files
    offenders = [f"{path.relative_to(PACKAGE)} imports {name}" for path in files for name in _imports(path)
                 if name == "sharebackup.api" or name.startswith("sharebackup.api.")]
    assert offenders == []


RUNTIME_MAY_IMPORT = {"sharebackup.config", "sharebackup.db.database", "sharebackup.policies.enforcer"}


def test_core_imports_nothing_of_sharebackup():
    """core/ is the lowest layer: the rules every other layer shares (one reading of a boolean
    extra spec, the domain errors, who is calling) live there, so they lean on nothing of
    sharebackup. The one exception is runtime.py, the object that ties a process's config,
    database and policy together, and it may import just those."""
    files = sorted((PACKAGE / "core").rglob("*.py"))
    assert files
    offenders = []
    for path in files:
        allowed = RUNTIME_MAY_IMPORT if path.name == "runtime.py" else set()
        offenders += [f"{path.relative_to(PACKAGE)} imports {name}" for name in _imports(path)
                      if (name == "sharebackup" or name.startswith("sharebackup.")) and name not in allowed]
    assert offenders == []


def test_there_is_one_lease_keeper_and_one_lease_lost():
    """Every lease (a job's, a repository's, the engine's lock) is kept by core/lease_keeper.py,
    and LeaseLost, the one way a holder learns it lost one, is defined there only. The keeper is
    in core so that the engine may use it too: it imports nothing of sharebackup (checked above)."""
    assert (PACKAGE / "core" / "lease_keeper.py").exists()
    defined = [f"{path.relative_to(PACKAGE)}: {node.name}" for path in sorted(PACKAGE.rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.ClassDef) and node.name in ("LeaseLost", "LeaseKeeper")]
    assert defined == ["core/lease_keeper.py: LeaseLost", "core/lease_keeper.py: LeaseKeeper"]


SERVICE_FACING_QUEUE_MODULES = {"sharebackup.queue.kinds", "sharebackup.queue.lease_queue"}


def _modules_used(path: pathlib.Path, package: str) -> set[str]:
    """The modules of ``package`` that ``path`` imports (``from package import m`` counts as package.m)."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            used |= {f"{package}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
            used.add(node.module)
        elif isinstance(node, ast.Import):
            used |= {a.name for a in node.names if a.name.startswith(package + ".")}
    return used


def test_services_use_only_the_queue_and_the_kind_names_of_jobs():
    """Services queue work (the queue's enqueue, the kinds' names); they never import the
    workflows (and, through them, the engine's backup and restore)."""
    offenders = []
    for path in sorted((PACKAGE / "services").rglob("*.py")):
        used = _modules_used(path, "sharebackup.queue") | _modules_used(path, "sharebackup.workflows")
        offenders += [f"{path.relative_to(PACKAGE)} imports {name}"
                      for name in sorted(used - SERVICE_FACING_QUEUE_MODULES)]
    assert offenders == []


@pytest.mark.parametrize("other", ["sharebackup.workflows", "sharebackup.services", "sharebackup.engine",
                                   "sharebackup.shares", "sharebackup.api"])
def test_the_queue_knows_no_resource(other):
    """queue/ is generic: leases, the runner contract, the pool, the kinds by name. The
    resources' runners (workflows/) build on it, never the other way round."""
    offenders = [f"{path.relative_to(PACKAGE)} imports {name}"
                 for path in sorted((PACKAGE / "queue").rglob("*.py")) for name in _imports(path)
                 if name == other or name.startswith(other + ".")]
    assert offenders == []


# The process's entry points assemble the HTTP layer: serve builds the app, and `token create`
# writes the tokens strategy's file. Nothing else outside api/ may lean on it.
API_ENTRY_POINTS = {"cli/serve.py", "cli/main.py"}


def test_nothing_but_the_api_and_its_entry_points_imports_the_api():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        if relative.startswith("api/") or relative in API_ENTRY_POINTS:
            continue
        offenders += [f"{relative} imports {name}" for name in _imports(path)
                      if name == "sharebackup.api" or name.startswith("sharebackup.api.")]
    assert offenders == []


@pytest.mark.parametrize("layer", ["services", "policies", "queue", "workflows", "shares", "engine", "core"])
def test_below_the_api_nothing_raises_http_faults(layer):
    """Issue 9: services raised Fault(http_code) and workers caught HTTP faults. Below the API
    they raise core.errors' domain errors; api/errors.py is the one place that maps them."""
    offenders = [f"{path.relative_to(PACKAGE)} imports {name}"
                 for path in sorted((PACKAGE / layer).rglob("*.py")) for name in _imports(path)
                 if name == "sharebackup.faults"]
    assert offenders == []


def test_every_service_names_the_types_of_rt_and_ctx():
    """Issue 9: 82 service functions took an untyped ``rt``; Runtime and RequestContext live in
    core/ now, so every service says what it takes."""
    untyped = []
    for path in sorted((PACKAGE / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                untyped += [f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}({arg.arg})"
                            for arg in node.args.args + node.args.kwonlyargs
                            if arg.arg in ("rt", "ctx") and arg.annotation is None]
    assert untyped == []
