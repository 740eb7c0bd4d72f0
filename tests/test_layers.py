"""The dependency direction of docs/ARCHITECTURE.md, enforced by walking every import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenhub"

# Lower ranks are more basic; a module may import its own rank or below.
RANKS = {
    "types": 0,
    "errors": 0,
    "clock": 0,
    "schemas": 0,
    "paths": 1,
    "registry": 1,
    "config": 1,
    "observability": 1,
    "providers": 2,
    "vault": 2,
    "auth": 2,
    "store": 2,
    "sim": 2,
    "routing": 3,
    "orchestration": 3,
    "bandit": 3,
    "dispatch": 3,
    "server": 4,
    "daemon": 5,
    "demo": 5,
    "client": 1,
}
# The CLI and TUI reach the daemon through the client; these are their offline exceptions.
FRONTEND_ALLOWED = {
    "cli",
    "tui",
    "client",
    "config",
    "paths",
    "errors",
    "types",
    "schemas",
    "clock",
    "registry",
    "daemon",  # `tokenhub serve` starts the daemon
    "store.offline",  # `tokenhub db` migrates without a daemon
    "sim",  # `tokenhub sim` runs the simulator
    "__version__",
}
WEB_ALLOWED = {"server", "sim", "daemon", "testing"}
FRONTEND_LIBS = {"typer", "rich", "textual", "click"}


def modules() -> list[tuple[str, Path]]:
    """Every module under src/tokenhub with its dotted name."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        found.append((".".join(parts), path))
    return found


def imports(path: Path) -> set[str]:
    """Every module name a file imports, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def top(module: str) -> str:
    """The first component of a dotted module name."""
    return module.split(".", maxsplit=1)[0]


def internal(names: set[str]) -> set[str]:
    """The tokenhub-internal names, without the package prefix."""
    return {n.removeprefix("tokenhub.") for n in names if n.startswith("tokenhub.")}


CORE = [(m, p) for m, p in modules() if top(m) not in {"cli", "tui", "testing", "", "__main__"}]


@pytest.mark.parametrize(("module", "path"), CORE, ids=[m for m, _ in CORE])
def test_core_imports_point_down(module, path):
    """A core module imports only modules of its own layer or below."""
    rank = RANKS[top(module)]
    for name in internal(imports(path)):
        target = top(name)
        if target in RANKS:
            assert RANKS[target] <= rank, f"{module} imports {name} (a higher layer)"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_web_framework_and_frontend_libraries_stay_in_place(module, path):
    """Only server/, sim, daemon and testing import aiohttp.web; only cli/tui import Typer."""
    names = imports(path)
    if top(module) not in WEB_ALLOWED:
        assert not {n for n in names if n.startswith("aiohttp.web") or n == "aiohttp.web"}, module
    if top(module) not in {"cli", "tui"}:
        assert not {top(n) for n in names} & FRONTEND_LIBS, f"{module} imports a frontend library"


FRONTENDS = [(m, p) for m, p in modules() if top(m) in {"cli", "tui"}]


@pytest.mark.parametrize(("module", "path"), FRONTENDS, ids=[m for m, _ in FRONTENDS])
def test_frontends_go_through_the_client(module, path):
    """The CLI and TUI import only the client and a few offline modules."""
    for name in internal(imports(path)):
        allowed = any(name == a or name.startswith(f"{a}.") for a in FRONTEND_ALLOWED)
        assert allowed, f"{module} imports {name}; go through tokenhub.client"


def test_importing_the_core_loads_no_frontend_library():
    """Importing the server and daemon pulls in neither Typer, Rich nor Textual."""
    code = (
        "import sys, tokenhub.daemon, tokenhub.server.app, tokenhub.client;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'typer','rich','textual'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
